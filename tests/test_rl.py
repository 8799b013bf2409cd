"""Tests of jaxil.rl: GAE, PPO losses, episode tracking and the PPO algorithm."""

from __future__ import annotations

import dataclasses
import math

import distrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from adversarial_setup import compiled_once, run_updates

import jaxil
from jaxil import experts
from jaxil.rl import (
    PPOConfig,
    clipped_surrogate_loss,
    collect,
    entropy_loss,
    gae,
    init_learner,
    learn,
    ppo,
    value_loss,
)
from jaxil.rl.episodes import track_episodes
from jaxil.rl.ppo import log_prob_and_entropy, sample_action

# A tiny config: enough to exercise every code path, fast to compile.
TINY = PPOConfig(num_envs=4, rollout_length=8, num_epochs=2, num_minibatches=2,
                 hidden_sizes=(16,))

GAMMA, LAMBDA = 0.9, 0.8
GL = GAMMA * LAMBDA  # 0.72


def _gae_example():
    """Two columns, T = 5. Column 0 terminates at t = 1 and is truncated at t = 3."""
    rewards = np.array([[1.0, 1.0], [2.0, 1.0], [3.0, 1.0], [4.0, 1.0], [5.0, 1.0]])
    values = np.array([[0.5, 0.0], [1.0, 0.0], [1.5, 0.0], [2.0, 0.0], [2.5, 0.0]])
    next_values = np.array([[1.0, 0.0], [10.0, 0.0], [2.0, 0.0], [20.0, 0.0], [3.0, 0.0]])
    terminated = np.zeros((5, 2), bool)
    truncated = np.zeros((5, 2), bool)
    terminated[1, 0] = True
    truncated[3, 0] = True
    return rewards, values, next_values, terminated, truncated


def test_gae_hand_computed():
    rewards, values, next_values, terminated, truncated = _gae_example()
    adv, targets = gae(jnp.asarray(rewards), jnp.asarray(values), jnp.asarray(next_values),
                       jnp.asarray(terminated), jnp.asarray(truncated), GAMMA, LAMBDA)
    # Column 0, by hand (delta_t = r_t + gamma (1 - term_t) V'_t - V_t):
    #   t=4: delta = 5 + 0.9 * 3 - 2.5 = 5.2                  A4 = 5.2
    #   t=3: truncated: bootstraps from V'=20, recursion cut:
    #        delta = 4 + 0.9 * 20 - 2 = 20                    A3 = 20
    #   t=2: delta = 3 + 0.9 * 2 - 1.5 = 3.3                  A2 = 3.3 + 0.72 * 20 = 17.7
    #   t=1: terminated: V'=10 ignored, delta = 2 - 1 = 1     A1 = 1
    #   t=0: delta = 1 + 0.9 * 1 - 0.5 = 1.4                  A0 = 1.4 + 0.72 * 1 = 2.12
    # Column 1 (no episode end, V = 0): delta = 1, A_t = 1 + 0.72 A_{t+1}.
    a1 = [1.0]
    for _ in range(4):
        a1.insert(0, 1.0 + GL * a1[0])
    expected = np.array([[2.12, a1[0]], [1.0, a1[1]], [17.7, a1[2]], [20.0, a1[3]],
                         [5.2, a1[4]]])
    np.testing.assert_allclose(adv, expected, rtol=1e-6)
    np.testing.assert_allclose(targets, expected + values, rtol=1e-6)
    assert adv.shape == (5, 2) and adv.dtype == jnp.float32


