"""Policy heads: map a torso's output vector to a distrax distribution over actions.

Every head has `param_size` (the torso's output size), `distribution(out)` and `mode(out)`.
Squashed heads return a `distrax.Transformed`; `raw_and_bijector(dist)` splits it into the
unsquashed base distribution and the bijector, which PPO uses to keep log-probabilities
exact near the action bounds.

Heads for multimodal action distributions (see `jaxil.envs.navigation` for a task where a
unimodal Gaussian averages two modes): `MixtureHead` (a tanh-squashed mixture of diagonal
Gaussians) and `DiscretisedHead` (an independent categorical over bins per dimension).
"""

from __future__ import annotations

import math
from typing import Any

import distrax
import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.types import Array, Box, PRNGKey

HEAD_KINDS = ("categorical", "tanh_gaussian", "gaussian", "deterministic", "mixture",
              "discretised")
HEAD_OPTIONS = {"mixture": ("num_components", "min_std"), "discretised": ("num_bins", "within_bin")}
"""The `PolicyArch.head_options` names each head reads (the others read none)."""


def action_bounds(space: Box) -> tuple[Array, Array]:
    """`(low, high)`, each `space.shape` float32: the bounds broadcast per dimension."""
    low = jnp.broadcast_to(jnp.asarray(space.low, jnp.float32), space.shape)
    high = jnp.broadcast_to(jnp.asarray(space.high, jnp.float32), space.shape)
    return low, high


def _action_dim(space: Box) -> int:
    return math.prod(space.shape)


class _ClippedTanh(distrax.Tanh):
    """`tanh` whose inverse first clips `y` into `[-1 + margin, 1 - margin]`.

    The log-density of an action on (or numerically at) the bounds is then finite: it is
    that of the nearest point `margin` inside, as for BC's clipping of Gaussian targets.
    """

    def __init__(self, margin: float):
        super().__init__()
        self.margin = margin

    def inverse_and_log_det(self, y: Array) -> tuple[Array, Array]:
        return super().inverse_and_log_det(jnp.clip(y, -1.0 + self.margin, 1.0 - self.margin))

    def same_as(self, other: distrax.Bijector) -> bool:
        return type(other) is _ClippedTanh and other.margin == self.margin


ACTION_EPS = 1e-4
"""Fraction of a squashed head's action range by which actions are moved inside the
bounds before a log-probability: `tanh`'s inverse is infinite on the bounds, where
clipped environment actions and expert actions often sit."""


def inside_squashed_bounds(head: Any, actions: Array) -> Array:
    """`actions[..., act_dim]` moved `ACTION_EPS * (high - low)` inside the bounds when
    `head` is a squashed `GaussianHead`; unchanged for any other head."""
    if not (isinstance(head, GaussianHead) and head.squashed):
        return actions
    low, high = action_bounds(head.space)
    margin = ACTION_EPS * (high - low)
    return jnp.clip(actions, low + margin, high - margin)


def _squash(space: Box, margin: float = 0.0) -> distrax.Bijector:
    """`tanh` followed by the affine map from `[-1, 1]` onto `[low, high]`, per dimension.

    With `margin > 0` the inverse clips actions to `margin` inside the bounds (in `[-1, 1]`
    units) so that `log_prob` is finite on the bounds (see `_ClippedTanh`).
    """
    low, high = action_bounds(space)
    affine = distrax.ScalarAffine(shift=(high + low) / 2, scale=(high - low) / 2)
    tanh = _ClippedTanh(margin) if margin > 0 else distrax.Tanh()
    return distrax.Block(distrax.Chain([affine, tanh]), 1)


class CategoricalHead(eqx.Module):
    """Categorical over `num_actions` actions; the torso outputs logits `[num_actions]`."""

    num_actions: int = eqx.field(static=True)

    @property
    def param_size(self) -> int:
        return self.num_actions

    def distribution(self, out: Array) -> distrax.Distribution:
        return distrax.Categorical(logits=out)

    def mode(self, out: Array) -> Array:
        return jnp.argmax(out, axis=-1)


