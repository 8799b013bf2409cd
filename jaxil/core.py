"""The algorithm protocol (optax-style): a pair of pure functions plus an acting function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from jaxil.types import EnvSpec, Policy, PRNGKey, Transition

State = Any
Batch = Any


class Algorithm(NamedTuple):
    """An imitation (or RL) method as pure functions.

    Attributes:
        init: `init(key, demos=None) -> State`. `demos`, when given, is the flat
            `Transition` view of the demonstrations `[M, ...]`, used only for
            data-dependent initial state (observation-normaliser statistics).
        update: `update(state, batch) -> State`, one pure, jittable step. `batch` is a
            `Transition` minibatch of expert data `[batch_size, ...]` (or `None` for methods
            that need no demonstrations). `state.metrics` holds the step's scalar
            diagnostics.
        policy: `policy(state) -> Policy`, the acting function learned so far.
        spec: the `EnvSpec` of the env the method acts in (`None` if it has none, e.g. a
            bare tabular MDP); `jaxil.train` checks demonstrations against it.
    """

    init: Callable[[PRNGKey, Transition | None], State]
    update: Callable[[State, Batch], State]
    policy: Callable[[State], Policy]
    spec: EnvSpec | None = None
