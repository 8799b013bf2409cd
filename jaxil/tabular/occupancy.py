"""Occupancy measures (forward messages) and feature expectations of a `TabularMDP`.

An occupancy measure counts the expected discounted visits of states and state-actions:

- finite horizon `H`: `state[s] = sum_{t=0}^{H} discount**t P(s_t = s)` (the final state
  `s_H` included, so it sums to `H + 1` for `discount=1`) and
  `state_action[s, a] = sum_{t=0}^{H-1} discount**t P(s_t = s, a_t = a)` (sums to `H`);
- infinite horizon: `state = sum_a state_action`, both summing to `1 / (1 - discount)`.

With these, the return of a policy is `occupancy . reward` for a state reward `r[S]` or a
state-action reward `r[S, A]` alike, and the feature expectations are `occupancy . phi`.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.tabular.mdp import TabularMDP
from jaxil.tabular.solvers import policy_matrix, reward_tables
from jaxil.types import Array


class Occupancy(NamedTuple):
    """Discounted visitation counts (see the module docstring).

    Attributes:
        state: `[S]` state occupancy.
        state_action: `[S, A]` state-action occupancy.
    """

    state: Array
    state_action: Array


@eqx.filter_jit
def forward_messages(mdp: TabularMDP, policy: Array) -> Array:
    """Time-resolved state occupancy of a finite-horizon MDP.

    Args:
        mdp: an MDP with a finite horizon `H`.
        policy: `pi[H, S, A]` (a stationary `pi[S, A]` is broadcast).

    Returns:
        `D[H + 1, S]` with `D[t, s] = discount**t P(s_t = s)`; `D[0] = mdp.initial`.
    """
    if mdp.horizon is None:
        raise ValueError("forward_messages: needs a finite-horizon MDP (horizon=None given)")
    policy = jnp.broadcast_to(policy, (mdp.horizon, mdp.num_states, mdp.num_actions))

    s, a = mdp.num_states, mdp.num_actions
    flat_p = mdp.transitions.reshape(s * a, s)

    def step(d, pi_t):
        d_next = mdp.discount * ((d[:, None] * pi_t).reshape(s * a) @ flat_p)
        return d_next, d

    d_last, ds = jax.lax.scan(step, mdp.initial, policy, unroll=min(mdp.horizon, 8))
    return jnp.concatenate([ds, d_last[None]])


@eqx.filter_jit
def occupancy(mdp: TabularMDP, policy: Array) -> Occupancy:
    """The exact occupancy measure of a policy.

    Args:
        mdp: the MDP (or a batch, under `vmap`).
        policy: `pi[H, S, A]` or (stationary) `pi[S, A]`.

    Returns:
        `Occupancy(state[S], state_action[S, A])`: forward messages summed over time for a
        finite horizon; for an infinite horizon, the solution of
        `d = initial + discount * P_pi^T d` by an exact linear solve.
    """
    if mdp.horizon is not None:
        policy = jnp.broadcast_to(policy, (mdp.horizon, mdp.num_states, mdp.num_actions))
        d = forward_messages(mdp, policy)
        state_action = jnp.einsum("ts,tsa->sa", d[:-1], policy)
        return Occupancy(jnp.sum(d, axis=0), state_action)
    eye = jnp.eye(mdp.num_states, dtype=jnp.float32)
    a = eye - mdp.discount * policy_matrix(mdp, policy).T
    d = jnp.linalg.solve(a, mdp.initial)
    return Occupancy(d, d[:, None] * policy)


def feature_expectations(mdp: TabularMDP, occ: Occupancy) -> Array:
    """`mu[K] = occupancy . phi`: state features use `occ.state`, state-action features
    `occ.state_action`."""
    if mdp.state_features:
        return occ.state @ mdp.features
    return jnp.einsum("sa,sak->k", occ.state_action, mdp.features)


def policy_feature_expectations(mdp: TabularMDP, policy: Array) -> Array:
    """Feature expectations `mu[K]` of a policy `pi[H, S, A]` or `pi[S, A]`."""
    return feature_expectations(mdp, occupancy(mdp, policy))


def expected_return(mdp: TabularMDP, occ: Occupancy, reward: Array | None = None) -> Array:
    """The expected discounted return `[]` of an occupancy measure.

    Args:
        mdp: the MDP.
        occ: an `Occupancy`.
        reward: `r[S]` or `r[S, A]`; `None` uses `mdp.reward`.
    """
    r = mdp.reward if reward is None else jnp.asarray(reward, jnp.float32)
    if r is None:
        raise ValueError("reward: the MDP has no true reward; pass `reward=` explicitly")
    if r.ndim == 1:
        return occ.state @ r
    r_sa, _ = reward_tables(mdp, r)
    return jnp.sum(occ.state_action * r_sa)


def policy_return(mdp: TabularMDP, policy: Array, reward: Array | None = None) -> Array:
    """The expected discounted return `[]` of a policy `pi[H, S, A]` or `pi[S, A]`."""
    return expected_return(mdp, occupancy(mdp, policy), reward)


def total_variation(p: Array, q: Array) -> Array:
    """Total-variation distance `[]` between two occupancies (any equal shapes), each
    normalised to sum to one first."""
    p = p / jnp.sum(p)
    q = q / jnp.sum(q)
    return 0.5 * jnp.sum(jnp.abs(p - q))


def policy_from_occupancy(occ_state_action: Array) -> Array:
    """The policy `pi[..., S, A]` that induces a state-action occupancy `d[..., S, A]`:
    `pi(a | s) = d(s, a) / sum_a d(s, a)`, uniform in unvisited states.

    Occupancies are convex: the policy of a mixture's occupancy has the mixture's
    occupancy, so this turns a mixture of policies into one (time-dependent) policy.
    """
    total = jnp.sum(occ_state_action, axis=-1, keepdims=True)
    uniform = jnp.full_like(occ_state_action, 1.0 / occ_state_action.shape[-1])
    safe = jnp.where(total > 0, total, 1.0)
    return jnp.where(total > 1e-12, occ_state_action / safe, uniform)


@eqx.filter_jit
def state_action_messages(mdp: TabularMDP, policy: Array) -> Array:
    """Time-resolved state-action occupancy: `[H, S, A]` with
    `discount**t P(s_t = s, a_t = a)` (finite horizon), or the occupancy `[S, A]`."""
    if mdp.horizon is None:
        return occupancy(mdp, policy).state_action
    policy = jnp.broadcast_to(policy, (mdp.horizon, mdp.num_states, mdp.num_actions))
    return forward_messages(mdp, policy)[:-1, :, None] * policy


@eqx.filter_jit
def mixture_policy(mdp: TabularMDP, policies: Array, weights: Array) -> Array:
    """One policy with the occupancy of a mixture of policies.

    Args:
        mdp: the MDP.
        policies: `[N, H, S, A]` or `[N, S, A]` (stationary policies are broadcast).
        weights: `[N]` mixture weights (non-negative, summing to 1).

    Returns:
        `pi[H, S, A]` or `pi[S, A]` whose occupancy (hence feature expectations and return)
        is `sum_i weights[i] * occupancy(policies[i])`: picking policy `i` with probability
        `weights[i]` at the start of an episode, then following it, has the same occupancy.
    """
    d = jax.vmap(lambda p: state_action_messages(mdp, p))(policies)
    return policy_from_occupancy(jnp.tensordot(weights, d, axes=1))


@eqx.filter_jit
def empirical_occupancy(mdp: TabularMDP, states: Array, actions: Array, times: Array,
                        next_states: Array, weights: Array | None = None) -> Occupancy:
    """Monte-Carlo occupancy of demonstrations given as flat, time-indexed transitions.

    Args:
        mdp: the MDP.
        states: `[M]` int state index of each transition's first state.
        actions: `[M]` int actions.
        times: `[M]` int time step `t` of each transition (0 at an episode's start).
        next_states: `[M]` int next-state index; with a finite horizon, those of the
            transitions with `t + 1 == H` add the final states `s_H`.
        weights: `[M]` optional 0/1 mask (padding).

    Returns:
        The `Occupancy` averaged over the episodes (the number of transitions with `t == 0`).
        Infinite-horizon estimates are truncated at the demonstrations' length.
    """
    s_count, a_count = mdp.num_states, mdp.num_actions
    w = jnp.ones(states.shape, jnp.float32) if weights is None else weights.astype(jnp.float32)
    disc = w * mdp.discount ** times.astype(jnp.float32)
    num_episodes = jnp.maximum(jnp.sum(w * (times == 0)), 1.0)
    sa = jnp.zeros((s_count, a_count), jnp.float32).at[states, actions].add(disc)
    state = jnp.sum(sa, axis=-1)
    if mdp.horizon is not None:
        final = w * (times + 1 == mdp.horizon) * mdp.discount ** jnp.float32(mdp.horizon)
        state = state.at[next_states].add(final)
    return Occupancy(state / num_episodes, sa / num_episodes)


def empirical_policy(num_states: int, num_actions: int, states: Array, actions: Array,
                     weights: Array | None = None) -> Array:
    """The maximum-likelihood stationary policy `pi[S, A]` of state-action pairs `[M]`
    (uniform in states never visited)."""
    w = jnp.ones(states.shape, jnp.float32) if weights is None else weights.astype(jnp.float32)
    counts = jnp.zeros((num_states, num_actions), jnp.float32).at[states, actions].add(w)
    return policy_from_occupancy(counts)


@eqx.filter_jit
def plugin_occupancy(mdp: TabularMDP, states: Array, actions: Array,
                     weights: Array | None = None) -> Occupancy:
    """Occupancy of the empirical policy of demonstrations under the known dynamics.

    The estimate to use when the demonstrations carry no time steps (e.g. a discounted
    MDP observed without time): the exact `occupancy` of `empirical_policy`.
    """
    pi = empirical_policy(mdp.num_states, mdp.num_actions, states, actions, weights)
    return occupancy(mdp, pi)
