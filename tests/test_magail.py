"""Tests of jaxil.algorithms.magail (MAGAIL's three priors, independent GAIL) and
jaxil.algorithms.multiagent_bc, with demonstrations of a scripted simple_spread expert."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from adversarial_setup import at_least_half_reach, check_traced_once
from cli_subprocess import run_in_process as cli
from cli_subprocess import run_jaxil

import jaxil
from jaxil.adversarial import AdversarialConfig
from jaxil.adversarial.inputs import DiscInputs
from jaxil.algorithms.magail import (
    MAGAILConfig,
    agent_view,
    disc_specs,
    independent_gail,
    joint_view,
    magail,
    zero_sum_objective,
)
from jaxil.algorithms.multiagent_bc import agent_rows, multiagent_bc
from jaxil.envs.mpe import SpreadGreedyPolicy
from jaxil.networks.multiagent import MultiAgentPolicy
from jaxil.networks.policy import RandomPolicy
from jaxil.rl import PPOConfig
from jaxil.rl.mappo import MAPPOConfig
from jaxil.types import Box, Discrete, Transition

SPREAD = "mpe/simple_spread"
N, D, A = 3, 18, 5
TINY_PPO = PPOConfig(num_envs=4, rollout_length=8, num_epochs=1, num_minibatches=2,
                     hidden_sizes=(8,))
TINY = MAGAILConfig(adversarial=AdversarialConfig(hidden_sizes=(8,)),
                    mappo=MAPPOConfig(TINY_PPO, centralized_critic=True))


@pytest.fixture(scope="module")
def spread():
    return jaxil.envs.make(SPREAD)


@pytest.fixture(scope="module")
def demos(spread):
    """50 episodes of the scripted expert (1,250 env steps)."""
    return jaxil.data.collect(spread, SpreadGreedyPolicy(), jax.random.key(5), 50)


def small_transition(m: int = 2) -> Transition:
    """`Transition[m]` of 3 agents with distinct entries: obs `[m, 3, 2]`."""
    obs = jnp.arange(m * N * 2, dtype=jnp.float32).reshape(m, N, 2)
    return Transition(obs, jnp.array([[0, 1, 4], [3, 2, 0]])[:m],
                      jnp.arange(m * N, dtype=jnp.float32).reshape(m, N), obs + 100.0,
                      jnp.array([False, True])[:m], jnp.array([True, False])[:m])


def test_views_by_hand():
    tr = small_transition()
    per_agent = agent_view(tr)
    assert per_agent.obs.shape == (N, 2, 2)
    np.testing.assert_array_equal(per_agent.obs[1, 0], tr.obs[0, 1])
    np.testing.assert_array_equal(per_agent.action, [[0, 3], [1, 2], [4, 0]])
    np.testing.assert_array_equal(per_agent.terminated, [[False, True]] * N)
    joint = joint_view(tr, A)
    np.testing.assert_array_equal(joint.obs[0], np.arange(6))
    np.testing.assert_array_equal(joint.next_obs[1], np.arange(6, 12) + 100)
    expected = np.zeros((2, N * A))
    expected[0, [0, 5 + 1, 10 + 4]] = 1.0
    expected[1, [3, 5 + 2, 10 + 0]] = 1.0
    np.testing.assert_array_equal(joint.action, expected)
    np.testing.assert_allclose(joint.reward, [1.0, 4.0])
    continuous = joint_view(tr._replace(action=jnp.ones((2, N, 2))), None)
    assert continuous.action.shape == (2, N * 2)


def test_disc_specs(spread):
    agent, joint = disc_specs(spread)
    assert agent.observation_size == D and agent.action_space == Discrete(A)
    assert joint.observation_size == N * D and joint.action_space == Box((N * A,), 0.0, 1.0)
    listener = jaxil.envs.make("mpe/simple_speaker_listener")  # Discrete(3) and Discrete(5)
    agent, joint = disc_specs(listener)
    assert agent.action_space == Discrete(5) and joint.action_size == 10


def test_zero_sum_loss_by_hand():
    """The zero-sum discriminator's loss with a network whose logit is the sum of the
    observation features: labels 1, 1/2 and 0 for the three kinds of joint actions."""

    class SumNet(eqx.Module):
        def reward(self, x):
            return jnp.sum(x.obs)

    ones = jnp.ones((2,))

    def inputs(values):
        obs = jnp.asarray(values, jnp.float32)[:, None]
        return DiscInputs(obs, jnp.zeros((2, 0)), obs, ones)

    config = AdversarialConfig(gradient_penalty="none")
    loss, metrics = zero_sum_objective(SumNet(), None, (inputs([1.0, 2.0]), inputs([0.0, -1.0]),
                                                        inputs([-2.0, 3.0])),
                                       jax.random.key(0), config)

    def ce(v, label):
        return -(label * np.log(1 / (1 + np.exp(-v))) + (1 - label) * np.log(1 / (1 + np.exp(v))))

    expected = np.mean([ce(1, 1), ce(2, 1), ce(0, 0.5), ce(-1, 0.5), ce(-2, 0), ce(3, 0)])
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    np.testing.assert_allclose(metrics["disc_expert_accuracy"], 1.0)  # both logits > 0
    np.testing.assert_allclose(metrics["disc_policy_accuracy"], 0.5)  # -2 right, 3 wrong


@pytest.mark.parametrize("prior", ["centralized", "decentralized"])
def test_update_traces_once_with_the_prior_shapes(spread, demos, prior):
    # with BC steps after each update (their Adam state is part of the traced state)
    algo = magail(spread, dataclasses.replace(TINY, prior=prior, adversarial=dataclasses.replace(
        TINY.adversarial, bc_steps_per_update=1)))
    data = jaxil.data.as_transitions(demos)
    state = jax.eval_shape(algo.init, jax.random.key(0), data)
    batch = jax.tree.map(lambda a: a[:64], data)
    check_traced_once(algo.update, state, [batch, batch])
    weights = state.discriminator.net.g.layers[0].weight
    if prior == "decentralized":  # one network per agent on (o_i, onehot(a_i))
        assert weights.shape == (N, 8, D + A)
    else:  # one network on the joint observation and joint action
        assert weights.shape == (8, N * (D + A))


def test_same_key_same_result_rewards_and_bc_steps(spread, demos):
    """Two decentralised updates from one key agree bit for bit; the relabelled rewards
    are positive (`-log(1 - D)`), the discriminator metrics finite, and the policy acts
    for every agent.

    The config also warm-starts the actor by BC (`adversarial.bc_steps`: its normaliser
    the demos' agent rows'; without demos it is refused, naming the field), and ends each
    update with 2 Adam steps of BC (`bc_steps_per_update`) on every agent's row of the
    batch. PPO's learning rate is 0, so those steps are all that moves the actor after
    `init`: the test writes them out with optax (the negative log-likelihood of the rows,
    under each update's running normaliser, one Adam state across both updates)."""
    data = jaxil.data.as_transitions(demos)
    m = 64
    batch = jax.tree.map(lambda a: a[:m], data)
    frozen_ppo = MAPPOConfig(dataclasses.replace(TINY_PPO, learning_rate=0.0),
                             centralized_critic=True)
    algo = magail(spread, dataclasses.replace(TINY, prior="decentralized", mappo=frozen_ppo,
                                              adversarial=AdversarialConfig(
        hidden_sizes=(8,), bc_learning_rate=1e-2, bc_steps=2, bc_steps_per_update=2)))
    init, update = jax.jit(algo.init), jax.jit(algo.update)

    def run():
        states = [init(jax.random.key(1), data)]
        for _ in range(2):
            states.append(update(states[-1], batch))
        return states

    states, again = run(), run()
    first = states[-1]
    for a, b in zip(jax.tree.leaves(eqx.filter(first, eqx.is_inexact_array)),
                    jax.tree.leaves(eqx.filter(again[-1], eqx.is_inexact_array)), strict=True):
        np.testing.assert_array_equal(a, b)
    assert float(first.metrics["relabelled_reward"]) > 0
    assert np.isfinite(float(first.metrics["disc_loss"]))
    actions = algo.policy(first)(data.obs[0], jax.random.key(0))
    assert actions.shape == (N,) and actions.dtype == jnp.int32

    assert states[0].learner.policy.normalizer.mean.shape == (D + N,)
    with pytest.raises(ValueError, match="adversarial.bc_steps: a BC warm start needs"):
        algo.init(jax.random.key(0), None)
    ids = jnp.tile(jnp.eye(N), (m, 1))  # agent rows, agent index fastest
    obs = jnp.concatenate([batch.obs.reshape(m * N, D), ids], axis=1)
    actions = batch.action.reshape(m * N)

    def nll(net, normalizer):
        return -jnp.mean(jax.vmap(jaxil.ActorPolicy(net, normalizer).log_prob)(obs, actions))

    optimizer = optax.adam(1e-2)
    net = states[0].learner.policy.network
    opt_state = optimizer.init(eqx.filter(net, eqx.is_array))
    grad = eqx.filter_jit(eqx.filter_grad(nll))
    for state in states[1:]:
        for _ in range(2):
            updates, opt_state = optimizer.update(
                grad(net, state.learner.policy.normalizer), opt_state)
            net = eqx.apply_updates(net, updates)
        for want, got in zip(jax.tree.leaves(eqx.filter(net, eqx.is_array)),
                             jax.tree.leaves(eqx.filter(state.learner.policy.network,
                                                        eqx.is_array)), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    normalizer = first.learner.policy.normalizer
    assert nll(net, normalizer) < nll(states[0].learner.policy.network, normalizer)
    assert int(first.bc_opt_state[0].count) == 4
    with pytest.raises(ValueError, match=r"adversarial.bc_steps_per_update: expected >= 0"):
        magail(spread, dataclasses.replace(TINY, adversarial=AdversarialConfig(
            bc_steps_per_update=-1)))


def test_zero_sum_on_keep_away():
    """The zero-sum prior on simple_push (adversary team 0, good agent team 1) traces once;
    its policy acts for both agents."""
    env = jaxil.envs.make("mpe/simple_push")
    assert env.unwrapped.teams == (0, 1)
    random = MultiAgentPolicy(RandomPolicy(env.spec.action_space), 2, agent_ids=False)
    demos = jaxil.data.collect(env, random, jax.random.key(0), 4)
    data = jaxil.data.as_transitions(demos)
    algo = magail(env, dataclasses.replace(TINY, prior="zero_sum"))
    state = jax.eval_shape(algo.init, jax.random.key(0), data)
    batch = jax.tree.map(lambda a: a[:32], data)
    check_traced_once(algo.update, state, [batch, batch])


def test_demos_that_end_early_are_refused_with_a_positive_reward(spread, demos):
    """As GAIL's: `-log(1 - D)` with demos that terminate early would favour long
    episodes; refused in one line that names the option MAGAIL has (no absorbing state),
    unless the bias is accepted."""
    data = jaxil.data.as_transitions(demos)
    ended = data._replace(terminated=data.terminated.at[3].set(True))
    with pytest.raises(ValueError, match="1 demonstration episode") as err:
        magail(spread, TINY).init(jax.random.key(0), ended)
    assert "MAGAILConfig.adversarial.allow_variable_horizon=True" in str(err.value)
    assert "absorbing_state" not in str(err.value)
    accepting = dataclasses.replace(TINY, adversarial=AdversarialConfig(
        hidden_sizes=(8,), allow_variable_horizon=True))
    jax.eval_shape(magail(spread, accepting).init, jax.random.key(0), ended)


def test_independent_gail_config(spread):
    """Independent GAIL is the decentralised prior with a decentralised critic."""
    algo = independent_gail(spread, TINY)
    state = jax.eval_shape(algo.init, jax.random.key(0), None)
    assert state.discriminator.net.g.layers[0].weight.shape[0] == N
    assert state.learner.value.mlp.layers[0].weight.shape[-1] == D + N  # own obs and id


def test_errors_name_the_field(spread, demos):
    with pytest.raises(ValueError, match="env: MAGAIL expects a multi-agent"):
        magail(jaxil.envs.make("cartpole"))
    with pytest.raises(ValueError, match="MAGAILConfig.prior: expected one of"):
        magail(spread, dataclasses.replace(TINY, prior="joint"))
    with pytest.raises(ValueError, match="MAGAILConfig.teams: expected 3 entries"):
        magail(spread, dataclasses.replace(TINY, prior="zero_sum"))  # all good agents
    with pytest.raises(ValueError, match="adversarial.absorbing_state: not supported"):
        magail(spread, dataclasses.replace(
            TINY, adversarial=AdversarialConfig(absorbing_state=True)))
    algo = magail(spread, TINY)
    with pytest.raises(ValueError, match="demos: MAGAIL needs demonstrations with actions"):
        algo.init(jax.random.key(0), jaxil.data.as_transitions(demos)._replace(action=None))
    with pytest.raises(ValueError, match="env: multi-agent BC expects"):
        multiagent_bc(jaxil.envs.make("cartpole"))


def test_agent_rows_by_hand():
    rows = agent_rows(small_transition())
    assert rows.obs.shape == (2 * N, 2 + N)
    np.testing.assert_array_equal(rows.obs[4], [8.0, 9.0, 0.0, 1.0, 0.0])  # step 1, agent 1
    np.testing.assert_array_equal(rows.action, [0, 1, 4, 3, 2, 0])


# Learning: multi-agent BC, the 50 scripted-expert episodes, 1,000 updates of 400 env steps
# (1,200 agent rows), seeds vmapped; each cloned policy (its mode) over 64 episodes. The
# score is expert-normalised (a uniformly random policy's -234.6 = 0, the scripted
# expert's -137.0 = 1). Measured (CPU, seeds split(key(0), 8)): min 0.805, mean 0.852; the
# test's 4 seeds: min 0.805 (0.805-0.890 again after BC's optimiser became one flat vector,
# which changed the last bits). Threshold 0.65.
BC_UPDATES, BC_THRESHOLD, SEEDS = 1000, 0.65, 4


def test_multiagent_bc_learns_simple_spread(spread, demos):
    algo = multiagent_bc(spread)
    # `update` is traced once (a weak-typed or reshaped state would trace it again)
    algo = algo._replace(update=eqx.debug.assert_max_traces(algo.update, max_traces=1))

    def run(key):
        train_key, eval_key = jax.random.split(key)
        state, _ = jaxil.train(algo, train_key, demos_tr, BC_UPDATES, batch_size=400)
        returns = jaxil.rollout_episodes(spread, algo.policy(state), eval_key, 64).returns
        return (jnp.mean(returns) + 234.6) / (234.6 - 137.0)

    demos_tr = jaxil.data.as_transitions(demos)
    scores = jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(0), SEEDS))
    assert float(jnp.min(scores)) > BC_THRESHOLD, scores


