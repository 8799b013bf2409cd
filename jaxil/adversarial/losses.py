"""Pure discriminator losses: the variational f-divergence loss and gradient penalties.

Shapes: a batch of expert logits `[N]` against policy logits `[M]`, each with optional
per-sample weights (the absorbing-state samples, `jaxil.adversarial.steps.policy_samples`,
come with weights). Weighted means divide by the sum of weights.
"""

from __future__ import annotations

from collections.abc import Callable

import chex
import jax
import jax.numpy as jnp

from jaxil.adversarial.divergences import FDivergence, get_divergence
from jaxil.types import Array, PRNGKey

GP_KINDS = ("none", "expert", "interpolate")


def weighted_mean(x: Array, weights: Array | None = None) -> Array:
    """`sum(w x) / sum(w)` (plain mean when `weights` is `None`); `x`, `weights`: `[N]`."""
    if weights is None:
        return jnp.mean(x)
    chex.assert_equal_shape([x, weights])
    weights = weights.astype(x.dtype)
    return jnp.sum(weights * x) / jnp.maximum(jnp.sum(weights), 1e-8)


def discriminator_loss(expert_logits: Array, policy_logits: Array,
                       divergence: FDivergence | str = "gan",
                       expert_weights: Array | None = None,
                       policy_weights: Array | None = None) -> Array:
    """The discriminator's loss: the negated variational bound of `D_f(expert || policy)`.

    `loss = mean_policy[f*(g_f(v))] - mean_expert[g_f(v)]`. For `"gan"` this is the binary
    cross-entropy with the expert labelled 1 and the policy labelled 0:
    `mean_expert[softplus(-v)] + mean_policy[softplus(v)]`.

    Args:
        expert_logits: `[N]` logits of expert samples.
        policy_logits: `[M]` logits of policy samples.
        divergence: an `FDivergence` or its name in `DIVERGENCES`.
        expert_weights: optional `[N]` non-negative weights.
        policy_weights: optional `[M]` non-negative weights.

    Returns:
        `[]` loss.
    """
    chex.assert_rank([expert_logits, policy_logits], 1)
    div = get_divergence(divergence) if isinstance(divergence, str) else divergence
    expert_term = weighted_mean(div.activation(expert_logits), expert_weights)
    policy_term = weighted_mean(div.conjugate_of_activation(policy_logits), policy_weights)
    return policy_term - expert_term


def safe_norm(x: Array, axis: int | tuple[int, ...] | None = -1) -> Array:
    """Euclidean norm whose gradient is 0, not NaN, where the norm is 0."""
    sq = jnp.sum(x**2, axis=axis)
    positive = sq > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


def _global_norm(tree) -> Array:
    """`[N]` norm over every leaf of a pytree of `[N, ...]` arrays (NaN-safe at 0)."""
    flat = jnp.concatenate([jnp.reshape(x, (x.shape[0], -1)) for x in jax.tree.leaves(tree)],
                           axis=1)
    return safe_norm(flat, axis=1)


def input_gradient_norms(logit_fn: Callable, inputs) -> Array:
    """`[N]` norms of `d logit_fn(x_i) / d x_i` for a batch `inputs` (pytree of `[N, ...]`).

    `logit_fn` maps one sample (the pytree without the leading axis) to a scalar.
    """
    grads = jax.vmap(jax.grad(logit_fn))(inputs)
    return _global_norm(grads)


def interpolate(expert_inputs, policy_inputs, key: PRNGKey):
    """Per-sample random convex combinations `e x_E + (1 - e) x_pi`, `e ~ U[0, 1]`."""
    n = jax.tree.leaves(expert_inputs)[0].shape[0]
    eps = jax.random.uniform(key, (n,))

    def mix(a: Array, b: Array) -> Array:
        e = jnp.reshape(eps, (n,) + (1,) * (a.ndim - 1)).astype(a.dtype)
        return e * a + (1 - e) * b

    return jax.tree.map(mix, expert_inputs, policy_inputs)


def gradient_penalty(logit_fn: Callable, expert_inputs, policy_inputs, key: PRNGKey,
                     kind: str = "expert", target: Array | float = 0.0) -> Array:
    """Gradient penalty on the discriminator's inputs, NaN-safe at zero gradient.

    - `"expert"`: zero-centred on expert samples (R1, Mescheder et al. 2018):
      `mean ||grad_x logit(x_E)||^2`.
    - `"interpolate"`: on random interpolates of expert and policy samples (Gulrajani et
      al. 2017; used by DAC): `mean (||grad_x logit(x)|| - target)^2` (`target` 1 for
      WGAN-GP, 0 for a zero-centred penalty).
    - `"none"`: `0`.

    Args:
        logit_fn: `logit_fn(x) -> []` for one sample; `x` a pytree of float arrays.
        expert_inputs: pytree of `[N, ...]` expert inputs.
        policy_inputs: pytree of `[N, ...]` policy inputs (same structure and `N`).
        key: PRNG key for the interpolation.
        kind: one of `GP_KINDS`.
        target: the norm the `"interpolate"` penalty pulls towards.

    Returns:
        `[]` penalty (to be scaled by the penalty weight).
    """
    if kind == "none":
        return jnp.zeros(())
    if kind == "expert":
        return jnp.mean(input_gradient_norms(logit_fn, expert_inputs) ** 2)
    if kind == "interpolate":
        mixed = interpolate(expert_inputs, policy_inputs, key)
        return jnp.mean((input_gradient_norms(logit_fn, mixed) - target) ** 2)
    raise ValueError(f"gradient_penalty: expected one of {GP_KINDS}, got {kind!r}")


def accuracy(expert_logits: Array, policy_logits: Array) -> tuple[Array, Array]:
    """`(expert_accuracy, policy_accuracy)`: fractions with `v > 0` and `v < 0`."""
    return jnp.mean(expert_logits > 0), jnp.mean(policy_logits < 0)
