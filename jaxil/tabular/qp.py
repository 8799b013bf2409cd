"""The max-margin QP of apprenticeship learning, solved in JAX.

Abbeel & Ng's max-margin step

    max_{t, ||w||_2 <= 1} t   subject to   w . mu_E >= w . mu_j + t   (j < i)

has the same value as the distance from `mu_E` to the convex hull of the `mu_j` (its dual,
the minimum-norm-point problem), and `w = (mu_E - mu_bar) / ||mu_E - mu_bar||` where
`mu_bar` is the closest point of the hull:

    min_{lambda in simplex} || mu_E - sum_j lambda_j mu_j ||^2
      = min_{lambda in simplex} lambda^T G lambda,   G = (mu - mu_E)(mu - mu_E)^T.

`hull_projection` solves it with a primal-dual interior-point method written in JAX (a fixed
number of Newton steps on the KKT system, each an `[N + 1, N + 1]` linear solve, in a
`lax.scan`), so it jits and vmaps and is accurate even when the `mu_j` nearly coincide,
where first-order methods stall. No external QP library is used.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.types import Array

_MASKED = -1e9


def project_simplex(v: Array, mask: Array | None = None) -> Array:
    """Euclidean projection of `v[N]` onto the probability simplex (Duchi et al. 2008);
    entries with `mask == False` are fixed to 0 (projection onto the face of the others)."""
    if mask is not None:
        v = jnp.where(mask, v, _MASKED)
    u = jnp.sort(v)[::-1]
    css = jnp.cumsum(u) - 1.0
    ind = jnp.arange(1, v.shape[0] + 1, dtype=v.dtype)
    rho = jnp.sum(u - css / ind > 0)
    theta = css[rho - 1] / rho
    out = jnp.maximum(v - theta, 0.0)
    return out if mask is None else jnp.where(mask, out, 0.0)


@eqx.filter_jit
def simplex_qp(gram: Array, mask: Array | None = None, num_iters: int = 40,
               centering: float = 0.1) -> Array:
    """Solves `min_x x^T G x` over the probability simplex by a primal-dual interior-point
    method.

    Args:
        gram: `G[N, N]`, symmetric positive semi-definite.
        mask: `[N]` bool, the coordinates that may be non-zero (at least one); all when
            `None`.
        num_iters: Newton steps (static); each reduces the duality gap by about
            `1 - 0.9 * (1 - centering)` or better.
        centering: `sigma`, the target fraction of the current complementarity.

    Returns:
        `x[N]` on the simplex, zero where masked.
    """
    n = gram.shape[0]
    mask = jnp.ones(n, bool) if mask is None else mask
    m = mask.astype(gram.dtype)
    n_active = jnp.sum(m)
    scale = jnp.maximum(jnp.max(jnp.where(mask, jnp.diag(gram), 0.0)), 1e-30)
    g = jnp.where(mask[:, None] & mask[None, :], gram / scale, 0.0)

    def newton(carry, _):
        x, s, nu = carry
        mu = jnp.sum(m * x * s) / n_active
        r_dual = m * (2.0 * g @ x - s + nu)
        r_prim = jnp.sum(m * x) - 1.0
        r_comp = m * (x * s - centering * mu)
        kkt = 2.0 * g + jnp.diag(m * s / x) + jnp.diag(1.0 - m)
        top = jnp.concatenate([kkt, m[:, None]], axis=1)
        bottom = jnp.concatenate([m, jnp.zeros(1, gram.dtype)])[None]
        rhs = jnp.concatenate([-r_dual - r_comp / x, -r_prim[None]])
        sol = jnp.linalg.solve(jnp.concatenate([top, bottom]), rhs)
        dx, dnu = m * sol[:n], sol[n]
        ds = m * (-r_comp - s * dx) / x
        ratio = lambda v, dv: jnp.min(jnp.where(mask & (dv < 0), -v / jnp.where(dv < 0, dv, -1.0),
                                                jnp.inf))
        alpha = jnp.minimum(1.0, 0.99 * jnp.minimum(ratio(x, dx), ratio(s, ds)))
        # Stop once the duality gap is at float precision (further steps would underflow).
        done = (mu <= 1e-10) | ~jnp.all(jnp.isfinite(sol))
        alpha = jnp.where(done, 0.0, alpha)
        dx, ds, dnu = (jnp.where(done, 0.0, v) for v in (dx, ds, dnu))
        return (x + alpha * dx, s + alpha * ds, nu + alpha * dnu), None

    x0 = jnp.where(mask, 1.0 / n_active, 1.0)
    s0 = jnp.ones(n, gram.dtype)
    (x, _, _), _ = jax.lax.scan(newton, (x0, s0, jnp.zeros((), gram.dtype)), None,
                                length=num_iters)
    x = jnp.where(mask, jnp.maximum(x, 0.0), 0.0)
    return x / jnp.sum(x)


@eqx.filter_jit
def hull_projection(points: Array, target: Array, mask: Array | None = None,
                    num_iters: int = 40) -> tuple[Array, Array]:
    """The point of the convex hull of `points` closest to `target`.

    Args:
        points: `mu[N, K]`.
        target: `mu_E[K]`.
        mask: `[N]` bool, which points take part (at least one); all when `None`.
        num_iters: interior-point Newton steps (static).

    Returns:
        `(weights[N], distance[])`: mixture weights on the simplex (zero where masked) and
        `||target - weights @ points||`.
    """
    n = points.shape[0]
    mask = jnp.ones(n, bool) if mask is None else mask
    diffs = jnp.where(mask[:, None], points - target, 0.0)
    weights = simplex_qp(diffs @ diffs.T, mask, num_iters)
    return weights, jnp.linalg.norm(weights @ diffs)
