"""Tests of jaxil.envs.cooperative (single-agent continuous control split into cooperating
agents by actuator) on a tiny pure-JAX env and `coop/pointmass`; no Brax model is built
(building `brax/ant` alone takes about 20 s here)."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from adversarial_setup import check_traced_once
from cli_subprocess import run_in_process as cli

import jaxil
from jaxil.adversarial import AdversarialConfig
from jaxil.algorithms.magail import MAGAILConfig, magail
from jaxil.envs import ActuatorSplit, TimeLimit, vectorize
from jaxil.envs.base import Env, EnvState, base_state
from jaxil.envs.cooperative import LOCAL_OBSERVATIONS, SPLITS, cooperative
from jaxil.rl import PPOConfig
from jaxil.rl.mappo import MAPPOConfig, mappo
from jaxil.types import Box, EnvSpec, Transition

WEIGHTS = jnp.array([1.0, 10.0, 100.0, 1000.0])
TINY = MAPPOConfig(PPOConfig(num_envs=2, rollout_length=4, num_epochs=1, num_minibatches=2,
                             hidden_sizes=(8,)))


class Echo(Env):
    """4 actuators with bounds `(-1, -2, -1, -2) .. (1, 2, 1, 2)`; the observation `[5]`
    is the last action and a step count; reward `sum(WEIGHTS * action)`; terminates when
    `action[0] > 0.5`; `info["last"]` is the last action."""

    def __init__(self):
        self.spec = EnvSpec("echo", 5, Box((4,), (-1.0, -2.0, -1.0, -2.0),
                                           (1.0, 2.0, 1.0, 2.0)), 7)

    def reset(self, key):
        state = base_state(inner=jnp.zeros(()), obs=jnp.zeros(5))
        return state._replace(info={"last": jnp.zeros(4)})

    def step(self, state, action):
        t = state.inner + 1.0
        return EnvState(t, jnp.append(action, t), jnp.sum(WEIGHTS * action),
                        action[0] > 0.5, jnp.zeros((), bool), {"last": action})


def test_actions_scatter_to_their_actuators_and_rewards_repeat():
    env = ActuatorSplit(Echo(), ((3, 1), (0, 2)))
    state = env.step(env.reset(jax.random.key(0)), jnp.array([[0.1, 0.2], [0.3, 0.4]]))
    inner = np.array([0.3, 0.2, 0.4, 0.1])  # agent 0 drives 3 and 1, agent 1 drives 0 and 2
    np.testing.assert_allclose(state.info["last"], inner)
    np.testing.assert_allclose(env.inner_action(jnp.array([[0.1, 0.2], [0.3, 0.4]])), inner)
    np.testing.assert_allclose(state.obs, np.tile(np.append(inner, 1.0), (2, 1)))  # shared
    reward = 0.3 + 2.0 + 40.0 + 100.0
    np.testing.assert_allclose(state.reward, [reward, reward], rtol=1e-6)
    assert state.reward.shape == (2,) and state.reward.dtype == jnp.float32
    assert not bool(state.terminated) and not bool(state.truncated)
    ended = env.step(state, jnp.array([[0.0, 0.0], [0.9, 0.0]]))  # actuator 0 > 0.5
    assert bool(ended.terminated) and ended.terminated.shape == ()
    assert env.teams == (1, 1)


def test_bounds_of_each_agent_are_those_of_its_actuators():
    env = ActuatorSplit(Echo(), ((0, 2), (1, 3)))
    assert [s.action_space for s in env.spec.agent_specs] == [Box((2,), -1.0, 1.0),
                                                              Box((2,), -2.0, 2.0)]
    mixed = ActuatorSplit(Echo(), ((0, 1), (3, 2)))
    assert [s.action_space for s in mixed.spec.agent_specs] == [
        Box((2,), (-1.0, -2.0), (1.0, 2.0)), Box((2,), (-2.0, -1.0), (2.0, 1.0))]
    assert env.spec.max_episode_steps == 7 and env.spec.name == "echo/actuator_split"


def test_own_observations_are_padded_with_their_sizes_in_the_spec():
    env = ActuatorSplit(Echo(), ((0, 1), (2, 3)), observe=((0, 1, 4), (3,)))
    assert env.spec.observation_sizes == (3, 1) and env.spec.observation_size == 3
    state = env.step(env.reset(jax.random.key(0)), jnp.array([[0.1, 0.2], [0.3, 0.4]]))
    np.testing.assert_allclose(state.obs, [[0.1, 0.2, 1.0], [0.4, 0.0, 0.0]])
    np.testing.assert_array_equal(env.spec.observation_mask(),
                                  [[True, True, True], [True, False, False]])


def test_time_limit_and_auto_reset_compose_on_top():
    env = vectorize(TimeLimit(ActuatorSplit(Echo(), ((0, 1), (2, 3))), 2), 3)
    state = env.reset(jax.random.key(0))
    assert state.obs.shape == (3, 2, 5) and state.reward.shape == (3, 2)
    action = jnp.zeros((3, 2, 2)).at[0, 0, 0].set(1.0)  # env 0 terminates at once
    state = env.step(state, action)
    np.testing.assert_array_equal(state.terminated, [True, False, False])
    np.testing.assert_array_equal(state.info["steps"], [0, 1, 1])
    state = env.step(state, jnp.zeros((3, 2, 2)))
    np.testing.assert_array_equal(state.truncated, [False, True, True])
    assert state.info["final_obs"].shape == (3, 2, 5)
    np.testing.assert_allclose(state.obs[1:], 0.0)  # reset


def test_make_builds_the_ready_made_split_with_its_time_limit():
    env = jaxil.envs.make("coop/pointmass")
    assert env.spec.name == "coop/pointmass" and env.spec.max_episode_steps == 50
    assert env.spec.agent_specs[0].action_space == Box((1,), -1.0, 1.0)
    assert env.spec.num_agents == 2 and env.unwrapped.teams == (1, 1)
    assert jaxil.envs.make("coop/pointmass", max_episode_steps=5).spec.max_episode_steps == 5
    state = env.step(env.reset(jax.random.key(0)), jnp.array([[1.0], [-1.0]]))
    pos = env.reset(jax.random.key(0)).obs[0, :2]
    np.testing.assert_allclose(state.obs[0, :2], jnp.clip(pos + jnp.array([0.1, -0.1]), -1, 1),
                               rtol=1e-6)
    # Built directly with the ready-made groups, the split gets the name make knows.
    assert ActuatorSplit(jaxil.envs.PointMass(), SPLITS["pointmass"]).spec.name == \
        "coop/pointmass"


def test_ready_made_splits_and_local_observations_partition():
    """Ant: 8 actuators (hip_4, ankle_4, hip_1, ankle_1, ... in ant.xml), legs 1 to 4;
    halfcheetah: back and front legs. Local observations: the torso's entries shared, each
    joint's entries with one agent, together the whole observation."""
    assert SPLITS["brax/ant"] == ((2, 3), (4, 5), (6, 7), (0, 1))
    assert SPLITS["brax/halfcheetah"] == ((0, 1, 2), (3, 4, 5))
    for name, (size, rows) in LOCAL_OBSERVATIONS.items():
        assert len(rows) == len(SPLITS[name])
        torso = set.intersection(*map(set, rows))
        own = [set(r) - torso for r in rows]
        assert sum(map(len, own)) + len(torso) == size
        assert set.union(torso, *own) == set(range(size))
        assert all(len(o) == 2 * len(g) for o, g in zip(own, SPLITS[name], strict=True))


