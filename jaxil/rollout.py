"""Rolling policies out in environments, as `lax.scan`s.

- `unroll`: `T` steps of a vectorised, auto-resetting env (training rollouts).
- `rollout_episodes`: exactly one complete episode in each of `N` parallel envs, padded
  to the time limit (evaluation and demonstration collection).

Both serve multi-agent envs (`jaxil.envs.multiagent`) as they are, with a multi-agent
policy `policy(obs[A, D], key) -> action[A]`: per-agent fields keep their agent axis `[A]`
after the batch axes, while `terminated` / `truncated` stay one per environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxil.envs.base import Env, EnvState
from jaxil.types import Array, Policy, PRNGKey, Transition

ActFn = Callable[[Array, PRNGKey], tuple[Array, Any]]
"""`act(obs[B, obs_dim], key) -> (action[B, ...], extras)`: a batched acting function."""


def batch_act(policy: Policy) -> ActFn:
    """Turns a single-observation `Policy` into a batched `ActFn` with no extras."""

    def act(obs: Array, key: PRNGKey) -> tuple[Array, None]:
        keys = jax.random.split(key, obs.shape[0])
        return jax.vmap(policy)(obs, keys), None

    return act


def unroll_with(env: Env, env_state: EnvState, act: ActFn, key: PRNGKey,
                length: int) -> tuple[EnvState, Transition, Any]:
    """Runs `length` steps of a vectorised env (see `jaxil.envs.vectorize`).

    Args:
        env: a vectorised, auto-resetting env; `env_state` has a leading `[B]` axis.
        env_state: the state to continue from.
        act: batched acting function; its `extras` (log-probs, values...) are stacked.
        key: PRNG key.
        length: number of steps `T`.

    Returns:
        `(env_state, transitions[T, B], extras[T, B])`. `transitions.next_obs` is the true
        next observation (the final one at an episode end, never the reset observation).
    """

    def step(state: EnvState, k: PRNGKey):
        action, extras = act(state.obs, k)
        nxt = env.step(state, action)
        next_obs = nxt.info.get("final_obs", nxt.obs)
        tr = Transition(state.obs, action, nxt.reward, next_obs, nxt.terminated, nxt.truncated)
        return nxt, (tr, extras)

    env_state, (transitions, extras) = jax.lax.scan(step, env_state,
                                                    jax.random.split(key, length))
    return env_state, transitions, extras


def unroll(env: Env, env_state: EnvState, policy: Policy, key: PRNGKey,
           length: int) -> tuple[EnvState, Transition]:
    """`unroll_with` for a single-observation `Policy`: `(env_state, Transition[T, B])`."""
    env_state, transitions, _ = unroll_with(env, env_state, batch_act(policy), key, length)
    return env_state, transitions


class Episodes(NamedTuple):
    """`N` complete episodes padded to the time limit `T`.

    Attributes:
        obs: `[N, T + 1, obs_dim]` (`[N, T + 1, A, D]` for a multi-agent env of `A`
            agents); after an episode ends its last observation is repeated.
        actions: `[N, T, ...]`; zero after the end.
        rewards: `[N, T]` (`[N, T, A]`, one per agent, multi-agent); zero after the end.
        terminated: `[N, T]` bool, true only at a real terminal step.
        truncated: `[N, T]` bool, true only at a time-limit step.
        lengths: `[N]` int32, number of steps of each episode.
    """

    obs: Array
    actions: Array
    rewards: Array
    terminated: Array
    truncated: Array
    lengths: Array

    @property
    def returns(self) -> Array:
        """Undiscounted return of each episode, `[N]`.

        Multi-agent (`rewards[N, T, A]`): the team return, the mean over agents of each
        agent's return (`agent_returns`); with a shared cooperative reward (MPE's
        simple_spread) every agent's return is the team return.
        """
        returns = self.agent_returns
        return returns if returns.ndim == 1 else jnp.mean(returns, axis=-1)

    @property
    def agent_returns(self) -> Array:
        """Undiscounted return of each episode, `[N]`, or of each agent, `[N, A]`."""
        return jnp.sum(self.rewards, axis=1)


def rollout_episodes(env: Env, policy: Policy, key: PRNGKey, num_episodes: int) -> Episodes:
    """Runs one full episode in each of `num_episodes` parallel copies of `env`.

    `env` must carry a time limit (as `jaxil.envs.make` gives it), and must not auto-reset.
    Once an episode ends its state is frozen, so padding never runs the dynamics further.
    A multi-agent env takes a multi-agent policy (`policy(obs[A, D], key) -> action[A]`,
    e.g. `jaxil.rl.mappo`'s); its `Episodes` hold per-agent rewards `[N, T, A]`.
    """
    horizon = env.spec.max_episode_steps
    reset_key, run_key = jax.random.split(key)
    state0 = jax.vmap(env.reset)(jax.random.split(reset_key, num_episodes))
    act = batch_act(policy)

    def step(carry, k):
        state, finished = carry
        action, _ = act(state.obs, k)
        nxt = jax.vmap(env.step)(state, action)
        live = ~finished

        def keep(new, old):
            mask = jnp.reshape(live, live.shape + (1,) * (new.ndim - 1))
            return jnp.where(mask, new, old)

        frozen = jax.tree.map(keep, nxt, state)
        out = (
            frozen.obs,
            jnp.where(jnp.reshape(live, live.shape + (1,) * (action.ndim - 1)), action,
                      jnp.zeros_like(action)),
            jnp.where(jnp.reshape(live, live.shape + (1,) * (nxt.reward.ndim - 1)),
                      nxt.reward, 0.0),
            live & nxt.terminated,
            live & nxt.truncated,
            live,
        )
        return (frozen, finished | nxt.terminated | nxt.truncated), out

    (_, _), (obs, actions, rewards, term, trunc, live) = jax.lax.scan(
        step, (state0, jnp.zeros(num_episodes, bool)), jax.random.split(run_key, horizon))
    swap = lambda x: jnp.swapaxes(x, 0, 1)
    obs = jnp.concatenate([state0.obs[:, None], swap(obs)], axis=1)
    lengths = jnp.sum(live, axis=0, dtype=jnp.int32)
    return Episodes(obs, swap(actions), swap(rewards), swap(term), swap(trunc), lengths)
