"""Multi-agent demonstrations: collect, validate (errors naming the agent), save/load,
flat transitions. Fast: untrained MAPPO policies and tiny random ones, no training."""

from __future__ import annotations

import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxil
from jaxil.data import as_transitions, collect, load, load_with_metadata, make_demos, save
from jaxil.data.storage import MULTIAGENT_FORMAT_VERSION
from jaxil.envs.multiagent import MultiAgentSpec, any_spec_from_json, any_spec_to_json
from jaxil.rl.mappo import MAPPOConfig, MultiAgentPolicy, mappo
from jaxil.types import Discrete, EnvSpec


class RandomDiscrete(eqx.Module):
    n: int = eqx.field(static=True)

    def __call__(self, obs, key):
        return jax.random.randint(key, (), 0, self.n)


class WideGaussian(eqx.Module):
    """Samples far beyond `[-1, 1]`, so collected actions must be clipped."""

    def __call__(self, obs, key):
        return 3.0 * jax.random.normal(key, (2,))


@pytest.fixture(scope="module")
def env():
    return jaxil.envs.make("mpe/simple_spread")


@pytest.fixture(scope="module")
def demos(env):
    policy = MultiAgentPolicy(RandomDiscrete(5), env.spec.num_agents, agent_ids=False)
    return collect(env, policy, jax.random.key(0), num_episodes=3)


def _remake(demos, **changes):
    fields = {**demos.arrays, "spec": demos.spec, **changes}
    return make_demos(**fields)


def test_collect_layout(env, demos):
    n, t, a, d = 3, env.spec.max_episode_steps, env.spec.num_agents, env.spec.observation_size
    assert demos.multiagent and demos.num_agents == a and demos.spec == env.spec
    assert demos.obs.shape == (n, t + 1, a, d) and demos.obs.dtype == np.float32
    assert demos.actions.shape == (n, t, a) and demos.actions.dtype == np.int32
    assert demos.rewards.shape == (n, t, a) and demos.rewards.dtype == np.float32
    assert demos.terminated.shape == demos.truncated.shape == (n, t)
    assert demos.lengths.shape == (n,)
    assert np.all(demos.lengths == t) and np.all(demos.truncated[:, -1])
    assert demos.agent_returns.shape == (n, a)
    np.testing.assert_allclose(demos.returns, demos.agent_returns.mean(axis=1))
    assert demos.num_transitions == n * t


def test_collect_matches_rollout_and_is_reproducible(env, demos):
    policy = MultiAgentPolicy(RandomDiscrete(5), env.spec.num_agents, agent_ids=False)
    again = collect(env, policy, jax.random.key(0), num_episodes=3)
    for name, x in demos.arrays.items():
        np.testing.assert_array_equal(x, again.arrays[name], err_msg=name)
    episodes = jaxil.rollout.rollout_episodes(env, policy, jax.random.key(0), 3)
    np.testing.assert_allclose(demos.returns, np.asarray(episodes.returns), rtol=1e-6)
    np.testing.assert_allclose(demos.agent_returns, np.asarray(episodes.agent_returns),
                               rtol=1e-6)


def test_collect_with_mappo_policy(env):
    algo = mappo(env, MAPPOConfig())
    policy = algo.policy(algo.init(jax.random.key(1)))
    assert isinstance(policy, MultiAgentPolicy)
    demos = collect(env, policy, jax.random.key(2), num_episodes=2)
    assert demos.actions.shape == (2, env.spec.max_episode_steps, env.spec.num_agents)
    assert demos.actions.min() >= 0 and demos.actions.max() < 5


def test_collect_clips_continuous_actions_per_agent():
    env = jaxil.envs.make("mpe/simple_spread", continuous=True)
    policy = MultiAgentPolicy(WideGaussian(), env.spec.num_agents, agent_ids=False)
    demos = collect(env, policy, jax.random.key(0), num_episodes=2)
    assert demos.actions.shape == (2, 25, 3, 2) and demos.actions.dtype == np.float32
    assert np.abs(demos.actions).max() <= 1.0 and np.abs(demos.actions).max() == 1.0
    bad = demos.actions.copy()
    bad[1, 4, 2, 1] = 1.5
    with pytest.raises(ValueError, match=r"^actions\[agent 2\]: expected values within the "
                                         r"bounds .* found 1.5 at episode 1, step 4"):
        _remake(demos, actions=bad)


