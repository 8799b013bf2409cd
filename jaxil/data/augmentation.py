"""Data augmentation for behavioural cloning: pure `augment(key, obs, action)` functions.

An augmentation maps one expert sample to a perturbed one, `augment(key, obs[obs_dim],
action) -> (obs[obs_dim], action)`, in the environment's raw units. `BCConfig.augment`
applies it to every sample of every batch inside `update` (vmapped over the batch), so it
must be pure and jittable. `compose` chains several.

- `gaussian_obs_noise(std)`: observation noise, labels unchanged (smooths the policy
  around the expert's states).
- `shift_and_correct(shift, correct)`: perturb the state and relabel the action with a
  corrective function, as self-driving BC does with shifted camera views (Bojarski et al.
  2016): the learner is shown how to come back from states the expert never visited.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxil.types import Array, PRNGKey

Augment = Callable[[PRNGKey, Array, Array], tuple[Array, Array]]
"""`augment(key, obs[obs_dim], action) -> (obs[obs_dim], action)` for one sample."""


def gaussian_obs_noise(std: float | Array) -> Augment:
    """Adds `N(0, std^2)` noise to the observation; `std` is a scalar or `[obs_dim]`."""

    def augment(key: PRNGKey, obs: Array, action: Array) -> tuple[Array, Array]:
        return obs + jnp.asarray(std, obs.dtype) * jax.random.normal(key, obs.shape, obs.dtype), \
            action

    return augment


def shift_and_correct(shift: Callable[[PRNGKey, Array], Array],
                      correct: Callable[[Array, Array, Array], Array],
                      probability: float | Array = 0.5) -> Augment:
    """Perturbs the state and relabels the action to steer back.

    Args:
        shift: `shift(key, obs) -> shifted_obs`, the perturbation (e.g. a lateral offset).
        correct: `correct(obs, shifted_obs, action) -> action`, the corrective label at
            the shifted state, given the expert's action at the original one.
        probability: the chance that a sample is shifted (the rest pass unchanged).

    Returns:
        An `Augment`.
    """

    def augment(key: PRNGKey, obs: Array, action: Array) -> tuple[Array, Array]:
        k_use, k_shift = jax.random.split(key)
        shifted = shift(k_shift, obs)
        corrected = correct(obs, shifted, action)
        use = jax.random.uniform(k_use) < probability
        return jnp.where(use, shifted, obs), jnp.where(use, corrected, action)

    return augment


def compose(*augments: Augment) -> Augment:
    """Applies `augments` in order, each with its own key."""

    def augment(key: PRNGKey, obs: Array, action: Array) -> tuple[Array, Array]:
        for k, aug in zip(jax.random.split(key, len(augments)), augments, strict=True):
            obs, action = aug(k, obs, action)
        return obs, action

    return augment


def augment_batch(augment: Augment, key: PRNGKey, obs: Array,
                  actions: Array) -> tuple[Array, Array]:
    """Applies a per-sample `augment` to a batch `obs[B, obs_dim]`, `actions[B, ...]`."""
    keys = jax.random.split(key, obs.shape[0])
    return jax.vmap(augment)(keys, obs, actions)
