"""Tests of jaxil.envs: built-in dynamics, wrappers, `make` and the Brax adapter."""

from __future__ import annotations

import importlib.util
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxil import envs
from jaxil.envs import AutoReset, CartPole, Pendulum, PointMass, TimeLimit, VmapEnv
from jaxil.envs.cartpole import THETA_LIMIT, X_LIMIT
from jaxil.types import Box, Discrete

# ------------------------------------------------------------------------ cartpole


def cartpole_euler(state, action):
    """Gym CartPole-v1's Euler step, written out in float64."""
    x, x_dot, theta, theta_dot = (float(v) for v in state)
    gravity, m_cart, m_pole, half_len, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    force = force_mag if action == 1 else -force_mag
    total = m_cart + m_pole
    temp = (force + m_pole * half_len * theta_dot**2 * math.sin(theta)) / total
    theta_acc = (gravity * math.sin(theta) - math.cos(theta) * temp) / (
        half_len * (4.0 / 3.0 - m_pole * math.cos(theta) ** 2 / total))
    x_acc = temp - m_pole * half_len * theta_acc * math.cos(theta) / total
    return np.array([x + tau * x_dot, x_dot + tau * x_acc,
                     theta + tau * theta_dot, theta_dot + tau * theta_acc])


def with_inner(env, state, inner):
    """`state` moved to the physical state `inner` (the obs follows for built-ins)."""
    inner = jnp.asarray(inner, jnp.float32)
    return state._replace(inner=inner, obs=inner)


