"""AIRL: its logits, the exported reward, learning cartpole, and reward transfer (PPO from
scratch on the learned reward)."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from adversarial_setup import (
    CARTPOLE_PPO,
    TINY_ADV,
    TINY_PPO,
    all_finite,
    check_traced_once,
    expert_normalised,
)

import jaxil
from jaxil.adversarial import AdversarialConfig, LearnedReward, reward_transfer
from jaxil.algorithms import AIRLConfig, airl, airl_reward
from jaxil.rl import PPOConfig

# Four discriminator steps per update on a 1024-transition expert batch, a replay of the
# last 10 rollouts, and an absorbing state weighted like the rest of a 500-step episode
# spent there: `g` must rank dying (the absorbing state) below the expert's states for the
# reward to transfer (11 of 12 seeds transferred with these settings, against about 4 of
# 12 with a weight of 100, while the gradient penalty still saw the absorbing indicator;
# since it no longer does, see the transfer test for the measured seeds).
AIRL_ADV = AdversarialConfig(disc_learning_rate=1e-3, disc_steps=4,
                                 gradient_penalty="expert", gp_weight=3.0,
                                 replay_rollouts=10, absorbing_state=True,
                                 absorbing_weight=1000.0)


def test_airl_options_and_exported_reward():
    env = jaxil.envs.make("pendulum")
    with pytest.raises(ValueError, match="reward_inputs"):
        airl(env, AIRLConfig(reward_inputs="ss"))
    algo = airl(env, AIRLConfig(reward_inputs="sa", ppo=TINY_PPO, adversarial=TINY_ADV))
    state = algo.init(jax.random.key(0))
    assert state.discriminator.net.h is not None  # the shaping potential
    reward = airl_reward(state)
    assert isinstance(reward, LearnedReward)
    obs, action = jnp.ones(3), jnp.array([0.5])
    r = reward(obs, action, obs)
    assert r.shape == () and np.isfinite(r)
    # g on (s, a): the reward depends on the action.
    assert float(reward(obs, -action, obs)) != float(r)


def test_update_and_reward_transfer_compile_once(cartpole_demos):
    """Traced once (a state drifting in structure, shape or dtype would retrace), checked
    with `jax.eval_shape`; the learning tests below run both updates for real."""
    env = jaxil.envs.make("cartpole")
    algo = airl(env, AIRLConfig(ppo=TINY_PPO, adversarial=TINY_ADV))
    state = jax.eval_shape(algo.init, jax.random.key(0), cartpole_demos)
    batches = [jaxil.sample_batch(cartpole_demos, jax.random.key(i), 16) for i in range(3)]
    check_traced_once(algo.update, state, batches)
    # PPO from scratch on the learned reward (a fixed part of the program; its values do
    # not matter here, so the discriminator's parameters are zeros)
    disc = jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), state.discriminator)
    transfer = reward_transfer(env, airl_reward(state._replace(discriminator=disc)), TINY_PPO)
    check_traced_once(transfer.update, jax.eval_shape(transfer.init, jax.random.key(1)),
                      [None] * 3)


# Session-scoped: a module fixture is torn down whenever an xdist worker runs a test of
# another module in between, and was then trained again (25 s) for the second test.
@pytest.fixture(scope="session")
def trained_airl(cartpole_expert, cartpole_demos):
    env, _, expert_return = cartpole_expert
    demos = cartpole_demos
    algo = airl(env, AIRLConfig(adversarial=AIRL_ADV, ppo=CARTPOLE_PPO))
    algo = algo._replace(update=eqx.debug.assert_max_traces(algo.update, max_traces=1))
    state, metrics = jax.jit(lambda k, d: jaxil.train(algo, k, d, num_updates=100,
                                                      batch_size=1024))(jax.random.key(0),
                                                                        demos)
    return env, expert_return, algo, state, metrics


# The margin: the fixture's exact program over keys 0-15 (single runs) scored 1.0 on all 16
# with the discriminator's relu and running input statistics (the defaults since
# 2026-12-05; `AIRL_ADV` keeps its learning rate), and the transfer test below, on each
# key's reward, 1.0 on all 16; with tanh and fixed statistics 0.922-1.0. Runs key 0 (1.0).
@pytest.mark.slow
def test_airl_learns_cartpole(trained_airl):
    env, expert_return, algo, state, metrics = trained_airl
    assert all_finite(metrics)
    assert expert_normalised(env, algo.policy(state), expert_return) >= 0.9


@pytest.mark.slow
def test_airl_reward_transfers_to_ppo_from_scratch(trained_airl):
    env, expert_return, _, state, _ = trained_airl
    reward = airl_reward(state)
    # `g` prices the absorbing state at about -8 against about +1 on expert states; the
    # transferred reward is centred on it, so every surviving step pays about 9 and a
    # termination pays nothing after it. Measured on 4 AIRL seeds (`jax.random.split(
    # key(0), 4)`, the fixture's settings, transfer key 1): 1.0 on 4 of 4 with the 0.1
    # scale, 0.97, 0.99, 1.0, 1.0 without it. Before the centring a termination cost
    # `gamma / (1 - gamma) * 8 = 790` at once: 1.0, 1.0, 0.96, 1.0 with the scale and
    # 0.84, 0.71, 0.31, 1.0 without it.
    ppo = PPOConfig(num_envs=16, rollout_length=64, num_epochs=4, num_minibatches=4,
                    learning_rate=3e-3, normalize_obs=False, deterministic_policy=True,
                    reward_scale=0.1)
    algo = reward_transfer(env, reward, ppo)
    algo = algo._replace(update=eqx.debug.assert_max_traces(algo.update, max_traces=1))
    new_state, metrics = jax.jit(lambda k: jaxil.train(algo, k, None, num_updates=100))(
        jax.random.key(1))
    assert all_finite(metrics)
    assert expert_normalised(env, algo.policy(new_state), expert_return) >= 0.8


def test_rollout_log_probs_are_the_policys_own():
    """AIRL's logits take `log pi(a | s)` of the policy's samples from the rollout (exact,
    from the pre-squash sample); they equal the ones derived from the stored actions
    wherever those are exact (unsquashed heads), and stay finite at the bounds of a
    squashed head, where re-deriving them from a clipped action is not exact."""
    from jaxil.adversarial.steps import action_log_probs
    from jaxil.rl.ppo import collect, init_learner

    for name, head, exact in (("cartpole", "auto", True), ("pendulum", "tanh_gaussian", False)):
        env = jaxil.envs.make(name)
        config = PPOConfig(num_envs=4, rollout_length=16, hidden_sizes=(8,), head=head,
                           init_std=3.0)
        learner = init_learner(env.spec, config, jax.random.key(0))
        venv = jaxil.envs.vectorize(env, config.num_envs)
        _, batch = collect(venv, venv.reset(jax.random.key(1)), learner, jax.random.key(2),
                           config)
        tr = batch.transitions
        derived = action_log_probs(learner.policy, tr.obs.reshape(-1, tr.obs.shape[-1]),
                                   tr.action.reshape(-1, *tr.action.shape[2:]))
        recorded = batch.log_probs.reshape(-1)
        assert bool(jnp.all(jnp.isfinite(recorded)))
        if exact:
            np.testing.assert_allclose(recorded, derived, rtol=1e-5, atol=1e-5)


def test_exported_rewards_train_and_test_split():
    """GAIL's training reward is its mapping of the test reward (the logit); AIRL's shaped
    reward is its unshaped g plus gamma h(s') - h(s), without the shaping after a
    termination: each checked against the discriminator's own pieces (without the
    absorbing state, whose centring `test_adversarial.py` checks)."""
    from jaxil.algorithms import GAILConfig, airl_rewards, gail, gail_rewards

    adv = dataclasses.replace(TINY_ADV, absorbing_state=False)

    env = jaxil.envs.make("pendulum")
    tr = jaxil.Transition(jax.random.normal(jax.random.key(1), (5, 3)),
                          jax.random.uniform(jax.random.key(2), (5, 1), minval=-2, maxval=2),
                          jnp.zeros(5), jax.random.normal(jax.random.key(3), (5, 3)),
                          jnp.array([False, True, False, False, True]), jnp.zeros(5, bool))
    gail_state = gail(env, GAILConfig(ppo=TINY_PPO, adversarial=adv)).init(
        jax.random.key(0))
    rewards = gail_rewards(gail_state)
    test = rewards["test"].transition_rewards(tr, 0.99)
    np.testing.assert_allclose(rewards["train"].transition_rewards(tr, 0.99),
                               jax.nn.softplus(test), rtol=1e-6)  # -log(1 - D)
    log_d = gail_rewards(gail_state, GAILConfig(reward="log_d"))["train"]
    np.testing.assert_allclose(log_d(tr.obs[0], tr.action[0], tr.next_obs[0]),
                               -jax.nn.softplus(-test[0]), rtol=1e-5)

    config = AIRLConfig(ppo=dataclasses.replace(TINY_PPO, gamma=0.9), adversarial=adv)
    state = airl(env, config).init(jax.random.key(0))
    rewards = airl_rewards(state, config)
    d = state.discriminator
    x = d.features(tr)
    g = jax.vmap(d.net.reward)(x)
    h, h_next = jax.vmap(d.net.potential)(x.obs), jax.vmap(d.net.potential)(x.next_obs)
    continuing = 1.0 - tr.terminated.astype(jnp.float32)
    np.testing.assert_allclose(rewards["unshaped"].transition_rewards(tr, 0.9), g, rtol=1e-6)
    np.testing.assert_allclose(rewards["shaped"].transition_rewards(tr, 0.9),
                               g + 0.9 * continuing * h_next - h, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="no potential"):
        LearnedReward(gail_state.discriminator, shaped=True)
