"""Tests of jaxil.envs.multiagent (the protocol) and jaxil.envs.mpe (simple_spread,
simple_speaker_listener, simple_push, simple_tag)."""

from __future__ import annotations

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxil import envs
from jaxil.envs import AutoReset, MultiAgentEnv, MultiAgentSpec, TimeLimit, base_state
from jaxil.envs.mpe import (
    LANDMARK_COLORS,
    MOVES,
    PUSH_GOOD_COLORS,
    ParticleState,
    PushState,
    SimplePush,
    SimpleSpeakerListener,
    SimpleSpread,
    SimpleTag,
    SpeakerListenerState,
    contact_forces,
    discrete_moves,
    push_observation,
    push_reward,
    speaker_listener_observation,
    speaker_listener_reward,
    spread_observation,
    spread_reward,
    tag_bound,
    tag_observation,
    tag_reward,
)
from jaxil.envs.multiagent import is_multiagent, pad_observations
from jaxil.types import Box, Discrete, EnvSpec

ATOL = 1e-5


def world(agent_pos, agent_vel, landmark_pos) -> ParticleState:
    as_array = lambda x: jnp.asarray(x, jnp.float32)
    return ParticleState(as_array(agent_pos), as_array(agent_vel), as_array(landmark_pos))


def state_of(w: ParticleState):
    """A base simple_spread `EnvState` at the hand-built world `w`."""
    return base_state(inner=w, obs=spread_observation(w),
                      reward=jnp.zeros(w.agent_pos.shape[:1]))


# Agents 0 and 1 overlap (0.2 apart, radii 0.15 + 0.15); agent 2 is free.
HAND_WORLD = dict(
    agent_pos=[[0.0, 0.0], [0.2, 0.0], [1.0, 1.0]],
    agent_vel=[[0.0, 0.0], [0.3, -0.4], [0.0, 0.0]],
    landmark_pos=[[0.0, 0.3], [1.0, 0.0], [-1.0, -1.0]],
)


# ------------------------------------------------------------------------ physics


def test_one_step_by_hand():
    """Two agents in contact and one free agent moving up, after one step."""
    w = world([[0.0, 0.0], [0.2, 0.0], [-0.8, 0.9]],
              [[0.0, 0.0], [0.0, 0.0], [0.5, -0.2]], np.zeros((3, 2)))
    nxt = SimpleSpread().step(state_of(w), jnp.array([0, 0, 4])).inner
    # Contact: penetration k softplus((0.3 - 0.2) / k) = 0.1 (to 1e-44), force 100 * 0.1 = 10
    # along p_0 - p_1 = -x on agent 0 and +x on agent 1. v' = 0.75 v + f dt, p' = p + v' dt.
    # Free agent: u = 5 (0, 1); v' = 0.75 (0.5, -0.2) + 0.1 (0, 5) = (0.375, 0.35).
    expected_vel = [[-1.0, 0.0], [1.0, 0.0], [0.375, 0.35]]
    expected_pos = [[-0.1, 0.0], [0.3, 0.0], [-0.8 + 0.0375, 0.9 + 0.035]]
    np.testing.assert_allclose(nxt.agent_vel, expected_vel, atol=ATOL)
    np.testing.assert_allclose(nxt.agent_pos, expected_pos, atol=ATOL)
    np.testing.assert_array_equal(nxt.landmark_pos, w.landmark_pos)


def test_moves_and_contact_softness():
    np.testing.assert_array_equal(discrete_moves(jnp.arange(5)),
                                  [[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]])
    assert MOVES[1] == (-1.0, 0.0) and MOVES[4] == (0.0, 1.0)  # left, up
    # Discs just touching still push: c k log 2 along the line of centres.
    force = contact_forces(jnp.array([[0.0, 0.0], [0.0, 0.3]]), jnp.array([0.15, 0.15]))
    push = 100 * 1e-3 * math.log(2)
    np.testing.assert_allclose(force, [[0.0, -push], [0.0, push]], rtol=1e-4)
    # Far apart: no force; coincident discs: zero rather than NaN.
    far = contact_forces(jnp.array([[0.0, 0.0], [0.5, 0.0]]), jnp.array([0.15, 0.15]))
    np.testing.assert_array_equal(far, 0.0)
    same = contact_forces(jnp.zeros((2, 2)), jnp.array([0.15, 0.15]))
    np.testing.assert_array_equal(same, 0.0)


