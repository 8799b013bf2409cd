"""Sampling minibatches inside `jit`: single transitions, trajectory segments, action chunks."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxil.data.demos import Demos
from jaxil.types import Array, PRNGKey, Transition


def sample_batch(data: Transition, key: PRNGKey, batch_size: int) -> Transition:
    """Uniformly samples `batch_size` transitions (with replacement) from `data[M, ...]`.

    Args:
        data: a `Transition` (or any pytree) whose leaves share the leading axis `M`;
            `None` leaves (e.g. `action` of state-only demos) stay `None`.
        key: PRNG key.
        batch_size: number of samples `B` (static).

    Returns:
        The same pytree with leaves `[B, ...]`.
    """
    size = jax.tree.leaves(data)[0].shape[0]
    idx = jax.random.randint(key, (batch_size,), 0, size)
    return jax.tree.map(lambda x: x[idx], data)


def sample_segments(demos: Demos, key: PRNGKey, batch_size: int,
                    length: int) -> tuple[Transition, Array]:
    """Samples `batch_size` trajectory segments of `length` consecutive steps.

    Every window of `length` steps inside an episode is equally likely; an episode
    shorter than `length` gives one segment starting at its first step, padded past its
    end (see `mask`). Jittable: `demos` may hold JAX arrays and be traced.

    Args:
        demos: padded episodes (`obs[N, T + 1, ...]`, ...); `actions`/`rewards` may be
            `None` (they stay `None` / become zeros).
        key: PRNG key.
        batch_size: number of segments `B` (static).
        length: steps per segment `L` (static), `1 <= L <= T`.

    Returns:
        `(segments, mask)`: a `Transition` with leaves `[B, L, ...]` (`next_obs[:, k]` is
        `obs[:, k + 1]` within an episode, the true final observation at its end) and
        `mask[B, L]` bool, true for steps inside the episode.
    """
    horizon = demos.terminated.shape[1]
    if not 1 <= length <= horizon:
        raise ValueError(f"length: expected 1..{horizon} (the padded length T), got {length}")
    lengths = jnp.asarray(demos.lengths)
    windows = jnp.maximum(lengths - length + 1, 1)
    ep_key, start_key = jax.random.split(key)
    episode = jax.random.categorical(ep_key, jnp.log(windows.astype(jnp.float32)),
                                     shape=(batch_size,))
    start = jax.random.randint(start_key, (batch_size,), 0, windows[episode])
    steps = start[:, None] + jnp.arange(length)[None]  # [B, L], < T by construction
    mask = steps < lengths[episode][:, None]
    rows = episode[:, None]

    def take(x, offset=0):
        return None if x is None else jnp.asarray(x)[rows, steps + offset]

    rewards = demos.rewards if demos.rewards is not None else jnp.zeros(demos.terminated.shape)
    segments = Transition(
        obs=take(demos.obs),
        action=take(demos.actions),
        reward=take(rewards),
        next_obs=take(demos.obs, 1),
        terminated=take(demos.terminated),
        truncated=take(demos.truncated),
    )
    return segments, mask


def sample_action_chunks(demos: Demos, key: PRNGKey, batch_size: int,
                         chunk_size: int) -> Transition:
    """Samples `batch_size` steps, each with the expert's next `chunk_size` actions.

    For policies that predict chunks of actions (`PolicyArch(head="diffusion",
    head_options=(("chunk_size", k),))`, likewise `"flow"`). Every step of every episode
    is equally likely (as with `sample_batch` of `as_transitions(demos)`); a chunk that
    runs past the end of its episode repeats the episode's last action. Jittable.

    A behavioural-cloning loop on chunks (`jaxil.train` samples single transitions):

        algo = jaxil.algorithms.bc(env, BCConfig(head="diffusion",
                                                 head_options=(("chunk_size", 4),)))
        state = algo.init(key, jaxil.data.as_transitions(demos))
        step = lambda s, k: (algo.update(s, sample_action_chunks(demos, k, 256, 4)), None)
        state, _ = jax.lax.scan(step, state, jax.random.split(key, num_updates))

    Args:
        demos: padded episodes with actions (`actions[N, T, ...]`).
        key: PRNG key.
        batch_size: number of samples `B` (static).
        chunk_size: actions per sample `k >= 1` (static).

    Returns:
        A `Transition` with `obs[B, obs_dim]`, `action[B, k, ...]`, and `reward`,
        `next_obs`, `terminated`, `truncated` of the chunk's first step (`[B, ...]`).
    """
    if demos.actions is None:
        raise ValueError("actions: action chunks need demonstrations with actions")
    if chunk_size < 1:
        raise ValueError(f"chunk_size: expected >= 1, got {chunk_size}")
    lengths = jnp.asarray(demos.lengths)
    ep_key, step_key = jax.random.split(key)
    episode = jax.random.categorical(ep_key, jnp.log(lengths.astype(jnp.float32)),
                                     shape=(batch_size,))
    last = lengths[episode] - 1
    start = jax.random.randint(step_key, (batch_size,), 0, last + 1)
    steps = jnp.minimum(start[:, None] + jnp.arange(chunk_size)[None], last[:, None])
    rewards = demos.rewards if demos.rewards is not None else jnp.zeros(demos.terminated.shape)
    first = lambda x, offset=0: jnp.asarray(x)[episode, start + offset]
    return Transition(
        obs=first(demos.obs),
        action=jnp.asarray(demos.actions)[episode[:, None], steps],
        reward=first(rewards),
        next_obs=first(demos.obs, 1),
        terminated=first(demos.terminated),
        truncated=first(demos.truncated),
    )
