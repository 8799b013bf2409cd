"""Data augmentation for BC, range normalisation, and collecting the expert's mode."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxil
from jaxil.algorithms import BCConfig
from jaxil.algorithms.bc import augment
from jaxil.data.augmentation import (
    augment_batch,
    compose,
    gaussian_obs_noise,
    shift_and_correct,
)
from jaxil.networks import (
    PolicyArch,
    make_actor_policy,
    normalize,
    normalizer_for,
    normalizer_from_range,
)
from jaxil.networks.normalizer import NormalizerState
from jaxil.types import Box


def test_gaussian_obs_noise_adds_scaled_normal_noise():
    key = jax.random.key(0)
    obs, action = jnp.array([1.0, -2.0]), jnp.array([0.5])
    noisy, same = gaussian_obs_noise(jnp.array([0.1, 2.0]))(key, obs, action)
    np.testing.assert_allclose(noisy, obs + jnp.array([0.1, 2.0]) * jax.random.normal(key, (2,)),
                               rtol=1e-6)
    np.testing.assert_array_equal(same, action)


def test_shift_and_correct_relabels_shifted_samples_only():
    shift = lambda key, obs: obs + 1.0
    correct = lambda obs, shifted, action: action - (shifted - obs)[:1]
    obs, action = jnp.array([0.0, 0.0]), jnp.array([0.3])
    always = shift_and_correct(shift, correct, probability=1.0)
    o, a = always(jax.random.key(0), obs, action)
    np.testing.assert_allclose(o, [1.0, 1.0])
    np.testing.assert_allclose(a, [-0.7])
    o, a = shift_and_correct(shift, correct, probability=0.0)(jax.random.key(0), obs, action)
    np.testing.assert_allclose(o, obs)
    np.testing.assert_allclose(a, action)
    # about half of a batch is shifted with probability 0.5
    obs_b, act_b = jnp.zeros((1000, 2)), jnp.zeros((1000, 1))
    o, a = augment_batch(shift_and_correct(shift, correct), jax.random.key(1), obs_b, act_b)
    shifted = np.asarray(o[:, 0] == 1.0)
    assert 0.4 < shifted.mean() < 0.6
    np.testing.assert_allclose(np.asarray(a[:, 0])[shifted], -1.0)
    np.testing.assert_allclose(np.asarray(a[:, 0])[~shifted], 0.0)


def test_compose_applies_in_order_with_separate_keys():
    add = lambda c: (lambda key, obs, action: (obs + c, action * 2))
    o, a = compose(add(1.0), add(10.0))(jax.random.key(0), jnp.zeros(2), jnp.ones(1))
    np.testing.assert_allclose(o, [11.0, 11.0])
    np.testing.assert_allclose(a, [4.0])


def test_bc_obs_noise_is_in_units_of_the_demos_std():
    normalizer = NormalizerState(jnp.zeros(2), jnp.array([4.0, 0.0]), jnp.array(10.0))
    obs, actions = jnp.ones((3, 2)), jnp.zeros((3, 1))
    aug_key, noise_key = jax.random.key(1), jax.random.key(2)
    o, a = augment(BCConfig(obs_noise=0.5), normalizer, aug_key, noise_key, obs, actions)
    expected = obs + jnp.array([1.0, 0.0]) * jax.random.normal(noise_key, (3, 2))
    np.testing.assert_allclose(o, expected, rtol=1e-6)  # a constant feature gets no noise
    np.testing.assert_array_equal(a, actions)
    o, _ = augment(BCConfig(), normalizer, aug_key, noise_key, obs, actions)
    np.testing.assert_array_equal(o, obs)  # the default adds nothing


def test_bc_applies_a_user_augmentation_to_every_batch():
    env = jaxil.envs.make("pointmass")
    mark = lambda key, obs, action: (obs, jnp.zeros_like(action) + 0.25)
    config = BCConfig(augment=mark, head="deterministic", learning_rate=1e-2)
    algo = jaxil.algorithms.bc(env, config)
    data = jaxil.data.as_transitions(jaxil.data.collect(
        env, jaxil.RandomPolicy(env.spec.action_space), jax.random.key(0), 4))
    state, _ = jaxil.train(algo, jax.random.key(1), data, num_updates=300, batch_size=64)
    policy = algo.policy(state)
    actions = jax.vmap(policy)(data.obs[:20], jax.random.split(jax.random.key(2), 20))
    # every label was replaced by 0.25: the fitted policy ignores the random actions
    np.testing.assert_allclose(actions, 0.25, atol=0.02)


def test_range_normalizer_maps_the_data_range_onto_unit_interval():
    x = jnp.array([[0.0, 5.0, -1.0], [2.0, 5.0, 3.0], [1.0, 5.0, 1.0]])
    norm = normalizer_from_range(x)
    np.testing.assert_allclose(norm.mean, [1.0, 5.0, 1.0])
    np.testing.assert_allclose(norm.var, [1.0, 0.0, 4.0])
    z = normalize(norm, x)
    np.testing.assert_allclose(z, [[-1, 0, -1], [1, 0, 1], [0, 0, 0]], atol=1e-6)
    np.testing.assert_allclose(normalizer_for("none", x, 3).var, np.ones(3))
    np.testing.assert_allclose(normalizer_for("standard", x, 3).mean, np.mean(x, 0), rtol=1e-6)
    with pytest.raises(ValueError, match="obs_normalization"):
        normalizer_for("minmax", x, 3)
    # refitted to the valid rows of a buffer: the same as fitted to those rows alone
    padded = jnp.concatenate([x, jnp.full((2, 3), 100.0)])
    valid = jnp.arange(5) < 3
    for kind in ("range", "standard", "none"):
        refit = jax.jit(normalizer_for, static_argnums=(0, 2))(kind, padded, 3, valid)
        for a, b in zip(refit, normalizer_for(kind, x, 3), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=kind)


def test_collect_records_the_mode_by_default():
    env = jaxil.envs.make("pendulum")
    policy = make_actor_policy(PolicyArch(3, Box((1,), -2.0, 2.0), init_std=1.0),
                               jax.random.key(0))
    assert not policy.deterministic
    demos = jaxil.data.collect(env, policy, jax.random.key(1), 2)
    obs, actions = demos.obs[:, :-1].reshape(-1, 3), demos.actions.reshape(-1, 1)
    mode = jax.vmap(lambda o: policy.network.mode(normalize(policy.normalizer, o)))(obs)
    np.testing.assert_allclose(actions, mode, rtol=1e-5, atol=1e-6)
    sampled = jaxil.data.collect(env, policy, jax.random.key(1), 2, deterministic=False)
    s_obs = sampled.obs[:, :-1].reshape(-1, 3)
    s_mode = jax.vmap(lambda o: policy.network.mode(normalize(policy.normalizer, o)))(s_obs)
    assert np.mean(np.abs(sampled.actions.reshape(-1, 1) - s_mode)) > 0.1  # std 1: noisy