def test_continuous_moves_clipped():
    env = SimpleSpread(continuous=True)
    assert env.spec.action_space == Box((2,), -1.0, 1.0)
    w = world([[-0.9, -0.9], [0.0, 0.0], [0.9, 0.9]], np.zeros((3, 2)), np.zeros((3, 2)))
    nxt = env.step(state_of(w), jnp.array([[0.5, 2.0], [0.0, 0.0], [-1.0, 0.0]])).inner
    np.testing.assert_allclose(nxt.agent_vel, [[0.25, 0.5], [0.0, 0.0], [-0.5, 0.0]],
                               atol=ATOL)


# ------------------------------------------------------------------------ obs, reward


def test_observation_layout():
    obs = spread_observation(world(**HAND_WORLD))
    assert obs.shape == (3, 18)
    np.testing.assert_allclose(obs[1], [
        0.3, -0.4,                              # own velocity
        0.2, 0.0,                               # own position
        -0.2, 0.3, 0.8, 0.0, -1.2, -1.0,        # landmarks - own position
        -0.2, 0.0, 0.8, 1.0,                    # agents 0 and 2 - own position
        0.0, 0.0, 0.0, 0.0,                     # their (silent) communication
    ], atol=ATOL)
    np.testing.assert_allclose(obs[2, 10:14], [-1.0, -1.0, -0.8, -1.0], atol=ATOL)
    np.testing.assert_allclose(obs[0, 10:14], [0.2, 0.0, 1.0, 1.0], atol=ATOL)


def test_reward_by_hand():
    w = world(**HAND_WORLD)
    # Closest agent per landmark: 0.3 (agent 0), 0.8 (agent 1), sqrt 2 (agent 0).
    coverage = 0.3 + 0.8 + math.sqrt(2)
    # Original MPE: r_i = -D - collisions counting i itself: agents 0 and 1 hit each other.
    shared = 3 * -coverage - (2 + 2 + 1)
    np.testing.assert_allclose(spread_reward(w), [shared] * 3, rtol=1e-6)
    # PettingZoo's local_ratio: -(1 - a) D - a (collisions with others).
    np.testing.assert_allclose(spread_reward(w, local_ratio=0.5),
                               [-0.5 * coverage - 0.5, -0.5 * coverage - 0.5,
                                -0.5 * coverage], rtol=1e-6)
    # The env's step reward is the reward of the world after the step.
    env = SimpleSpread(local_ratio=0.25)
    nxt = env.step(state_of(w), jnp.array([1, 2, 3]))
    np.testing.assert_allclose(nxt.reward, spread_reward(nxt.inner, local_ratio=0.25))


# ------------------------------------------------------------------------ wrappers


def test_time_limit_and_auto_reset_keep_final_obs():
    env = envs.make("mpe/simple_spread")
    assert env.spec.max_episode_steps == 25 and is_multiagent(env)
    assert all(s.max_episode_steps == 25 for s in env.spec.agent_specs)
    auto = AutoReset(env)
    key = jax.random.key(3)
    plain = env.reset(jax.random.split(key)[1])  # the reset AutoReset does with `key`
    state = auto.reset(key)
    np.testing.assert_array_equal(state.obs, plain.obs)
    actions = jax.random.randint(jax.random.key(4), (25, 3), 0, 5)

    def step_both(carry, action):
        plain, state = carry
        plain, state = env.step(plain, action), auto.step(state, action)
        return (plain, state), (plain.truncated, plain.terminated, state.truncated)

    (plain, state), (plain_trunc, plain_term, auto_trunc) = jax.lax.scan(
        step_both, (plain, state), actions)
    assert plain_trunc.tolist() == [False] * 24 + [True] and not plain_term.any()
    np.testing.assert_array_equal(auto_trunc, plain_trunc)
    assert bool(state.truncated) and not bool(state.terminated)
    # The true final observation (to rounding: the two envs compile to different fusions).
    np.testing.assert_allclose(state.info["final_obs"], plain.obs, atol=ATOL)
    assert int(state.info["steps"]) == 0  # a new episode has begun
    assert not np.allclose(state.obs, plain.obs)
    np.testing.assert_allclose(state.reward, plain.reward, atol=ATOL)
    assert envs.make("mpe/simple_spread", max_episode_steps=7).spec.max_episode_steps == 7