class GaussianHead(eqx.Module):
    """Diagonal Gaussian over `Box` actions, optionally tanh-squashed into the bounds.

    With `state_dependent_std` the torso outputs `[2 * act_dim]` (mean, pre-softplus std);
    otherwise it outputs the mean `[act_dim]` and a learned `log_std[act_dim]` is shared by
    all states.
    """

    space: Box = eqx.field(static=True)
    squashed: bool = eqx.field(static=True)
    state_dependent_std: bool = eqx.field(static=True)
    min_std: float = eqx.field(static=True)
    log_std: Array | None

    def __init__(self, space: Box, squashed: bool = True, state_dependent_std: bool = False,
                 init_std: float = 1.0, min_std: float = 1e-3):
        self.space = space
        self.squashed = squashed
        self.state_dependent_std = state_dependent_std
        self.min_std = min_std
        dim = len(jnp.zeros(space.shape).ravel())
        self.log_std = (None if state_dependent_std
                        else jnp.full(dim, jnp.log(init_std), dtype=jnp.float32))

    @property
    def param_size(self) -> int:
        dim = len(jnp.zeros(self.space.shape).ravel())
        return 2 * dim if self.state_dependent_std else dim

    def _mean_std(self, out: Array) -> tuple[Array, Array]:
        if self.state_dependent_std:
            mean, raw = jnp.split(out, 2, axis=-1)
            std = jax.nn.softplus(raw) + self.min_std
        else:
            mean = out
            std = jnp.broadcast_to(jnp.exp(self.log_std) + self.min_std, mean.shape)
        return mean, std

    def distribution(self, out: Array) -> distrax.Distribution:
        mean, std = self._mean_std(out)
        base = distrax.MultivariateNormalDiag(mean, std)
        return distrax.Transformed(base, _squash(self.space)) if self.squashed else base

    def mode(self, out: Array) -> Array:
        mean, _ = self._mean_std(out)
        return _squash(self.space).forward(mean) if self.squashed else mean


class DeterministicHead(eqx.Module):
    """A deterministic action `low + (high - low) (tanh(out) + 1) / 2`; BC fits it by MSE."""

    space: Box = eqx.field(static=True)

    @property
    def param_size(self) -> int:
        return len(jnp.zeros(self.space.shape).ravel())

    def mode(self, out: Array) -> Array:
        return _squash(self.space).forward(out)

    def distribution(self, out: Array) -> distrax.Distribution:
        return distrax.Deterministic(self.mode(out))


class MixtureHead(eqx.Module):
    """A tanh-squashed mixture of `num_components` diagonal Gaussians over `Box` actions.

    The torso outputs `[K + 2 K D]` for `K = num_components`, `D = act_dim`: the mixing
    logits `[K]`, the component means `[K, D]` and pre-softplus standard deviations
    `[K, D]` (all state-dependent). `distribution(out)` is
    `distrax.Transformed(MixtureSameFamily(Categorical, MultivariateNormalDiag), squash)`
    with the same `tanh` + affine squashing as the tanh-Gaussian head; its inverse clips
    actions `1e-4` (in `[-1, 1]` units) inside the bounds, so expert actions on the bounds
    have a finite log-likelihood. `mode(out)` is the squashed mean of the most probable
    component (not the mode of the mixture density, which has no closed form).

    The component means start spread over `[-1, 1]` pre-squash (a fixed, evenly spaced
    offset per component and dimension, added to the torso's output) so that the
    components do not start identical. The standard deviations have a floor `min_std`
    (pre-squash, default 0.05, against 1e-3 for the Gaussian head): with a lower floor,
    maximum likelihood first shrinks components onto the most frequent demonstrated
    actions, and BC on `obstacle_nav` often ends in a mixture whose weights barely depend
    on the state. The entropy has no closed form; `entropy(dist)` returns the upper bound
    `H(pi) + sum_k pi_k H(N_k)` of the unsquashed mixture.

    Options (`PolicyArch.head_options`): `num_components` (default 5), `min_std`
    (default 0.05).
    """

    space: Box = eqx.field(static=True)
    num_components: int = eqx.field(static=True)
    init_std: float = eqx.field(static=True)
    min_std: float = eqx.field(static=True)

    def __init__(self, space: Box, num_components: int = 5, init_std: float = 1.0,
                 min_std: float = 0.05):
        if num_components < 1:
            raise ValueError(f"num_components: expected >= 1, got {num_components}")
        if not 0 < min_std < init_std:
            raise ValueError(f"min_std: expected 0 < min_std < init_std = {init_std}, "
                             f"got {min_std}")
        self.space = space
        self.num_components = int(num_components)
        self.init_std = float(init_std)
        self.min_std = float(min_std)

    @property
    def param_size(self) -> int:
        return self.num_components * (1 + 2 * _action_dim(self.space))

    def _split(self, out: Array) -> tuple[Array, Array, Array]:
        """`(logits[K], means[K, D], stds[K, D])` from the torso output `[K + 2 K D]`."""
        k, d = self.num_components, _action_dim(self.space)
        logits, means, raw = jnp.split(out, [k, k + k * d], axis=-1)
        offsets = jnp.linspace(-1.0, 1.0, k) if k > 1 else jnp.zeros(1)
        means = means.reshape(k, d) + offsets[:, None]
        raw_init = math.log(math.expm1(self.init_std - self.min_std))  # std(0) = init_std
        stds = jax.nn.softplus(raw.reshape(k, d) + raw_init) + self.min_std
        return logits, means, stds

    def distribution(self, out: Array) -> distrax.Distribution:
        logits, means, stds = self._split(out)
        mixture = distrax.MixtureSameFamily(distrax.Categorical(logits=logits),
                                            distrax.MultivariateNormalDiag(means, stds))
        return distrax.Transformed(mixture, _squash(self.space, margin=2 * ACTION_EPS))

    def mode(self, out: Array) -> Array:
        logits, means, _ = self._split(out)
        return _squash(self.space).forward(means[jnp.argmax(logits)])


