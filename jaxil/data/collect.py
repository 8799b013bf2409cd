"""Collecting demonstrations by running a policy for complete episodes."""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np

from jaxil.data.demos import Demos, make_demos
from jaxil.envs.base import Env
from jaxil.envs.multiagent import MultiAgentSpec
from jaxil.envs.wrappers import AutoReset, VmapEnv, Wrapper
from jaxil.rollout import rollout_episodes
from jaxil.types import Box, Policy, PRNGKey

_rollout = eqx.filter_jit(rollout_episodes)


def _check_env(env: Env) -> None:
    layer = env
    while True:
        if isinstance(layer, AutoReset | VmapEnv):
            raise ValueError(
                f"env: expected a single env with a time limit (as `jaxil.envs.make` gives "
                f"it), found {env!r}, which contains {type(layer).__name__}")
        if not isinstance(layer, Wrapper):
            return
        layer = layer.env


def acting_mode(policy: Policy, deterministic: bool | None) -> Policy:
    """`policy` set to act with its mode (`True`) or by sampling (`False`).

    Applies to policies with a `with_deterministic` method (`ActorPolicy`); other policies
    (scripted experts, plain functions) act as they are. `None` keeps the policy's mode.
    """
    if deterministic is None or not hasattr(policy, "with_deterministic"):
        return policy
    return policy.with_deterministic(deterministic)


def collect(env: Env, policy: Policy, key: PRNGKey, num_episodes: int, *,
            deterministic: bool | None = True) -> Demos:
    """Runs `policy` for `num_episodes` complete episodes of `env` and returns them as `Demos`.

    The episodes run in parallel, one per copy of `env`, each until it terminates or hits
    the env's time limit `T = env.spec.max_episode_steps`; the rollout is compiled once per
    (env, policy structure, num_episodes). `obs[i, lengths[i]]` is the true final
    observation of episode `i`, `terminated`/`truncated` tell a real end from a time-out,
    and rewards are kept. Continuous actions are recorded clipped to the action bounds, as
    the built-in and Brax envs execute them (a plain Gaussian policy samples beyond them).

    A multi-agent env (`jaxil.envs.make("mpe/simple_spread")`) takes a multi-agent policy
    (`policy(obs[A, D], key) -> action[A]`, e.g. `jaxil.rl.MultiAgentPolicy`) and gives
    multi-agent `Demos` (obs `[N, T + 1, A, D]`, actions `[N, T, A, ...]`, rewards
    `[N, T, A]`, flags `[N, T]` one per env; see `Demos`), with each agent's continuous
    actions clipped to its own bounds.

    Args:
        env: one (not vectorised, not auto-resetting) env with a time limit, e.g.
            `jaxil.envs.make("cartpole")`.
        policy: `policy(obs[obs_dim], key) -> action`, a pytree (e.g. an `equinox.Module`).
        key: PRNG key; the same key gives the same demos.
        num_episodes: number of episodes `N >= 1`.
        deterministic: record the expert's deterministic action (the mode / mean of its
            distribution; the default, and what behavioural cloning should copy), `False`
            to record sampled actions, `None` to act as `policy` is set to. Applies to
            policies with `with_deterministic` (an `ActorPolicy`); others act as they are.

    Returns:
        Validated `Demos` of numpy arrays: obs `[N, T + 1, obs_dim]`, actions `[N, T, ...]`,
        rewards/terminated/truncated `[N, T]`, lengths `[N]`.
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes: expected >= 1, got {num_episodes}")
    _check_env(env)
    policy = acting_mode(policy, deterministic)
    ep = jax.tree.map(np.asarray, _rollout(env, policy, key, int(num_episodes)))
    actions = ep.actions
    if isinstance(env.spec, MultiAgentSpec):
        actions = _clip_agents(actions, env.spec)
    elif isinstance(env.spec.action_space, Box):  # what every built-in and Brax env executes
        space = env.spec.action_space
        actions = np.clip(actions, space.low, space.high).astype(actions.dtype)
    return make_demos(ep.obs, actions, ep.rewards, ep.terminated, ep.truncated, ep.lengths,
                      spec=env.spec)


def _clip_agents(actions: np.ndarray, spec: MultiAgentSpec) -> np.ndarray:
    """`actions[N, T, A, *shape]` clipped to each agent's `Box` bounds (discrete: as is)."""
    if not isinstance(spec.agent_specs[0].action_space, Box):
        return actions
    shape = spec.agent_specs[0].action_space.shape
    low = np.stack([np.broadcast_to(s.action_space.low, shape) for s in spec.agent_specs])
    high = np.stack([np.broadcast_to(s.action_space.high, shape) for s in spec.agent_specs])
    return np.clip(actions, low, high).astype(actions.dtype)