class CountingPair(MultiAgentEnv):
    """Two heterogeneous agents (observation sizes 3 and 1) counting steps; the episode
    terminates for real after `end` steps."""

    def __init__(self, end: int):
        self.end = end
        self.spec = MultiAgentSpec("counting_pair", (EnvSpec("_", 3, Discrete(2), 1),
                                                     EnvSpec("_", 1, Discrete(4), 1)), 10)

    def _obs(self, t):
        t = t.astype(jnp.float32)
        return pad_observations([jnp.stack([t, 1.0 + 0 * t, 2.0 + 0 * t]), t[None]], 3)

    def reset(self, key):
        t = jnp.zeros((), jnp.int32)
        return base_state(t, self._obs(t), reward=jnp.zeros(2))

    def step(self, state, action):
        t = state.inner + 1
        return state._replace(inner=t, obs=self._obs(t), reward=action.astype(jnp.float32),
                              terminated=t >= self.end)


def test_heterogeneous_agents_through_the_wrappers():
    spec = CountingPair(3).spec
    assert spec.num_agents == 2 and spec.observation_size == 3
    assert spec.observation_sizes == (3, 1) and not spec.homogeneous_agents
    np.testing.assert_array_equal(spec.observation_mask(), [[1, 1, 1], [1, 0, 0]])
    assert spec.discrete and all(s.max_episode_steps == 10 for s in spec.agent_specs)
    with pytest.raises(ValueError, match="action_space"):
        _ = spec.action_space
    for end, limit in ((3, 5), (9, 2)):  # terminated first, then truncated first
        env = envs.vectorize(TimeLimit(CountingPair(end), limit), 4)
        assert env.spec.max_episode_steps == limit
        assert all(s.max_episode_steps == limit for s in env.spec.agent_specs)
        state = env.reset(jax.random.key(0))
        for _ in range(min(end, limit)):
            state = env.step(state, jnp.ones((4, 2), jnp.int32))
        assert state.obs.shape == (4, 2, 3) and state.reward.shape == (4, 2)
        assert state.terminated.tolist() == [end <= limit] * 4
        assert state.truncated.tolist() == [limit < end] * 4
        t = min(end, limit)
        np.testing.assert_array_equal(state.info["final_obs"][0], [[t, 1, 2], [t, 0, 0]])
        np.testing.assert_array_equal(state.obs[0], [[0, 1, 2], [0, 0, 0]])


def test_spec_checks():
    with pytest.raises(ValueError, match="agent_specs"):
        MultiAgentSpec("x", (EnvSpec("x", 2, Box((2,)), 5), EnvSpec("x", 2, Box((3,)), 5)), 5)
    with pytest.raises(ValueError, match="agent_specs"):
        MultiAgentSpec("x", (), 5)
    with pytest.raises(ValueError, match="max_episode_steps"):
        MultiAgentSpec.homogeneous("x", 2, 4, Discrete(5), 0)
    with pytest.raises(ValueError, match="num_agents"):
        MultiAgentSpec.homogeneous("x", 0, 4, Discrete(5), 5)
    spec = MultiAgentSpec.homogeneous("x", 3, 4, Box((2,)), 5)
    assert spec.homogeneous_agents and spec.action_size == 2 and not spec.discrete
    assert dataclasses.replace(spec, max_episode_steps=9).agent_specs[2].max_episode_steps == 9
    with pytest.raises(ValueError, match=r"observations\[1\]"):
        pad_observations([jnp.zeros(2), jnp.zeros(5)], 4)
    with pytest.raises(ValueError, match="'mpe/nope'"):
        envs.make("mpe/nope")
    with pytest.raises(ValueError, match="local_ratio"):
        SimpleSpread(local_ratio=1.5)
    with pytest.raises(ValueError, match="num_agents"):
        SimpleSpread(1)
    env = envs.make("mpe/simple_spread")
    with pytest.raises(ValueError, match="action"):
        env.step(env.reset(jax.random.key(0)), jnp.zeros((2,), jnp.int32))