class Discretised(distrax.Distribution):
    """Independent categoricals over `num_bins` equal bins of each action dimension.

    `log_prob(a)` is a density: the sum over dimensions of the log-probability of the bin
    that contains `a_d`, minus the log of its width (the density of "uniform within the
    chosen bin"; the width term is a constant, so it does not change gradients).
    `bin_log_prob(a)` is the same without the widths (a log-probability mass). Actions
    outside `[low, high]` count in the edge bins. Samples are bin centres, or uniform within
    the bin with `within_bin="uniform"`; `mode()` is the centre of each dimension's most
    probable bin. `entropy()` is that of the density: the categoricals' entropies plus the
    log widths.

    Args:
        logits: `[..., D, num_bins]`.
        low, high: `[D]` bounds of each dimension.
        within_bin: `"centre"` or `"uniform"`.
    """

    def __init__(self, logits: Array, low: Array, high: Array, within_bin: str = "centre"):
        super().__init__()
        if within_bin not in ("centre", "uniform"):
            raise ValueError(f"within_bin: expected 'centre' or 'uniform', got {within_bin!r}")
        self.logits = logits
        self.low, self.high = low, high
        self.within_bin = within_bin

    @property
    def num_bins(self) -> int:
        return self.logits.shape[-1]

    @property
    def width(self) -> Array:
        """`[D]` bin width per dimension."""
        return (self.high - self.low) / self.num_bins

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self.logits.shape[-2:-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self.logits.shape[:-2]

    def bin_index(self, value: Array) -> Array:
        """`[..., D]` int32 index of the bin containing each `value[..., D]`."""
        idx = jnp.floor((value - self.low) / self.width).astype(jnp.int32)
        return jnp.clip(idx, 0, self.num_bins - 1)

    def bin_centre(self, index: Array) -> Array:
        """`[..., D]` centres of the bins `index[..., D]`."""
        return self.low + (index + 0.5) * self.width

    def bin_log_prob(self, value: Array) -> Array:
        """`[...]` log-probability mass of the bins containing `value[..., D]`."""
        log_p = jax.nn.log_softmax(self.logits, axis=-1)
        idx = self.bin_index(value)
        return jnp.sum(jnp.take_along_axis(log_p, idx[..., None], axis=-1)[..., 0], axis=-1)

    def log_prob(self, value: Array) -> Array:
        return self.bin_log_prob(value) - jnp.sum(jnp.log(self.width))

    def _sample_n(self, key: PRNGKey, n: int) -> Array:
        bin_key, offset_key = jax.random.split(key)
        shape = (n, *self.logits.shape[:-1])
        idx = jax.random.categorical(bin_key, self.logits, axis=-1, shape=shape)
        centre = self.bin_centre(idx)
        if self.within_bin == "centre":
            return centre
        return centre + (jax.random.uniform(offset_key, shape) - 0.5) * self.width

    def entropy(self) -> Array:
        log_p = jax.nn.log_softmax(self.logits, axis=-1)
        cat = -jnp.sum(jnp.exp(log_p) * log_p, axis=-1)
        return jnp.sum(cat + jnp.log(self.width), axis=-1)

    def mode(self) -> Array:
        return self.bin_centre(jnp.argmax(self.logits, axis=-1))

    def mean(self) -> Array:
        centres = self.bin_centre(jnp.arange(self.num_bins)[:, None]).T  # [D, num_bins]
        return jnp.sum(jax.nn.softmax(self.logits, axis=-1) * centres, axis=-1)


class DiscretisedHead(eqx.Module):
    """Each `Box` action dimension split into `num_bins` bins, one categorical per dimension.

    The torso outputs `[D * num_bins]` logits; `distribution(out)` is a `Discretised`
    distribution (see there for `log_prob`, sampling and the entropy), `mode(out)` the
    centre of each dimension's most probable bin. The dimensions are independent given
    the state, so the head represents modes that differ in one dimension at a time (or
    products of per-dimension modes), not arbitrary joint ones.

    Options (`PolicyArch.head_options`): `num_bins` (default 21, odd so that a bin is
    centred on 0 for symmetric bounds), `within_bin` (`"centre"`, the default, or
    `"uniform"`: where a sample falls inside its bin).
    """

    space: Box = eqx.field(static=True)
    num_bins: int = eqx.field(static=True)
    within_bin: str = eqx.field(static=True)

    def __init__(self, space: Box, num_bins: int = 21, within_bin: str = "centre"):
        if num_bins < 2:
            raise ValueError(f"num_bins: expected >= 2, got {num_bins}")
        if within_bin not in ("centre", "uniform"):
            raise ValueError(f"within_bin: expected 'centre' or 'uniform', got {within_bin!r}")
        self.space = space
        self.num_bins = int(num_bins)
        self.within_bin = within_bin

    @property
    def param_size(self) -> int:
        return _action_dim(self.space) * self.num_bins

    def distribution(self, out: Array) -> Discretised:
        low, high = action_bounds(self.space)
        logits = out.reshape(_action_dim(self.space), self.num_bins)
        return Discretised(logits, low.ravel(), high.ravel(), self.within_bin)

    def mode(self, out: Array) -> Array:
        return self.distribution(out).mode()


Head = CategoricalHead | GaussianHead | DeterministicHead | MixtureHead | DiscretisedHead


def raw_and_bijector(dist: distrax.Distribution
                     ) -> tuple[distrax.Distribution, distrax.Bijector | None]:
    """Splits a squashed distribution into its base distribution and bijector."""
    if isinstance(dist, distrax.Transformed):
        return dist.distribution, dist.bijector
    return dist, None


def mixture_entropy_bound(mixture: distrax.MixtureSameFamily) -> Array:
    """`H(pi) + sum_k pi_k H(component_k)`, an upper bound on a mixture's entropy.

    It is `H(action, component)`; it exceeds the mixture's entropy by the information the
    action carries about its component, so it is exact for non-overlapping components.
    """
    pi = mixture.mixture_distribution
    weights = jax.nn.softmax(pi.logits, axis=-1)
    return pi.entropy() + jnp.sum(weights * mixture.components_distribution.entropy(), axis=-1)


def entropy(dist: distrax.Distribution) -> Array:
    """Entropy of `dist`; for a squashed distribution, that of its unsquashed base.

    The entropy of a tanh-squashed Gaussian has no closed form; the base entropy is the
    usual regulariser (it differs by the expected log-determinant of the squashing). A
    Gaussian mixture's entropy has none either: `mixture_entropy_bound` is used instead.
    """
    base, _ = raw_and_bijector(dist)
    if isinstance(base, distrax.Deterministic):
        return jnp.zeros(base.loc.shape[:-1] if base.loc.ndim else ())
    if isinstance(base, distrax.MixtureSameFamily):
        return mixture_entropy_bound(base)
    return base.entropy()
