"""Saving and loading a `MultiAgentPolicy` (an untrained MAPPO policy: no training here)."""

from __future__ import annotations

import json

import equinox as eqx
import jax
import numpy as np
import pytest

import jaxil
from jaxil.networks import MultiAgentPolicy, load_policy, save_policy
from jaxil.networks.policy import RandomPolicy
from jaxil.networks.serialization import MULTIAGENT_POLICY_FORMAT, POLICY_FORMAT
from jaxil.rl.mappo import MAPPOConfig, init_mappo_learner, mappo, multiagent_policy
from jaxil.rl.mappo import MultiAgentPolicy as MAPPOMultiAgentPolicy
from jaxil.rl.ppo import ppo


@pytest.fixture(scope="module")
def env():
    return jaxil.envs.make("mpe/simple_spread")


@pytest.fixture(scope="module", params=[True, False], ids=["agent_ids", "no_ids"])
def policy(request, env):
    algo = mappo(env, MAPPOConfig(agent_ids=request.param))
    return algo.policy(algo.init(jax.random.key(0)))


def test_one_class_below_rl():
    assert jaxil.rl.MultiAgentPolicy is MultiAgentPolicy
    assert MAPPOMultiAgentPolicy is MultiAgentPolicy


def test_round_trip(tmp_path, env, policy):
    path = tmp_path / "spread.eqx"
    save_policy(path, policy)
    header = json.loads(path.read_bytes().split(b"\n", 1)[0])
    assert header["format"] == MULTIAGENT_POLICY_FORMAT
    assert header["multiagent"] == {"num_agents": 3, "agent_ids": policy.agent_ids}
    loaded = load_policy(path)
    assert isinstance(loaded, MultiAgentPolicy)
    assert (loaded.num_agents, loaded.agent_ids) == (policy.num_agents, policy.agent_ids)
    assert _leaves_equal(policy, loaded)
    obs = env.reset(jax.random.key(1)).obs
    for seed in range(3):
        key = jax.random.key(seed)
        np.testing.assert_array_equal(loaded(obs, key), policy(obs, key))
    a = jaxil.evaluate(env, policy, jax.random.key(2), num_episodes=2)
    b = jaxil.evaluate(env, loaded, jax.random.key(2), num_episodes=2)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_single_agent_files_unchanged(tmp_path):
    algo = ppo(jaxil.envs.make("cartpole"), jaxil.rl.PPOConfig())
    single = algo.policy(algo.init(jax.random.key(0)))
    save_policy(tmp_path / "cp.eqx", single)
    header = json.loads((tmp_path / "cp.eqx").read_bytes().split(b"\n", 1)[0])
    assert header["format"] == POLICY_FORMAT and "multiagent" not in header
    assert not isinstance(load_policy(tmp_path / "cp.eqx"), MultiAgentPolicy)


def test_refuses_what_it_cannot_save(tmp_path, env):
    random = MultiAgentPolicy(RandomPolicy(env.spec.agent_specs[0].action_space), 3,
                              agent_ids=False)
    with pytest.raises(TypeError, match=r"^policy\.policy: expected the MultiAgentPolicy "
                                        r"to share an ActorPolicy"):
        save_policy(tmp_path / "r.eqx", random)
    assert not (tmp_path / "r.eqx").exists()


@pytest.mark.parametrize("multi, message", [
    (None, r"multiagent: expected an object"),
    ({"num_agents": 0, "agent_ids": True}, r"multiagent\.num_agents: expected a positive int"),
    ({"num_agents": 3, "agent_ids": "yes"}, r"multiagent\.agent_ids: expected true or false"),
])
def test_bad_header_named_and_file_untouched(tmp_path, policy, multi, message):
    path = tmp_path / "spread.eqx"
    save_policy(path, policy)
    head, rest = path.read_bytes().split(b"\n", 1)
    header = json.loads(head)
    header["multiagent"] = multi
    path.write_bytes(json.dumps(header).encode() + b"\n" + rest)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=rf"spread\.eqx: {message}"):
        load_policy(path)
    assert path.read_bytes() == before


def test_masked_round_trip(tmp_path):
    """Agents with Discrete(3) and Discrete(5) (one masked network): the file records the
    sizes and reads back a policy that acts the same, only ever with valid actions."""
    env = jaxil.envs.make("mpe/simple_speaker_listener")
    config = MAPPOConfig(jaxil.rl.PPOConfig(hidden_sizes=(8,)))
    learner = jax.jit(lambda k: init_mappo_learner(env, config, k))(jax.random.key(0))
    policy = multiagent_policy(learner, env, config)
    path = tmp_path / "sl.eqx"
    save_policy(path, policy)
    head, rest = path.read_bytes().split(b"\n", 1)
    header = json.loads(head)
    assert header["multiagent"] == {"num_agents": 2, "agent_ids": True, "action_sizes": [3, 5]}
    assert header["arch"]["action_space"] == {"type": "discrete", "n": 5}
    loaded = load_policy(path)
    assert _leaves_equal(loaded, policy)
    assert loaded.policy.network.action_sizes == (3, 5)
    obs = env.reset(jax.random.key(1)).obs
    act = jax.jit(lambda p: jax.vmap(p, in_axes=(None, 0))(
        obs, jax.random.split(jax.random.key(2), 64)))
    actions = act(loaded)
    np.testing.assert_array_equal(actions, act(policy))
    assert int(actions[:, 0].max()) < 3 and int(actions[:, 1].max()) < 5
    for bad, message in (([3, 6], "expected 2 positive ints"), ([3], "expected 2 positive"),
                         ([3, 5, 5], "expected 2")):
        header["multiagent"]["action_sizes"] = bad
        path.write_bytes(json.dumps(header).encode() + b"\n" + rest)
        with pytest.raises(ValueError, match=rf"sl\.eqx: multiagent\.action_sizes: {message}"):
            load_policy(path)
    header["multiagent"].update(action_sizes=[3, 5], agent_ids=False)
    path.write_bytes(json.dumps(header).encode() + b"\n" + rest)
    with pytest.raises(ValueError, match=r"multiagent\.action_sizes: .* agent_ids is false"):
        load_policy(path)


def _leaves_equal(a, b) -> bool:
    same = jax.tree.map(lambda x, y: bool(np.array_equal(x, y)),
                        eqx.filter(a, eqx.is_array), eqx.filter(b, eqx.is_array))
    return all(jax.tree.leaves(same))
