"""MWAL: multiplicative weights apprenticeship learning (Syed & Schapire 2007).

Apprenticeship learning as a zero-sum game: the learner picks a (mixed) policy, an
adversary picks reward weights `w` on the simplex, and the learner's payoff is
`w . (mu(pi) - mu_E)`. Features are first scaled to `[0, 1]` per feature (and, with
`complement_features`, extended by `1 - phi`, so rewards of either sign are covered).
For `T = num_iterations` rounds, with `beta = 1 / (1 + sqrt(2 ln K / T))`:

    w_i = W_i / sum(W_i);   pi_i = optimal policy of w_i . phi;   mu_i = mu(pi_i)
    W_{i+1, k} = W_{i, k} * beta ** G(mu_{i, k}, mu_{E, k}),
    G(mu, mu_E) = ((mu - mu_E) / Z + 2) / 4,

with `Z` the occupancy's total mass (`jaxil.tabular.mdp.occupancy_total`: `1 / (1 - gamma)`
without a horizon; over a horizon `H`, `sum_{t=0}^{H} gamma^t` for state features and
`sum_{t=0}^{H-1} gamma^t` for state-action features, so `H + 1` or `H` at `gamma = 1`).
The output is the uniform mixture of `pi_1..pi_T`, which (up to `O(sqrt(ln K / T))`) does
at least as well as the expert for every reward in the weights' span.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.algorithms.apprenticeship import uniform_policy
from jaxil.algorithms.maxent_irl import expert_occupancy_for
from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.networks.policy import ActorPolicy
from jaxil.tabular.env import tabular_env
from jaxil.tabular.mdp import TabularMDP, occupancy_total
from jaxil.tabular.occupancy import Occupancy, mixture_policy, occupancy
from jaxil.tabular.policies import to_actor_policy
from jaxil.tabular.solvers import value_iteration
from jaxil.types import Array, Metrics, PRNGKey, Transition

METRIC_NAMES = ("game_value", "gap", "num_policies")


class MWALConfig(eqx.Module):
    """MWAL settings.

    Static: `num_iterations` (`T`: rounds, which also set `beta`), `complement_features`
    (add `1 - phi`), `max_iters` (value-iteration sweeps, infinite horizon),
    `deterministic_policy`. Float: `tol` (value-iteration tolerance).
    """

    num_iterations: int = eqx.field(static=True, default=100)
    complement_features: bool = eqx.field(static=True, default=True)
    max_iters: int = eqx.field(static=True, default=10_000)
    deterministic_policy: bool = eqx.field(static=True, default=False)
    tol: float | Array = 1e-6


class MWALState(NamedTuple):
    """MWAL state (`T = num_iterations`; unused slots are zero).

    Attributes:
        log_weights: `[K']` log of the adversary's weights `W` on the scaled features.
        policies: `[T, H, S, A]` or `[T, S, A]`, `pi_1..pi_T`.
        feature_expectations: `[T, K]`, `mu_i` on the original features.
        scaled_feature_expectations: `[T, K']`, `mu_i` on the scaled features.
        mixture: `[T]`, uniform over the policies so far.
        expert: `[K']`, the expert's scaled feature expectations.
        expert_original: `[K]`, `mu_E` on the original features.
        num_policies: `[]` int32.
        step: `[]` int32.
        metrics: `game_value` (`min_k (mu_bar - mu_E)_k / Z` of the mixture, on the scaled
            features; the guarantee is that it approaches a value `>= 0`), `gap`
            (`||mu_bar - mu_E||` on the original features), `num_policies`.
    """

    log_weights: Array
    policies: Array
    feature_expectations: Array
    scaled_feature_expectations: Array
    mixture: Array
    expert: Array
    expert_original: Array
    num_policies: Array
    step: Array
    metrics: Metrics


def scaled_features(features: Array, complement: bool = True) -> Array:
    """Per-feature min-max scaling of `phi[..., K]` to `[0, 1]` (constant features become
    0), followed by `1 - phi` when `complement` (`[..., 2K]`)."""
    axes = tuple(range(features.ndim - 1))
    lo, hi = jnp.min(features, axis=axes), jnp.max(features, axis=axes)
    span = hi - lo
    phi = jnp.where(span > 0, (features - lo) / jnp.where(span > 0, span, 1.0), 0.0)
    return jnp.concatenate([phi, 1.0 - phi], axis=-1) if complement else phi


def mwal(env: Env | TabularMDP, config: MWALConfig | None = None) -> Algorithm:
    """MWAL as an `Algorithm`.

    Args:
        env: a tabular env or a `TabularMDP`.
        config: `MWALConfig`.

    Returns:
        `Algorithm(init, update, policy)`: each `update` is one round (a no-op after
        `num_iterations`; `batch` ignored); `policy(state)` is the uniform mixture of the
        rounds' policies as one policy, an exact `ActorPolicy`
        (`jaxil.tabular.to_actor_policy`).
    """
    config = MWALConfig() if config is None else config
    base = tabular_env(env)
    mdp = env if isinstance(env, TabularMDP) else base.mdp
    t_max = config.num_iterations
    phi = scaled_features(mdp.features, config.complement_features)
    num_k = phi.shape[-1]
    beta = 1.0 / (1.0 + jnp.sqrt(2.0 * jnp.log(num_k) / t_max))
    total = occupancy_total(mdp, state_action=not mdp.state_features)

    def fe(occ: Occupancy, features: Array) -> Array:
        if mdp.state_features:
            return occ.state @ features
        return jnp.einsum("sa,sak->k", occ.state_action, features)

    def init(key: PRNGKey, data: Transition | Occupancy | None = None) -> MWALState:
        del key  # deterministic
        occ = expert_occupancy_for(base, data)
        pi_shape = uniform_policy(mdp).shape
        zero = jnp.zeros((), jnp.float32)
        return MWALState(
            log_weights=jnp.zeros(num_k, jnp.float32),
            policies=jnp.zeros((t_max, *pi_shape), jnp.float32),
            feature_expectations=jnp.zeros((t_max, mdp.num_features), jnp.float32),
            scaled_feature_expectations=jnp.zeros((t_max, num_k), jnp.float32),
            mixture=jnp.zeros(t_max, jnp.float32),
            expert=fe(occ, phi),
            expert_original=fe(occ, mdp.features),
            num_policies=jnp.zeros((), jnp.int32),
            step=jnp.zeros((), jnp.int32),
            metrics={name: zero for name in METRIC_NAMES},
        )

    def update(state: MWALState, batch: Transition | None = None) -> MWALState:
        del batch
        active = state.num_policies < t_max
        i = jnp.minimum(state.num_policies, t_max - 1)
        w = jax.nn.softmax(state.log_weights)
        pi = value_iteration(mdp, phi @ w, tol=config.tol, max_iters=config.max_iters).policy
        occ = occupancy(mdp, pi)
        mu_scaled = fe(occ, phi)
        gain = ((mu_scaled - state.expert) / total + 2.0) / 4.0
        count = state.num_policies + active.astype(jnp.int32)
        pick = lambda new, old: jnp.where(active, new, old)
        policies = pick(state.policies.at[i].set(pi), state.policies)
        fes = pick(state.feature_expectations.at[i].set(fe(occ, mdp.features)),
                   state.feature_expectations)
        mixture = (jnp.arange(t_max) < count) / jnp.maximum(count, 1).astype(jnp.float32)
        log_weights = pick(state.log_weights + jnp.log(beta) * gain, state.log_weights)
        scaled_fes = pick(state.scaled_feature_expectations.at[i].set(mu_scaled),
                          state.scaled_feature_expectations)
        metrics = {
            "game_value": jnp.min(mixture @ scaled_fes - state.expert) / total,
            "gap": jnp.linalg.norm(mixture @ fes - state.expert_original),
            "num_policies": count.astype(jnp.float32),
        }
        return MWALState(log_weights, policies, fes, scaled_fes, mixture, state.expert,
                         state.expert_original, count, state.step + 1, metrics)

    def policy(state: MWALState) -> ActorPolicy:
        probs = mixture_policy(mdp, state.policies, state.mixture)
        return to_actor_policy(base, probs, config.deterministic_policy)

    return Algorithm(init, update, policy, getattr(env, "spec", None))
