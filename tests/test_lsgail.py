"""Least-squares GAIL: the loss by hand, one compilation, and learning on cartpole."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from adversarial_setup import (
    CARTPOLE_ADV,
    CARTPOLE_PPO,
    TINY_ADV,
    TINY_PPO,
    all_finite,
    check_traced_once,
    expert_normalised,
)

import jaxil
from jaxil.adversarial import discriminator_loss
from jaxil.algorithms import ALGORITHMS, LSGAILConfig, lsgail
from jaxil.algorithms.lsgail import LEAST_SQUARES


def test_least_squares_loss_and_reward_by_hand():
    expert, policy = jnp.array([0.5, 1.0, 2.0]), jnp.array([-1.0, 0.0])
    expected = (0.25 + 0.0 + 1.0) / 3 / 2 + (0.0 + 1.0) / 2 / 2
    np.testing.assert_allclose(discriminator_loss(expert, policy, LEAST_SQUARES), expected,
                               rtol=1e-6)
    # the reward is the policy's term, (v + 1)^2 / 2: 0 where the fit says "policy" (-1)
    np.testing.assert_allclose(LEAST_SQUARES.conjugate_of_activation(policy), [0.0, 0.5])
    assert "lsgail" in ALGORITHMS and ALGORITHMS["lsgail"].config is LSGAILConfig


def test_update_compiles_once(cartpole_demos):
    env = jaxil.envs.make("cartpole")
    algo = lsgail(env, LSGAILConfig(adversarial=TINY_ADV, ppo=TINY_PPO))
    state = jax.eval_shape(algo.init, jax.random.key(0), cartpole_demos)
    batches = [jaxil.sample_batch(cartpole_demos, jax.random.key(i), 16) for i in range(3)]
    check_traced_once(algo.update, state, batches)


@pytest.mark.slow
def test_lsgail_learns_cartpole(cartpole_expert, cartpole_demos):
    # Measured on 8 seeds (`jax.random.split(key(0), 8)`, these settings and demos drawn
    # alike): 0.996-1.0, so the 0.9 threshold has a margin of about 0.1.
    env, _, expert_return = cartpole_expert
    algo = lsgail(env, LSGAILConfig(adversarial=CARTPOLE_ADV, ppo=CARTPOLE_PPO))
    key = jax.random.split(jax.random.key(0), 8)[0]
    state, metrics = jax.jit(lambda k, d: jaxil.train(algo, k, d, num_updates=100,
                                                      batch_size=256))(key, cartpole_demos)
    assert all_finite(metrics)
    assert expert_normalised(env, algo.policy(state), expert_return) >= 0.9