# ------------------------------------------------------------------------ vmap, jit


def test_vmapped_reset_and_step():
    env = envs.make("mpe/simple_spread")
    vec = envs.vectorize(env, 16)
    state = vec.reset(jax.random.key(1))
    assert state.obs.shape == (16, 3, 18) and state.reward.shape == (16, 3)
    assert state.terminated.shape == (16,) and state.info["final_obs"].shape == (16, 3, 18)
    assert len(np.unique(np.asarray(state.inner.agent_pos[:, 0, 0]))) == 16
    assert np.all(np.abs(np.asarray(state.inner.landmark_pos)) <= 1.0)
    np.testing.assert_array_equal(state.inner.agent_vel, 0.0)
    actions = jax.random.randint(jax.random.key(2), (16, 3), 0, 5)
    nxt = vec.step(state, actions)
    one = jax.tree.map(lambda x: x[5], state)
    np.testing.assert_allclose(env.step(one, actions[5]).obs, nxt.obs[5], atol=ATOL)
    assert not nxt.truncated.any() and not nxt.terminated.any()
    np.testing.assert_array_equal(nxt.reward, nxt.reward[:, :1].repeat(3, axis=1))


def _random_actions(key, num_actions: tuple[int, ...], num_envs: int):
    """`[num_envs, N]` uniformly random discrete actions, agent `i` in `[0, num_actions[i])`."""
    keys = jax.random.split(key, len(num_actions))
    return jnp.stack([jax.random.randint(k, (num_envs,), 0, n)
                      for k, n in zip(keys, num_actions, strict=True)], axis=1)


@pytest.mark.parametrize("name, num_actions, num_envs", [
    ("mpe/simple_spread", (5, 5, 5), 16), ("mpe/simple_speaker_listener", (3, 5), 8),
    ("mpe/simple_push", (5, 5), 8), ("mpe/simple_tag", (5, 5, 5, 5), 8)])
def test_jitted_episode_compiles_once_and_is_deterministic(name, num_actions, num_envs):
    vec = envs.vectorize(envs.make(name), num_envs)

    @jax.jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def episode(key):
        reset_key, act_key = jax.random.split(key)

        def step(state, k):
            state = vec.step(state, _random_actions(k, num_actions, num_envs))
            return state, (state.reward, state.truncated, state.obs, state.info["final_obs"])

        return jax.lax.scan(step, vec.reset(reset_key), jax.random.split(act_key, 25))

    final, (rewards, truncated, obs, final_obs) = episode(jax.random.key(7))
    again, (rewards_again, _, obs_again, final_obs_again) = episode(jax.random.key(7))
    _, (other_rewards, _, _, _) = episode(jax.random.key(8))
    n = len(num_actions)
    assert rewards.shape == (25, num_envs, n)
    assert truncated[-1].all() and not truncated[:-1].any()
    assert np.isfinite(np.asarray(rewards)).all()
    # One reward per team (cooperative envs: shared by all); good agents' never positive.
    teams = np.asarray(envs.make(name).unwrapped.teams)
    for team in np.unique(teams):
        team_rewards = np.asarray(rewards)[..., teams == team]
        np.testing.assert_array_equal(team_rewards, team_rewards[..., :1].repeat(
            team_rewards.shape[-1], axis=-1))
    assert np.all(np.asarray(rewards)[..., teams == 1] <= 0.0)
    spec = envs.make(name).spec
    mask = np.asarray(spec.observation_mask())
    np.testing.assert_array_equal(np.asarray(obs)[..., ~mask], 0.0)  # padding stays zero
    np.testing.assert_array_equal(rewards, rewards_again)
    np.testing.assert_array_equal(obs, obs_again)
    np.testing.assert_array_equal(final_obs, final_obs_again)
    np.testing.assert_array_equal(final.obs, again.obs)
    np.testing.assert_array_equal(jax.random.key_data(final.info["rng"]),
                                  jax.random.key_data(again.info["rng"]))
    assert not np.array_equal(rewards, other_rewards)