# Learning: decentralised MAGAIL (the default prior, 4 discriminator steps), the same demos,
# 16 envs x 25 steps x 600 updates (240k env steps) per seed, 3 seeds vmapped; each policy
# (sampling) over 64 episodes, expert-normalised as above. The target is >= 0.8,
# asserted for at least 2 of the 3 seeds. Measured as the test runs (one program, seeds
# split(key(k), 3); a different vmap width changes the last bits), keys k = 0-7, with
# MAGAIL's gradient penalty of 0.1 (its default since session 16): all 24 seeds >= 0.864,
# the median of each key's 3 seeds 0.866-0.961 (key 0: 0.864, 0.866, 0.940), about 25 s
# quiet on 2 cores. With the earlier penalty of 3: all 24 >= 0.819, medians 0.871-0.941;
# 16 seeds at width 8 (k = 0, 1) min 0.822; at 400 updates 8 seeds scored min 0.779 (one
# below 0.8), and 300 updates min 0.517.
# (The centralised prior reaches 0.3-0.4 on this budget, 0.5-0.7 at 1M steps:
# benchmarks/RESULTS.md.)
MAGAIL_UPDATES = 600
MAGAIL_LEARN = MAGAILConfig(mappo=MAPPOConfig(
    PPOConfig(num_envs=16, rollout_length=25, num_epochs=4, num_minibatches=4,
              learning_rate=3e-3, entropy_coef=0.01, lr_decay_updates=MAGAIL_UPDATES),
    centralized_critic=True))
