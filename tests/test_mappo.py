"""Tests of jaxil.rl.mappo (multi-agent PPO) and multi-agent evaluation on mpe/simple_spread."""

from __future__ import annotations

import types

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from adversarial_setup import check_traced_once, compiled_once, run_updates
from cli_subprocess import run_in_process as cli
from cli_subprocess import run_jaxil

import jaxil
from jaxil.envs.multiagent import MultiAgentSpec
from jaxil.networks.multiagent import MASKED_LOGIT, AgentActionMask
from jaxil.networks.policy import RandomPolicy
from jaxil.rl import PPOConfig
from jaxil.rl.mappo import (
    MAPPOConfig,
    MultiAgentPolicy,
    agent_batch,
    agent_inputs,
    centralized_inputs,
    collect,
    critic_input_size,
    init_mappo_learner,
    mappo,
)
from jaxil.rl.ppo import log_prob_and_entropy, sample_action
from jaxil.types import Box, EnvSpec

SPREAD = "mpe/simple_spread"
SPEAKER_LISTENER = "mpe/simple_speaker_listener"  # speaker Discrete(3), listener Discrete(5)
N, D = 3, 18  # simple_spread's agents and per-agent observation size
TINY = MAPPOConfig(PPOConfig(num_envs=4, rollout_length=8, num_epochs=1, num_minibatches=2,
                             hidden_sizes=(8,)))


def _leaves_equal(a, b) -> bool:
    la, lb = jax.tree.leaves(eqx.filter(a, eqx.is_array)), jax.tree.leaves(
        eqx.filter(b, eqx.is_array))
    return all(np.array_equal(x, y) for x, y in zip(la, lb, strict=True))


@pytest.mark.parametrize("centralized", [False, True])
def test_update_compiles_once(centralized):
    """Traced once, the state's structure kept; with the decentralised critic, also: same
    key, same result (and another key, another), through the same compiled update."""
    config = MAPPOConfig(TINY.ppo, centralized_critic=centralized)
    algo = mappo(jaxil.envs.make(SPREAD), config)
    update = compiled_once(algo.update)
    state = algo.init(jax.random.key(0))
    # traced once; every state keeps the structure, shapes and dtypes of the first
    state = run_updates(update, state, [None] * 3)[-1]
    assert int(state.step) == 3
    assert all(np.isfinite(float(v)) for v in state.metrics.values())
    # the normaliser saw every agent-step of the three rollouts
    assert float(state.learner.policy.normalizer.count) == 3 * TINY.batch_size * N
    # episodes are 25 steps: 4 envs x 24 steps have ended none yet; 4 x 25 = 4 episodes
    assert float(state.metrics["episodes"]) == 0.0
    if centralized:
        return

    def four_updates(key):
        state, metrics = algo.init(key), []
        for _ in range(4):
            state = update(state, None)
            metrics.append(state.metrics)
        return state, jax.tree.map(lambda *m: jnp.stack(m), *metrics)

    (a, ma), (b, mb), (c, _) = (four_updates(jax.random.key(k)) for k in (3, 3, 4))
    assert _leaves_equal((a.learner, ma), (b.learner, mb))
    assert not _leaves_equal(a.learner, c.learner)
    # updates of 8 steps: each env's first 25-step episode ends in the fourth
    np.testing.assert_array_equal(ma["episodes"], [0.0, 0.0, 0.0, 4.0])
    assert float(ma["episode_length"][-1]) == 25.0
    assert float(ma["episode_return"][-1]) < 0.0  # simple_spread's reward is negative


def test_policy_actions_shapes_and_evaluation():
    env = jaxil.envs.make(SPREAD)
    algo = mappo(env, TINY)
    policy = algo.policy(algo.init(jax.random.key(0)))
    assert isinstance(policy, MultiAgentPolicy)
    obs = env.reset(jax.random.key(1)).obs
    assert obs.shape == (N, D)
    for p in (policy, policy.with_deterministic(True)):
        actions = p(obs, jax.random.key(2))
        assert actions.shape == (N,) and actions.dtype == jnp.int32
        assert bool(jnp.all((actions >= 0) & (actions < 5)))
    batched = jax.vmap(policy)(jnp.stack([obs] * 6), jax.random.split(jax.random.key(2), 6))
    assert batched.shape == (6, N)
    with pytest.raises(ValueError, match="obs: expected"):
        policy(obs[0], jax.random.key(2))
    # evaluate returns one team return per episode; N episodes (3) must not broadcast the
    # [episodes] mask against the [episodes, agents] rewards
    episodes = jaxil.rollout_episodes(env, policy, jax.random.key(5), N)
    assert episodes.rewards.shape == (N, 25, N) and episodes.actions.shape == (N, 25, N)
    shared = episodes.agent_returns
    np.testing.assert_array_equal(shared, jnp.broadcast_to(shared[:, :1], shared.shape))
    np.testing.assert_allclose(episodes.returns, shared[:, 0], rtol=1e-6)
    returns = jaxil.evaluate(env, policy, jax.random.key(5), 4)
    assert returns.shape == (4,)


