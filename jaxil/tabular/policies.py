"""Tabular policies on `TabularEnv` observations, and exact conversions to and from the
`ActorPolicy` networks the rest of jaxil saves, loads and evaluates.

- `TabularPolicy` / `tabular_policy(env, probs)`: a lightweight `Policy` reading a table
  `pi[S, A]` or `pi[H, S, A]`.
- `to_actor_policy(env, probs)`: the same policy as an `ActorPolicy` (categorical head),
  exactly: a stationary table is a single linear layer on the one-hot state (logits
  `log pi`); a time-dependent one adds one ReLU unit per `(s, t)` pair,
  `relu(obs[s] + obs[S + t] - 1)`, which is 1 exactly at that pair. So tabular results
  go through `jaxil.save_policy`, the CLI and every tool that takes an `ActorPolicy`.
- `policy_table(env, policy)`: the action probabilities `[S, A]` / `[H, S, A]` of a
  `TabularPolicy` or an `ActorPolicy` (any method's, e.g. BC or GAIL on a gridworld), so
  its exact occupancy and return can be computed.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.envs.base import Env
from jaxil.networks.normalizer import init_normalizer
from jaxil.networks.policy import ActorPolicy, PolicyArch, make_actor_policy
from jaxil.tabular.env import tabular_env
from jaxil.tabular.mdp import TabularMDP
from jaxil.types import Array, PRNGKey

MIN_PROB = 1e-30  # log(0) is stored as log(MIN_PROB)


class TabularPolicy(eqx.Module):
    """A tabular policy as a `jaxil.Policy` on `TabularEnv` observations.

    Attributes:
        probs: `pi[S, A]` (stationary) or `pi[H, S, A]` (indexed by the time step in the
            observation, clipped to `H - 1`).
        num_states: `S` (static): the one-hot state is `obs[:S]`.
        deterministic: act with the most likely action instead of sampling (static).
    """

    probs: Array
    num_states: int = eqx.field(static=True)
    deterministic: bool = eqx.field(static=True, default=False)

    def action_probs(self, obs: Array) -> Array:
        """`pi(. | obs)`, `[A]`."""
        s = jnp.argmax(obs[: self.num_states])
        if self.probs.ndim == 2:
            return self.probs[s]
        t = jnp.minimum(jnp.argmax(obs[self.num_states:]), self.probs.shape[0] - 1)
        return self.probs[t, s]

    def __call__(self, obs: Array, key: PRNGKey) -> Array:
        p = self.action_probs(obs)
        if self.deterministic:
            return jnp.argmax(p).astype(jnp.int32)
        return jax.random.categorical(key, jnp.log(p)).astype(jnp.int32)


def tabular_policy(env: Env | TabularMDP, probs: Array,
                   deterministic: bool = False) -> TabularPolicy:
    """Wraps `pi[S, A]` or `pi[H, S, A]` as a `TabularPolicy` for `env`'s observations."""
    base = tabular_env(env)
    if probs.ndim == 3 and not base.time_in_obs:
        raise ValueError("probs: a time-dependent policy [H, S, A] needs time_in_obs=True")
    return TabularPolicy(jnp.asarray(probs, jnp.float32), base.num_states, deterministic)


def _grid_obs(env: Env | TabularMDP) -> tuple[Array, int]:
    """Observations of every `(t, s)` pair `[T + 1, S, obs_dim]` (or `[1, S, obs_dim]`
    without time in the observation), and the number of time steps `T + 1` (or 1)."""
    base = tabular_env(env)
    n = base.num_states
    steps = base.spec.max_episode_steps + 1 if base.time_in_obs else 1
    t, s = jnp.meshgrid(jnp.arange(steps), jnp.arange(n), indexing="ij")
    return jax.vmap(jax.vmap(base.observe))(s, t), steps


def to_actor_policy(env: Env | TabularMDP, probs: Array,
                    deterministic: bool = False) -> ActorPolicy:
    """An `ActorPolicy` that acts exactly like the table `probs` on `env`'s observations.

    Args:
        env: the tabular env (its observation layout: one-hot state, then one-hot time).
        probs: `pi[S, A]` or `pi[H, S, A]` (needs `time_in_obs`; steps `t >= H` use
            `pi[H - 1]`).
        deterministic: act with the most likely action.

    Returns:
        An `ActorPolicy` with a categorical head, identity normaliser and logits
        `log max(pi, 1e-30)`: one linear layer for a stationary table, else a hidden ReLU
        layer of `S * (T + 1)` units (one per state and time step).
    """
    base = tabular_env(env)
    n, a = base.num_states, base.spec.action_space.n
    logits = jnp.log(jnp.maximum(jnp.asarray(probs, jnp.float32), MIN_PROB))
    obs_dim = base.spec.observation_size
    if logits.ndim == 2:
        arch = PolicyArch(obs_dim, base.spec.action_space, hidden_sizes=(), head="categorical")
        weight = jnp.zeros((a, obs_dim), jnp.float32).at[:, :n].set(logits.T)
        layers = ((weight, jnp.zeros(a, jnp.float32)),)
    else:
        if not base.time_in_obs:
            raise ValueError("probs: a time-dependent policy [H, S, A] needs time_in_obs=True")
        steps = base.spec.max_episode_steps + 1
        t_idx = jnp.minimum(jnp.arange(steps), logits.shape[0] - 1)
        table = logits[t_idx].reshape(steps * n, a)  # unit (t, s) -> logits
        units = steps * n
        t, s = jnp.divmod(jnp.arange(units), n)
        hidden_w = (jax.nn.one_hot(s, obs_dim) + jax.nn.one_hot(n + t, obs_dim))
        arch = PolicyArch(obs_dim, base.spec.action_space, hidden_sizes=(units,),
                          head="categorical", activation="relu")
        layers = ((hidden_w, -jnp.ones(units, jnp.float32)),
                  (table.T, jnp.zeros(a, jnp.float32)))
    policy = make_actor_policy(arch, jax.random.key(0), init_normalizer(obs_dim))
    torso = policy.network.torso
    for i, (w, b) in enumerate(layers):
        torso = eqx.tree_at(lambda m, i=i: (m.layers[i].weight, m.layers[i].bias), torso,
                            (w, b))
    policy = eqx.tree_at(lambda p: p.network.torso, policy, torso)
    return policy.with_deterministic(deterministic)


def policy_table(env: Env | TabularMDP, policy: TabularPolicy | ActorPolicy) -> Array:
    """The action probabilities of a policy in every state (and time step).

    Args:
        env: the tabular env.
        policy: a `TabularPolicy`, or an `ActorPolicy` with a categorical head.

    Returns:
        `pi[T, S, A]` with `T = max_episode_steps` when the observation has time (rows
        `t >= H` of a finite-horizon MDP are never used), else `pi[S, A]`.
    """
    base = tabular_env(env)
    obs, steps = _grid_obs(base)
    if isinstance(policy, TabularPolicy):
        probs = jax.vmap(jax.vmap(policy.action_probs))(obs)
    else:
        probs = jax.vmap(jax.vmap(lambda o: policy.distribution(o).probs))(obs)
    if base.time_in_obs:
        return probs[:-1]  # the last time step (after the time limit) takes no action
    return probs[0]
