"""Tests of jaxil.rollout: `unroll` over auto-resetting envs and padded `rollout_episodes`."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxil
from jaxil import envs
from jaxil.rollout import rollout_episodes, unroll

T, B = 48, 4


@pytest.fixture(scope="module")
def unrolled():
    """48 steps of 4 auto-resetting cart-poles (time limit 15, so both kinds of ends)."""
    env = envs.vectorize(envs.make("cartpole", max_episode_steps=15), B)
    policy = jaxil.RandomPolicy(env.spec.action_space)
    state0 = env.reset(jax.random.key(0))
    run = eqx.filter_jit(unroll)
    state, tr = run(env, state0, policy, jax.random.key(1), T)
    return env, state0, state, tr


def test_unroll_shapes(unrolled):
    _, _, state, tr = unrolled
    assert tr.obs.shape == (T, B, 4) and tr.next_obs.shape == (T, B, 4)
    assert tr.action.shape == (T, B) and tr.action.dtype == jnp.int32
    assert tr.reward.shape == (T, B) and tr.reward.dtype == jnp.float32
    assert tr.terminated.shape == (T, B) and tr.terminated.dtype == jnp.bool_
    assert tr.truncated.shape == (T, B) and tr.truncated.dtype == jnp.bool_
    assert state.obs.shape == (B, 4)
    np.testing.assert_array_equal(tr.reward, 1.0)


def test_unroll_next_obs_is_the_true_final_obs_at_episode_ends(unrolled):
    _, state0, state, tr = unrolled
    done = np.asarray(tr.terminated | tr.truncated)
    assert not (np.asarray(tr.terminated) & np.asarray(tr.truncated)).any()
    assert np.asarray(tr.terminated).any() and np.asarray(tr.truncated).any()
    obs, next_obs = np.asarray(tr.obs), np.asarray(tr.next_obs)
    np.testing.assert_array_equal(obs[0], state0.obs)
    # Inside an episode next_obs is the following obs; at an end, the following obs is the
    # reset observation and next_obs the real final one.
    same = (next_obs[:-1] == obs[1:]).all(-1)
    np.testing.assert_array_equal(same, ~done[:-1])
    np.testing.assert_array_equal(next_obs[-1][~done[-1]], np.asarray(state.obs)[~done[-1]])
    from jaxil.envs.cartpole import THETA_LIMIT, X_LIMIT
    final = next_obs[np.asarray(tr.terminated)]
    assert ((np.abs(final[:, 0]) > X_LIMIT) | (np.abs(final[:, 2]) > THETA_LIMIT)).all()
    assert (np.abs(obs[1:][done[:-1]]) <= 0.05).all()  # fresh starts after every end


def test_unroll_time_limit_counts_steps_per_episode(unrolled):
    _, _, _, tr = unrolled
    done = np.asarray(tr.terminated | tr.truncated)
    truncated = np.asarray(tr.truncated)
    for b in range(B):
        start = 0
        for t in np.flatnonzero(done[:, b]):
            if truncated[t, b]:
                assert t - start + 1 == 15
            else:
                assert t - start + 1 <= 15
            start = t + 1


_rollout = eqx.filter_jit(rollout_episodes)


@pytest.fixture(scope="module")
def cartpole():
    env = envs.make("cartpole")
    return env, jaxil.RandomPolicy(env.spec.action_space)


def test_rollout_episodes_padding(cartpole):
    env, policy = cartpole
    ep = jax.tree.map(np.asarray, _rollout(env, policy, jax.random.key(0), 5))
    assert ep.obs.shape == (5, 501, 4) and ep.actions.shape == (5, 500)
    assert ep.rewards.shape == (5, 500) and ep.lengths.shape == (5,)
    assert ep.lengths.dtype == np.int32
    for i, n in enumerate(ep.lengths):
        assert 1 <= n < 500
        # The observation after the end is the final one, repeated.
        np.testing.assert_array_equal(ep.obs[i, n:], np.broadcast_to(ep.obs[i, n], (501 - n, 4)))
        assert not (ep.obs[i, n - 1] == ep.obs[i, n]).all()
        assert (ep.actions[i, n:] == 0).all() and (ep.rewards[i, n:] == 0).all()
        np.testing.assert_array_equal(ep.rewards[i, :n], 1.0)
        np.testing.assert_array_equal(np.flatnonzero(ep.terminated[i]), [n - 1])
    assert not ep.truncated.any()
    np.testing.assert_array_equal(ep.returns, ep.lengths)


def test_rollout_episodes_truncation():
    env = envs.make("pendulum", max_episode_steps=7)
    ep = _rollout(env, jaxil.RandomPolicy(env.spec.action_space), jax.random.key(0), 3)
    assert ep.obs.shape == (3, 8, 3) and ep.actions.shape == (3, 7, 1)
    np.testing.assert_array_equal(ep.lengths, [7, 7, 7])
    np.testing.assert_array_equal(ep.truncated, np.eye(7, dtype=bool)[[6, 6, 6]])
    assert not bool(ep.terminated.any())


def test_rollout_episodes_is_deterministic(cartpole):
    env, policy = cartpole
    a = _rollout(env, policy, jax.random.key(0), 5)  # compiled by the padding test
    b = _rollout(env, policy, jax.random.key(0), 5)
    c = _rollout(env, policy, jax.random.key(1), 5)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.obs, c.obs)
