"""Reward models on tabular features: `model(phi[S, K]) -> r[S]`, `model(phi[S, A, K]) ->
r[S, A]` (one output per feature row)."""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.networks.mlp import MLP
from jaxil.types import Array, PRNGKey

REWARD_KINDS = ("linear", "mlp")


class LinearReward(eqx.Module):
    """`r = phi @ weights`, `weights[K]`."""

    weights: Array

    def __call__(self, features: Array) -> Array:
        return features @ self.weights


class MLPReward(eqx.Module):
    """`r = mlp(phi)` applied to every feature row `phi[..., K]`."""

    mlp: MLP

    def __call__(self, features: Array) -> Array:
        flat = features.reshape(-1, features.shape[-1])
        return jax.vmap(self.mlp)(flat)[:, 0].reshape(features.shape[:-1])


RewardModel = LinearReward | MLPReward


def make_reward_model(kind: str, num_features: int, key: PRNGKey,
                      hidden_sizes: Sequence[int] = (32, 32),
                      activation: str = "relu") -> RewardModel:
    """A reward model: `"linear"` (zero weights: the uniform MCE policy) or `"mlp"`."""
    if kind == "linear":
        return LinearReward(jnp.zeros(num_features, jnp.float32))
    if kind == "mlp":
        return MLPReward(MLP(num_features, 1, tuple(hidden_sizes), key, activation=activation))
    raise ValueError(f"reward: expected one of {REWARD_KINDS}, got {kind!r}")
