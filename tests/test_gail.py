"""GAIL: the protocol (state structure, one compilation, sweeps) and learning on the
built-in cartpole and pendulum."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from adversarial_setup import (
    SEEDS,
    TINY_ADV,
    TINY_PPO,
    all_finite,
    at_least_half_reach,
    compiled_once,
    run_updates,
    seed_scores,
    train_seeds,
)

import jaxil
from jaxil.adversarial import AdversarialConfig, tanh_fixed_stats_config
from jaxil.algorithms import GAILConfig, gail
from jaxil.rl import PPOConfig


def test_update_keeps_the_state_structure_and_compiles_once(cartpole_demos):
    env = jaxil.envs.make("cartpole")
    # the shared absorbing state (GAIL's default is one per terminal observation, whose
    # relabelled rewards have no such bound: see test_adversarial.py for both by hand)
    adv = AdversarialConfig(hidden_sizes=(8,), disc_steps=2, gradient_penalty="interpolate",
                            absorbing_state=True, absorbing_per_terminal=False,
                            replay_rollouts=2, bc_steps=5, bc_batch_size=16,
                            bc_steps_per_update=2)
    algo = gail(env, GAILConfig(adversarial=adv, ppo=TINY_PPO))
    state = jax.jit(algo.init)(jax.random.key(0), cartpole_demos)
    batches = [jaxil.sample_batch(cartpole_demos, jax.random.key(i), 32) for i in range(3)]
    states = run_updates(compiled_once(algo.update), state, batches)
    state = states[-1]
    assert int(state.step) == 3
    assert int(state.bc_opt_state[0].count) == 2 * 3  # BC's Adam state carried over
    assert all_finite(state.metrics)
    for m in (s.metrics for s in states):
        # the cross-entropy of a barely trained discriminator: 2 log 2 for logits of 0
        assert 0.0 < float(m["disc_loss"]) < 3 * math.log(2), m["disc_loss"]
        for name in ("disc_expert_accuracy", "disc_policy_accuracy"):
            assert 0.0 <= float(m[name]) <= 1.0, (name, m[name])
        assert float(m["disc_grad_penalty"]) >= 0.0 and float(m["disc_grad_norm"]) > 0.0
        # GAIL's default reward -log(1 - D) >= 0, centred on the absorbing state's, which
        # its logit's cap (D <= 1/2 there) keeps at most log 2
        assert float(m["relabelled_reward"]) > -math.log(2)
    # the discriminator trained: its parameters moved, and the policy's did too
    moved = lambda f: not all(np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(eqx.filter(f(states[0]), eqx.is_array)),
        jax.tree.leaves(eqx.filter(f(state), eqx.is_array)), strict=True))
    assert moved(lambda s: s.discriminator.net) and moved(lambda s: s.learner.policy)
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


# GAIL learning cartpole with every setting at its default is `test_episode_ends.py`'s
# `test_default_config_learns_from_demos_that_end_early[gail]`, on demos half of which end
# early (a clean-demo single run here scored 1.0 on keys 0-15 and was folded into it).


# The settings GAIL was tuned with for pendulum: the discriminator's defaults before
# 2026-12-05 (tanh, the demos' input statistics fixed, Adam at 1e-3), with a lighter
# penalty. The later defaults (relu, running statistics, Adam at 5e-4) learn pendulum less
# reliably: over keys 0-3, 27 of 32 seeds >= 0.8 (5-8 per key), 24 of 32 at 200 updates
# (`benchmarks/RESULTS.md`, "Session 14").
# The margin (the absorbing state on, as by default, though pendulum never terminates, so
# it only moves the rewards' centring constant): this exact program (8 seeds
# of key k, `train_seeds`) over keys k = 0-15, against a 10-episode evaluation of the
# expert: 121 of 128 seeds scored >= 0.8 (the others 0.656-0.786; median 0.95); per key
# 6-8 of 8 reached it, so at least 6 where the test asks 4. Runs key 0 (8 of 8,
# 0.868-0.983). With one absorbing state per terminal observation (GAIL's default since
# session 15: the centring constant is log 2 instead of the absorbing state's reward),
# keys 0-3: 31 of 32 (7-8 per key; key 0: 7 of 8, the other 0.732).
@pytest.mark.slow
def test_gail_learns_pendulum(pendulum_expert):
    env, expert, expert_return = pendulum_expert
    demos = jaxil.data.as_transitions(jaxil.data.collect(env, expert, jax.random.key(7), 10))
    ppo = PPOConfig(num_envs=16, rollout_length=64, num_epochs=10, num_minibatches=4,
                    learning_rate=1e-3, gamma=0.95, deterministic_policy=True)
    adv = tanh_fixed_stats_config(gp_weight=1.0)
    algo = gail(env, GAILConfig(adversarial=adv, ppo=ppo))
    states, metrics = train_seeds(algo, jax.random.key(0), demos, 150, SEEDS)
    assert all_finite(metrics)
    scores = seed_scores(env, algo, states, expert_return)
    assert at_least_half_reach(scores, 0.8), scores
