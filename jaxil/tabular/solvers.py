"""Dynamic-programming solvers for a `TabularMDP`: value iteration (hard and soft, i.e.
maximum-entropy) and policy evaluation.

All functions are pure and jittable, and vmap over a batch of MDPs (and rewards). Shapes
(see `jaxil.tabular.mdp` for the conventions): with a finite horizon `H`, values are
`V[H + 1, S]` (`V[H]` is the terminal value: the state reward, or 0 for a state-action
reward), Q-values `Q[H, S, A]` and policies `pi[H, S, A]`; with an infinite horizon,
`V[S]`, `Q[S, A]`, `pi[S, A]`.

Finite horizons are exact backward recursions (a `lax.scan` of `H` steps). Infinite
horizons iterate the Bellman backup in a `lax.while_loop` until the largest change is at
most `tol * (1 + max|V|)` (or `max_iters` sweeps), except policy evaluation, which is an
exact linear solve.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.tabular.mdp import TabularMDP
from jaxil.types import Array


class Solution(NamedTuple):
    """Output of a value-iteration solver.

    Attributes:
        values: `V[H + 1, S]` or `V[S]`.
        q_values: `Q[H, S, A]` or `Q[S, A]`.
        policy: `pi[H, S, A]` or `pi[S, A]`; rows are distributions over actions.
    """

    values: Array
    q_values: Array
    policy: Array


def reward_tables(mdp: TabularMDP, reward: Array | None = None) -> tuple[Array, Array]:
    """Splits a reward into its per-decision and terminal parts.

    Args:
        mdp: the MDP.
        reward: `r[S]` (on states) or `r[S, A]` (on state-actions); `None` uses `mdp.reward`.

    Returns:
        `(r_sa[S, A], r_final[S])`: the reward of each decision and of the final state
        `s_H` of a finite horizon (the state reward, or zeros for a state-action reward).
    """
    r = mdp.reward if reward is None else reward
    if r is None:
        raise ValueError("reward: the MDP has no true reward; pass `reward=` explicitly")
    r = jnp.asarray(r, jnp.float32)
    s, a = mdp.num_states, mdp.num_actions
    if r.shape == (s,):
        return jnp.broadcast_to(r[:, None], (s, a)), r
    if r.shape == (s, a):
        return r, jnp.zeros(s, jnp.float32)
    raise ValueError(f"reward: expected shape ({s},) or ({s}, {a}), got {r.shape}")


def _bellman_q(mdp: TabularMDP, r_sa: Array, values: Array) -> Array:
    """`Q[S, A] = r + discount * P @ V` for next values `V[S]`."""
    return r_sa + mdp.discount * (mdp.transitions @ values)


Backup = Callable[[Array], tuple[Array, Array]]  # Q[S, A] -> (V[S], pi[S, A])


def _hard_backup(q: Array) -> tuple[Array, Array]:
    return jnp.max(q, axis=-1), jax.nn.one_hot(jnp.argmax(q, axis=-1), q.shape[-1])


def _soft_backup(temperature: Array) -> Backup:
    def backup(q: Array) -> tuple[Array, Array]:
        x = q / temperature
        m = jax.lax.stop_gradient(jnp.max(x, axis=-1, keepdims=True))
        e = jnp.exp(x - m)  # one exp per entry gives both the values and the policy
        z = jnp.sum(e, axis=-1, keepdims=True)
        return temperature * (m + jnp.log(z))[..., 0], e / z

    return backup


def _solve(mdp: TabularMDP, reward: Array | None, backup: Backup, tol: float | Array,
           max_iters: int, init_values: Array | None) -> Solution:
    r_sa, r_final = reward_tables(mdp, reward)
    if mdp.horizon is not None:
        def step(v_next, _):
            q = _bellman_q(mdp, r_sa, v_next)
            v, pi = backup(q)
            return v, (v, q, pi)

        _, (vs, qs, pis) = jax.lax.scan(step, r_final, None, length=mdp.horizon,
                                        reverse=True, unroll=min(mdp.horizon, 8))
        return Solution(jnp.concatenate([vs, r_final[None]]), qs, pis)

    v0 = jnp.zeros(mdp.num_states, jnp.float32) if init_values is None else init_values

    def cond(carry):
        v, delta, i = carry
        return (delta > tol * (1.0 + jnp.max(jnp.abs(v)))) & (i < max_iters)

    def body(carry):
        v, _, i = carry
        v_new, _ = backup(_bellman_q(mdp, r_sa, v))
        return v_new, jnp.max(jnp.abs(v_new - v)), i + 1

    v, _, _ = jax.lax.while_loop(cond, body, (v0, jnp.asarray(jnp.inf, jnp.float32),
                                              jnp.zeros((), jnp.int32)))
    q = _bellman_q(mdp, r_sa, v)
    v, pi = backup(q)
    return Solution(v, q, pi)


@eqx.filter_jit
def value_iteration(mdp: TabularMDP, reward: Array | None = None, *, tol: float = 1e-6,
                    max_iters: int = 10_000, init_values: Array | None = None) -> Solution:
    """Optimal values and a greedy deterministic policy (ties go to the lowest action).

    Args:
        mdp: a `TabularMDP` (or a batch, under `vmap`).
        reward: `r[S]` or `r[S, A]`; `None` uses `mdp.reward`.
        tol: infinite horizon only: stop when the largest change of `V` in a sweep is at
            most `tol * (1 + max|V|)`.
        max_iters: infinite horizon only: the most sweeps.
        init_values: infinite horizon only: starting values `V[S]` (a warm start).

    Returns:
        `Solution(values, q_values, policy)` with one-hot policy rows.
    """
    return _solve(mdp, reward, _hard_backup, tol, max_iters, init_values)


@eqx.filter_jit
def soft_value_iteration(mdp: TabularMDP, reward: Array | None = None, *,
                         temperature: float | Array = 1.0, tol: float = 1e-6,
                         max_iters: int = 10_000,
                         init_values: Array | None = None) -> Solution:
    """Soft (maximum causal entropy) value iteration: the MCE-optimal policy of a reward.

    `Q_t(s, a) = r(s, a) + discount * E[V_{t+1}(s')]`,
    `V_t(s) = temperature * logsumexp_a Q_t(s, a) / temperature`,
    `pi_t(a | s) = exp((Q_t(s, a) - V_t(s)) / temperature)` (backward messages).

    Args:
        mdp: a `TabularMDP` (or a batch, under `vmap`).
        reward: `r[S]` or `r[S, A]`; `None` uses `mdp.reward`.
        temperature: `[]` entropy temperature (`-> 0` recovers `value_iteration`).
        tol: infinite horizon only: see `value_iteration`.
        max_iters: infinite horizon only: the most sweeps.
        init_values: infinite horizon only: starting values `V[S]` (a warm start).

    Returns:
        `Solution(values, q_values, policy)`; `values[0] @ mdp.initial` is the log-partition
        function (for `temperature=1`).
    """
    backup = _soft_backup(jnp.asarray(temperature, jnp.float32))
    return _solve(mdp, reward, backup, tol, max_iters, init_values)


def policy_matrix(mdp: TabularMDP, policy: Array) -> Array:
    """State-to-state transition matrix `P_pi[S, S]` of a stationary policy `pi[S, A]`."""
    return jnp.einsum("sa,san->sn", policy, mdp.transitions)


@eqx.filter_jit
def policy_evaluation(mdp: TabularMDP, policy: Array,
                      reward: Array | None = None) -> tuple[Array, Array]:
    """Values of a fixed policy.

    Args:
        mdp: the MDP.
        policy: `pi[H, S, A]` (finite horizon; a stationary `pi[S, A]` is broadcast) or
            `pi[S, A]` (infinite horizon).
        reward: `r[S]` or `r[S, A]`; `None` uses `mdp.reward`.

    Returns:
        `(V, Q)`: `V[H + 1, S]`, `Q[H, S, A]` (finite horizon, backward recursion) or
        `V[S]`, `Q[S, A]` (infinite horizon, an exact linear solve of
        `(I - discount * P_pi) V = r_pi`). `V[0] @ mdp.initial` is the expected return.
    """
    r_sa, r_final = reward_tables(mdp, reward)
    if mdp.horizon is not None:
        policy = jnp.broadcast_to(policy, (mdp.horizon, *r_sa.shape))

        def step(v_next, pi_t):
            q = _bellman_q(mdp, r_sa, v_next)
            v = jnp.sum(pi_t * q, axis=-1)
            return v, (v, q)

        _, (vs, qs) = jax.lax.scan(step, r_final, policy, reverse=True,
                                   unroll=min(mdp.horizon, 8))
        return jnp.concatenate([vs, r_final[None]]), qs
    p_pi = policy_matrix(mdp, policy)
    r_pi = jnp.sum(policy * r_sa, axis=-1)
    eye = jnp.eye(mdp.num_states, dtype=jnp.float32)
    v = jnp.linalg.solve(eye - mdp.discount * p_pi, r_pi)
    return v, _bellman_q(mdp, r_sa, v)