def test_gae_truncation_bootstraps_and_termination_does_not():
    rewards, values, next_values, terminated, truncated = _gae_example()
    args = [jnp.asarray(x) for x in (rewards, values, next_values)]
    as_trunc, _ = gae(*args, jnp.zeros((5, 2), bool), jnp.asarray(truncated | terminated),
                      GAMMA, LAMBDA)
    as_term, _ = gae(*args, jnp.asarray(truncated | terminated), jnp.zeros((5, 2), bool),
                     GAMMA, LAMBDA)
    # t = 3 (next value 20): a time-out bootstraps, a true end does not.
    np.testing.assert_allclose(as_trunc[3, 0], 4.0 + GAMMA * 20.0 - 2.0, rtol=1e-6)
    np.testing.assert_allclose(as_term[3, 0], 4.0 - 2.0, rtol=1e-6)
    # Either way the recursion is cut: A2 only sees A3 of the same episode.
    np.testing.assert_allclose(as_trunc[2, 0], 3.3 + GL * as_trunc[3, 0], rtol=1e-6)
    np.testing.assert_allclose(as_term[2, 0], 3.3 + GL * as_term[3, 0], rtol=1e-6)


def test_gae_checks_shapes():
    x = jnp.zeros((5, 2))
    with pytest.raises(AssertionError):
        gae(x, x, jnp.zeros((5, 3)), x, x, GAMMA, LAMBDA)
    with pytest.raises(AssertionError):
        gae(x[:, 0], x[:, 0], x[:, 0], x[:, 0], x[:, 0], GAMMA, LAMBDA)


def test_clipped_surrogate_loss_hand_computed():
    ratio = jnp.array([1.5, 0.5, 1.1, 0.7])
    adv = jnp.array([1.0, 1.0, -1.0, -1.0])
    loss = clipped_surrogate_loss(jnp.log(ratio), jnp.zeros(4), adv, 0.2)
    # min(r A, clip(r, 0.8, 1.2) A): 1.2, 0.5, -1.1, -0.8 -> mean -0.05 -> loss 0.05.
    np.testing.assert_allclose(loss, 0.05, rtol=1e-5)
    with pytest.raises(AssertionError):
        clipped_surrogate_loss(jnp.zeros(4), jnp.zeros(3), adv, 0.2)


def test_value_loss_hand_computed():
    values = jnp.array([1.0, 2.0, 3.0])
    targets = jnp.array([1.5, 1.0, 3.0])
    old = jnp.array([1.2, 1.0, 2.0])
    # Unclipped: 0.5 * mean(0.25, 1, 0) = 0.208333.
    np.testing.assert_allclose(value_loss(values, targets), 0.5 * 1.25 / 3, rtol=1e-6)
    # Clipped (eps 0.5): v_c = 1.0, 1.5, 2.5; squared errors 0.25, 0.25, 0.25;
    # max with the unclipped ones: 0.25, 1, 0.25 -> 0.5 * 1.5 / 3 = 0.25.
    np.testing.assert_allclose(value_loss(values, targets, old, 0.5), 0.25, rtol=1e-6)


def test_entropy_loss_hand_computed():
    np.testing.assert_allclose(entropy_loss(jnp.array([0.5, 1.5])), -1.0)
    dist = distrax.Categorical(logits=jnp.zeros((3, 2)))
    np.testing.assert_allclose(entropy_loss(jaxil.networks.entropy(dist)), -math.log(2),
                               rtol=1e-6)


def test_squashed_log_prob_is_exact_near_the_bounds():
    env = jaxil.envs.make("pendulum")
    policy = init_learner(env.spec, TINY, jax.random.key(0)).policy
    obs = jnp.array([1.0, 0.0, 0.0])
    raw_far = jnp.array([12.0])

    @jax.jit
    def probe(policy):
        action, raw, log_prob = sample_action(policy, obs, jax.random.key(1))
        dist = policy.distribution(obs)
        base, bijector = jaxil.networks.raw_and_bijector(dist)
        far_log_prob, _ = log_prob_and_entropy(
            policy.network, jaxil.networks.normalize(policy.normalizer, obs), raw_far)
        return (action, raw, log_prob, dist.log_prob(action), bijector.forward(raw_far),
                base.log_prob(raw_far), far_log_prob)

    action, raw, log_prob, squashed_log_prob, far_action, base_far, far_log_prob = probe(policy)
    assert action.shape == (1,) and raw.shape == (1,)
    # Inside the bounds it matches the squashed distribution's own log-density.
    np.testing.assert_allclose(log_prob, squashed_log_prob, rtol=1e-4, atol=1e-4)
    # A raw sample of 12 squashes to the bound itself (2.0 in float32), where inverting
    # tanh is hopeless; the raw-space log-probability stays finite and exact:
    # log|d(2 tanh u)/du| = log 2 + 2 (log 2 - u - softplus(-2u)).
    assert float(far_action[0]) == 2.0
    log_det = math.log(2.0) + 2 * (math.log(2.0) - 12.0 - math.log1p(math.exp(-24.0)))
    assert np.isfinite(float(far_log_prob))
    np.testing.assert_allclose(far_log_prob, float(base_far) - log_det, rtol=1e-5)