# ------------------------------------------------------------------------ speaker_listener


def listener_state(comm=(0.0, 0.0, 0.0)):
    """A base simple_speaker_listener `EnvState`: speaker (agent 0) at (0.5, 0.5), listener
    at (0.2, -0.1) moving with (0.3, -0.4), goal landmark 1 (green) at (1, 0)."""
    inner = SpeakerListenerState(
        world=world([[0.5, 0.5], [0.2, -0.1]], [[0.0, 0.0], [0.3, -0.4]],
                    [[0.0, 0.3], [1.0, 0.0], [-1.0, -1.0]]),
        goal=jnp.asarray(1, jnp.int32), comm=jnp.asarray(comm, jnp.float32))
    return base_state(inner=inner, obs=speaker_listener_observation(inner),
                      reward=jnp.zeros(2))


def test_speaker_listener_spec_and_observation_layout():
    spec = envs.make("mpe/simple_speaker_listener").spec
    assert spec.num_agents == 2 and spec.max_episode_steps == 25
    assert spec.observation_sizes == (3, 11) and spec.observation_size == 11
    assert [s.action_space for s in spec.agent_specs] == [Discrete(3), Discrete(5)]
    assert spec.discrete and not spec.homogeneous_agents
    np.testing.assert_array_equal(spec.observation_mask(), [[1] * 3 + [0] * 8, [1] * 11])
    with pytest.raises(ValueError, match="action_space"):
        _ = spec.action_space
    obs = listener_state(comm=(0.0, 1.0, 0.0)).obs
    assert obs.shape == (2, 11)
    # Speaker: the goal's colour (landmark 1, green), then padding zeros.
    np.testing.assert_allclose(obs[0], [0.15, 0.65, 0.15] + [0.0] * 8, atol=ATOL)
    assert LANDMARK_COLORS[1] == (0.15, 0.65, 0.15)
    np.testing.assert_allclose(obs[1], [
        0.3, -0.4,                              # own velocity
        -0.2, 0.4, 0.8, 0.1, -1.2, -0.9,        # landmarks - own position
        0.0, 1.0, 0.0,                          # the speaker's utterance
    ], atol=ATOL)


def test_speaker_listener_reward_by_hand():
    # |p_1 - l_1|^2 = 0.8^2 + 0.1^2 = 0.65; both agents get the sum over the 2 agents.
    state = listener_state()
    np.testing.assert_allclose(speaker_listener_reward(state.inner), [-1.3, -1.3], rtol=1e-6)
    assert not bool(state.terminated)


def test_speaker_listener_motion_and_reward_after_one_step():
    env = SimpleSpeakerListener()
    state = listener_state()
    nxt = env.step(state, jnp.array([2, 4]))  # message 2; listener moves up
    # u = 5 (0, 1): v' = 0.75 (0.3, -0.4) + 0.1 (0, 5) = (0.225, 0.2), p' = p + 0.1 v'.
    np.testing.assert_allclose(nxt.inner.world.agent_vel[1], [0.225, 0.2], atol=ATOL)
    np.testing.assert_allclose(nxt.inner.world.agent_pos[1], [0.2225, -0.08], atol=ATOL)
    # The speaker is immovable: exactly where it was, at rest.
    np.testing.assert_array_equal(nxt.inner.world.agent_pos[0], [0.5, 0.5])
    np.testing.assert_array_equal(nxt.inner.world.agent_vel[0], [0.0, 0.0])
    np.testing.assert_array_equal(nxt.inner.world.landmark_pos, state.inner.world.landmark_pos)
    # The reward of the world after the step.
    dist2 = (1.0 - 0.2225) ** 2 + 0.08**2
    np.testing.assert_allclose(nxt.reward, [-2 * dist2] * 2, rtol=1e-5)
    with pytest.raises(ValueError, match="action"):
        env.step(state, jnp.array([0, 0, 0]))


