"""A multi-layer perceptron whose only pytree leaves are arrays (safe to scan and vmap)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.types import Array, PRNGKey

ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "tanh": jax.nn.tanh,
    "relu": jax.nn.relu,
    "silu": jax.nn.silu,
    "elu": jax.nn.elu,
}


class MLP(eqx.Module):
    """`x[in_size] -> y[out_size]` through `hidden_sizes` layers.

    Args:
        in_size: input size.
        out_size: output size.
        hidden_sizes: widths of the hidden layers.
        key: PRNG key for the initial weights.
        activation: name in `ACTIVATIONS`.
        final_scale: multiplies the last layer's initial weights (0.01 for policy logits
            gives a near-uniform initial policy).
    """

    layers: tuple[eqx.nn.Linear, ...]
    activation: str = eqx.field(static=True)

    def __init__(self, in_size: int, out_size: int, hidden_sizes: Sequence[int],
                 key: PRNGKey, activation: str = "tanh", final_scale: float = 1.0):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, "
                             f"got {activation!r}")
        sizes = [in_size, *hidden_sizes, out_size]
        keys = jax.random.split(key, len(sizes) - 1)
        pairs = zip(sizes[:-1], sizes[1:], keys, strict=True)
        layers = [eqx.nn.Linear(a, b, key=k) for a, b, k in pairs]
        last = layers[-1]
        layers[-1] = eqx.tree_at(lambda lin: (lin.weight, lin.bias), last,
                                 (last.weight * final_scale, jnp.zeros_like(last.bias)))
        self.layers = tuple(layers)
        self.activation = activation

    def __call__(self, x: Array) -> Array:
        act = ACTIVATIONS[self.activation]
        for layer in self.layers[:-1]:
            x = act(layer(x))
        return self.layers[-1](x)
