"""Apprenticeship learning (projection, max-margin) and MWAL on gridworlds."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxil
import jaxil.tabular as T
from jaxil.algorithms import (
    ApprenticeshipConfig,
    MWALConfig,
    apprenticeship,
    mwal,
)
from jaxil.algorithms.mwal import scaled_features

EPSILON = 0.02


@pytest.fixture(scope="module")
def grid():
    """A discounted gridworld with one-hot features (the true reward is linear in them)."""
    mdp = T.gridworld(features="onehot", discount=0.9)
    expert_pi = T.value_iteration(mdp).policy
    uniform = jnp.full_like(expert_pi, 1.0 / mdp.num_actions)
    return (mdp, expert_pi, T.occupancy(mdp, expert_pi), T.policy_return(mdp, expert_pi),
            T.policy_return(mdp, uniform))


@pytest.mark.parametrize("method", ["projection", "max_margin"])
def test_apprenticeship_matches_feature_expectations_and_return(grid, method):
    mdp, _, expert, expert_return, random_return = grid
    config = ApprenticeshipConfig(method=method, epsilon=EPSILON, num_iterations=40)
    algo = apprenticeship(mdp, config)
    state, metrics = jax.jit(lambda k: jaxil.train(algo, k, expert, 60))(jax.random.key(0))
    n = int(state.num_policies)
    assert bool(state.converged) and 2 <= n <= 40
    # the mixture, as one policy: its feature expectations are within epsilon of the expert's
    probs = T.policy_table(mdp, algo.policy(state))
    mu = T.policy_feature_expectations(mdp, probs)
    gap = float(jnp.linalg.norm(mu - T.feature_expectations(mdp, expert)))
    assert gap <= EPSILON
    np.testing.assert_allclose(mu, state.mu_bar, atol=1e-4)
    np.testing.assert_allclose(float(state.mixture.sum()), 1.0, atol=1e-5)
    assert np.all(np.asarray(state.mixture) >= 0) and np.all(np.asarray(state.mixture[n:]) == 0)
    ours = T.policy_return(mdp, probs)
    assert ours >= 0.95 * expert_return
    assert (ours - random_return) / (expert_return - random_return) >= 0.95
    margins = np.asarray(state.margins[1:n])
    assert margins[-1] > EPSILON and metrics["gap"][-1] <= EPSILON
    if method == "max_margin":  # distances to a growing hull never increase
        assert np.all(np.diff(margins) <= 1e-5)
    # after convergence updates are no-ops
    np.testing.assert_array_equal(metrics["num_policies"][-5:], n)


def test_mwal_mixture_does_as_well_as_the_expert(grid):
    mdp, _, expert, expert_return, random_return = grid
    algo = mwal(mdp, MWALConfig(num_iterations=100))
    state, metrics = jax.jit(lambda k: jaxil.train(algo, k, expert, 100))(jax.random.key(0))
    assert int(state.num_policies) == 100
    np.testing.assert_allclose(state.mixture, 0.01, atol=1e-7)
    ours = T.policy_return(mdp, T.policy_table(mdp, algo.policy(state)))
    assert ours >= 0.95 * expert_return
    assert (ours - random_return) / (expert_return - random_return) >= 0.95
    assert metrics["game_value"][-1] > -0.02


def test_scaled_features():
    phi = jnp.array([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    np.testing.assert_allclose(scaled_features(phi, complement=True),
                               [[0, 0, 1, 1], [0.5, 0, 0.5, 1], [1, 0, 0, 1]])


@pytest.fixture(scope="module")
def finite_grid_demos():
    env = jaxil.envs.make("gridworld", horizon=12, discount=1.0)
    expert_pi = T.value_iteration(env.unwrapped.mdp).policy
    demos = jaxil.data.collect(env, T.tabular_policy(env, expert_pi), jax.random.key(0), 300)
    return env, expert_pi, demos


@pytest.mark.parametrize("name", ["projection", "mwal"])
def test_from_demos_on_a_finite_horizon_env_compiles_once(name, finite_grid_demos):
    env, expert_pi, demos = finite_grid_demos
    mdp = env.unwrapped.mdp
    if name == "mwal":
        algo = mwal(env, MWALConfig(num_iterations=30))
    else:
        algo = apprenticeship(env, ApprenticeshipConfig(epsilon=0.1, num_iterations=20))
    data = jaxil.data.as_transitions(demos)
    state = algo.init(jax.random.key(0), data)
    metrics0 = state.metrics
    update = jax.jit(eqx.debug.assert_max_traces(algo.update, max_traces=1))
    for _ in range(30):
        state = update(state, None)
    assert jax.tree.structure(state.metrics) == jax.tree.structure(metrics0)
    policy = algo.policy(state)
    probs = T.policy_table(env, policy)
    assert probs.shape == (12, 25, 5)
    np.testing.assert_allclose(np.asarray(probs).sum(-1), 1.0, atol=1e-5)
    expert_return = T.policy_return(mdp, expert_pi)
    assert T.policy_return(mdp, probs) >= 0.9 * expert_return


def test_bad_method():
    with pytest.raises(ValueError, match="method"):
        apprenticeship(jaxil.envs.make("gridworld"), ApprenticeshipConfig(method="svm"))
