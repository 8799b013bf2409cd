"""Generalised advantage estimation (Schulman et al. 2016) over `[T, B]` rollouts.

The rollout comes from auto-resetting environments, so one column `b` may hold several
episodes. Two rules follow from jaxil's `terminated` / `truncated` split:

- the one-step target bootstraps from `V(next_obs)` unless the step *terminated*:
  `delta_t = r_t + gamma * (1 - terminated_t) * next_values_t - values_t`. A time-out
  (`truncated`) is bootstrapped, because `next_obs` is the true final observation;
- the recursion `A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}` is cut at every
  episode end (`done = terminated | truncated`), because step `t + 1` of the rollout
  already belongs to the next episode.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from jaxil.types import Array


def gae(rewards: Array, values: Array, next_values: Array, terminated: Array,
        truncated: Array, gamma: Array | float, gae_lambda: Array | float
        ) -> tuple[Array, Array]:
    """Generalised advantages and value targets of a `[T, B]` rollout.

    Args:
        rewards: `[T, B]` float, `r_t`.
        values: `[T, B]` float, `V(obs_t)`.
        next_values: `[T, B]` float, `V(next_obs_t)` of the *true* next observation
            (`Transition.next_obs`: the real final observation at an episode end).
        terminated: `[T, B]` bool (or 0/1), the episode really ended at step `t`: no
            bootstrapping from `next_values_t`.
        truncated: `[T, B]` bool (or 0/1), the episode hit its time limit at step `t`:
            bootstrap from `next_values_t`, but do not carry the advantage across.
        gamma: `[]` discount.
        gae_lambda: `[]` GAE's lambda (0: one-step TD, 1: Monte-Carlo returns).

    Returns:
        `(advantages, targets)`, both `[T, B]` float32, with `targets = advantages + values`
        (the value-function regression targets). Both are treated as constants
        (`stop_gradient`).
    """
    chex.assert_rank([rewards, values, next_values, terminated, truncated], 2)
    chex.assert_equal_shape([rewards, values, next_values, terminated, truncated])
    chex.assert_rank([jnp.asarray(gamma), jnp.asarray(gae_lambda)], 0)
    f32 = jnp.float32
    values = jax.lax.stop_gradient(values.astype(f32))
    next_values = jax.lax.stop_gradient(next_values.astype(f32))
    terminated = terminated.astype(bool)
    not_terminated = (~terminated).astype(f32)
    not_done = (~(terminated | truncated.astype(bool))).astype(f32)
    deltas = rewards.astype(f32) + gamma * not_terminated * next_values - values

    def backward(next_advantage: Array, x: tuple[Array, Array]) -> tuple[Array, Array]:
        delta, live = x
        advantage = delta + gamma * gae_lambda * live * next_advantage
        return advantage, advantage

    _, advantages = jax.lax.scan(backward, jnp.zeros_like(deltas[0]), (deltas, not_done),
                                 reverse=True)
    return advantages, advantages + values


def normalize_advantages(advantages: Array, eps: float = 1e-8) -> Array:
    """`(A - mean(A)) / (std(A) + eps)` over all elements of `advantages` (any shape)."""
    return (advantages - jnp.mean(advantages)) / (jnp.std(advantages) + eps)
