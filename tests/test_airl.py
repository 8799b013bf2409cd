"""AIRL: its logits, the exported reward, learning cartpole, and reward transfer (PPO from
scratch on the learned reward)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from adversarial_setup import CARTPOLE_PPO, all_finite, expert_normalised

import jaxil
from jaxil.adversarial import AdversarialConfig, LearnedReward, reward_transfer
from jaxil.algorithms import AIRLConfig, airl, airl_reward
from jaxil.rl import PPOConfig

# Four discriminator steps per update on a 1024-transition expert batch, a replay of the
# last 10 rollouts, and an absorbing state weighted like the rest of a 500-step episode
# spent there: `g` must rank dying (the absorbing state) below the expert's states for the
# reward to transfer (11 of 12 seeds transfer with these settings, against about 4 of 12
# with a weight of 100).
AIRL_ADV = AdversarialConfig(disc_learning_rate=1e-3, disc_steps=4,
                                 gradient_penalty="expert", gp_weight=3.0,
                                 replay_rollouts=10, absorbing_state=True,
                                 absorbing_weight=1000.0)


def test_airl_options_and_exported_reward():
    env = jaxil.envs.make("pendulum")
    with pytest.raises(ValueError, match="reward_inputs"):
        airl(env, AIRLConfig(reward_inputs="ss"))
    tiny = PPOConfig(num_envs=4, rollout_length=8, num_epochs=1, num_minibatches=1)
    algo = airl(env, AIRLConfig(reward_inputs="sa", ppo=tiny,
                                adversarial=AdversarialConfig(hidden_sizes=(8,))))
    state = algo.init(jax.random.key(0))
    assert state.discriminator.net.h is not None  # the shaping potential
    reward = airl_reward(state)
    assert isinstance(reward, LearnedReward)
    obs, action = jnp.ones(3), jnp.array([0.5])
    r = reward(obs, action, obs)
    assert r.shape == () and np.isfinite(r)
    # g on (s, a): the reward depends on the action.
    assert float(reward(obs, -action, obs)) != float(r)


@pytest.fixture(scope="module")
def trained_airl(cartpole_expert):
    env, expert, expert_return = cartpole_expert
    demos = jaxil.data.as_transitions(jaxil.data.collect(env, expert, jax.random.key(7), 10))
    algo = airl(env, AIRLConfig(adversarial=AIRL_ADV, ppo=CARTPOLE_PPO))
    state, metrics = jax.jit(lambda k, d: jaxil.train(algo, k, d, num_updates=100,
                                                      batch_size=1024))(jax.random.key(0),
                                                                        demos)
    return env, expert_return, algo, state, metrics


@pytest.mark.slow
def test_airl_learns_cartpole(trained_airl):
    env, expert_return, algo, state, metrics = trained_airl
    assert all_finite(metrics)
    assert expert_normalised(env, algo.policy(state), expert_return) >= 0.9


@pytest.mark.slow
def test_airl_reward_transfers_to_ppo_from_scratch(trained_airl):
    env, expert_return, _, state, _ = trained_airl
    reward = airl_reward(state)
    ppo = PPOConfig(num_envs=16, rollout_length=64, num_epochs=4, num_minibatches=4,
                    learning_rate=3e-3, normalize_obs=False, deterministic_policy=True)
    algo = reward_transfer(env, reward, ppo)
    new_state, metrics = jax.jit(lambda k: jaxil.train(algo, k, None, num_updates=100))(
        jax.random.key(1))
    assert all_finite(metrics)
    assert expert_normalised(env, algo.policy(new_state), expert_return) >= 0.8