@pytest.mark.parametrize("action", [0, 1])
def test_cartpole_step_matches_hand_computed_euler_step(action):
    env = CartPole()
    s0 = np.array([0.1, -0.2, 0.05, 0.3])
    state = with_inner(env, env.reset(jax.random.key(0)), s0)
    nxt = env.step(state, jnp.asarray(action))
    np.testing.assert_allclose(nxt.obs, cartpole_euler(s0, action), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(nxt.inner, nxt.obs)
    assert float(nxt.reward) == 1.0 and not bool(nxt.terminated)


def test_cartpole_reset_and_spec():
    env = CartPole()
    assert env.spec.observation_size == 4 and env.spec.action_space == Discrete(2)
    obs = jax.vmap(env.reset)(jax.random.split(jax.random.key(0), 64)).obs
    assert obs.shape == (64, 4) and obs.dtype == jnp.float32
    assert bool(jnp.all(jnp.abs(obs) <= 0.05))
    assert len(np.unique(np.asarray(obs[:, 0]))) == 64


@pytest.mark.parametrize("inner, terminated", [
    ([X_LIMIT - 0.01, 0.0, 0.0, 0.0], False),
    ([X_LIMIT + 0.01, 0.0, 0.0, 0.0], True),
    ([-(X_LIMIT + 0.01), 0.0, 0.0, 0.0], True),
    ([0.0, 0.0, THETA_LIMIT - 0.001, 0.0], False),
    ([0.0, 0.0, THETA_LIMIT + 0.001, 0.0], True),
    ([0.0, 0.0, -(THETA_LIMIT + 0.001), 0.0], True),
    # Moving past the limit during the step counts (the check is on the new state).
    ([X_LIMIT - 0.01, 1.0, 0.0, 0.0], True),
])
def test_cartpole_termination_thresholds(inner, terminated):
    env = CartPole()
    state = with_inner(env, env.reset(jax.random.key(0)), inner)
    nxt = env.step(state, jnp.asarray(1))
    assert bool(nxt.terminated) is terminated
    assert float(nxt.reward) == 1.0  # the last step is rewarded too


# ------------------------------------------------------------------------ pendulum


def pendulum_state(theta, theta_dot):
    env = Pendulum()
    state = env.reset(jax.random.key(0))
    return env, state._replace(inner=jnp.array([theta, theta_dot], jnp.float32))


def test_pendulum_reward_and_dynamics_match_the_formula():
    theta, theta_dot, u = 3.5, 1.5, 0.7
    env, state = pendulum_state(theta, theta_dot)
    nxt = env.step(state, jnp.array([u]))
    wrapped = (theta + math.pi) % (2 * math.pi) - math.pi  # 3.5 - 2 pi
    assert wrapped == pytest.approx(3.5 - 2 * math.pi)
    expected = -(wrapped**2 + 0.1 * theta_dot**2 + 0.001 * u**2)
    assert float(nxt.reward) == pytest.approx(expected, rel=1e-5)
    new_dot = theta_dot + (3 * 10.0 / 2 * math.sin(theta) + 3.0 * u) * 0.05
    new_theta = theta + new_dot * 0.05
    np.testing.assert_allclose(
        nxt.obs, [math.cos(new_theta), math.sin(new_theta), new_dot], rtol=1e-5)
    assert not bool(nxt.terminated)


@pytest.mark.parametrize("big, bound", [(5.0, 2.0), (-7.0, -2.0)])
def test_pendulum_clips_actions(big, bound):
    env, state = pendulum_state(0.3, -0.4)
    clipped = env.step(state, jnp.array([big]))
    at_bound = env.step(state, jnp.array([bound]))
    np.testing.assert_array_equal(clipped.obs, at_bound.obs)
    assert float(clipped.reward) == float(at_bound.reward)
    assert float(clipped.reward) == pytest.approx(-(0.09 + 0.1 * 0.16 + 0.001 * 4.0), rel=1e-5)


def test_pendulum_clips_speed():
    env, state = pendulum_state(math.pi / 2, 7.9)
    nxt = env.step(state, jnp.array([2.0]))
    assert float(nxt.obs[2]) == pytest.approx(8.0)


# ------------------------------------------------------------------------ pointmass


def test_pointmass_step_and_reward():
    env = PointMass()
    assert env.spec.action_space == Box((2,), -1.0, 1.0)
    state = env.reset(jax.random.key(3))
    pos, goal = (np.asarray(x) for x in state.inner)
    np.testing.assert_allclose(state.obs, np.concatenate([pos, goal - pos]), rtol=1e-6)
    nxt = env.step(state, jnp.array([0.5, 3.0]))  # the second component is clipped to 1
    new_pos = np.clip(pos + 0.1 * np.array([0.5, 1.0]), -1, 1)
    np.testing.assert_allclose(nxt.obs, np.concatenate([new_pos, goal - new_pos]), atol=1e-6)
    assert float(nxt.reward) == pytest.approx(-np.linalg.norm(goal - new_pos), rel=1e-5)
    # The position stays in the square.
    corner = state._replace(inner=(jnp.array([0.95, -0.98]), jnp.asarray(goal)))
    np.testing.assert_allclose(env.step(corner, jnp.array([1.0, -1.0])).inner[0], [1.0, -1.0])


# ------------------------------------------------------------------------ wrappers


def test_time_limit_truncates_at_exactly_max_steps():
    env = envs.make("pendulum", max_episode_steps=3)
    assert isinstance(env, TimeLimit) and env.spec.max_episode_steps == 3
    state = env.reset(jax.random.key(0))
    assert int(state.info["steps"]) == 0
    flags = []
    for _ in range(3):
        state = env.step(state, jnp.zeros(1))
        flags.append((bool(state.truncated), bool(state.terminated), int(state.info["steps"])))
    assert flags == [(False, False, 1), (False, False, 2), (True, False, 3)]
    with pytest.raises(ValueError, match="max_episode_steps"):
        TimeLimit(Pendulum(), 0)


def test_time_limit_terminated_on_the_last_step_wins():
    env = TimeLimit(CartPole(), 2)
    state = env.reset(jax.random.key(0))
    state = env.step(state, jnp.asarray(0))
    state = with_inner(env, state, [0.0, 0.0, THETA_LIMIT + 0.01, 0.0])  # about to fall
    last = env.step(state, jnp.asarray(0))
    assert int(last.info["steps"]) == 2
    assert bool(last.terminated) and not bool(last.truncated)
    # The same step without falling is a truncation.
    upright = env.step(with_inner(env, state, [0.0, 0.0, 0.0, 0.0]), jnp.asarray(0))
    assert bool(upright.truncated) and not bool(upright.terminated)


def test_auto_reset_keeps_the_final_observation():
    base = TimeLimit(CartPole(), 500)
    env = AutoReset(base)
    state = env.reset(jax.random.key(0))
    assert set(state.info) == {"steps", "final_obs", "rng"}
    np.testing.assert_array_equal(state.info["final_obs"], state.obs)

    # A step inside the episode: final_obs == obs, nothing resets.
    mid = env.step(state, jnp.asarray(1))
    np.testing.assert_array_equal(mid.info["final_obs"], mid.obs)
    assert int(mid.info["steps"]) == 1 and not bool(mid.done)

    # A terminating step: obs is the reset obs, final_obs the true final one.
    falling = with_inner(env, mid, [0.0, 0.0, THETA_LIMIT + 0.01, 0.5])
    expected_final = base.step(falling._replace(
        info={"steps": falling.info["steps"]}), jnp.asarray(1)).obs
    end = env.step(falling, jnp.asarray(1))
    np.testing.assert_array_equal(end.info["final_obs"], expected_final)
    assert float(jnp.abs(end.info["final_obs"][2])) > THETA_LIMIT
    assert bool(jnp.all(jnp.abs(end.obs) <= 0.05))  # a fresh cart-pole
    np.testing.assert_array_equal(end.inner, end.obs)
    assert bool(end.terminated) and not bool(end.truncated) and float(end.reward) == 1.0
    assert int(end.info["steps"]) == 0
    # The next step continues the new episode.
    after = env.step(end, jnp.asarray(0))
    np.testing.assert_allclose(after.obs, cartpole_euler(end.obs, 0), rtol=1e-5, atol=1e-6)
    assert not bool(after.done) and int(after.info["steps"]) == 1


def test_auto_reset_truncation_and_fresh_starts():
    env = AutoReset(TimeLimit(Pendulum(), 2))
    step = jax.jit(env.step)
    state = env.reset(jax.random.key(0))
    starts = [np.asarray(state.obs)]
    for t in range(6):
        prev = state
        state = step(state, jnp.array([0.5]))
        if t % 2 == 1:  # every second step hits the time limit
            assert bool(state.truncated) and not bool(state.terminated)
            expected = Pendulum().step(prev, jnp.array([0.5]))
            np.testing.assert_allclose(state.info["final_obs"], expected.obs, rtol=1e-6)
            assert float(state.reward) == pytest.approx(float(expected.reward), rel=1e-6)
            assert not np.allclose(state.obs, state.info["final_obs"])
            starts.append(np.asarray(state.obs))
        else:
            assert not bool(state.done)
    # The rng is carried: every episode starts from a different state.
    assert len({tuple(s.round(6)) for s in starts}) == len(starts) == 4


def test_vmap_env_shapes():
    env = envs.vectorize(envs.make("pendulum"), 3)
    assert isinstance(env, VmapEnv) and env.num_envs == 3
    state = env.reset(jax.random.key(0))
    assert state.obs.shape == (3, 3) and state.info["final_obs"].shape == (3, 3)
    assert state.info["steps"].shape == (3,)
    nxt = jax.jit(env.step)(state, jnp.zeros((3, 1)))
    assert nxt.obs.shape == (3, 3) and nxt.reward.shape == (3,)
    assert nxt.terminated.shape == (3,) and nxt.truncated.shape == (3,)
    assert len(np.unique(np.asarray(state.obs[:, 2]))) == 3  # independent resets
    with pytest.raises(ValueError, match="num_envs"):
        VmapEnv(Pendulum(), 0)


# ------------------------------------------------------------------------ make


def test_make_built_ins():
    assert {"cartpole", "pendulum", "pointmass"} <= set(envs.names())
    for name, steps in (("cartpole", 500), ("pendulum", 200), ("pointmass", 50)):
        env = envs.make(name)
        assert env.spec.name == name and env.spec.max_episode_steps == steps
        assert isinstance(env, TimeLimit) and env.max_episode_steps == steps
    assert envs.make("cartpole", max_episode_steps=7).spec.max_episode_steps == 7


def test_make_unknown_names():
    with pytest.raises(ValueError, match="'no_such_env'"):
        envs.make("no_such_env")
    with pytest.raises(ValueError, match="'no_such_env'"):
        envs.make("brax/no_such_env")
    with pytest.raises(ValueError, match="name"):
        envs.register("bad/name", CartPole)


@pytest.mark.skipif(importlib.util.find_spec("mujoco_playground") is not None,
                    reason="MuJoCo Playground is installed")
def test_make_playground_without_playground_installed():
    with pytest.raises(ImportError, match=r"jaxil\[playground\]"):
        envs.make("playground/CartpoleBalance")


def test_brax_smoke():
    """One small Brax env through the adapter: reset and step under jit (a few seconds)."""
    env = envs.make("brax/inverted_pendulum", backend="positional", max_episode_steps=20)
    assert env.spec.name == "brax/inverted_pendulum"
    assert env.spec.observation_size == 4 and env.spec.action_space == Box((1,), -1.0, 1.0)

    @jax.jit
    def run(key):
        state = env.reset(key)

        def body(s, _):
            s = env.step(s, jnp.ones(1))  # push one way until the pole falls
            return s, (s.terminated, s.truncated, s.inner.done, s.obs)

        return state, jax.lax.scan(body, state, None, length=12)[1]

    state, (terminated, truncated, done, obs) = run(jax.random.key(0))
    assert state.obs.shape == (4,) and obs.shape == (12, 4)
    assert bool(jnp.all(jnp.isfinite(obs)))
    np.testing.assert_array_equal(terminated, done > 0.5)  # Brax's done is `terminated`
    assert bool(terminated.any()) and not bool(terminated[0])
    assert not bool(truncated.any())