def test_speaker_message_reaches_listener_in_the_same_step():
    """The original sets `c` from the step's action inside `world.step()`, before the
    observations: the message of step t is in the observation step t returns."""
    env = SimpleSpeakerListener()
    state = env.reset(jax.random.key(0))
    np.testing.assert_array_equal(state.obs[1, 8:], [0.0, 0.0, 0.0])  # silent at reset
    colour = np.asarray(state.obs[0, :3])
    for message in (2, 0, 1):
        state = env.step(state, jnp.array([message, 0]))
        np.testing.assert_array_equal(state.obs[1, 8:], np.eye(3)[message])
        np.testing.assert_array_equal(state.obs[0, :3], colour)  # the goal stays
        np.testing.assert_array_equal(state.obs[0, 3:], 0.0)


def test_speaker_listener_truncation_and_still_speaker():
    env = envs.make("mpe/simple_speaker_listener")
    state = env.reset(jax.random.key(5))
    start = state.inner.world.agent_pos
    assert np.all(np.abs(np.asarray(state.inner.world.landmark_pos)) <= 1.0)
    assert int(state.inner.goal) in (0, 1, 2)
    np.testing.assert_allclose(state.obs[0, :3], LANDMARK_COLORS[int(state.inner.goal)])
    actions = jnp.stack([jnp.arange(25) % 3, jnp.full(25, 2)], axis=1)

    def step(state, action):
        state = env.step(state, action)
        return state, (state.truncated, state.terminated, state.inner.world.agent_pos,
                       state.inner.world.agent_vel)

    _, (truncated, terminated, pos, vel) = jax.lax.scan(step, state, actions)
    assert truncated.tolist() == [False] * 24 + [True] and not terminated.any()
    np.testing.assert_array_equal(pos[:, 0], np.broadcast_to(start[0], (25, 2)))
    np.testing.assert_array_equal(vel[:, 0], 0.0)
    assert np.all(np.diff(np.asarray(pos[:, 1, 0])) > 0)  # the listener keeps moving right




# ------------------------------------------------------------------------ push, tag


def test_teams():
    assert SimpleSpread(4).teams == (1, 1, 1, 1)
    assert SimpleSpeakerListener().teams == (1, 1)
    assert SimplePush().teams == (0, 1)
    assert envs.make("mpe/simple_tag").unwrapped.teams == (0, 0, 0, 1)
    assert SimpleTag(num_good=2, num_adversaries=1).teams == (0, 1, 1)
    with pytest.raises(AttributeError):
        SimplePush().teams = (1, 1)


def push_state():
    """Adversary (agent 0) at rest at the origin, the good agent 0.08 to its right moving
    right (0.2, 0): they overlap (radii 0.05 + 0.05). Goal landmark 1 at (0, 0.05),
    overlapping the adversary (landmarks do not collide)."""
    inner = PushState(world([[0.0, 0.0], [0.08, 0.0]], [[0.0, 0.0], [0.2, 0.0]],
                            [[0.5, 0.5], [0.0, 0.05]]), jnp.asarray(1, jnp.int32))
    return base_state(inner=inner, obs=jax.jit(push_observation)(inner),
                      reward=jnp.zeros(2))


