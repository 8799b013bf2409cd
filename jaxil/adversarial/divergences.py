"""The f-divergence family of variational discriminator objectives (f-GAN, f-GAIL).

For a convex `f` with `f(1) = 0`, `D_f(P || Q) = E_Q[f(p / q)]` has the variational lower
bound (Nguyen et al. 2010; Nowozin et al. 2016, "f-GAN")

    D_f(P || Q) >= sup_T  E_P[T(x)] - E_Q[f*(T(x))],

where `f*` is the convex conjugate. Here `P` is the expert's occupancy measure and `Q` the
policy's. The discriminator outputs an unconstrained logit `v`, an output activation
`T = g_f(v)` maps it into the domain of `f*`, and:

- the discriminator *minimises* `mean_Q[f*(g_f(v))] - mean_P[g_f(v)]` (expert term, policy
  term below);
- the policy *maximises* `E_Q[f*(g_f(v))]` (it minimises the bound's only `Q`-dependent
  term), so its reward is `f*(g_f(v))`.

Each row is written directly as a function of `v` in a numerically stable closed form.
`"gan"` is the standard GAN / GAIL objective (the binary cross-entropy with the expert
labelled 1, up to sign), `"js"` is Jensen-Shannon, which differs from `"gan"` only by
constants (`2 log 2` in the loss, `-log 2` in the reward).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxil.types import Array

LOG2 = math.log(2.0)


class FDivergence(NamedTuple):
    """One row of the f-GAN table, as functions of the logit `v[...]`.

    Attributes:
        name: the name `DIVERGENCES` knows it by.
        activation: `g_f(v)`, the output activation; the expert's term of the bound.
        conjugate_of_activation: `f*(g_f(v))`, the policy's term of the bound and the
            policy's reward.
        reward_sign: `+1` if the reward `f*(g_f(v))` is positive for every `v`, `-1` if
            negative for every `v`, `0` if it takes both signs. A signed reward is biased
            towards long (`+1`) or short (`-1`) episodes when episodes can end early.
        neutral_logit: the logit of a sample the discriminator cannot tell apart (equal
            occupancy, `g_f(v) = f'(1)`): 0 for every row but forward KL's (1). The
            absorbing state's logit is capped there in the relabelled rewards
            (`jaxil.adversarial.steps.relabel`).
    """

    name: str
    activation: Callable[[Array], Array]
    conjugate_of_activation: Callable[[Array], Array]
    reward_sign: int
    neutral_logit: float = 0.0


def _softplus(v: Array) -> Array:
    return jax.nn.softplus(v)


DIVERGENCES: dict[str, FDivergence] = {
    # GAN: f(u) = u log u - (u + 1) log(u + 1) (= 2 JS - log 4, so f(1) = -log 4);
    # g = log sigmoid(v); f*(g) = -log(1 - sigmoid(v)) = softplus(v).
    "gan": FDivergence("gan", lambda v: -_softplus(-v), _softplus, +1),
    # f(u) = -(u + 1) log((1 + u) / 2) + u log u; g = log 2 + log sigmoid(v);
    # f*(t) = -log(2 - e^t) -> -log 2 + softplus(v).
    "js": FDivergence("js", lambda v: LOG2 - _softplus(-v), lambda v: _softplus(v) - LOG2, 0),
    # Forward KL(P || Q), f(u) = u log u; g = v; f*(t) = exp(t - 1).
    "forward_kl": FDivergence("forward_kl", lambda v: v, lambda v: jnp.exp(v - 1.0), +1,
                              neutral_logit=1.0),  # f'(1) = 1
    # Reverse KL(Q || P), f(u) = -log u; g = -exp(-v); f*(t) = -1 - log(-t) -> v - 1.
    "reverse_kl": FDivergence("reverse_kl", lambda v: -jnp.exp(-v), lambda v: v - 1.0, 0),
    # Pearson chi^2, f(u) = (u - 1)^2; g = v; f*(t) = t^2 / 4 + t.
    "pearson": FDivergence("pearson", lambda v: v, lambda v: 0.25 * v**2 + v, 0),
    # Total variation, f(u) = |u - 1| / 2; g = tanh(v) / 2; f*(t) = t on |t| <= 1/2.
    "total_variation": FDivergence("total_variation", lambda v: 0.5 * jnp.tanh(v),
                                   lambda v: 0.5 * jnp.tanh(v), 0),
    # Squared Hellinger, f(u) = (sqrt(u) - 1)^2; g = 1 - exp(-v); f*(t) = t / (1 - t).
    "squared_hellinger": FDivergence("squared_hellinger", lambda v: 1.0 - jnp.exp(-v),
                                     lambda v: jnp.expm1(v), 0),
}


def get_divergence(name: str) -> FDivergence:
    """The `FDivergence` called `name`; raises `ValueError` naming the known ones."""
    if name not in DIVERGENCES:
        raise ValueError(f"divergence: expected one of {sorted(DIVERGENCES)}, got {name!r}")
    return DIVERGENCES[name]