def test_continuous_actions():
    env = jaxil.envs.make(SPREAD, continuous=True)
    algo = mappo(env, TINY)
    state = jax.jit(algo.update)(algo.init(jax.random.key(0)), None)
    actions = algo.policy(state)(env.reset(jax.random.key(1)).obs, jax.random.key(2))
    assert actions.shape == (N, 2)
    assert bool(jnp.all(jnp.abs(actions) <= 1.0))


def test_critic_input_sizes():
    env = jaxil.envs.make(SPREAD)
    for ids, centralized, size in ((True, False, D + N), (True, True, N * D + N),
                                   (False, False, D), (False, True, N * D)):
        config = MAPPOConfig(TINY.ppo, agent_ids=ids, centralized_critic=centralized)
        assert critic_input_size(env.spec, config) == size
        learner = mappo(env, config).init(jax.random.key(0)).learner
        assert learner.value.mlp.layers[0].weight.shape[1] == size
        actor_in = learner.policy.network.torso.layers[0].weight.shape[1]
        assert actor_in == D + (N if ids else 0)  # the actor stays decentralised


def test_agent_inputs_and_centralized_inputs_by_hand():
    obs = jnp.arange(2 * N * 2, dtype=jnp.float32).reshape(2, N, 2)  # [B=2, N=3, D=2]
    rows = agent_inputs(obs)
    np.testing.assert_array_equal(rows[1, 2], [10.0, 11.0, 0.0, 0.0, 1.0])
    # as `learn` sees them: [T=1, B * N, D + N], agent index fastest
    flat = rows.reshape(1, 2 * N, 2 + N)
    joint = centralized_inputs(flat, N, 2)
    assert joint.shape == (1, 2 * N, N * 2 + N)
    # env 1, agent 2: every agent of env 1 in order, then agent 2's id
    np.testing.assert_array_equal(joint[0, 5], [6, 7, 8, 9, 10, 11, 0, 0, 1])
    np.testing.assert_array_equal(joint[0, 0], [0, 1, 2, 3, 4, 5, 1, 0, 0])
    no_ids = centralized_inputs(obs.reshape(1, 2 * N, 2), N, 2, agent_ids=False)
    np.testing.assert_array_equal(no_ids[0, 4], [6, 7, 8, 9, 10, 11])


def test_agent_batch_folds_agents_into_the_batch():
    env = jaxil.envs.make(SPREAD)
    algo = mappo(env, TINY)
    state = algo.init(jax.random.key(0))
    venv = jaxil.envs.vectorize(env, 4)
    config = MAPPOConfig(PPOConfig(num_envs=4, rollout_length=30, hidden_sizes=(8,)))
    _, rollout = collect(venv, state.env_state, state.learner, jax.random.key(1), config)
    tr = rollout.transitions
    assert tr.obs.shape == (30, 4, N, D) and tr.reward.shape == (30, 4, N)
    assert tr.terminated.shape == (30, 4) and rollout.log_probs.shape == (30, 4, N)
    flat = agent_batch(rollout)
    ft = flat.transitions
    assert ft.obs.shape == (30, 4 * N, D + N) and ft.next_obs.shape == (30, 4 * N, D + N)
    assert ft.reward.shape == ft.terminated.shape == ft.truncated.shape == (30, 4 * N)
    np.testing.assert_array_equal(ft.obs[:, 3 * 2 + 1, :D], tr.obs[:, 2, 1])  # env 2, agent 1
    np.testing.assert_array_equal(ft.obs[:, 3 * 2 + 1, D:], jnp.tile(jnp.eye(N)[1], (30, 1)))
    np.testing.assert_array_equal(ft.truncated, jnp.repeat(tr.truncated, N, axis=1))
    assert bool(jnp.any(ft.truncated[24]))  # the 25-step time limit, for every agent
    np.testing.assert_array_equal(flat.log_probs, rollout.log_probs.reshape(30, 4 * N))


def test_errors_name_the_field():
    with pytest.raises(ValueError, match="env: MAPPO expects a multi-agent environment"):
        mappo(jaxil.envs.make("cartpole"), TINY)
    bad = MAPPOConfig(PPOConfig(num_envs=3, rollout_length=5, num_minibatches=4))
    with pytest.raises(ValueError, match="num_minibatches"):
        mappo(jaxil.envs.make(SPREAD), bad)
    with pytest.raises(ValueError, match="config: expected a MAPPOConfig"):
        mappo(jaxil.envs.make(SPREAD), TINY.ppo)


