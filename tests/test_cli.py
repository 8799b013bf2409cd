"""The `jaxil` command line: train and eval end to end on tiny settings, and its errors."""

import json

import jax
import numpy as np
import pytest
from cli_subprocess import run_jaxil
from typer.testing import CliRunner

import jaxil
from jaxil.cli import app

runner = CliRunner(env={"COLUMNS": "400", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def demos_file(tmp_path_factory):
    env = jaxil.envs.make("cartpole")
    demos = jaxil.data.collect(env, jaxil.RandomPolicy(env.spec.action_space),
                               jax.random.key(0), 4)
    path = tmp_path_factory.mktemp("cli") / "demos.npz"
    jaxil.data.save(path, demos, metadata={"env": "cartpole"})
    return path


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("quickstart", "expert", "train", "eval"):
        assert command in result.output


def test_train_and_eval_bc(demos_file, tmp_path):
    out = tmp_path / "bc.eqx"
    csv = tmp_path / "metrics.csv"
    result = runner.invoke(app, ["train", "bc", "--env", "cartpole", "--demos",
                                 str(demos_file), "--out", str(out), "--updates", "20",
                                 "--batch-size", "16", "--seed", "3", "--set",
                                 "learning_rate=3e-3", "--set", "hidden_sizes=16,16",
                                 "--metrics-csv", str(csv)])
    assert result.exit_code == 0, result.output
    policy = jaxil.load_policy(out)
    # the saved policy is the one the library trains with these settings and seed
    env = jaxil.envs.make("cartpole")
    algo = jaxil.algorithms.bc(env, jaxil.algorithms.BCConfig(learning_rate=3e-3,
                                                              hidden_sizes=(16, 16)))
    data = jaxil.data.load(demos_file)
    state, metrics = jax.jit(lambda k: jaxil.train(algo, k, data, 20, 16))(jax.random.key(3))
    expected = algo.policy(state)
    for x, y in zip(jax.tree.leaves(policy), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    lines = csv.read_text().splitlines()
    assert lines[0] == "run,update,metric,value"
    losses = [float(row.split(",")[3]) for row in lines[1:] if row.split(",")[2] == "loss"]
    np.testing.assert_allclose(losses, metrics["loss"], rtol=1e-4)
    result = runner.invoke(app, ["eval", str(out), "--env", "cartpole", "--episodes", "3",
                                 "--seed", "5", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output.strip().splitlines()[-1])
    # the returns of the saved policy on the episodes of this seed
    returns = np.asarray(jaxil.evaluate(env, expected, jax.random.key(5), 3))
    assert record["episodes"] == 3
    np.testing.assert_allclose([record["mean_return"], record["std_return"]],
                               [returns.mean(), returns.std()], rtol=1e-6)


def test_train_rejects_unknown_settings_and_algorithms(demos_file):
    result = runner.invoke(app, ["train", "bc", "--env", "cartpole", "--demos",
                                 str(demos_file), "--set", "learning_rat=1e-3"])
    assert result.exit_code != 0 and "learning_rat" in result.output
    result = runner.invoke(app, ["train", "bc", "--env", "cartpole", "--demos",
                                 str(demos_file), "--set", "learning_rate=fast"])
    assert result.exit_code != 0 and "learning_rate" in result.output
    result = runner.invoke(app, ["train", "nope", "--env", "cartpole", "--demos",
                                 str(demos_file)])
    assert result.exit_code != 0 and "bc" in result.output


def test_train_rejects_demos_of_another_env(demos_file):
    result = runner.invoke(app, ["train", "bc", "--env", "pendulum", "--demos",
                                 str(demos_file), "--updates", "5"])
    assert result.exit_code != 0 and "--demos" in result.output


def test_eval_rejects_a_file_that_is_not_a_policy(tmp_path):
    bad = tmp_path / "bad.eqx"
    bad.write_text("not a policy")
    result = runner.invoke(app, ["eval", str(bad), "--env", "cartpole"])
    assert result.exit_code != 0 and "not a jaxil policy" in result.output
    result = runner.invoke(app, ["eval", str(bad), "--env", "no-such-env"])
    assert result.exit_code != 0 and "no-such-env" in result.output




def test_train_dagger_queries_a_saved_expert(demos_file, tmp_path, monkeypatch):
    env = jaxil.envs.make("cartpole")
    expert = jaxil.networks.make_actor_policy(
        jaxil.networks.PolicyArch.for_env(env.spec, hidden_sizes=(8,)), jax.random.key(0))
    jaxil.save_policy(tmp_path / "expert.eqx", expert)
    out = tmp_path / "dagger.eqx"
    # in this process, from the user's folder: `--expert` is a path relative to it (the
    # command's start-up in a subprocess is tested in test_cli_errors.py, and so are the
    # user's mistakes here, `dagger-without-expert` and `expert-for-bc`: one line naming
    # --expert, exit code 2, no traceback, no file written)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "dagger", "--env", "cartpole", "--demos",
                                 str(demos_file), "--expert", "expert.eqx", "--out", str(out),
                                 "--updates", "2", "--batch-size", "16"])
    assert result.exit_code == 0, result.output
    assert jaxil.load_policy(out).network.arch.observation_size == 4


def test_train_takes_early_ending_demos_by_default_and_refuses_them_for_a_biased_reward(
        tmp_path):
    # Demos jaxil did not make an expert of: a random cartpole policy, every episode ends
    # early. GAIL's default absorbing state takes them; without it, GAIL's default reward
    # (always positive) is biased, so training is refused before it compiles, with the
    # options named, exit code 2, the demos untouched and no policy.
    env = jaxil.envs.make("cartpole")
    demos = jaxil.data.collect(env, jaxil.RandomPolicy(env.spec.action_space),
                               jax.random.key(0), 3, deterministic=None)
    path, out = tmp_path / "early.npz", tmp_path / "gail.eqx"
    jaxil.data.save(path, demos)
    before = path.read_bytes()
    result = run_jaxil("train", "gail", "--env", "cartpole", "--demos", path, "--updates", 1,
                       "--batch-size", 16, "--out", out,
                       "--set", "adversarial.absorbing_state=false", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "absorbing_state=True" in result.stderr and "terminate early" in result.stderr
    assert path.read_bytes() == before and not out.exists()
    taken = runner.invoke(app, ["train", "gail", "--env", "cartpole", "--demos", str(path),
                                "--updates", "1", "--batch-size", "16", "--out", str(out),
                                "--set", "ppo.num_envs=4", "--set", "ppo.rollout_length=8"])
    assert taken.exit_code == 0, taken.output
    assert jaxil.load_policy(out).network.arch.observation_size == 4
