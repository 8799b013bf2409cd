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


def is_prng_key(x: Any) -> bool:
    """A typed PRNG key array (or its shape), from `jax.random.key`."""
    dtype = getattr(x, "dtype", None)
    return dtype is not None and jax.numpy.issubdtype(dtype, jax.dtypes.prng_key)


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


# Specs are static descriptions: inside a pytree (`Demos.spec`) they are structure, not
# leaves, so they pass through `jit` and `vmap` unchanged.
jax.tree_util.register_static(EnvSpec)


def action_space_to_json(space: ActionSpace) -> dict[str, Any]:
    """`{"type": "discrete", "n": n}` or `{"type": "box", "shape", "low", "high"}`."""
    if isinstance(space, Discrete):
        return {"type": "discrete", "n": space.n}
    as_list = lambda b: list(b) if isinstance(b, tuple) else b
    return {"type": "box", "shape": list(space.shape), "low": as_list(space.low),
            "high": as_list(space.high)}


def _json_field(d: Any, name: str, kind: type | tuple[type, ...], where: str) -> Any:
    """`d[name]`, checked to be a `kind`; `ValueError` naming `where.name` otherwise."""
    if not isinstance(d, dict) or name not in d:
        raise ValueError(f"{where}.{name}: missing (expected {where} to be an object with a "
                         f"{name!r} entry)")
    value = d[name]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"{where}.{name}: expected {getattr(kind, '__name__', kind)}, "
                         f"found {value!r}")
    return value


def action_space_from_json(d: Any, where: str = "action_space") -> ActionSpace:
    """Inverse of `action_space_to_json`; `ValueError` naming the field if malformed."""
    kind = _json_field(d, "type", str, where)
    if kind == "discrete":
        n = _json_field(d, "n", int, where)
        if n < 1:
            raise ValueError(f"{where}.n: expected a positive number of actions, found {n}")
        return Discrete(n)
    if kind != "box":
        raise ValueError(f"{where}.type: expected 'discrete' or 'box', found {kind!r}")
    shape = _json_field(d, "shape", list, where)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape):
        raise ValueError(f"{where}.shape: expected a list of positive ints, found {shape}")
    size = 1
    for s in shape:
        size *= s

    def bound(name: str) -> float | tuple[float, ...]:
        b = _json_field(d, name, (int, float, list), where)
        values = b if isinstance(b, list) else [b]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values) \
                or (isinstance(b, list) and len(b) != size):
            raise ValueError(f"{where}.{name}: expected a number or a list of {size} "
                             f"numbers, found {b!r}")
        return tuple(float(v) for v in b) if isinstance(b, list) else float(b)

    return Box(tuple(shape), bound("low"), bound("high"))


def spec_to_json(spec: EnvSpec) -> dict[str, Any]:
    """The spec as a JSON-serialisable dict (`spec_from_json` reads it back)."""
    return {"name": spec.name, "observation_size": spec.observation_size,
            "action_space": action_space_to_json(spec.action_space),
            "max_episode_steps": spec.max_episode_steps}


def spec_from_json(d: Any, where: str = "spec") -> EnvSpec:
    """Inverse of `spec_to_json`; `ValueError` naming the field (`spec.name`, ...)."""
    name = _json_field(d, "name", str, where)
    size = _json_field(d, "observation_size", int, where)
    steps = _json_field(d, "max_episode_steps", int, where)
    if size < 1 or steps < 1:
        raise ValueError(f"{where}: expected positive observation_size and "
                         f"max_episode_steps, found {size} and {steps}")
    space = action_space_from_json(_json_field(d, "action_space", dict, where),
                                   f"{where}.action_space")
    return EnvSpec(name, size, space, steps)


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