def test_track_episodes_hand_computed():
    stats = jaxil.rl.init_episode_stats(2)._replace(running_return=jnp.array([10.0, 0.0]),
                                                   running_length=jnp.array([5.0, 0.0]))
    rewards = jnp.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
    done = jnp.array([[False, False], [True, False], [False, True]])
    stats, metrics = track_episodes(stats, rewards, done)
    # Env 0 ends at t = 1 with 10 + 1 + 1 = 12 in 7 steps; env 1 at t = 2 with 6 in 3 steps.
    np.testing.assert_allclose(metrics["episode_return"], 9.0)
    np.testing.assert_allclose(metrics["episode_length"], 5.0)
    np.testing.assert_allclose(metrics["episodes"], 2.0)
    np.testing.assert_allclose(stats.running_return, [1.0, 0.0])
    np.testing.assert_allclose(stats.running_length, [1.0, 0.0])
    # No episode ends: the last known means are kept.
    _, metrics = track_episodes(stats, rewards, jnp.zeros((3, 2), bool))
    np.testing.assert_allclose(metrics["episode_return"], 9.0)
    np.testing.assert_allclose(metrics["episodes"], 0.0)


@pytest.mark.parametrize("name", ["cartpole", "pendulum"])
def test_update_compiles_once(name):
    algo = ppo(jaxil.envs.make(name), TINY)
    state = algo.init(jax.random.key(0))
    # traced once; every state keeps the structure, shapes and dtypes of the first
    state = run_updates(compiled_once(algo.update), state, [None] * 3)[-1]
    assert int(state.step) == 3
    assert all(np.isfinite(float(v)) for v in state.metrics.values())
    assert float(state.learner.policy.normalizer.count) == 3 * TINY.batch_size


def test_same_key_same_parameters_and_config_sweep():
    env = jaxil.envs.make("pendulum")
    # Float hyperparameters may be arrays: one vmap runs a sweep over seeds and configs.
    run = jax.jit(jax.vmap(lambda k, lr: jaxil.train(
        ppo(env, dataclasses.replace(TINY, learning_rate=lr)), k, None, 3)[0].learner))
    k0, k1 = jax.random.key(0), jax.random.key(1)
    keys = jnp.stack([jax.random.key_data(k) for k in (k0, k1, k0)])
    lrs = jnp.array([1e-3, 1e-3, 1e-2])
    first = run(jax.random.wrap_key_data(keys), lrs)
    again = run(jax.random.wrap_key_data(keys), lrs)
    leaves = lambda learner, i: [x[i] for x in jax.tree.leaves(eqx.filter(learner, eqx.is_array))]
    same = lambda a, b: all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert same(leaves(first, 0), leaves(again, 0))  # same key, same parameters
    assert same(leaves(first, 2), leaves(again, 2))
    assert not same(leaves(first, 0), leaves(first, 1))  # another key
    assert not same(leaves(first, 0), leaves(first, 2))  # another learning rate