def test_push_spec_observations_and_rewards_by_hand():
    env = envs.make("mpe/simple_push")
    spec = env.spec
    assert spec.max_episode_steps == 25 and spec.observation_sizes == (8, 19)
    assert spec.action_space == Discrete(5)
    state = push_state()
    np.testing.assert_allclose(state.obs[0], [
        0.0, 0.0,                               # own velocity
        0.5, 0.5, 0.0, 0.05,                    # landmarks - own position
        0.08, 0.0,                              # the good agent - own position
    ] + [0.0] * 11, atol=ATOL)
    np.testing.assert_allclose(state.obs[1], [
        0.2, 0.0,                               # own velocity
        -0.08, 0.05,                            # goal - own position
        0.25, 0.25, 0.75,                       # own colour: the goal's (blue) tint
        0.42, 0.5, -0.08, 0.05,                 # landmarks - own position
        0.1, 0.9, 0.1, 0.1, 0.1, 0.9,           # landmark colours: green, blue
        -0.08, 0.0,                             # the adversary - own position
    ], atol=ATOL)
    good, adversary = math.sqrt(0.08**2 + 0.05**2), 0.05  # distances to the goal
    np.testing.assert_allclose(jax.jit(push_reward)(state.inner), [good - adversary, -good],
                               rtol=1e-5)
    # One step: adversary right, good agent still. Contact: penetration 0.02, force 2.
    # Adversary: v' = 0.1 (5 - 2, 0); good agent: v' = 0.75 (0.2, 0) + 0.1 (2, 0).
    nxt = jax.jit(SimplePush().step)(state, jnp.array([2, 0]))  # jit: cheaper than eager
    np.testing.assert_allclose(nxt.inner.world.agent_vel, [[0.3, 0.0], [0.35, 0.0]],
                               atol=ATOL)
    np.testing.assert_allclose(nxt.inner.world.agent_pos, [[0.03, 0.0], [0.115, 0.0]],
                               atol=ATOL)
    np.testing.assert_array_equal(nxt.inner.world.landmark_pos, state.inner.world.landmark_pos)
    good, adversary = math.sqrt(0.115**2 + 0.05**2), math.sqrt(0.03**2 + 0.05**2)
    np.testing.assert_allclose(nxt.reward, [good - adversary, -good], rtol=1e-5)
    reset = jax.jit(env.reset)(jax.random.key(2))
    np.testing.assert_allclose(reset.obs[1, 4:7], PUSH_GOOD_COLORS[int(reset.inner.goal)])


# Adversary 0 overlaps the good agent (0.1 apart, radii 0.075 + 0.05), adversary 1
# overlaps obstacle 1 (0.25 apart, radii 0.075 + 0.2), adversary 2 and the good agent
# will go faster than their max speeds; nothing else is within reach.
TAG_WORLD = dict(
    agent_pos=[[0.0, 0.0], [-0.5, -0.25], [0.8, 0.8], [0.1, 0.0]],
    agent_vel=[[0.0, 0.0], [0.0, 0.0], [0.8, 1.6], [1.0, 0.0]],
    landmark_pos=[[0.0, 0.5], [-0.5, -0.5]],
)


# Jitted: one compilation costs less than many small eager ones.
tag_observation_jit = jax.jit(tag_observation, static_argnums=1)
tag_reward_jit = jax.jit(tag_reward, static_argnums=(1, 2))


