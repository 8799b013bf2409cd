"""GAIL: the protocol (state structure, one compilation, sweeps) and learning on the
built-in cartpole and pendulum."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from adversarial_setup import CARTPOLE_ADV, CARTPOLE_PPO, all_finite, expert_normalised

import jaxil
from jaxil.adversarial import DISC_METRICS, AdversarialConfig
from jaxil.algorithms import GAILConfig, gail
from jaxil.rl import PPOConfig

TINY_PPO = PPOConfig(num_envs=4, rollout_length=8, num_epochs=1, num_minibatches=2,
                     hidden_sizes=(8,))
TINY_ADV = AdversarialConfig(hidden_sizes=(8,), disc_steps=2)


@pytest.fixture(scope="module")
def cartpole_demos(cartpole_expert):
    env, expert, _ = cartpole_expert
    return jaxil.data.as_transitions(jaxil.data.collect(env, expert, jax.random.key(7), 10))


def test_update_keeps_the_state_structure_and_compiles_once(cartpole_demos):
    env = jaxil.envs.make("cartpole")
    adv = AdversarialConfig(hidden_sizes=(8,), disc_steps=2, gradient_penalty="interpolate",
                            absorbing_state=True, replay_rollouts=2, bc_steps=5,
                            bc_batch_size=16)
    algo = gail(env, GAILConfig(adversarial=adv, ppo=TINY_PPO))
    state = algo.init(jax.random.key(0), cartpole_demos)
    assert set(DISC_METRICS) <= set(state.metrics)
    update = jax.jit(eqx.debug.assert_max_traces(algo.update, max_traces=1))
    for i in range(3):
        batch = jaxil.sample_batch(cartpole_demos, jax.random.key(i), 32)
        new = update(state, batch)
        assert jax.tree.structure(new) == jax.tree.structure(state)
        assert all(a.shape == b.shape and a.dtype == b.dtype for a, b in
                   zip(jax.tree.leaves(new), jax.tree.leaves(state), strict=True))
        state = new
    assert int(state.step) == 3
    assert all_finite(state.metrics)
    assert isinstance(algo.policy(state), jaxil.ActorPolicy)


def test_errors_are_clear(cartpole_demos):
    env = jaxil.envs.make("cartpole")
    with pytest.raises(ValueError, match="reward"):
        gail(env, GAILConfig(reward="exp"))
    with pytest.raises(ValueError, match="gradient_penalty"):
        gail(env, GAILConfig(adversarial=AdversarialConfig(gradient_penalty="r2")))
    algo = gail(env, GAILConfig(adversarial=TINY_ADV, ppo=TINY_PPO))
    state = jax.eval_shape(algo.init, jax.random.key(0), cartpole_demos)
    with pytest.raises(ValueError, match="needs expert demonstrations"):
        jax.eval_shape(algo.update, state, None)
    with pytest.raises(ValueError, match="needs expert actions"):
        jax.eval_shape(algo.update, state, cartpole_demos._replace(action=None))
    with pytest.raises(ValueError, match="batch_size"):
        jax.eval_shape(algo.update, state, jaxil.sample_batch(cartpole_demos,
                                                              jax.random.key(0), 1))


def test_sweep_vmaps_over_seeds_and_float_hyperparameters(cartpole_demos):
    env = jaxil.envs.make("cartpole")

    def run(key, disc_lr, gp_weight, entropy):
        adv = eqx.tree_at(lambda c: (c.disc_learning_rate, c.gp_weight), TINY_ADV,
                          (disc_lr, gp_weight))
        ppo = eqx.tree_at(lambda c: c.entropy_coef, TINY_PPO, entropy)
        algo = gail(env, GAILConfig(adversarial=adv, ppo=ppo))
        _, metrics = jaxil.train(algo, key, cartpole_demos, num_updates=3, batch_size=16)
        return metrics

    keys = jax.random.split(jax.random.key(0), 3)
    metrics = jax.jit(jax.vmap(run))(keys, jnp.array([1e-4, 1e-3, 1e-2]),
                                     jnp.array([0.0, 1.0, 10.0]), jnp.array([0.0, 0.01, 0.1]))
    assert metrics["disc_loss"].shape == (3, 3)
    assert all_finite(metrics)
    assert len(np.unique(np.asarray(metrics["disc_loss"][:, -1]))) == 3


@pytest.mark.slow
def test_gail_learns_cartpole(cartpole_expert, cartpole_demos):
    env, _, expert_return = cartpole_expert
    algo = gail(env, GAILConfig(adversarial=CARTPOLE_ADV, ppo=CARTPOLE_PPO))
    state, metrics = jax.jit(lambda k, d: jaxil.train(algo, k, d, num_updates=100,
                                                      batch_size=256))(jax.random.key(0),
                                                                       cartpole_demos)
    assert all_finite(metrics)
    assert expert_normalised(env, algo.policy(state), expert_return) >= 0.9


@pytest.mark.slow
def test_gail_learns_pendulum(pendulum_expert):
    env, expert, expert_return = pendulum_expert
    demos = jaxil.data.as_transitions(jaxil.data.collect(env, expert, jax.random.key(7), 10))
    ppo = PPOConfig(num_envs=16, rollout_length=64, num_epochs=10, num_minibatches=4,
                    learning_rate=1e-3, gamma=0.95, deterministic_policy=True)
    adv = AdversarialConfig(disc_learning_rate=1e-3, gradient_penalty="expert", gp_weight=1.0)
    algo = gail(env, GAILConfig(adversarial=adv, ppo=ppo))
    state, metrics = jax.jit(lambda k, d: jaxil.train(algo, k, d, num_updates=150,
                                                      batch_size=256))(jax.random.key(0),
                                                                       demos)
    assert all_finite(metrics)
    assert expert_normalised(env, algo.policy(state), expert_return) >= 0.8
