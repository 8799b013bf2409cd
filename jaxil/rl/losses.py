"""PPO's pure losses (Schulman et al. 2017), each returning a scalar mean over its inputs.

All inputs of one loss share a shape: `[N]` for a flat minibatch or `[T, B]` for a
rollout; every loss checks that first (rlax-style). Minimise the sum
`policy_loss + value_coef * value_loss + entropy_coef * entropy_loss`.
"""

from __future__ import annotations

import chex
import jax.numpy as jnp

from jaxil.types import Array


def clipped_surrogate_loss(log_probs: Array, behaviour_log_probs: Array, advantages: Array,
                           clip_eps: Array | float) -> Array:
    """PPO's clipped surrogate objective, negated to be minimised.

    With `ratio = exp(log_probs - behaviour_log_probs)`,
    `loss = -mean(min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A))`.

    Args:
        log_probs: `[...]` log-probabilities of the taken actions under the current policy.
        behaviour_log_probs: `[...]` their log-probabilities under the policy that acted.
        advantages: `[...]` advantage estimates (treated as constants).
        clip_eps: `[]` clipping range `eps`.

    Returns:
        `[]` loss.
    """
    chex.assert_equal_shape([log_probs, behaviour_log_probs, advantages])
    chex.assert_rank(jnp.asarray(clip_eps), 0)
    ratio = jnp.exp(log_probs - behaviour_log_probs)
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    return -jnp.mean(jnp.minimum(ratio * advantages, clipped * advantages))


def value_loss(values: Array, targets: Array, behaviour_values: Array | None = None,
               clip_eps: Array | float | None = None) -> Array:
    """Squared-error value loss, optionally clipped around the behaviour values (PPO2).

    Unclipped: `0.5 * mean((values - targets)^2)`. Clipped (both `behaviour_values` and
    `clip_eps` given): with `v_c = behaviour_values + clip(values - behaviour_values, -eps,
    eps)`, `0.5 * mean(max((values - targets)^2, (v_c - targets)^2))`.

    Args:
        values: `[...]` current value predictions.
        targets: `[...]` regression targets (e.g. GAE's `advantages + values`).
        behaviour_values: `[...]` predictions made when the data was collected.
        clip_eps: `[]` clipping range; `None` for the unclipped loss.

    Returns:
        `[]` loss.
    """
    chex.assert_equal_shape([values, targets])
    error = (values - targets) ** 2
    if clip_eps is None or behaviour_values is None:  # a static choice, never a float test
        return 0.5 * jnp.mean(error)
    chex.assert_equal_shape([values, behaviour_values])
    chex.assert_rank(jnp.asarray(clip_eps), 0)
    clipped = behaviour_values + jnp.clip(values - behaviour_values, -clip_eps, clip_eps)
    return 0.5 * jnp.mean(jnp.maximum(error, (clipped - targets) ** 2))


def entropy_loss(entropies: Array) -> Array:
    """`-mean(entropies)`: minimising it rewards exploration. `entropies`: `[...]`."""
    chex.assert_type(entropies, float)
    return -jnp.mean(entropies)


def approx_kl(log_probs: Array, behaviour_log_probs: Array) -> Array:
    """`[]` estimate of `KL(behaviour || current)`: `mean((ratio - 1) - log ratio)`."""
    chex.assert_equal_shape([log_probs, behaviour_log_probs])
    log_ratio = log_probs - behaviour_log_probs
    return jnp.mean(jnp.expm1(log_ratio) - log_ratio)


def clip_fraction(log_probs: Array, behaviour_log_probs: Array,
                  clip_eps: Array | float) -> Array:
    """`[]` fraction of samples whose probability ratio lies outside `[1 - eps, 1 + eps]`."""
    chex.assert_equal_shape([log_probs, behaviour_log_probs])
    ratio = jnp.exp(log_probs - behaviour_log_probs)
    return jnp.mean((jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32))
