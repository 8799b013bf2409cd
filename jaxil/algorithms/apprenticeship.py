"""Apprenticeship learning via IRL (Abbeel & Ng 2004): the projection and max-margin methods.

With a reward linear in the MDP's features, `r = w . phi`, a policy whose feature
expectations `mu` are within `epsilon` of the expert's `mu_E` has a return within
`epsilon ||w||` of the expert's. Starting from the uniform policy `pi_0`, iteration `i`

1. takes the reward direction `w_i = mu_E - mu_bar` and the margin `t_i = ||w_i||`, where
   `mu_bar` is the point nearest `mu_E` found so far in the convex hull of `mu_0..mu_{i-1}`;
2. adds `pi_i`, the optimal (value-iteration) policy of `w_i . phi`, and `mu_i`;
3. updates `mu_bar`:
   - projection method: the orthogonal projection of `mu_E` onto the line through
     `mu_bar` and `mu_i` (clipped to the segment), tracking the mixture weights exactly;
   - max-margin method: the nearest point of the whole hull, i.e. the dual of Abbeel &
     Ng's QP `max_{t, ||w|| <= 1} t s.t. w . mu_E >= w . mu_j + t`, solved in JAX by
     `jaxil.tabular.hull_projection` (a primal-dual interior-point method written in JAX;
     no external QP library).

It stops adding policies once `||mu_E - mu_bar|| <= epsilon` (or `num_iterations` are
stored). The result is the mixture `sum_i lambda_i pi_i`, returned by `policy(state)` as one
policy with the mixture's occupancy (`jaxil.tabular.mixture_policy`).
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.algorithms.maxent_irl import expert_occupancy_for
from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.networks.policy import ActorPolicy
from jaxil.tabular.env import tabular_env
from jaxil.tabular.mdp import TabularMDP
from jaxil.tabular.occupancy import (
    Occupancy,
    feature_expectations,
    mixture_policy,
    policy_feature_expectations,
)
from jaxil.tabular.policies import to_actor_policy
from jaxil.tabular.qp import hull_projection
from jaxil.tabular.solvers import value_iteration
from jaxil.types import Array, Metrics, PRNGKey, Transition

METHODS = ("projection", "max_margin")
METRIC_NAMES = ("margin", "gap", "num_policies", "converged")


class ApprenticeshipConfig(eqx.Module):
    """Apprenticeship-learning settings.

    Static: `method` (`"projection"` or `"max_margin"`), `num_iterations` (the most
    policies kept, the initial one included), `qp_iters` (interior-point steps of the
    max-margin QP), `max_iters` (value-iteration sweeps, infinite horizon),
    `deterministic_policy`.
    Floats: `epsilon` (stop when the feature-expectation gap is at most this), `tol`
    (value-iteration tolerance, infinite horizon).
    """

    method: str = eqx.field(static=True, default="projection")
    num_iterations: int = eqx.field(static=True, default=50)
    qp_iters: int = eqx.field(static=True, default=40)
    max_iters: int = eqx.field(static=True, default=10_000)
    deterministic_policy: bool = eqx.field(static=True, default=False)
    epsilon: float | Array = 1e-2
    tol: float | Array = 1e-6


class ApprenticeshipState(NamedTuple):
    """Apprenticeship-learning state (`N = num_iterations`; unused slots are zero).

    Attributes:
        policies: `[N, H, S, A]` or `[N, S, A]`: `pi_0` (uniform) and the optimal policies
            `pi_i` of each iteration.
        feature_expectations: `[N, K]`, `mu_i`.
        reward_weights: `[N, K]`, the `w_i` that gave `pi_i` (zero for `pi_0`).
        margins: `[N]`, `t_i = ||mu_E - mu_bar||` when `pi_i` was added (`margins[0]` is
            `||mu_E - mu_0||`).
        mixture: `[N]` mixture weights `lambda` (on the simplex).
        mu_bar: `[K]`, `lambda @ feature_expectations`.
        expert: `[K]`, `mu_E`.
        num_policies: `[]` int32, policies stored.
        converged: `[]` bool, `||mu_E - mu_bar|| <= epsilon`.
        step: `[]` int32 updates run.
        metrics: `margin` (this update's `t_i`), `gap` (`||mu_E - mu_bar||` after it),
            `num_policies`, `converged` (0/1).
    """

    policies: Array
    feature_expectations: Array
    reward_weights: Array
    margins: Array
    mixture: Array
    mu_bar: Array
    expert: Array
    num_policies: Array
    converged: Array
    step: Array
    metrics: Metrics


def optimal_policy_for_weights(mdp: TabularMDP, weights: Array, tol: float | Array = 1e-6,
                               max_iters: int = 10_000) -> tuple[Array, Array]:
    """The optimal policy of the linear reward `phi @ weights[K]` and its feature
    expectations: `(pi[H, S, A] or pi[S, A], mu[K])`."""
    pi = value_iteration(mdp, mdp.features @ weights, tol=tol, max_iters=max_iters).policy
    return pi, policy_feature_expectations(mdp, pi)


def uniform_policy(mdp: TabularMDP) -> Array:
    """The uniform policy `[H, S, A]` or `[S, A]`."""
    shape = (mdp.num_states, mdp.num_actions)
    shape = shape if mdp.horizon is None else (mdp.horizon, *shape)
    return jnp.full(shape, 1.0 / mdp.num_actions, jnp.float32)


def apprenticeship(env: Env | TabularMDP,
                   config: ApprenticeshipConfig | None = None) -> Algorithm:
    """Apprenticeship learning (projection or max-margin) as an `Algorithm`.

    Args:
        env: a tabular env or a `TabularMDP` (features `phi[S, K]` or `phi[S, A, K]`).
        config: `ApprenticeshipConfig`.

    Returns:
        `Algorithm(init, update, policy)`: `init(key, demos)` computes `mu_E` and `pi_0`;
        each `update(state, batch)` is one iteration (a no-op once converged or full;
        `batch` ignored); `policy(state)` is the mixture as one policy, an exact
        `ActorPolicy` (`jaxil.tabular.to_actor_policy`).
    """
    config = ApprenticeshipConfig() if config is None else config
    if config.method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {config.method!r}")
    base = tabular_env(env)
    mdp = env if isinstance(env, TabularMDP) else base.mdp
    n, k = config.num_iterations, mdp.num_features
    if n < 2:
        raise ValueError(f"num_iterations: expected >= 2, got {n}")

    def init(key: PRNGKey, data: Transition | Occupancy | None = None) -> ApprenticeshipState:
        del key  # deterministic
        occ = expert_occupancy_for(base, data)
        mu_e = feature_expectations(mdp, occ)
        pi0 = uniform_policy(mdp)
        mu0 = policy_feature_expectations(mdp, pi0)
        policies = jnp.zeros((n, *pi0.shape), jnp.float32).at[0].set(pi0)
        fes = jnp.zeros((n, k), jnp.float32).at[0].set(mu0)
        gap = jnp.linalg.norm(mu_e - mu0)
        converged = gap <= config.epsilon
        metrics = {"margin": gap, "gap": gap, "num_policies": jnp.ones((), jnp.float32),
                   "converged": converged.astype(jnp.float32)}
        return ApprenticeshipState(
            policies, fes, jnp.zeros((n, k), jnp.float32),
            jnp.zeros(n, jnp.float32).at[0].set(gap), jax.nn.one_hot(0, n), mu0, mu_e,
            jnp.ones((), jnp.int32), converged, jnp.zeros((), jnp.int32), metrics)

    def update(state: ApprenticeshipState,
               batch: Transition | None = None) -> ApprenticeshipState:
        del batch
        w = state.expert - state.mu_bar
        margin = jnp.linalg.norm(w)
        i = jnp.minimum(state.num_policies, n - 1)
        active = ~state.converged & (state.num_policies < n)
        pi, mu = optimal_policy_for_weights(mdp, w, config.tol, config.max_iters)
        fes = state.feature_expectations.at[i].set(mu)
        if config.method == "projection":
            step = mu - state.mu_bar
            alpha = jnp.clip(step @ w / jnp.maximum(step @ step, 1e-30), 0.0, 1.0)
            mu_bar = state.mu_bar + alpha * step
            mixture = (1.0 - alpha) * state.mixture + alpha * jax.nn.one_hot(i, n)
        else:
            mask = jnp.arange(n) <= i
            mixture, _ = hull_projection(fes, state.expert, mask, config.qp_iters)
            mu_bar = mixture @ fes
        gap = jnp.linalg.norm(state.expert - mu_bar)
        pick = lambda new, old: jnp.where(active, new, old)
        new = ApprenticeshipState(
            policies=pick(state.policies.at[i].set(pi), state.policies),
            feature_expectations=pick(fes, state.feature_expectations),
            reward_weights=pick(state.reward_weights.at[i].set(w), state.reward_weights),
            margins=pick(state.margins.at[i].set(margin), state.margins),
            mixture=pick(mixture, state.mixture),
            mu_bar=pick(mu_bar, state.mu_bar),
            expert=state.expert,
            num_policies=state.num_policies + active.astype(jnp.int32),
            converged=state.converged | (active & (gap <= config.epsilon)),
            step=state.step + 1,
            metrics={},
        )
        metrics = {"margin": margin, "gap": jnp.linalg.norm(state.expert - new.mu_bar),
                   "num_policies": new.num_policies.astype(jnp.float32),
                   "converged": new.converged.astype(jnp.float32)}
        return new._replace(metrics=metrics)

    def policy(state: ApprenticeshipState) -> ActorPolicy:
        probs = mixture_policy(mdp, state.policies, state.mixture)
        return to_actor_policy(base, probs, config.deterministic_policy)

    return Algorithm(init, update, policy, getattr(env, "spec", None))