def test_errors_name_the_field():
    echo = Echo()
    cases = [
        (dict(groups=((0, 1), (1, 2, 3))), "^groups: expected every actuator"),
        (dict(groups=((0, 1), (2,))), "^groups: expected every actuator"),
        (dict(groups=((0, 1), (2, 4))), r"^groups: expected a tuple .* in \[0, 4\)"),
        (dict(groups=((0,), (1, 2, 3))), "^groups: expected groups of one size"),
        (dict(groups=()), "^groups: expected a tuple"),
        (dict(groups=((0, 1), (2, 3)), observe="own"), "^observe: expected 'shared'"),
        (dict(groups=((0, 1), (2, 3)), observe=((0,),)), "^observe: expected one index"),
        (dict(groups=((0, 1), (2, 3)), observe=((0,), (5,))), "^observe: expected a tuple"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            ActuatorSplit(echo, **kwargs)
    with pytest.raises(ValueError, match="^env: expected an unwrapped single-agent env"):
        ActuatorSplit(jaxil.envs.make("pointmass"), ((0,), (1,)))
    with pytest.raises(ValueError, match="^env: expected an unwrapped single-agent env"):
        ActuatorSplit(jaxil.envs.make("mpe/simple_spread").unwrapped, ((0,),))
    with pytest.raises(ValueError, match="^env: expected a Box action space"):
        ActuatorSplit(jaxil.envs.make("cartpole").unwrapped, ((0,),))
    with pytest.raises(ValueError, match="^env name: no ready-made actuator split"):
        jaxil.envs.make("coop/cartpole")
    with pytest.raises(ValueError, match="^observe: expected 'shared' or 'local'"):
        cooperative("pointmass", observe="local")


def test_mappo_and_magail_trace_once_on_a_split():
    env = jaxil.envs.make("coop/pointmass")
    algo = mappo(env, TINY)
    state = jax.eval_shape(algo.init, jax.random.key(0))
    check_traced_once(algo.update, state, [None] * 2)

    m, n, d = 16, 2, 4
    data = Transition(jnp.zeros((m, n, d)), jnp.zeros((m, n, 1)), jnp.zeros((m, n)),
                      jnp.zeros((m, n, d)), jnp.zeros(m, bool), jnp.zeros(m, bool))
    config = MAGAILConfig(adversarial=AdversarialConfig(hidden_sizes=(8,)), mappo=TINY)
    for prior in ("centralized", "decentralized"):
        algo = magail(env, dataclasses.replace(config, prior=prior))
        state = jax.eval_shape(algo.init, jax.random.key(0), data)
        check_traced_once(algo.update, state, [data, data])


class _GreedyBody(eqx.Module):
    """A single-agent pointmass policy: straight to the goal along both axes."""

    def __call__(self, obs, key):
        from jaxil.envs.pointmass import STEP_SIZE

        return jnp.clip(obs[2:4] / STEP_SIZE, -1.0, 1.0)


class _GreedyAgents(eqx.Module):
    """The same policy on `coop/pointmass`: agent i drives axis i."""

    def __call__(self, obs, key):
        return _GreedyBody()(obs[0], key)[:, None]


def test_split_demos_equal_the_split_body_acting_in_the_split():
    """The body's demos in the inner env, split, are the demos its agents make in the
    split env from the same key: observations shared, actions by group, rewards repeated."""
    env = jaxil.envs.make("coop/pointmass")
    body = jaxil.data.collect(jaxil.envs.make("pointmass"), _GreedyBody(), jax.random.key(3), 4)
    split = jaxil.data.split_demos(env, body)
    direct = jaxil.data.collect(env, _GreedyAgents(), jax.random.key(3), 4)
    assert split.spec == env.spec and split.obs.shape == body.obs.shape[:2] + (2, 4)
    assert split.actions.shape == body.actions.shape[:2] + (2, 1)
    for field in ("obs", "actions", "rewards", "terminated", "truncated", "lengths"):
        np.testing.assert_allclose(getattr(split, field), getattr(direct, field), rtol=1e-6,
                                   err_msg=field)
    np.testing.assert_array_equal(split.actions[:, :, 1, 0], body.actions[:, :, 1])
    np.testing.assert_array_equal(split.rewards, np.repeat(body.rewards[..., None], 2, -1))


def test_split_demos_with_own_observations_and_their_errors():
    env = ActuatorSplit(Echo(), ((3, 1), (0, 2)), observe=((0, 1, 4), (3,)))
    obs = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    actions = np.tile(np.array([0.1, 0.2, 0.3, 0.4], np.float32), (2, 2, 1))
    body = jaxil.data.make_demos(obs, actions, np.ones((2, 2)), lengths=[2, 2],
                                 spec=Echo().spec)
    split = jaxil.data.split_demos(env, body)
    np.testing.assert_allclose(split.obs[0, 1], [[5.0, 6.0, 9.0], [8.0, 0.0, 0.0]])
    np.testing.assert_allclose(split.actions[0, 0], [[0.4, 0.2], [0.1, 0.3]])
    assert split.rewards.shape == (2, 2, 2)
    cases = [
        (jaxil.envs.make("pointmass"), body, "^env: expected an actuator split"),
        (env, split, "^demos: expected single-agent demos of echo"),
        (env, body._replace(actions=None), r"^demos.actions: expected \[E, T, 4\]"),
        (env, body._replace(obs=obs[..., :4]), r"^demos.obs: expected \[E, T \+ 1, 5\]"),
        (env, body._replace(actions=actions[..., :3]), r"got shape \[2, 2, 3\]"),
    ]
    for split_env, demos, match in cases:
        with pytest.raises(ValueError, match=match):
            jaxil.data.split_demos(split_env, demos)


def test_cli_trains_on_the_split_from_the_body_demos(tmp_path, capsys):
    """`jaxil train` on `coop/pointmass` takes a file of the whole body's demos, split by
    actuator; demos that fit neither the split nor the body are refused in one line that
    says both."""
    body = jaxil.data.collect(jaxil.envs.make("pointmass"), _GreedyBody(), jax.random.key(3), 4)
    jaxil.data.save(tmp_path / "body.npz", body)
    assert cli("train", "multiagent_bc", "--env", "coop/pointmass", "--demos",
               tmp_path / "body.npz", "--out", tmp_path / "bc.eqx", "--updates", 2) == 0
    assert jaxil.load_policy(tmp_path / "bc.eqx").num_agents == 2
    capsys.readouterr()
    jaxil.data.save(tmp_path / "short.npz", jaxil.data.make_demos(body.obs[..., :3],
                                                                  body.actions))
    assert cli("train", "multiagent_bc", "--env", "coop/pointmass", "--demos",
               tmp_path / "short.npz", "--out", tmp_path / "x.eqx", "--updates", 2) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "; as demos of the whole body (pointmass): " in err, err
    assert not (tmp_path / "x.eqx").exists()
