"""Behavioural cloning: maximum likelihood of the expert's actions under the policy.

The loss is the negative log-likelihood for any policy head: cross-entropy for a
categorical head, Gaussian NLL with learned std (tanh-squashed or not) for continuous
heads, and the squared error for a deterministic head; plus optional entropy and L2
regularisation. Observations are scaled by the demonstrations' per-dimension range (or
their mean and variance, see `BCConfig.obs_normalization`).

Each batch can be augmented inside `update`: a user `augment(key, obs, action)` (see
`jaxil.data.augmentation`) in raw units, then Gaussian noise of `obs_noise` standard
deviations of the demonstrations per observation dimension.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxil.core import Algorithm
from jaxil.data.augmentation import Augment, augment_batch
from jaxil.envs.base import Env
from jaxil.networks.cloning import bc_loss, is_zero
from jaxil.networks.heads import HEAD_KINDS
from jaxil.networks.normalizer import NormalizerState, normalizer_for
from jaxil.networks.policy import ActorPolicy, PolicyArch, make_actor_policy
from jaxil.types import Array, Metrics, PRNGKey, Transition


class BCConfig(eqx.Module):
    """Behavioural-cloning settings.

    Static (fix shapes): `hidden_sizes`, `head` (see `PolicyArch`), `activation`,
    `state_dependent_std`, `obs_normalization` (how the demonstrations' observations are
    scaled: `"range"`, each dimension's range onto `[-1, 1]`, the default; `"standard"`,
    zero mean and unit variance; `"none"`; see `jaxil.networks.normalizer_for`), `head_options`
    (head-specific settings, see `PolicyArch`), `deterministic_policy` (act with the mode),
    `augment` (an optional pure `augment(key, obs[obs_dim], action) -> (obs, action)`
    applied to every batch sample, see `jaxil.data.augmentation`).
    Floats (may be arrays, so a config can be vmapped): `learning_rate`, `entropy_coef`,
    `l2_coef`, `max_grad_norm`, `obs_noise` (standard deviation of the Gaussian noise
    added to each observation of a batch, in units of the observation normaliser's scale
    per dimension: half the demonstrations' range under `"range"`, their standard
    deviation under `"standard"`, raw units under `"none"`; 0 adds none).
    """

    hidden_sizes: tuple[int, ...] = eqx.field(static=True, default=(64, 64))
    head: str = eqx.field(static=True, default="auto")
    activation: str = eqx.field(static=True, default="tanh")
    state_dependent_std: bool = eqx.field(static=True, default=False)
    obs_normalization: str = eqx.field(static=True, default="range")
    deterministic_policy: bool = eqx.field(static=True, default=True)
    head_options: tuple[tuple[str, Any], ...] = eqx.field(static=True, default=())
    learning_rate: float | Array = 1e-3
    entropy_coef: float | Array = 0.0
    l2_coef: float | Array = 0.0
    max_grad_norm: float | Array = 10.0
    obs_noise: float | Array = 0.0
    augment: Augment | None = eqx.field(static=True, default=None)


class BCState(NamedTuple):
    """`policy`: the `ActorPolicy` being fitted; `opt_state`; `key` (augmentation and
    stochastic losses); `step` `[]`; `metrics`."""

    policy: ActorPolicy
    opt_state: optax.OptState
    key: PRNGKey
    step: Array
    metrics: Metrics


def augment(config: BCConfig, normalizer: NormalizerState, aug_key: PRNGKey,
            noise_key: PRNGKey, obs: Array, actions: Array) -> tuple[Array, Array]:
    """`config`'s augmentation of a batch `obs[B, obs_dim]`, `actions[B, ...]`.

    First `config.augment` per sample, then Gaussian observation noise with standard
    deviation `config.obs_noise * sqrt(normalizer.var)` per dimension.
    """
    if config.augment is not None:
        obs, actions = augment_batch(config.augment, aug_key, obs, actions)
    if is_zero(config.obs_noise):
        return obs, actions  # a plain 0 adds nothing: skip drawing the noise
    scale = config.obs_noise * jnp.sqrt(normalizer.var)  # constant features get none
    return obs + scale * jax.random.normal(noise_key, obs.shape, obs.dtype), actions


def bc(env: Env, config: BCConfig = BCConfig()) -> Algorithm:
    """Behavioural cloning as an `Algorithm`.

    `init(key, demos)` builds the policy and fits its observation normaliser to
    `demos.obs` (`config.obs_normalization`); `update(state, batch)` augments the expert
    `Transition` batch `[B, ...]` and takes one optimiser step on its `bc_loss`.
    """
    arch = PolicyArch.for_env(env.spec, hidden_sizes=config.hidden_sizes, head=config.head,
                              activation=config.activation,
                              state_dependent_std=config.state_dependent_std,
                              head_options=config.head_options)
    # One flat parameter vector for the clipping and Adam: the same update, in a few
    # fused kernels instead of a few per weight array (BC's small networks are step-bound).
    optimizer = optax.flatten(optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.adam(config.learning_rate),
    ))

    def init(key: PRNGKey, demos: Transition | None = None) -> BCState:
        normalizer = normalizer_for(config.obs_normalization,
                                    None if demos is None else demos.obs,
                                    env.spec.observation_size)
        net_key, state_key = jax.random.split(key)
        policy = make_actor_policy(arch, net_key, normalizer)
        zero = jnp.zeros((), jnp.float32)
        metrics = {"loss": zero, "nll": zero, "entropy": zero}
        if not is_zero(config.l2_coef):
            metrics["l2"] = zero  # see bc_loss
        return BCState(policy, optimizer.init(eqx.filter(policy.network, eqx.is_array)),
                       state_key, jnp.zeros((), jnp.int32), metrics)

    # Only a batch that is augmented, or a loss that samples (generative heads), needs
    # fresh randomness; a plain BC step leaves the key as it is (a split per step costs
    # as much as drawing the batch).
    needs_key = (config.augment is not None or not is_zero(config.obs_noise)
                 or arch.head_kind not in HEAD_KINDS)  # generative heads sample

    def update(state: BCState, batch: Transition) -> BCState:
        if batch is None or batch.action is None:
            raise ValueError("batch: behavioural cloning needs demonstrations with actions")
        key, aug_key, noise_key, loss_key = (jax.random.split(state.key, 4) if needs_key
                                             else (state.key,) * 4)
        obs, actions = augment(config, state.policy.normalizer, aug_key, noise_key, batch.obs,
                               batch.action)

        def loss_fn(network):
            p = ActorPolicy(network, state.policy.normalizer)
            return bc_loss(p, obs, actions, config.entropy_coef, config.l2_coef, loss_key)

        network = state.policy.network  # the normaliser is fixed: only the network learns
        (_, metrics), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(network)
        updates, opt_state = optimizer.update(grads, state.opt_state,
                                              eqx.filter(network, eqx.is_array))
        policy = eqx.tree_at(lambda p: p.network, state.policy,
                             eqx.apply_updates(network, updates))
        return BCState(policy, opt_state, key, state.step + 1, metrics)

    def policy(state: BCState) -> ActorPolicy:
        return state.policy.with_deterministic(config.deterministic_policy)

    return Algorithm(init, update, policy, env.spec)