def test_as_transitions_keeps_agent_axis(env, demos):
    tr = as_transitions(demos)
    m, a, d = demos.num_transitions, env.spec.num_agents, env.spec.observation_size
    assert tr.obs.shape == tr.next_obs.shape == (m, a, d)
    assert tr.action.shape == tr.reward.shape == (m, a)
    assert tr.terminated.shape == tr.truncated.shape == (m,)
    t = env.spec.max_episode_steps
    np.testing.assert_array_equal(tr.obs[t + 3], demos.obs[1, 3])
    np.testing.assert_array_equal(tr.next_obs[t - 1], demos.obs[0, t])
    np.testing.assert_array_equal(tr.action[t + 3], demos.actions[1, 3])
    np.testing.assert_array_equal(tr.reward[2], demos.rewards[0, 2])
    no_rewards = as_transitions(demos._replace(rewards=None))
    assert no_rewards.reward.shape == (m, a) and not np.any(no_rewards.reward)


@pytest.mark.parametrize("field, change, message", [
    ("actions", lambda d: _set(d.actions, (0, 3, 1), 7),
     r"^actions\[agent 1\]: expected discrete actions in \[0, 5\), found 7 at episode 0, "
     r"step 3"),
    ("actions", lambda d: d.actions[:, :, :2],
     r"^actions: expected shape \[3, 25, 3, \.\.\.\]"),
    ("actions", lambda d: d.actions.astype(np.float32),
     r"^actions\[agent 0\]: expected an integer dtype"),
    ("rewards", lambda d: _set(d.rewards, (2, 5, 2), np.nan),
     r"^rewards\[agent 2\]: expected finite values, found nan at index \[2, 5\]"),
    ("rewards", lambda d: d.rewards[:, :, 0],
     r"^rewards: expected shape \[3, 25, 3\] \(one per agent"),
    ("obs", lambda d: d.obs[:, :, :2],
     r"^obs: expected shape \[3, 26, 3, 18\] for env 'mpe/simple_spread'"),
    ("obs", lambda d: d.obs[:, :, 0],
     r"^obs: expected shape \[N, T \+ 1, A, D\]"),
    ("terminated", lambda d: np.zeros(d.rewards.shape, bool),
     r"^terminated: expected shape \[3, 25\]"),
])
def test_validation_names_field_and_agent(demos, field, change, message):
    with pytest.raises(ValueError, match=message):
        _remake(demos, **{field: change(demos)})


def _set(x, index, value):
    x = np.array(x)
    x[index] = value
    return x


def _mixed_spec() -> MultiAgentSpec:
    """Two agents of different observation sizes and numbers of actions."""
    return MultiAgentSpec("mixed", (EnvSpec("mixed", 3, Discrete(2), 4),
                                    EnvSpec("mixed", 5, Discrete(4), 4)), 4)


def _mixed_demos(spec):
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(2, 5, 2, 5)).astype(np.float32) * spec.observation_mask()
    actions = np.stack([rng.integers(0, 2, (2, 4)), rng.integers(0, 4, (2, 4))], axis=-1)
    return make_demos(obs, actions, rng.normal(size=(2, 4, 2)), lengths=[4, 2], spec=spec)


def test_heterogeneous_agents_checked_against_their_own_spec():
    spec = _mixed_spec()
    demos = _mixed_demos(spec)
    with pytest.raises(ValueError, match=r"^actions\[agent 0\]: expected discrete actions "
                                         r"in \[0, 2\), found 3 at episode 1, step 0"):
        _remake(demos, actions=_set(demos.actions, (1, 0, 0), 3))
    _remake(demos, actions=_set(demos.actions, (1, 0, 1), 3))  # agent 1 has 4 actions
    with pytest.raises(ValueError, match=r"^obs\[agent 0\]: expected zero padding after its "
                                         r"observation size 3, found 2 at episode 0, step 1, "
                                         r"entry 4"):
        _remake(demos, obs=_set(demos.obs, (0, 1, 0, 4), 2.0))
    assert demos.returns.shape == (2,)
    np.testing.assert_allclose(demos.agent_returns[1], demos.rewards[1, :2].sum(axis=0))


