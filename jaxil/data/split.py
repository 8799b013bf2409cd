"""Single-agent demonstrations of a body as the multi-agent demonstrations of its actuator
split (`jaxil.envs.cooperative`), so a whole-body expert demonstrates the cooperative task."""

from __future__ import annotations

import jax
import numpy as np

from jaxil.data.demos import Demos, make_demos
from jaxil.envs.base import Env
from jaxil.envs.cooperative import ActuatorSplit


def split_demos(env: Env, demos: Demos) -> Demos:
    """Demos of a single-agent env as the demos of its `ActuatorSplit`.

    A whole-body expert (`jaxil.experts.train_ppo(jaxil.envs.make("brax/halfcheetah"),
    key)`) or a file of its episodes demonstrates `coop/brax/halfcheetah` through this:
    each agent's observation is its view of the body's (`env.observations`: the whole
    observation, or its own entries, zero-padded), its action the body's actions of its
    actuators (`groups[i]`), its reward the body's.

    Args:
        env: the split (`jaxil.envs.make("coop/...")` or an `ActuatorSplit`, wrapped or not).
        demos: single-agent `Demos` of the inner env, with actions: `obs[E, T + 1,
            obs_size]`, `actions[E, T, A]`, `rewards[E, T]` or `None`.

    Returns:
        Validated multi-agent `Demos` with `env.spec`: `obs[E, T + 1, N, D]`,
        `actions[E, T, N, k]`, `rewards[E, T, N]` (every agent the body's reward) or
        `None`; `terminated`, `truncated` and `lengths` as given.

    Raises:
        ValueError: naming the field, if `env` is not a split, or `demos` are multi-agent,
            state-only, or of another observation size or action shape than the inner
            env's.
    """
    split = env.unwrapped
    if not isinstance(split, ActuatorSplit):
        raise ValueError(f"env: expected an actuator split (jaxil.envs.make('coop/...') or an "
                         f"ActuatorSplit), got {env.spec.name}")
    inner = split.env.spec
    num_actuators = inner.action_space.shape[0]
    if demos.multiagent:
        raise ValueError(f"demos: expected single-agent demos of {inner.name}, got multi-agent "
                         f"demos of {demos.spec.name}")
    if demos.actions is None:
        raise ValueError(f"demos.actions: expected [E, T, {num_actuators}] actions of "
                         f"{inner.name}, got state-only demos")
    obs, actions = np.asarray(demos.obs), np.asarray(demos.actions)
    if obs.ndim != 3 or obs.shape[-1] != inner.observation_size:
        raise ValueError(f"demos.obs: expected [E, T + 1, {inner.observation_size}] "
                         f"observations of {inner.name}, got shape {list(obs.shape)}")
    if actions.ndim != 3 or actions.shape[-1] != num_actuators:
        raise ValueError(f"demos.actions: expected [E, T, {num_actuators}] actions of "
                         f"{inner.name}, got shape {list(actions.shape)}")
    agent_obs = np.asarray(jax.vmap(jax.vmap(split.observations))(obs))  # [E, T + 1, N, D]
    agent_actions = np.stack([actions[..., list(group)] for group in split.groups], axis=2)
    rewards = None if demos.rewards is None else np.repeat(
        np.asarray(demos.rewards)[..., None], split.num_agents, axis=-1)
    return make_demos(agent_obs, agent_actions, rewards, demos.terminated, demos.truncated,
                      demos.lengths, spec=env.spec)
