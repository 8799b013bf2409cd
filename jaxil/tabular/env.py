"""A `TabularMDP` as a Brax-style environment, and demonstrations -> state indices.

Observation layout of `TabularEnv`: the one-hot state `[S]`, followed, when `time_in_obs`
(the default for a finite horizon, whose MCE/optimal policies depend on time), by the
one-hot time step `[T + 1]` (`T = max_episode_steps`). Actions are `Discrete(A)`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxil.data.demos import Demos, step_mask
from jaxil.envs.base import Env, EnvState, base_state
from jaxil.tabular.mdp import TabularMDP
from jaxil.tabular.occupancy import Occupancy, empirical_occupancy, plugin_occupancy
from jaxil.tabular.solvers import reward_tables
from jaxil.types import Array, Discrete, EnvSpec, PRNGKey, Transition

DEFAULT_EPISODE_STEPS = 100  # time limit of an infinite-horizon MDP's env view


class TabularEnvState(NamedTuple):
    """`state` `[]` int32 index, `time` `[]` int32 step, `key` for sampling transitions."""

    state: Array
    time: Array
    key: PRNGKey


class TabularEnv(Env):
    """A `TabularMDP` as an `Env` (see the module docstring for the observation).

    The step reward is the MDP's true reward `r(s_t, a_t)` (zero when it has none); for a
    finite-horizon state reward, the last step also receives `r(s_H)`, so an episode's
    undiscounted return is the MDP's return for `discount=1`. Episodes never terminate;
    they are truncated after `H` steps (finite horizon) or `max_episode_steps`.

    Args:
        mdp: the MDP.
        max_episode_steps: time limit; defaults to the horizon (or 100 when infinite).
        time_in_obs: append the one-hot time step; defaults to `mdp.horizon is not None`.
        name: the env's `spec.name`.
    """

    def __init__(self, mdp: TabularMDP, *, max_episode_steps: int | None = None,
                 time_in_obs: bool | None = None, name: str = "tabular"):
        self.mdp = mdp
        steps = max_episode_steps or mdp.horizon or DEFAULT_EPISODE_STEPS
        self.time_in_obs = mdp.horizon is not None if time_in_obs is None else time_in_obs
        self.num_states = mdp.num_states
        size = self.num_states + (steps + 1 if self.time_in_obs else 0)
        self.spec = EnvSpec(name, size, Discrete(mdp.num_actions), int(steps))

    def observe(self, state: Array, time: Array) -> Array:
        """The observation `[obs_dim]` of state index `state` at step `time`."""
        obs = jax.nn.one_hot(state, self.num_states, dtype=jnp.float32)
        if self.time_in_obs:
            t = jnp.minimum(time, self.spec.max_episode_steps)
            obs = jnp.concatenate([obs, jax.nn.one_hot(t, self.spec.max_episode_steps + 1)])
        return obs

    def reset(self, key: PRNGKey) -> EnvState:
        k_s, k_next = jax.random.split(key)
        s = jax.random.categorical(k_s, jnp.log(self.mdp.initial)).astype(jnp.int32)
        t = jnp.zeros((), jnp.int32)
        return base_state(TabularEnvState(s, t, k_next), self.observe(s, t))

    def step(self, state: EnvState, action: Array) -> EnvState:
        inner: TabularEnvState = state.inner
        key, k_s = jax.random.split(inner.key)
        a = jnp.asarray(action, jnp.int32)
        probs = self.mdp.transitions[inner.state, a]
        s_next = jax.random.categorical(k_s, jnp.log(probs)).astype(jnp.int32)
        t_next = inner.time + 1
        if self.mdp.reward is None:
            reward = jnp.zeros((), jnp.float32)
        else:
            r_sa, r_final = reward_tables(self.mdp)
            reward = r_sa[inner.state, a]
            if self.mdp.horizon is not None:
                reward = reward + jnp.where(t_next == self.mdp.horizon, r_final[s_next], 0.0)
        return state._replace(inner=TabularEnvState(s_next, t_next, key),
                              obs=self.observe(s_next, t_next), reward=reward)


def tabular_env(env_or_mdp: Env | TabularMDP) -> TabularEnv:
    """The `TabularEnv` under (possibly wrapped) `env`; a bare `TabularMDP` gets the
    default `TabularEnv` view."""
    if isinstance(env_or_mdp, TabularMDP):
        return TabularEnv(env_or_mdp)
    base = env_or_mdp.unwrapped
    if not isinstance(base, TabularEnv):
        raise TypeError(f"env: expected a tabular env (jaxil.tabular.TabularEnv), got "
                        f"{type(base).__name__}")
    return base


class DemoIndices(NamedTuple):
    """Demonstrations as flat index arrays `[M]` (see `demo_indices`).

    Attributes:
        states, actions, next_states: int32 indices.
        times: int32 time step of each transition, or `None` when unknown.
        weights: float32 0/1 mask of valid transitions.
    """

    states: Array
    actions: Array
    times: Array | None
    next_states: Array
    weights: Array


def demo_indices(env: Env | TabularMDP, demos: Demos | Transition) -> DemoIndices:
    """Converts `Demos` (padded episodes) or flat `Transition`s of a tabular env back to
    state / action / time indices.

    Time steps come from the position in a `Demos` episode, or from the observation when
    `env.time_in_obs`; flat transitions without time in the observation give `times=None`.
    Jittable for a `Transition` input.
    """
    base = tabular_env(env)
    n = base.num_states
    if isinstance(demos, Demos):
        if demos.actions is None:
            raise ValueError("actions: tabular IRL needs demonstrations with actions")
        mask = step_mask(demos)
        obs = np.asarray(demos.obs)
        times = np.broadcast_to(np.arange(mask.shape[1]), mask.shape)
        return DemoIndices(
            states=jnp.asarray(np.argmax(obs[:, :-1, :n], -1)[mask], jnp.int32),
            actions=jnp.asarray(np.asarray(demos.actions)[mask], jnp.int32),
            times=jnp.asarray(times[mask], jnp.int32),
            next_states=jnp.asarray(np.argmax(obs[:, 1:, :n], -1)[mask], jnp.int32),
            weights=jnp.ones(int(mask.sum()), jnp.float32),
        )
    states = jnp.argmax(demos.obs[..., :n], -1).astype(jnp.int32)
    times = (jnp.argmax(demos.obs[..., n:], -1).astype(jnp.int32) if base.time_in_obs
             else None)
    return DemoIndices(states, jnp.asarray(demos.action, jnp.int32), times,
                       jnp.argmax(demos.next_obs[..., :n], -1).astype(jnp.int32),
                       jnp.ones(states.shape, jnp.float32))


def occupancy_from_demos(env: Env | TabularMDP, demos: Demos | Transition) -> Occupancy:
    """The expert's occupancy measure estimated from demonstrations.

    Time-indexed demonstrations (`Demos`, or transitions with time in the observation)
    give the Monte-Carlo estimate `empirical_occupancy`; transitions without time give
    `plugin_occupancy` (the empirical policy's exact occupancy under the known dynamics).
    """
    base = tabular_env(env)
    idx = demo_indices(base, demos)
    if idx.times is None:
        return plugin_occupancy(base.mdp, idx.states, idx.actions, idx.weights)
    return empirical_occupancy(base.mdp, idx.states, idx.actions, idx.times,
                               idx.next_states, idx.weights)