def test_spec_mismatch_is_named(demos):
    other = jaxil.envs.make("mpe/simple_spread", num_agents=4).spec
    with pytest.raises(ValueError, match=r"^spec: the demos were recorded in "
                                         r"'mpe/simple_spread' \(3 agents"):
        jaxil.data.validate_demos(demos, other)
    single = EnvSpec("mpe/simple_spread", 18, Discrete(5), 25)
    with pytest.raises(ValueError, match=r"^spec: "):
        jaxil.data.validate_demos(demos, single)


def test_spec_json_round_trip():
    for spec in (_mixed_spec(), jaxil.envs.make("mpe/simple_spread", continuous=True).spec,
                 EnvSpec("cartpole", 4, Discrete(2), 500)):
        assert any_spec_from_json(any_spec_to_json(spec)) == spec
    bad = any_spec_to_json(_mixed_spec())
    bad["agents"][1].pop("observation_size")
    with pytest.raises(ValueError, match=r"^spec\.agents\[1\]\.observation_size: missing"):
        any_spec_from_json(bad)


@pytest.mark.parametrize("which", ["spread", "mixed", "continuous"])
def test_save_load_round_trip(tmp_path, demos, which):
    if which == "mixed":
        demos = _mixed_demos(_mixed_spec())
    elif which == "continuous":
        env = jaxil.envs.make("mpe/simple_spread", continuous=True)
        policy = MultiAgentPolicy(WideGaussian(), env.spec.num_agents, agent_ids=False)
        demos = collect(env, policy, jax.random.key(3), num_episodes=2)
    path = tmp_path / "ma.npz"
    save(path, demos, metadata={"seed": 0})
    loaded, header = load_with_metadata(path)
    assert header["version"] == MULTIAGENT_FORMAT_VERSION and header["metadata"] == {"seed": 0}
    assert loaded.spec == demos.spec and loaded.multiagent
    for name, x in demos.arrays.items():
        y = loaded.arrays[name]
        assert y.dtype == x.dtype and y.shape == x.shape, name
        np.testing.assert_array_equal(y, x, err_msg=name)
    np.testing.assert_array_equal(load(path, spec=demos.spec).obs, demos.obs)


def test_failed_loads_and_saves_leave_files_alone(tmp_path, demos):
    path = tmp_path / "ma.npz"
    save(path, demos)
    before = path.read_bytes()
    other = jaxil.envs.make("mpe/simple_spread", num_agents=4).spec
    with pytest.raises(ValueError, match=r"ma\.npz: spec: the demos were recorded in"):
        load(path, spec=other)
    bad = demos._replace(actions=_set(demos.actions, (0, 0, 2), 9))
    with pytest.raises(ValueError, match=r"^actions\[agent 2\]: expected discrete actions"):
        save(path, bad)
    with pytest.raises(ValueError, match=r"^format: 'imitation' cannot hold multi-agent"):
        save(tmp_path / "other.npz", demos, format="imitation")
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ma.npz"]


def test_concatenate_multiagent(demos):
    both = jaxil.data.concatenate(demos, demos)
    assert both.obs.shape == (6,) + demos.obs.shape[1:] and both.spec == demos.spec
    np.testing.assert_array_equal(both.rewards[3:], demos.rewards)


def test_collect_with_a_plain_function_policy(env):
    """A plain function policy (not a MultiAgentPolicy) of the whole `[A, D]` obs works."""

    def nearest_landmark(obs, key):  # move along the sign of the first relative landmark
        rel = obs[:, 4:6]
        return jnp.where(jnp.abs(rel[:, 0]) > jnp.abs(rel[:, 1]),
                         jnp.where(rel[:, 0] > 0, 2, 1), jnp.where(rel[:, 1] > 0, 4, 3))

    demos = collect(env, eqx.Partial(nearest_landmark), jax.random.key(0), num_episodes=2)
    assert demos.actions.shape == (2, 25, 3) and demos.actions.max() <= 4