MAGAIL_THRESHOLD = 0.8


def test_magail_learns_simple_spread(spread, demos):
    demos = jaxil.data.as_transitions(demos)
    algo = magail(spread, MAGAIL_LEARN)

    def run(key):
        train_key, eval_key = jax.random.split(key)
        state, _ = jaxil.train(algo, train_key, demos, MAGAIL_UPDATES, batch_size=400)
        returns = jaxil.rollout_episodes(spread, algo.policy(state), eval_key, 64).returns
        return (jnp.mean(returns) + 234.6) / (234.6 - 137.0)

    scores = jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(0), 3))
    assert at_least_half_reach(scores, MAGAIL_THRESHOLD), scores


TINY_SETTINGS = ("--set", "mappo.ppo.num_envs=4", "--set", "mappo.ppo.rollout_length=8",
                 "--set", "mappo.ppo.num_minibatches=2", "--set", "mappo.ppo.hidden_sizes=8",
                 "--set", "adversarial.hidden_sizes=8")


def test_cli_train_magail_and_errors(tmp_path, demos, capsys):
    """`jaxil train magail` as a user runs it (a subprocess, multi-agent demos from a
    file), then `jaxil eval` of the saved policy; methods and envs that do not fit are
    refused in one line."""
    jaxil.data.save(tmp_path / "spread.npz", demos)
    done = run_jaxil("train", "magail", "--env", SPREAD, "--demos", "spread.npz", "--out",
                     "magail.eqx", "--updates", 2, "--batch-size", 64, "--set",
                     "prior=centralized", *TINY_SETTINGS, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    policy = jaxil.load_policy(tmp_path / "magail.eqx")
    assert isinstance(policy, MultiAgentPolicy) and policy.num_agents == N

    assert cli("eval", tmp_path / "magail.eqx", "--env", SPREAD, "--episodes", 2) == 0
    assert "mpe/simple_spread: mean team return" in capsys.readouterr().out
    refused = {
        ("train", "bc", "--env", SPREAD): f"--env {SPREAD}: bc is a single-agent method; "
        f"{SPREAD} is multi-agent: use multiagent_bc, magail, independent_gail",
        ("train", "magail", "--env", "cartpole"): "--env cartpole: magail is a multi-agent "
        "method; expected a multi-agent environment: ",
        ("train", "magail", "--env", SPREAD, "--set", "prior=joint"): "--set prior=joint: "
        "expected one of centralized, decentralized, zero_sum",
    }
    for args, message in refused.items():
        assert cli(*args, "--demos", tmp_path / "spread.npz", "--out",
                   tmp_path / "x.eqx") == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert f"jaxil: error: {message}" in err, err
    assert not (tmp_path / "x.eqx").exists()


class _Constant(eqx.Module):
    def __call__(self, obs, key):
        return jnp.array([2, 4], jnp.int32)  # the speaker's last message, the listener's up


def test_multiagent_bc_masks_the_speaker():
    """On speaker_listener (Discrete(3) and Discrete(5)) the cloned policy is masked: the
    speaker's actions 3 and 4 get no probability, before and after an update."""
    env = jaxil.envs.make("mpe/simple_speaker_listener")
    data = jaxil.data.as_transitions(jaxil.data.collect(env, _Constant(), jax.random.key(0), 2))
    algo = multiagent_bc(env)
    state = jax.jit(algo.update)(algo.init(jax.random.key(0), data), data)
    rows = agent_rows(data).obs[:2]  # step 0: the speaker's row, the listener's
    assert state.policy.network.action_sizes == (3, 5)
    probs = jax.vmap(lambda x: state.policy.distribution(x).probs)(rows)
    np.testing.assert_array_equal(probs[0, 3:], 0.0)
    assert float(probs[1, 3:].sum()) > 0.0
    assert np.isfinite(float(state.metrics["loss"]))


class _PointmassGreedy(eqx.Module):
    """Agent i moves the point along axis i straight to the goal (`coop/pointmass`)."""

    def __call__(self, obs, key):
        from jaxil.envs.pointmass import STEP_SIZE

        return jnp.clip(obs[jnp.arange(2), 2 + jnp.arange(2)] / STEP_SIZE, -1.0, 1.0)[:, None]


class _PointmassRandom(eqx.Module):
    def __call__(self, obs, key):
        return jax.random.uniform(key, (2, 1), minval=-1.0, maxval=1.0)


# Learning with continuous actions on the actuator split: centralised MAGAIL on
# `coop/pointmass` (two agents, one axis each), 50 greedy episodes, 16 envs x 50 steps x
# 150 updates, 3 seeds in one program, each policy's mode over 64 episodes, normalised by
# the greedy expert (-5.1 to -5.8) and uniform random actions (-52 to -55) on the same
# episodes. Measured as the test runs it (gradient penalty 0.1, MAGAIL's default since
# session 16): 0.965, 0.972, 0.963, about 15 s on 2 cores; keys 0-3 (12 seeds) min 0.904
# (with the earlier penalty of 3, key 0: 0.971, 0.982, 0.950). (Scored against other
# episodes, 8 seeds, penalty 3: 0.889 to 0.938; the decentralised prior 0.91-0.94 and BC
# 0.90-0.93 at 200 and 1,000 updates, 4 seeds.) Threshold 0.75.
def test_centralized_magail_learns_the_pointmass_split():
    env = jaxil.envs.make("coop/pointmass")
    demos = jaxil.data.as_transitions(
        jaxil.data.collect(env, _PointmassGreedy(), jax.random.key(5), 50))
    config = MAGAILConfig(prior="centralized", mappo=MAPPOConfig(
        PPOConfig(num_envs=16, rollout_length=50, num_epochs=4, num_minibatches=4,
                  learning_rate=3e-3, lr_decay_updates=150), centralized_critic=True))
    algo = magail(env, config)

    def run(key):
        state, _ = jaxil.train(algo, key, demos, 150, batch_size=400)
        eval_key = jax.random.fold_in(key, 1)
        learned, expert, random = (
            jnp.mean(jaxil.rollout_episodes(env, p, eval_key, 64).returns)
            for p in (algo.policy(state).with_deterministic(True), _PointmassGreedy(),
                      _PointmassRandom()))
        return (learned - random) / (expert - random)

    scores = jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(0), 3))
    assert float(jnp.min(scores)) > 0.75, scores
