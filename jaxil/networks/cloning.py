"""The behavioural-cloning loss of a policy network, shared by BC, DAgger, DART and the
adversarial methods' BC warm start (so that none of them imports another's algorithm).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.networks.heads import DeterministicHead, entropy, inside_squashed_bounds
from jaxil.networks.normalizer import normalize
from jaxil.networks.policy import ActorPolicy
from jaxil.types import Array, Metrics, PRNGKey


def l2_penalty(module: eqx.Module) -> Array:
    """Sum of squared weights of all `eqx.nn.Linear` layers (biases excluded)."""
    is_linear = lambda x: isinstance(x, eqx.nn.Linear)
    layers = [x for x in jax.tree.leaves(module, is_leaf=is_linear) if is_linear(x)]
    return sum(jnp.sum(layer.weight**2) for layer in layers)


def is_zero(x: Array | float) -> bool:
    """Whether `x` is the Python number 0 (an array, even of zeros, may be vmapped)."""
    return isinstance(x, int | float) and x == 0


def bc_loss(policy: ActorPolicy, obs: Array, actions: Array, entropy_coef: Array | float = 0.0,
            l2_coef: Array | float = 0.0, key: PRNGKey | None = None) -> tuple[Array, Metrics]:
    """Behavioural-cloning loss of `policy` on a batch.

    Args:
        policy: the `ActorPolicy` (its normaliser is applied to `obs`).
        obs: `[B, obs_dim]` observations.
        actions: `[B]` int (discrete) or `[B, act_dim]` float expert actions.
        entropy_coef: weight of the (negative) mean entropy bonus.
        l2_coef: weight of the L2 penalty on the network's weight matrices.
        key: PRNG key for heads whose loss is stochastic (unused by the others).

    Returns:
        `(loss, metrics)` with metrics `loss`, `nll`, `entropy` and, unless `l2_coef` is
        the Python 0, `l2` (all `[]`). (The weight norm is left out at weight 0: it is a
        reduction over every weight matrix, about 5-10% of a small network's BC step.)
    """
    network = policy.network
    head = getattr(network, "head", None)
    if hasattr(network, "bc_loss"):  # generative policies (diffusion, flow) bring their own
        nll, ent = network.bc_loss(normalize(policy.normalizer, obs), actions, key)
    elif isinstance(head, DeterministicHead):
        pred = jax.vmap(policy.network.mode)(normalize(policy.normalizer, obs))
        nll = jnp.mean(jnp.sum((pred - actions) ** 2, axis=-1))
        ent = jnp.zeros(())
    else:
        actions = inside_squashed_bounds(head, actions)

        def log_prob_and_entropy(o, a):  # distributions never leave the vmap
            dist = policy.distribution(o)
            return dist.log_prob(a), entropy(dist)

        log_probs, entropies = jax.vmap(log_prob_and_entropy)(obs, actions)
        nll = -jnp.mean(log_probs)
        ent = jnp.mean(entropies)
    # An entropy bonus of weight the Python 0 is reported but not differentiated.
    ent = jax.lax.stop_gradient(ent) if is_zero(entropy_coef) else ent
    loss = nll - entropy_coef * ent
    metrics = {"nll": nll, "entropy": ent}
    if not is_zero(l2_coef):
        metrics["l2"] = l2_penalty(policy.network)
        loss = loss + l2_coef * metrics["l2"]
    return loss, {"loss": loss, **metrics}
