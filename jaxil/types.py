"""Core types shared by every module: transitions, spaces, env specs and protocols.

Shapes in docstrings use `B` for a batch of environments, `T` for time and `...` for any
leading batch dimensions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax

Array = jax.Array
PRNGKey = jax.Array
PyTree = Any
Metrics = dict[str, Array]


@dataclasses.dataclass(frozen=True)
class Discrete:
    """A discrete action space with actions `0, ..., n - 1` (integer scalars)."""

    n: int

    @property
    def shape(self) -> tuple[int, ...]:
        return ()


@dataclasses.dataclass(frozen=True)
class Box:
    """A continuous action space: arrays of `shape` with bounds `low <= a <= high`.

    `low` and `high` are Python floats (the same bound for every dimension) or tuples of
    floats, one per dimension.
    """

    shape: tuple[int, ...]
    low: float | tuple[float, ...] = -1.0
    high: float | tuple[float, ...] = 1.0


ActionSpace = Discrete | Box


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """Static description of an environment.

    Attributes:
        name: the name `jaxil.envs.make` knows it by.
        observation_size: length of the flat float32 observation vector.
        action_space: `Discrete` or `Box`.
        max_episode_steps: the time limit (episodes are truncated after this many steps).
    """

    name: str
    observation_size: int
    action_space: ActionSpace
    max_episode_steps: int

    @property
    def discrete(self) -> bool:
        return isinstance(self.action_space, Discrete)

    @property
    def action_size(self) -> int:
        """Number of actions (discrete) or action dimensions (continuous)."""
        if isinstance(self.action_space, Discrete):
            return self.action_space.n
        size = 1
        for d in self.action_space.shape:
            size *= d
        return size


class Transition(NamedTuple):
    """One environment step, or any stack of them (`[..., obs_dim]` etc.).

    Attributes:
        obs: observation before the step, `[..., obs_dim]` float32.
        action: action taken, `[...]` int32 (discrete) or `[..., act_dim]` float32.
        reward: reward received, `[...]` float32.
        next_obs: the true next observation, `[..., obs_dim]`; at the end of an episode this
            is the real final observation, never the reset observation of the next one.
        terminated: `[...]` bool, the episode really ended (no bootstrapping).
        truncated: `[...]` bool, the episode was cut by a time limit (bootstrap from
            `next_obs`).
    """

    obs: Array
    action: Array
    reward: Array
    next_obs: Array
    terminated: Array
    truncated: Array


@runtime_checkable
class Policy(Protocol):
    """A callable pytree: `policy(obs, key) -> action` for one observation `[obs_dim]`."""

    def __call__(self, obs: Array, key: PRNGKey) -> Array: ...


RewardFn = Callable[[Array, Array, Array], Array]
"""`reward_fn(obs, action, next_obs) -> reward`, for single transitions (vmap for batches)."""
