"""Policy heads: map a torso's output vector to a distrax distribution over actions.

Every head has `param_size` (the torso's output size), `distribution(out)` and `mode(out)`.
Squashed heads return a `distrax.Transformed`; `raw_and_bijector(dist)` splits it into the
unsquashed base distribution and the bijector, which PPO uses to keep log-probabilities
exact near the action bounds.
"""

from __future__ import annotations

import distrax
import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.types import Array, Box

HEAD_KINDS = ("categorical", "tanh_gaussian", "gaussian", "deterministic")


def _bounds(space: Box) -> tuple[Array, Array]:
    low = jnp.broadcast_to(jnp.asarray(space.low, jnp.float32), space.shape)
    high = jnp.broadcast_to(jnp.asarray(space.high, jnp.float32), space.shape)
    return low, high


def _squash(space: Box) -> distrax.Bijector:
    """`tanh` followed by the affine map from `[-1, 1]` onto `[low, high]`, per dimension."""
    low, high = _bounds(space)
    affine = distrax.ScalarAffine(shift=(high + low) / 2, scale=(high - low) / 2)
    return distrax.Block(distrax.Chain([affine, distrax.Tanh()]), 1)


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


Head = CategoricalHead | GaussianHead | DeterministicHead


def raw_and_bijector(dist: distrax.Distribution
                     ) -> tuple[distrax.Distribution, distrax.Bijector | None]:
    """Splits a squashed distribution into its base distribution and bijector."""
    if isinstance(dist, distrax.Transformed):
        return dist.distribution, dist.bijector
    return dist, None


def entropy(dist: distrax.Distribution) -> Array:
    """Entropy of `dist`; for a squashed distribution, that of its unsquashed base.

    The entropy of a tanh-squashed Gaussian has no closed form; the base entropy is the
    usual regulariser (it differs by the expected log-determinant of the squashing).
    """
    base, _ = raw_and_bijector(dist)
    if isinstance(base, distrax.Deterministic):
        return jnp.zeros(base.loc.shape[:-1] if base.loc.ndim else ())
    return base.entropy()