def test_tag_one_step_by_hand():
    w = world(**TAG_WORLD)
    state = base_state(inner=w, obs=tag_observation_jit(w, 3), reward=jnp.zeros(4))
    nxt = jax.jit(SimpleTag().step)(state, jnp.array([0, 4, 2, 2]))
    # Adversary 0: contact force 100 * 0.025 = 2.5 along -x; v' = (-0.25, 0).
    # Adversary 1: accel 3 up + obstacle contact 2.5 up; v' = (0, 0.55).
    # Adversary 2: v' = 0.75 (0.8, 1.6) + 0.1 (3, 0) = (0.9, 1.2), speed 1.5 -> 1.0.
    # Good agent: v' = 0.75 (1, 0) + 0.1 (4 + 2.5, 0) = (1.4, 0), speed -> 1.3.
    expected_vel = [[-0.25, 0.0], [0.0, 0.55], [0.6, 0.8], [1.3, 0.0]]
    expected_pos = [[-0.025, 0.0], [-0.5, -0.195], [0.86, 0.88], [0.23, 0.0]]
    np.testing.assert_allclose(nxt.inner.agent_vel, expected_vel, atol=ATOL)
    np.testing.assert_allclose(nxt.inner.agent_pos, expected_pos, atol=ATOL)
    np.testing.assert_array_equal(nxt.inner.landmark_pos, w.landmark_pos)  # immovable
    np.testing.assert_allclose(nxt.reward, [0.0] * 4, atol=ATOL)  # no catch after the step
    # Continuous moves: the same step.
    moves = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    cont = SimpleTag(continuous=True)
    assert cont.spec.action_space == Box((2,), -1.0, 1.0)
    np.testing.assert_allclose(jax.jit(cont.step)(state, moves).inner.agent_pos,
                               expected_pos, atol=ATOL)
    reset = jax.jit(envs.make("mpe/simple_tag").reset)(jax.random.key(0))
    assert np.all(np.abs(np.asarray(reset.inner.landmark_pos)) <= 0.9)


def test_tag_observations_and_rewards_by_hand():
    spec = envs.make("mpe/simple_tag").spec
    assert spec.observation_sizes == (16, 16, 16, 14) and spec.max_episode_steps == 25
    obs = tag_observation_jit(world(**TAG_WORLD), 3)
    assert obs.shape == (4, 16)
    np.testing.assert_allclose(obs[0], [
        0.0, 0.0, 0.0, 0.0,                     # own velocity, own position
        0.0, 0.5, -0.5, -0.5,                   # obstacles - own position
        -0.5, -0.25, 0.8, 0.8, 0.1, 0.0,        # agents 1, 2, 3 - own position
        1.0, 0.0,                               # the good agent's velocity
    ], atol=ATOL)
    np.testing.assert_allclose(obs[2, 8:], [-0.8, -0.8, -1.3, -1.05, -0.7, -0.8, 1.0, 0.0],
                               atol=ATOL)
    np.testing.assert_allclose(obs[3], [
        1.0, 0.0, 0.1, 0.0,                     # own velocity, own position
        -0.1, 0.5, -0.6, -0.5,                  # obstacles - own position
        -0.1, 0.0, -0.6, -0.25, 0.7, 0.8,       # adversaries - own position
        0.0, 0.0,                               # padding (no other good agent)
    ], atol=ATOL)
    # Adversary 0 catches the good agent: +10 for every adversary, -10 for the good agent.
    np.testing.assert_allclose(tag_reward_jit(world(**TAG_WORLD), 3), [10, 10, 10, -10])
    np.testing.assert_allclose(jax.jit(tag_bound)(jnp.array([0.5, 0.95, 1.0, 1.5, 3.0])),
                               [0.0, 0.5, 1.0, math.e, 10.0], rtol=1e-5)
    # Two adversaries catch the good agent near the corner: bound(0.95) + bound(1.1).
    w = world([[0.95, -1.0], [0.95, -1.2], [0.0, 0.0], [0.95, -1.1]], np.zeros((4, 2)),
              [[0.0, 0.5], [-0.5, -0.5]])
    good = -20 - 0.5 - math.exp(0.2)
    np.testing.assert_allclose(tag_reward_jit(w, 3), [20, 20, 20, good], rtol=1e-5)
    # Optional shaping: + 0.1 (sum of distances to adversaries) for the good agent, and
    # - 0.1 (sum over adversaries of the nearest good agent's distance) for adversaries.
    shaping = 0.1 * (0.1 + 0.1 + math.hypot(0.95, 1.1))
    np.testing.assert_allclose(tag_reward_jit(w, 3, True),
                               [20 - shaping] * 3 + [good + shaping], rtol=1e-5)
    with pytest.raises(ValueError, match="num_good"):
        SimpleTag(num_good=0)