@pytest.fixture(scope="module")
def masked():
    """speaker_listener's shared learner (TINY) with the final bias of its logits set so
    that, unmasked, the speaker's invalid actions 3 and 4 would be by far the most
    probable; and 16 reset observations `[16, 2, 11]`."""
    env = jaxil.envs.make(SPEAKER_LISTENER)
    bias = jnp.asarray([0.0, 0.5, -0.5, 8.0, 9.0])

    @jax.jit
    def make(key):
        learner = init_mappo_learner(env, TINY, key)
        learner = eqx.tree_at(lambda lr: lr.policy.network.network.torso.layers[-1].bias,
                              learner, bias)
        return learner, jax.vmap(env.reset)(jax.random.split(key, 16)).obs

    return make(jax.random.key(0))


def test_masked_actions_always_valid(masked):
    learner, obs = masked
    assert isinstance(learner.policy.network, AgentActionMask)
    assert learner.policy.network.action_sizes == (3, 5)
    keys = jax.random.split(jax.random.key(2), 16)

    @jax.jit
    def act(learner):
        policy = MultiAgentPolicy(learner.policy, 2)
        def both(o, k):
            _, _, log_probs = jax.vmap(sample_action, in_axes=(None, 0, 0))(
                learner.policy, agent_inputs(o), jax.random.split(k, 2))
            return policy(o, k), policy.with_deterministic(True)(o, k), log_probs
        return jax.vmap(jax.vmap(both, in_axes=(None, 0)), in_axes=(0, None))(obs, keys)

    sampled, mode, log_probs = act(learner)  # [16 obs, 16 keys, 2] each
    for actions in (sampled, mode):
        assert bool(jnp.all((actions[..., 0] >= 0) & (actions[..., 0] < 3)))
        assert bool(jnp.all((actions[..., 1] >= 0) & (actions[..., 1] < 5)))
    assert set(np.unique(sampled[..., 0]).tolist()) == {0, 1, 2}  # it still samples
    assert bool(jnp.all(mode[..., 0] == 1)) and bool(jnp.any(sampled[..., 1] >= 3))
    # the rollout's log-probabilities (MAPPO's `collect`) are the masked ones: finite
    assert bool(jnp.all(jnp.isfinite(log_probs))) and float(jnp.min(log_probs)) > -30.0


def test_masked_log_prob_and_entropy_by_hand(masked):
    network = masked[0].policy.network
    speaker, listener = (jnp.concatenate([jnp.full(11, 0.3), jnp.eye(2)[i]]) for i in (0, 1))

    @jax.jit
    def by_network(network):
        x = jnp.stack([speaker, listener])
        per_action = jax.vmap(log_prob_and_entropy, in_axes=(None, None, 0))
        lp, ent = jax.vmap(per_action, in_axes=(None, 0, None))(network, x, jnp.arange(5))
        grads = jax.grad(lambda net: log_prob_and_entropy(net, speaker, jnp.asarray(1))[1])
        return (lp, ent, jax.vmap(network.network.torso)(x), jax.vmap(network.logits)(x),
                jax.vmap(network.mode)(x), grads(network).network.torso.layers[-1].bias)

    log_probs, entropies, raw, logits, modes, bias_grad = by_network(network)
    np.testing.assert_allclose(raw[0], [0.0, 0.5, -0.5, 8.0, 9.0], atol=0.05)  # the bias
    for agent, n in ((0, 3), (1, 5)):
        z = np.asarray(raw[agent], np.float64)[:n]  # the agent's own logits
        log_p = z - z.max() - np.log(np.sum(np.exp(z - z.max())))
        np.testing.assert_allclose(log_probs[agent, :n], log_p, rtol=1e-5)
        np.testing.assert_allclose(entropies[agent], -np.sum(np.exp(log_p) * log_p),
                                   rtol=1e-5)
        np.testing.assert_array_equal(logits[agent, n:], MASKED_LOGIT)
        assert int(modes[agent]) == int(np.argmax(z))
    assert bool(jnp.all(log_probs[0, 3:] < -1e8))  # the speaker's actions 3, 4: impossible
    # the masked logits get no gradient, and the entropy's gradient is finite
    assert np.all(np.isfinite(bias_grad)) and np.all(np.asarray(bias_grad)[3:] == 0.0)


def test_update_compiles_once_on_speaker_listener():
    algo = mappo(jaxil.envs.make(SPEAKER_LISTENER), TINY)
    state = jax.eval_shape(algo.init, jax.random.key(0))
    check_traced_once(algo.update, state, [None] * 2)


