"""InfoGAIL: the latent-code wrapper, the posterior's loss and reward by hand, one
compilation on the shared adversarial loop, and the command line."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from adversarial_setup import (
    TINY_ADV,
    TINY_PPO,
    all_finite,
    check_traced_once,
    compiled_once,
    run_updates,
)
from cli_subprocess import run_jaxil
from typer.testing import CliRunner

import jaxil
from jaxil.algorithms import ALGORITHMS, InfoGAILConfig, infogail
from jaxil.algorithms.infogail import POSTERIOR_METRICS, Posterior, info_extension, info_weight
from jaxil.cli import app
from jaxil.envs import LatentCode, navigation
from jaxil.envs.wrappers import strip_code

TINY = InfoGAILConfig(num_codes=3, posterior_hidden_sizes=(8,), adversarial=TINY_ADV,
                      ppo=TINY_PPO)


def test_latent_code_is_drawn_per_episode_and_kept_within_it():
    env = jaxil.envs.make("pointmass")
    coded = LatentCode(env, 3)
    assert coded.spec.observation_size == env.spec.observation_size + 3
    venv = jaxil.envs.vectorize(coded, 64)
    state = venv.reset(jax.random.key(0))
    codes = [state.info["code"]]
    for _ in range(env.spec.max_episode_steps):
        nxt = venv.step(state, jnp.zeros((64, *env.spec.action_space.shape)))
        obs, code = strip_code(nxt.info["final_obs"], 3)
        np.testing.assert_array_equal(code, state.info["code"])  # kept through the step
        assert obs.shape == (64, env.spec.observation_size)
        state = nxt
        codes.append(state.info["code"])
    # every episode ended at the time limit and the auto-reset drew new codes
    assert not np.array_equal(codes[0], codes[-1])
    assert set(np.unique(np.concatenate(codes)).tolist()) == {0, 1, 2}
    fixed = LatentCode(env, 3, code=2).reset(jax.random.key(1))
    np.testing.assert_array_equal(fixed.obs[-3:], [0.0, 0.0, 1.0])
    for bad, match in (({"num_codes": 1}, "num_codes"), ({"num_codes": 2, "code": 2}, "code")):
        with pytest.raises(ValueError, match=match):
            LatentCode(env, **bad)


def test_posterior_loss_and_information_reward_by_hand():
    env = jaxil.envs.make("cartpole")
    config = InfoGAILConfig(num_codes=2, info_coef=0.5, posterior_hidden_sizes=(4,))
    ext = info_extension(env.spec, config)
    state = ext.init(jax.random.key(0))
    obs = jax.random.normal(jax.random.key(1), (3, 2, 4))
    code = jnp.array([[0, 1], [1, 1], [0, 0]])
    coded = jnp.concatenate([obs, jax.nn.one_hot(code, 2)], axis=-1)
    action = jnp.array([[0, 1], [1, 0], [1, 1]])
    tr = jaxil.Transition(coded, action, jnp.zeros((3, 2)), coded, jnp.zeros((3, 2), bool),
                          jnp.zeros((3, 2), bool))
    new, reward, metrics = ext.step(state, tr, jax.random.key(2))
    q = state.posterior
    logits = jax.vmap(jax.vmap(q))(obs, action)
    log_q = jnp.take_along_axis(jax.nn.log_softmax(logits), code[..., None], -1)[..., 0]
    # the reward uses Q before its step: 3 * (log Q(c | s, a) + log 2), the warm-up weight
    np.testing.assert_allclose(reward, 3.0 * (log_q + jnp.log(2.0)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["posterior_loss"], -log_q.mean(), rtol=1e-5)
    assert set(metrics) == set(POSTERIOR_METRICS) and metrics["info_weight"] == 3.0
    assert int(new.updates) == 1
    # the weight: 3 for 600 updates, then linearly to info_coef = 0.5 by update 1200
    weights = [float(info_weight(config, jnp.asarray(t))) for t in (0, 600, 900, 1200, 9999)]
    np.testing.assert_allclose(weights, [3.0, 3.0, 1.75, 0.5, 0.5], rtol=1e-6)
    late = state._replace(updates=jnp.asarray(1200, jnp.int32))  # Q as before its step
    np.testing.assert_allclose(ext.step(late, tr, jax.random.key(2))[1],
                               0.5 * (log_q + jnp.log(2.0)), rtol=1e-5, atol=1e-6)
    for bad in ({"info_warmup_updates": -1}, {"info_decay_updates": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            InfoGAILConfig(**bad)
    # a step of maximum likelihood makes the codes likelier
    _, _, after = ext.step(new, tr, jax.random.key(3))
    assert after["posterior_loss"] < metrics["posterior_loss"]
    # the discriminator sees the env's observations
    np.testing.assert_array_equal(ext.disc_view(tr).obs, obs)
    assert Posterior(env.spec, 2, (4,), jax.random.key(0))(obs[0, 0], action[0, 0]).shape == (2,)


def test_update_compiles_once_on_the_shared_loop(cartpole_demos):
    env = jaxil.envs.make("cartpole")
    algo = infogail(env, TINY)
    state = algo.init(jax.random.key(0), cartpole_demos)
    assert state.learner.policy.network.arch.observation_size == 4 + 3
    batches = [jaxil.sample_batch(cartpole_demos, jax.random.key(i), 16) for i in range(3)]
    state = run_updates(compiled_once(algo.update), state, batches)[-1]
    assert all_finite(state.metrics) and set(POSTERIOR_METRICS) <= set(state.metrics)
    assert int(state.step) == 3
    returns = jaxil.evaluate(LatentCode(env, 3, code=1), algo.policy(state), jax.random.key(1),
                             2)
    assert returns.shape == (2,)
    assert ALGORITHMS["infogail"].config is InfoGAILConfig
    with pytest.raises(ValueError, match="num_codes"):
        InfoGAILConfig(num_codes=1)
    for bad in ({"num_codes": 1}, {"discriminator": "gan"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            InfoGAILConfig(**bad)


def test_bc_warm_start_on_demos_with_random_codes(cartpole_demos):
    env = jaxil.envs.make("cartpole")
    ext = info_extension(env.spec, TINY)
    coded = ext.acting_demos(cartpole_demos, jax.random.key(0))
    np.testing.assert_array_equal(coded.obs[:, :4], cartpole_demos.obs)
    np.testing.assert_array_equal(coded.next_obs[:, :4], cartpole_demos.next_obs)
    codes = strip_code(coded.obs, 3)[1]  # one-hot, one code per sample, every code drawn
    assert coded.obs.shape[1] == 4 + 3 and coded.obs[:, 4:].sum(-1).tolist() == [1] * len(codes)
    assert set(np.unique(codes).tolist()) == {0, 1, 2}
    np.testing.assert_array_equal(strip_code(coded.next_obs, 3)[1], codes)
    # the warm-started policy imitates the demos whatever its code; without it, chance
    warm = dataclasses.replace(TINY, adversarial=dataclasses.replace(TINY_ADV, bc_steps=200))
    losses = [jaxil.algorithms.bc_loss(infogail(env, c).init(jax.random.key(1), cartpole_demos)
                                       .learner.policy, coded.obs, coded.action)[0]
              for c in (TINY, warm)]
    assert losses[0] > 0.6 and losses[1] < 0.6 * losses[0], losses  # chance: log 2 = 0.69
    # BC steps in every update take the demos as the policy sees them too (traced)
    per_update = infogail(env, dataclasses.replace(TINY, adversarial=dataclasses.replace(
        TINY_ADV, bc_steps_per_update=2)))
    state = jax.eval_shape(per_update.init, jax.random.key(1), cartpole_demos)
    new = jax.eval_shape(per_update.update, state,
                         jaxil.sample_batch(cartpole_demos, jax.random.key(0), 32))
    assert jax.tree.structure(new) == jax.tree.structure(state)
    assert new.bc_opt_state is not None


def test_cli_trains_infogail_and_evaluates_one_code(tmp_path):
    env = jaxil.envs.make("obstacle_nav")
    jaxil.data.save(tmp_path / "d.npz", navigation.multimodal_demos(jax.random.key(0), 4, env),
                    metadata={"env": "obstacle_nav"})
    done = run_jaxil("train", "infogail", "--env", "obstacle_nav", "--demos", "d.npz",
                     "--out", "p.eqx", "--updates", 2, "--batch-size", 16,
                     "--set", "ppo.num_envs=4", "--set", "ppo.rollout_length=8",
                     "--set", "num_codes=2", "--set", "discriminator=wasserstein",
                     "--set", "info_warmup_coef=none", "--set", "adversarial.bc_steps=5",
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # `eval`, and mistakes with --code, in-process (the saved file came from the
    # subprocess; the error path is the CLI's own, checked through a subprocess in
    # test_cli_errors)
    ok = CliRunner().invoke(app, ["eval", str(tmp_path / "p.eqx"), "--env", "obstacle_nav",
                                  "--code", "1", "--episodes", "2", "--json"])
    assert ok.exit_code == 0 and '"code": 1' in ok.output, ok.output
    jaxil.save_policy(tmp_path / "plain.eqx",
                      jaxil.algorithms.bc(env).init(jax.random.key(0)).policy)
    for policy, code, message in (("p.eqx", 2, "expected a code in [0, 2)"),
                                  ("plain.eqx", 0, "takes no categorical latent code")):
        bad = CliRunner().invoke(app, ["eval", str(tmp_path / policy), "--env",
                                       "obstacle_nav", "--code", str(code)])
        assert bad.exit_code == 2 and message in bad.output, bad.output
    # a continuous (uniform) code is fixed with --code-values, one value per code entry
    uniform = LatentCode(env, 1, distribution="uniform")
    jaxil.save_policy(tmp_path / "u.eqx",
                      jaxil.algorithms.bc(uniform).init(jax.random.key(0)).policy)
    ok = CliRunner().invoke(app, ["eval", str(tmp_path / "u.eqx"), "--env", "obstacle_nav",
                                  "--code-values", "0.5", "--episodes", "1", "--json"])
    assert ok.exit_code == 0 and '"code": [0.5]' in ok.output, ok.output
    for policy, options, message in (
            ("u.eqx", ["--code-values", "0.5,0.2"], "expected 1 value(s)"),
            ("u.eqx", ["--code-values", "2"], "expected values in [-1, 1]"),
            ("u.eqx", ["--code-values", "nan"], "expected values in [-1, 1]"),
            ("u.eqx", ["--code-values", "left"], "comma-separated numbers"),
            ("u.eqx", ["--code", "0", "--code-values", "0.5"], "give one"),
            ("plain.eqx", ["--code-values", "0.5"], "takes no continuous latent code")):
        bad = CliRunner().invoke(app, ["eval", str(tmp_path / policy), "--env",
                                       "obstacle_nav", *options])
        assert bad.exit_code == 2 and message in bad.output, (options, bad.output)


def test_a_uniform_code_its_gaussian_posterior_and_reward_by_hand(cartpole_demos):
    env = jaxil.envs.make("pointmass")
    coded = LatentCode(env, 2, distribution="uniform")
    venv = jaxil.envs.vectorize(coded, 256)
    state = venv.reset(jax.random.key(0))
    codes = np.asarray(state.info["code"])
    assert codes.shape == (256, 2) and codes.min() >= -1.0 and codes.max() <= 1.0
    assert codes.min() < -0.9 and codes.max() > 0.9  # spread over [-1, 1]
    np.testing.assert_array_equal(state.obs[:, -2:], codes)
    nxt = venv.step(state, jnp.zeros((256, 2)))
    np.testing.assert_array_equal(nxt.info["code"], codes)  # kept within the episode
    fixed = LatentCode(env, 2, code=(0.5, -1.0), distribution="uniform")
    np.testing.assert_allclose(fixed.reset(jax.random.key(1)).obs[-2:], [0.5, -1.0])
    for bad, match in (({"code": (2.0, 0.0)}, "code"), ({"code": 1}, "code"),
                       ({"distribution": "normal"}, "distribution")):
        with pytest.raises(ValueError, match=match):
            LatentCode(env, 2, **{"distribution": "uniform", **bad})
    with pytest.raises(ValueError, match="code_distribution"):
        InfoGAILConfig(code_distribution="gaussian")

    config = InfoGAILConfig(num_codes=2, code_distribution="uniform", info_coef=0.5,
                            info_warmup_coef=None, posterior_hidden_sizes=(4,))
    ext = info_extension(env.spec, config)
    post = ext.init(jax.random.key(2))
    obs = jax.random.normal(jax.random.key(3), (3, 2, 4))
    code = jax.random.uniform(jax.random.key(4), (3, 2, 2), minval=-1.0, maxval=1.0)
    action = jax.random.uniform(jax.random.key(5), (3, 2, 2), minval=-1.0, maxval=1.0)
    tr_obs = jnp.concatenate([obs, code], axis=-1)
    tr = jaxil.Transition(tr_obs, action, jnp.zeros((3, 2)), tr_obs, jnp.zeros((3, 2), bool),
                          jnp.zeros((3, 2), bool))
    new, reward, metrics = ext.step(post, tr, jax.random.key(6))
    q = post.posterior
    mean = jax.vmap(jax.vmap(q))(obs, action)
    std = 1.0 / np.sqrt(3.0)  # the initial std: the uniform code's own
    np.testing.assert_allclose(jnp.exp(q.log_std), [std, std], rtol=1e-6)
    log_q = np.sum(-0.5 * ((code - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi),
                   axis=-1)
    # 0.5 * (log Q(c | s, a) + H(c)), H(c) = 2 log 2 for Uniform([-1, 1]^2), no warm-up
    np.testing.assert_allclose(reward, 0.5 * (log_q + 2 * np.log(2.0)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(metrics["posterior_loss"], -log_q.mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["posterior_accuracy"],
                               1.0 - 3.0 * np.mean((code - mean) ** 2), rtol=1e-5)
    _, _, after = ext.step(new, tr, jax.random.key(7))
    assert after["posterior_loss"] < metrics["posterior_loss"]
    np.testing.assert_array_equal(ext.disc_view(tr).obs, obs)

    # the whole update with a uniform code traces once (shapes checked, nothing compiled)
    cartpole = jaxil.envs.make("cartpole")
    algo = infogail(cartpole, dataclasses.replace(TINY, num_codes=2,
                                                  code_distribution="uniform"))
    state = jax.eval_shape(algo.init, jax.random.key(0), cartpole_demos)
    assert state.learner.policy.network.arch.observation_size == 4 + 2
    check_traced_once(algo.update, state,
                      [jaxil.sample_batch(cartpole_demos, jax.random.key(i), 16)
                       for i in range(2)])
