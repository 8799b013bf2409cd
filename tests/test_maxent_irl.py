"""MaxEnt (MCE) IRL: the exact gradient, recovery of exact expert occupancies, gridworld
rewards, learning from demos, batching over MDPs, and the Algorithm protocol."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxil
import jaxil.tabular as T
from jaxil.algorithms import MaxEntIRLConfig, apprenticeship, maxent_irl, maxent_irl_step, mwal
from jaxil.tabular.rewards import LinearReward

SIZES = (10, 3, 4)


def _stack(trees):
    return jax.tree.map(lambda *x: jnp.stack(x), *trees)


def test_gradient_is_learner_minus_expert_feature_expectations_and_the_dual_gradient():
    mdp = T.random_mdp(jax.random.key(0), *SIZES, horizon=5, discount=1.0)
    theta = jax.random.normal(jax.random.key(1), (SIZES[2],))

    @jax.jit
    def check(mdp, theta):
        expert = T.occupancy(mdp, T.soft_value_iteration(mdp).policy)
        grads, _, metrics = maxent_irl_step(mdp, LinearReward(theta), expert)
        learner = T.occupancy(mdp, T.soft_value_iteration(mdp, mdp.features @ theta).policy)
        mu_gap = T.feature_expectations(mdp, learner) - T.feature_expectations(mdp, expert)

        def dual(w):  # E[V_0] - <d_E, r>: the expert's causal negative log-likelihood
            r = mdp.features @ w
            return mdp.initial @ T.soft_value_iteration(mdp, r).values[0] - expert.state @ r

        return grads.weights, mu_gap, jax.grad(dual)(theta), metrics["loss"], dual(theta)

    grads, mu_gap, autodiff, loss, dual = check(mdp, theta)
    np.testing.assert_allclose(grads, mu_gap, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(autodiff, mu_gap, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(loss, dual, rtol=1e-5)


@pytest.mark.parametrize("horizon,discount,state_action", [(8, 1.0, False), (None, 0.9, True)])
def test_recovers_the_exact_expert_occupancy_of_random_mdps(horizon, discount, state_action):
    """The MCE expert of a reward in the features' span is matched within 1e-3 (TV)."""
    keys = jax.random.split(jax.random.key(3), 4)
    mdps = _stack([T.random_mdp(k, *SIZES, horizon=horizon, discount=discount,
                                state_action_features=state_action) for k in keys])
    learning_rates = jnp.array([0.05, 0.05, 0.1, 0.1])  # configs vmap too

    def learn(mdp, key, lr):
        expert = T.occupancy(mdp, T.soft_value_iteration(mdp).policy)
        algo = maxent_irl(mdp, MaxEntIRLConfig(learning_rate=lr))
        state, metrics = jaxil.train(algo, key, expert, 1_000)
        probs = T.policy_table(mdp, algo.policy(state))
        occ = T.occupancy(mdp, probs)
        tv = T.total_variation(occ.state_action, expert.state_action)
        if horizon is not None:  # also per time step
            tv = jnp.maximum(tv, T.total_variation(T.forward_messages(mdp, probs),
                                                   T.forward_messages(mdp, expert_policy(mdp))))
        return tv, probs, occ, metrics

    def expert_policy(mdp):
        return T.soft_value_iteration(mdp).policy

    tv, probs, occ, metrics = jax.jit(jax.vmap(learn))(mdps, keys, learning_rates)
    assert np.all(np.asarray(tv) < 1e-3), tv
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(np.asarray(probs).sum(-1), 1.0, atol=1e-5)
    total = 9.0 if horizon else 10.0
    np.testing.assert_allclose(occ.state.sum(-1), total, rtol=1e-5)
    assert np.all(np.asarray(metrics["occupancy_tv"])[:, -1] < 1e-3)
    assert np.all(np.asarray(metrics["loss"])[:, -1] <= np.asarray(metrics["loss"])[:, 0])


def test_gridworld_optimal_policy_of_the_learned_reward():
    mdp = T.gridworld(features="onehot", discount=0.9)
    expert_pi = T.value_iteration(mdp).policy
    expert = T.occupancy(mdp, expert_pi)
    config = MaxEntIRLConfig(policy="optimal", learning_rate=0.1)
    algo = maxent_irl(mdp, config)
    state, _ = jax.jit(lambda k: jaxil.train(algo, k, expert, 300))(jax.random.key(0))
    learned = T.value_iteration(mdp, state.reward(mdp.features)).policy
    np.testing.assert_allclose(T.policy_table(mdp, algo.policy(state)), learned, atol=1e-6)
    expert_return = T.policy_return(mdp, expert_pi)
    random_return = T.policy_return(mdp, jnp.full_like(expert_pi, 1 / 5))
    ours = T.policy_return(mdp, learned)
    assert expert_return > 0 and ours >= 0.95 * expert_return
    assert (ours - random_return) / (expert_return - random_return) >= 0.95


def test_learns_from_cliff_demos_with_a_neural_reward():
    env = jaxil.envs.make("cliff", features="xy")
    mdp = env.unwrapped.mdp
    expert_pi = T.soft_value_iteration(mdp).policy
    demos = jaxil.data.collect(env, T.tabular_policy(env, expert_pi), jax.random.key(0), 500)
    config = MaxEntIRLConfig(reward="mlp", hidden_sizes=(32,), learning_rate=0.03)
    algo = maxent_irl(env, config)
    data = jaxil.data.as_transitions(demos)
    update = jax.jit(eqx.debug.assert_max_traces(algo.update, max_traces=1))
    state = algo.init(jax.random.key(1), data)
    metrics0 = state.metrics
    for _ in range(3):
        state = update(state, None)
    assert jax.tree.structure(state.metrics) == jax.tree.structure(metrics0)
    np.testing.assert_allclose(state.expert.state, T.occupancy_from_demos(env, demos).state,
                               rtol=1e-5)
    state, metrics = jax.jit(lambda k: jaxil.train(algo, k, demos, 500))(jax.random.key(2))
    assert metrics["occupancy_tv"][-1] < 0.05 and metrics["occupancy_tv"][-1] < \
        0.5 * metrics["occupancy_tv"][0]
    policy = algo.policy(state)
    expert_return = T.policy_return(mdp, expert_pi)  # about 16; random: about -32
    assert T.policy_return(mdp, T.policy_table(env, policy)) >= 0.95 * expert_return


def test_needs_demos_or_an_expert_occupancy():
    env = jaxil.envs.make("cliff")
    algo = maxent_irl(env)
    with pytest.raises(ValueError, match="demos"):
        algo.init(jax.random.key(0), None)
    # the exact occupancy comes through train's data argument, like demonstrations; the
    # factories take no third argument
    mdp = env.unwrapped.mdp
    expert = T.occupancy(mdp, T.value_iteration(mdp).policy)
    state, _ = jaxil.train(algo, jax.random.key(0), expert, num_updates=1)
    np.testing.assert_allclose(state.expert.state_action, expert.state_action, rtol=1e-6)
    for factory in (maxent_irl, apprenticeship, mwal):
        with pytest.raises(TypeError):
            factory(env, None, expert)
    with pytest.raises(TypeError, match="tabular"):
        maxent_irl(jaxil.envs.make("pointmass"))
    with pytest.raises(ValueError, match="reward"):
        maxent_irl(jaxil.envs.make("cliff"), MaxEntIRLConfig(reward="cnn"))