def test_mixed_action_spaces_refused():
    with pytest.raises(ValueError, match=r"^agent_ids: the agents of "
                                         r"'mpe/simple_speaker_listener' have different "
                                         r"action spaces .*set MAPPOConfig\.agent_ids=True$"):
        mappo(jaxil.envs.make(SPEAKER_LISTENER), MAPPOConfig(TINY.ppo, agent_ids=False))
    agents = (EnvSpec("boxes", 4, Box((2,), -1.0, 1.0), 10),
              EnvSpec("boxes", 4, Box((2,), -2.0, 2.0), 10))
    env = types.SimpleNamespace(spec=MultiAgentSpec("boxes", agents, 10))
    with pytest.raises(ValueError) as err:
        mappo(env, TINY)
    message = str(err.value)
    assert message.startswith("env: MAPPO shares one policy head across agents and can mask "
                              "only Discrete spaces of different sizes, but the agents of "
                              "'boxes' have Box actions with different bounds")
    assert "\n" not in message


def test_train_ppo_routes_multiagent_envs_to_mappo():
    env = jaxil.envs.make(SPREAD)
    expert, info = jaxil.experts.train_ppo(env, jax.random.key(0), num_timesteps=64,
                                           config=TINY.ppo, num_eval_episodes=4)
    assert isinstance(expert, MultiAgentPolicy) and expert.policy.deterministic
    assert isinstance(info["config"], MAPPOConfig)
    assert info["config"].ppo.lr_decay_updates == info["num_updates"] == 2
    assert info["eval_returns"].shape == (4,)
    with pytest.raises(ValueError, match="config: a MAPPOConfig is for multi-agent"):
        jaxil.experts.train_ppo(jaxil.envs.make("cartpole"), jax.random.key(0), 64, TINY)


# Learning: 16 envs x 25 steps x 200 updates (80k env steps) per seed, 4 seeds vmapped,
# each policy (sampling) evaluated over 64 episodes; about 16 s on 2 CPU cores, compiling
# included. Measured (CPU, seeds jax.random.split(key(0), 8)): trained team return min
# -200.2, mean -191.1 (seeds -186.2 to -200.2; the test's 4 seeds, the same first four:
# -200.2, -191.8, -190.8, -186.6); a uniformly random policy over the same
# episodes: -229.6 (the greedy "agent i to landmark i": about -135; the 1M-step expert
# recipe of jaxil.experts: about -140). The threshold is halfway between random's mean
# and the trained minimum.
LEARN = MAPPOConfig(PPOConfig(num_envs=16, rollout_length=25, num_epochs=4, num_minibatches=4,
                              learning_rate=3e-3, entropy_coef=0.01, reward_scale=0.1,
                              lr_decay_updates=200))
LEARN_THRESHOLD = -215.0


def test_learns_simple_spread():
    env = jaxil.envs.make(SPREAD)
    algo = mappo(env, LEARN)
    random_policy = MultiAgentPolicy(RandomPolicy(env.spec.action_space), N, agent_ids=False)

    def run(key):
        train_key, eval_key = jax.random.split(key)
        state, _ = jaxil.train(algo, train_key, None, 200)
        trained = jaxil.rollout_episodes(env, algo.policy(state), eval_key, 64).returns
        random = jaxil.rollout_episodes(env, random_policy, eval_key, 64).returns
        return jnp.mean(trained), jnp.mean(random)

    trained, random = jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(0), 4))
    assert float(jnp.min(trained)) > LEARN_THRESHOLD, (trained, random)


def test_cli_expert_saves_a_multiagent_policy_and_eval_reads_it(tmp_path, capsys):
    """`jaxil expert mpe/simple_spread` with one MAPPO update (the smallest budget), then
    `jaxil eval` of the saved file prints the team return; a single-agent env is refused."""
    done = run_jaxil("expert", SPREAD, "--out", "spread.eqx", "--timesteps", 1600,
                     "--demos", "spread.npz", "--episodes", 2, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "expert on mpe/simple_spread: mean team return" in done.stdout
    policy = jaxil.load_policy(tmp_path / "spread.eqx")
    assert isinstance(policy, MultiAgentPolicy) and policy.num_agents == 3
    demos = jaxil.data.load(tmp_path / "spread.npz")
    assert demos.multiagent and demos.actions.shape == (2, 25, 3)

    # the file read back by `jaxil eval` (in-process: the subprocess above covers the CLI)
    assert cli("eval", tmp_path / "spread.eqx", "--env", SPREAD, "--episodes", 2) == 0
    assert "mpe/simple_spread: mean team return" in capsys.readouterr().out
    assert cli("eval", tmp_path / "spread.eqx", "--env", "cartpole") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines() == [
        f"jaxil: error: policy {tmp_path / 'spread.eqx'}: a multi-agent policy (3 agents), "
        "but --env cartpole is single-agent"]
