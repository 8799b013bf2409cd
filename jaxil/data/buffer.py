"""A pure-functional, fixed-capacity circular replay buffer of `Transition`s.

Every function is pure and jittable; the buffer is an explicit `BufferState` that is
passed in and returned (keep it in an algorithm's state). Once full, new transitions
overwrite the oldest ones.

    state = buffer_init(example, capacity=10_000)
    state = buffer_add(state, transitions)          # [N, ...] or [T, B, ...]
    batch = buffer_sample(state, key, batch_size)   # [batch_size, ...]
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxil.types import Array, PRNGKey, Transition


class BufferState(NamedTuple):
    """Replay buffer contents.

    Attributes:
        data: `Transition` with leaves `[capacity, ...]`; only the first `size` slots (in
            storage order) hold data.
        position: `[]` int32, the slot the next transition is written to.
        size: `[]` int32, the number of filled slots (`<= capacity`).
    """

    data: Transition
    position: Array
    size: Array

    @property
    def capacity(self) -> int:
        return int(jax.tree.leaves(self.data)[0].shape[0])


def buffer_init(example: Transition, capacity: int) -> BufferState:
    """An empty buffer for transitions shaped like `example`.

    Args:
        example: one transition (leaves without a batch axis, e.g. `obs[obs_dim]`), or any
            array pytree; only shapes and dtypes are used. `None` leaves stay `None`.
        capacity: number of slots (static), `>= 1`.

    Returns:
        A `BufferState` with zero-filled `[capacity, ...]` storage, `position = size = 0`.
    """
    if capacity < 1:
        raise ValueError(f"capacity: expected >= 1, got {capacity}")
    data = jax.tree.map(lambda x: jnp.zeros((capacity, *jnp.shape(x)), jnp.result_type(x)),
                        example)
    zero = jnp.zeros((), jnp.int32)
    return BufferState(data, zero, zero)


def buffer_add(state: BufferState, transitions: Transition) -> BufferState:
    """Writes a batch of transitions, overwriting the oldest ones once full.

    Args:
        state: the buffer.
        transitions: leaves `[N, ...]` or with several leading axes (e.g. `[T, B, ...]`
            from `jaxil.unroll`, flattened in order); the trailing axes must match the
            buffer's. If `N > capacity` only the last `capacity` are kept.

    Returns:
        The new `BufferState`.
    """
    capacity = state.capacity

    def flat(buf, x):
        lead = x.ndim - (buf.ndim - 1)
        if lead < 1 or x.shape[lead:] != buf.shape[1:]:
            raise ValueError(f"transitions: expected leaves [N, {list(buf.shape[1:])}...], "
                             f"found shape {list(x.shape)}")
        return jnp.reshape(x, (-1, *buf.shape[1:]))

    new = jax.tree.map(flat, state.data, transitions)
    n = jax.tree.leaves(new)[0].shape[0]
    if n > capacity:  # static: keep the newest `capacity` (scatter indices must be unique)
        skip = n - capacity
        new = jax.tree.map(lambda x: x[skip:], new)
        position = (state.position + skip) % capacity
        n = capacity
    else:
        position = state.position
    idx = (position + jnp.arange(n)) % capacity
    data = jax.tree.map(lambda buf, x: buf.at[idx].set(x.astype(buf.dtype)), state.data, new)
    return BufferState(
        data=data,
        position=((position + n) % capacity).astype(jnp.int32),
        size=jnp.minimum(state.size + n, capacity).astype(jnp.int32),
    )


def buffer_sample(state: BufferState, key: PRNGKey, batch_size: int) -> Transition:
    """Uniformly samples `batch_size` transitions (with replacement) from the filled slots.

    Args:
        state: the buffer; it should hold at least one transition (an empty buffer yields
            the zero-filled slot 0).
        key: PRNG key.
        batch_size: number of samples `B` (static).

    Returns:
        `Transition` with leaves `[B, ...]`.
    """
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(state.size, 1))
    return jax.tree.map(lambda x: x[idx], state.data)