def test_learn_uses_the_given_rewards():
    env = jaxil.envs.make("cartpole")
    venv = jaxil.envs.vectorize(env, TINY.num_envs)
    learner = init_learner(env.spec, TINY, jax.random.key(0))
    env_state, batch = collect(venv, venv.reset(jax.random.key(1)), learner,
                               jax.random.key(2), TINY)
    assert batch.transitions.obs.shape == (TINY.rollout_length, TINY.num_envs, 4)
    assert batch.log_probs.shape == batch.transitions.reward.shape
    np.testing.assert_array_equal(batch.raw_actions, batch.transitions.action)
    step = jax.jit(lambda r: learn(learner, batch, r, jax.random.key(3), TINY))
    env_learner, metrics = step(batch.transitions.reward)
    zero_learner, zero_metrics = step(jnp.zeros_like(batch.transitions.reward))
    np.testing.assert_allclose(metrics["mean_reward"], 1.0)
    np.testing.assert_allclose(zero_metrics["mean_reward"], 0.0)
    assert not np.allclose(env_learner.value.mlp.layers[-1].bias,
                           zero_learner.value.mlp.layers[-1].bias)
    # The normaliser is updated from the rollout's observations (and returned).
    np.testing.assert_allclose(env_learner.policy.normalizer.mean,
                               batch.transitions.obs.reshape(-1, 4).mean(0), rtol=1e-4,
                               atol=1e-6)
    assert float(learner.policy.normalizer.count) == 0.0


def test_ppo_learns_cartpole_four_vmapped_seeds():
    env = jaxil.envs.make("cartpole")
    recipe = experts.defaults("cartpole")
    num_updates = recipe.num_timesteps // recipe.config.batch_size
    config = dataclasses.replace(recipe.config, lr_decay_updates=num_updates)
    algo = ppo(env, config)
    keys = jax.random.split(jax.random.key(42), 4)
    states, metrics = jax.jit(jax.vmap(lambda k: jaxil.train(algo, k, None, num_updates)))(
        keys)
    assert metrics["episode_return"].shape == (4, num_updates)
    evaluate = jax.jit(jax.vmap(
        lambda s, k: jaxil.rollout_episodes(env, algo.policy(s), k, 20).returns))
    returns = evaluate(states, jax.random.split(jax.random.key(7), 4))
    assert returns.shape == (4, 20)
    assert np.all(np.asarray(returns.mean(axis=1)) >= 475), returns.mean(axis=1)
    biases = np.asarray(states.learner.policy.network.torso.layers[0].bias)
    assert len({b.tobytes() for b in biases}) == 4  # the seeds trained different networks


def test_online_round_gives_each_piece_its_key_and_merges_metrics():
    """`online_round` splits the state's key into (next, collect, *relabel, learn), passes
    the relabelled rewards to `learn_fn` and merges relabel / learn / episode metrics."""
    from types import SimpleNamespace

    from jaxil.rl.ppo import online_round

    key = jax.random.key(0)
    expected = jax.random.split(key, 5)
    seen = {}
    rollout = SimpleNamespace(transitions="transitions")

    def collect_fn(env_state, learner, k):
        seen["collect"] = k
        return env_state + 1, rollout

    def relabel_fn(learner, got, next_key, k1, k2):
        seen["relabel"] = (next_key, k1, k2)
        assert got is rollout and learner == "learner"
        return "rewards", "extra", {"shared": 1.0, "relabel": 2.0}

    def learn_fn(learner, got, rewards, k):
        seen["learn"] = k
        assert rewards == "rewards"
        return "learned", {"shared": 3.0, "learn": 4.0}

    def track_fn(episodes, transitions):
        assert transitions == "transitions"
        return episodes + 1, {"episode_return": 5.0}

    out = online_round(key, 0, "learner", 10, collect_fn=collect_fn, relabel_fn=relabel_fn,
                       learn_fn=learn_fn, track_fn=track_fn, relabel_keys=2)
    data = lambda k: np.asarray(jax.random.key_data(k))
    np.testing.assert_array_equal(data(out.key), data(expected[0]))
    np.testing.assert_array_equal(data(seen["collect"]), data(expected[1]))
    for got, want in zip(seen["relabel"], (expected[0], expected[2], expected[3]), strict=True):
        np.testing.assert_array_equal(data(got), data(want))
    np.testing.assert_array_equal(data(seen["learn"]), data(expected[4]))
    assert (out.env_state, out.learner, out.episodes, out.extra) == (1, "learned", 11, "extra")
    assert out.metrics == {"shared": 3.0, "relabel": 2.0, "learn": 4.0, "episode_return": 5.0}
