"""Evaluating policies: returns of complete episodes and expert-normalised scores."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from jaxil.envs.base import Env
from jaxil.rollout import rollout_episodes
from jaxil.types import Array, Policy, PRNGKey

_rollout = eqx.filter_jit(rollout_episodes)


def evaluate(env: Env, policy: Policy, key: PRNGKey, num_episodes: int = 20) -> Array:
    """Returns of `num_episodes` complete episodes, `[num_episodes]` float32.

    Each episode runs until it terminates or hits `env`'s time limit. Compiled once per
    (env, policy structure, num_episodes).
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes: expected >= 1, got {num_episodes}")
    return _rollout(env, policy, key, num_episodes).returns


def normalized_score(returns: Array | float, random_return: Array | float,
                     expert_return: Array | float) -> Array:
    """`(returns - random) / (expert - random)`: 0 for a random policy, 1 for the expert."""
    returns = jnp.asarray(returns, jnp.float32)
    return (returns - random_return) / (jnp.asarray(expert_return) - random_return)
