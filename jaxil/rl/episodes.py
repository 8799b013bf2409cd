"""Tracking the returns of the episodes that finish inside training rollouts.

Training rollouts come from auto-resetting environments, so an episode may span several
rollouts. `EpisodeStats` carries each environment's running return and length from one
rollout to the next (explicit state, returned, never mutated); `track_episodes` folds a
`[T, B]` rollout into it and reports the mean return and length of the episodes that
finished during the rollout, for learning curves.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from jaxil.types import Array, Metrics, Transition


class EpisodeStats(NamedTuple):
    """Running episode statistics of `B` auto-resetting environments.

    Attributes:
        running_return: `[B]` float32, return of each environment's current episode so far.
        running_length: `[B]` float32, its number of steps so far.
        last_return: `[]` float32, mean return of the episodes that finished in the most
            recent rollout in which any finished (0 before the first one finishes).
        last_length: `[]` float32, their mean length.
    """

    running_return: Array
    running_length: Array
    last_return: Array
    last_length: Array


def init_episode_stats(num_envs: int) -> EpisodeStats:
    """Zero statistics for `num_envs` environments that have just been reset."""
    zeros = jnp.zeros(num_envs, jnp.float32)
    zero = jnp.zeros((), jnp.float32)
    return EpisodeStats(zeros, zeros, zero, zero)


def track_episodes(stats: EpisodeStats, rewards: Array, done: Array
                   ) -> tuple[EpisodeStats, Metrics]:
    """Folds a rollout into `stats`.

    Args:
        stats: statistics carried over from the previous rollout.
        rewards: `[T, B]` rewards (pass the environment's, not a learned reward, to track
            the real task return).
        done: `[T, B]` bool, `terminated | truncated`.

    Returns:
        `(stats, metrics)`; metrics (`[]` float32 each): `episode_return` and
        `episode_length`, the means over the episodes that finished in this rollout (the
        previous values when none finished), and `episodes`, how many finished.
    """
    chex.assert_rank([rewards, done], 2)
    chex.assert_equal_shape([rewards, done])
    chex.assert_shape(stats.running_return, rewards.shape[1:])

    def step(carry, x):
        ret, length = carry
        reward, end = x
        ret, length = ret + reward, length + 1.0
        out = (jnp.where(end, ret, 0.0), jnp.where(end, length, 0.0))
        return (jnp.where(end, 0.0, ret), jnp.where(end, 0.0, length)), out

    (ret, length), (ended_ret, ended_len) = jax.lax.scan(
        step, (stats.running_return, stats.running_length),
        (rewards.astype(jnp.float32), done.astype(bool)))
    count = jnp.sum(done.astype(jnp.float32))
    safe = jnp.maximum(count, 1.0)
    last_return = jnp.where(count > 0, jnp.sum(ended_ret) / safe, stats.last_return)
    last_length = jnp.where(count > 0, jnp.sum(ended_len) / safe, stats.last_length)
    metrics = {"episode_return": last_return, "episode_length": last_length,
               "episodes": count}
    return EpisodeStats(ret, length, last_return, last_length), metrics


def track_transitions(stats: EpisodeStats, transitions: Transition
                      ) -> tuple[EpisodeStats, Metrics]:
    """`track_episodes` of a `Transition[T, B]` rollout, with its environment rewards."""
    done = transitions.terminated | transitions.truncated
    return track_episodes(stats, transitions.reward, done)
