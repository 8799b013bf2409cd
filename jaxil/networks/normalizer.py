"""Observation normalisation as explicit state (never updated as a side effect)."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from jaxil.types import Array


class NormalizerState(NamedTuple):
    """Running mean and variance of `[D]` vectors over `count` samples."""

    mean: Array
    var: Array
    count: Array


def init_normalizer(size: int) -> NormalizerState:
    """The identity normaliser (mean 0, variance 1, count 0) for `[size]` vectors."""
    return NormalizerState(jnp.zeros(size, jnp.float32), jnp.ones(size, jnp.float32),
                           jnp.zeros((), jnp.float32))


def update_normalizer(state: NormalizerState, batch: Array,
                      mask: Array | None = None) -> NormalizerState:
    """Merges a batch `[..., D]` (optionally weighted by `mask[...]`) into the statistics.

    Uses the parallel (Chan et al.) combination of means and variances, so the result is
    the same as computing the statistics of all samples at once. It is written with
    weights that are fractions of the total and deviations scaled by their largest
    magnitude, so no intermediate sum overflows float32 before the variance itself does
    (observations near 1e19 keep a finite variance near 1e38).
    """
    x = jnp.reshape(batch, (-1, batch.shape[-1])).astype(jnp.float32)
    w = jnp.ones(x.shape[0]) if mask is None else jnp.reshape(mask, (-1,)).astype(jnp.float32)
    n = jnp.sum(w)
    safe_n = jnp.maximum(n, 1.0)
    frac = w / safe_n
    mean_b = jnp.sum(x * w[:, None], 0) / safe_n  # exact for constant features
    dev = jnp.where(w[:, None] > 0, x - mean_b, 0.0)
    scale = jnp.max(jnp.abs(dev), axis=0)
    safe_scale = jnp.where(scale > 0, scale, 1.0)
    var_b = (safe_scale * jnp.sqrt(jnp.sum(frac[:, None] * (dev / safe_scale) ** 2, 0))) ** 2
    total = state.count + n
    safe_total = jnp.maximum(total, 1.0)
    w_old, w_new = state.count / safe_total, n / safe_total
    delta = mean_b - state.mean
    mean = state.mean + delta * w_new
    var = state.var * w_old + var_b * w_new + (delta * jnp.sqrt(w_old * w_new)) ** 2
    var = jnp.where(total > 0, var, 1.0)
    return NormalizerState(mean, var, total)


def normalizer_from_data(x: Array, valid: Array | None = None) -> NormalizerState:
    """Statistics of the samples `x[N, D]` (of the rows where `valid[N]` is true, if
    given: a fixed-shape buffer, traceable)."""
    return update_normalizer(init_normalizer(x.shape[-1]), x, valid)


def normalizer_from_range(x: Array, valid: Array | None = None) -> NormalizerState:
    """Maps the per-dimension range of the samples `x[N, D]` (of the rows where `valid[N]`
    is true, if given: a fixed-shape buffer, traceable) onto `[-1, 1]`.

    Stored as a `NormalizerState` (`mean` the midpoint, `var` the squared half-range), so
    `normalize` applies it. Unlike the mean and variance, the range does not shrink when
    most samples sit in one region: demonstrations that spend most of their steps near a
    goal (a balanced pendulum) keep their rare states (the swing-up) inside `[-1, 1]`
    instead of several standard deviations out, where a tanh network saturates.
    """
    if valid is None:
        low, high = jnp.min(x, axis=0), jnp.max(x, axis=0)
        count = jnp.asarray(x.shape[0], jnp.float32)
    else:
        rows = valid[:, None]
        low = jnp.min(jnp.where(rows, x, jnp.inf), axis=0)
        high = jnp.max(jnp.where(rows, x, -jnp.inf), axis=0)
        count = jnp.sum(valid).astype(jnp.float32)
    return NormalizerState((high + low) / 2, ((high - low) / 2) ** 2, count)


OBS_NORMALIZATIONS = ("range", "standard", "none")


def normalizer_for(kind: str, x: Array | None, size: int,
                   valid: Array | None = None) -> NormalizerState:
    """The normaliser of kind `kind` (one of `OBS_NORMALIZATIONS`) fitted to `x[N, size]`,
    or only to its rows where `valid[N]` is true (a buffer's filled slots; traceable).

    `"range"`: `normalizer_from_range`; `"standard"`: mean and variance
    (`normalizer_from_data`); `"none"`, or `x` `None`: the identity.
    """
    if kind not in OBS_NORMALIZATIONS:
        raise ValueError(f"obs_normalization: expected one of {OBS_NORMALIZATIONS}, got {kind!r}")
    if x is None or kind == "none":
        return init_normalizer(size)
    fit = normalizer_from_range if kind == "range" else normalizer_from_data
    return fit(x, valid)


def normalize(state: NormalizerState, x: Array, clip: float = 10.0) -> Array:
    """`(x - mean) / std`, clipped to `[-clip, clip]`; `x[..., D]`."""
    std = jnp.sqrt(jnp.maximum(state.var, 1e-8))
    std = jnp.where(std < 1e-6, 1.0, std)  # constant features pass through centred
    return jnp.clip((x - state.mean) / std, -clip, clip)
