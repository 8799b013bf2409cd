"""`Demos`: padded expert episodes, and their flat transitions view."""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from jaxil.types import Array, Transition


class Demos(NamedTuple):
    """`N` episodes padded to `T` steps. Build with `jaxil.data.make_demos` (which validates).

    Attributes:
        obs: `[N, T + 1, obs_dim]` float32; `obs[i, t + 1]` follows `actions[i, t]`, and
            `obs[i, lengths[i]]` is the true final observation of episode `i`.
        actions: `[N, T]` int32 (discrete) or `[N, T, act_dim]` float32; `None` for
            state-only demonstrations.
        rewards: `[N, T]` float32 or `None`.
        terminated: `[N, T]` bool, true at a real terminal step.
        truncated: `[N, T]` bool, true at a time-limit step.
        lengths: `[N]` int32, steps in each episode (`1 <= lengths <= T`).
    """

    obs: Array
    actions: Array | None
    rewards: Array | None
    terminated: Array
    truncated: Array
    lengths: Array

    @property
    def num_episodes(self) -> int:
        return int(self.obs.shape[0])

    @property
    def num_transitions(self) -> int:
        return int(np.sum(np.asarray(self.lengths)))

    @property
    def returns(self) -> np.ndarray:
        """Undiscounted return of each episode `[N]` (needs rewards)."""
        if self.rewards is None:
            raise ValueError("rewards: these demos carry no rewards")
        rewards, lengths = np.asarray(self.rewards), np.asarray(self.lengths)
        mask = np.arange(rewards.shape[1])[None] < lengths[:, None]
        return np.sum(np.where(mask, rewards, 0.0), axis=1)


def step_mask(demos: Demos) -> np.ndarray:
    """`[N, T]` bool, true for the steps inside each episode."""
    t = np.asarray(demos.terminated).shape[1]
    return np.arange(t)[None] < np.asarray(demos.lengths)[:, None]


def as_transitions(demos: Demos | Transition) -> Transition:
    """The valid steps of `demos` as one flat `Transition` of `[M, ...]` arrays (on host).

    `M = sum(lengths)`. A `Transition` is returned as it is.
    """
    if isinstance(demos, Transition):
        return demos
    mask = step_mask(demos)
    obs = np.asarray(demos.obs)
    pick = lambda x: None if x is None else jax.numpy.asarray(np.asarray(x)[mask])
    rewards = demos.rewards if demos.rewards is not None else np.zeros(mask.shape, np.float32)
    return Transition(
        obs=pick(obs[:, :-1]),
        action=pick(demos.actions),
        reward=pick(rewards),
        next_obs=pick(obs[:, 1:]),
        terminated=pick(demos.terminated),
        truncated=pick(demos.truncated),
    )
