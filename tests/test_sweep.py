"""`jaxil.sweep`: grids and seeds as vmapped programs sharded over devices and processes;
its statistics, table and CLI."""

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cli_subprocess import environment, run_in_process, run_jaxil
from sweep_program import toy_algo

import jaxil
from jaxil.algorithms import BCConfig, GAILConfig
from jaxil.sweeps import SweepResult, bootstrap_interval, interquartile_mean, with_settings

PROGRAM = Path(__file__).with_name("sweep_program.py")


def test_grid_order_static_groups_and_seeds():
    result = jaxil.sweep(toy_algo, jax.random.key(0), seeds=3,
                         grid={"size": [1, 4], "rate": [0.5, 2.0]}, num_updates=5)
    assert result.configs == [{"size": 1, "rate": 0.5}, {"size": 1, "rate": 2.0},
                              {"size": 4, "rate": 0.5}, {"size": 4, "rate": 2.0}]
    assert result.metrics["value"].shape == (4, 3, 5)
    for c, config in enumerate(result.configs):
        for s in range(3):
            init_key = jax.random.split(jax.random.fold_in(jax.random.key(0), s))[0]
            x0 = float(jnp.sum(jax.random.uniform(init_key, (config["size"],))))
            expected = x0 + np.arange(1, 6) * config["rate"] * config["size"]
            np.testing.assert_allclose(result.metrics["value"][c, s], expected, rtol=1e-6)
        assert result.states[c].x.shape == (3, config["size"])
    # seeds are shared across configurations (common random numbers), distinct otherwise
    x0 = result.metrics["value"][:, :, 0] - np.array([0.5, 2.0, 2.0, 8.0])[:, None]
    np.testing.assert_allclose(x0[0], x0[1], rtol=1e-6)
    assert len(set(x0[0].round(5))) == 3


@pytest.mark.parametrize("kwargs, match", [
    ({"seeds": 0}, "seeds"),
    ({"grid": {"rate": []}}, r"grid\['rate'\]"),
    ({"grid": {"rate": 0.5}}, r"grid\['rate'\]"),
    ({"grid": {"rate": [0.5, 1]}}, "mixes floats"),
    ({"grid": {"rate": [0.5, float("nan")]}}, "finite"),
])
def test_bad_sweeps_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jaxil.sweep(toy_algo, jax.random.key(0), num_updates=2, **kwargs)


def test_with_settings_reaches_nested_fields():
    config = with_settings(GAILConfig(), {"adversarial.disc_learning_rate": 1e-4,
                                          "ppo.gamma": 0.9})
    assert config.adversarial.disc_learning_rate == 1e-4 and config.ppo.gamma == 0.9
    assert GAILConfig().ppo.gamma != 0.9  # a new config; the default is untouched
    with pytest.raises(ValueError, match="'adversarial.disc_lr' is not a setting"):
        with_settings(GAILConfig(), {"adversarial.disc_lr": 1e-4})
    with pytest.raises(ValueError, match="'lr' is not a setting of BCConfig"):
        with_settings(BCConfig(), {"lr": 1e-4})


def test_interquartile_mean_and_bootstrap_interval():
    values = np.array([7.0, 1.0, 100.0, 3.0, 5.0, 2.0, 6.0, 4.0])
    # sorted 1..7, 100: two dropped at each end, mean of 3, 4, 5, 6
    assert interquartile_mean(values) == pytest.approx(4.5)
    assert interquartile_mean(np.array([1.0, 2.0, 9.0])) == pytest.approx(4.0)  # n < 4
    np.testing.assert_allclose(interquartile_mean(np.array([[1.0, 2, 3, 4], [0, 0, 0, 8]])),
                               [2.5, 0.0])
    assert bootstrap_interval(np.full(5, 2.0)) == (2.0, 2.0)
    low, high = bootstrap_interval(values, interquartile_mean)
    assert low <= interquartile_mean(values) <= high
    assert (low, high) == bootstrap_interval(values, interquartile_mean)  # fixed seed
    wide = bootstrap_interval(np.array([0.0, 10.0] * 2))
    narrow = bootstrap_interval(np.array([0.0, 10.0] * 50))
    assert narrow[1] - narrow[0] < wide[1] - wide[0]


def test_table_and_files(tmp_path):
    metrics = {"loss": np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3),
               "eval/return": np.array([[[1.0, 9.0], [1.0, 7.0], [1.0, 5.0], [1.0, 3.0]],
                                        [[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]]),
               "eval/update": np.tile(np.array([2, 3]), (2, 4, 1))}
    result = SweepResult(("learning_rate",), [{"learning_rate": 0.1},
                                              {"learning_rate": 0.2}], 4, metrics, None, 1,
                         0.0, 0.0)
    rows = result.table()
    assert rows[0]["metric"] == "eval/return"  # the last evaluation of each seed
    assert rows[0]["mean"] == pytest.approx(6.0) and rows[0]["iqm"] == pytest.approx(6.0)
    assert rows[1]["mean"] == rows[1]["iqm"] == rows[1]["iqm_low"] == 1.0
    loss = result.table("loss", last=2)
    assert loss[0]["mean"] == pytest.approx(np.mean(metrics["loss"][0, :, 1:]))
    with pytest.raises(ValueError, match="metric: 'bogus'"):
        result.table("bogus")
    result.write_table(tmp_path / "t.csv")
    with open(tmp_path / "t.csv") as f:
        table = list(csv.DictReader(f))
    assert table[0]["learning_rate"] == "0.1" and float(table[0]["iqm"]) == 6.0
    result.write_metrics(tmp_path / "m.jsonl")
    lines = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert len(lines) == 2 * 4 * 3
    assert lines[0]["run"] == "learning_rate=0.1;seed=0"
    assert lines[2]["eval/return"] == 9.0  # on the update it followed (eval/update 3)
    x, mean, low, high = result.curves("eval/return")["learning_rate=0.1"]
    np.testing.assert_array_equal(x, [2, 3])
    np.testing.assert_allclose(mean, [1.0, 6.0])
    assert np.all(low <= mean) and np.all(mean <= high)
    assert "0.1" in result.format_table() and "95% interval" in result.format_table()


def _python(*args, env=None, **kwargs):
    return subprocess.Popen([sys.executable, str(PROGRAM), *map(str, args)],
                            env={**environment(), **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


@pytest.fixture(scope="module")
def four_devices(tmp_path_factory):
    """The 64-configuration sweep on 4 forced CPU devices, and its 64 single runs."""
    path = tmp_path_factory.mktemp("sweep") / "devices.npz"
    process = _python(path,
                      env={"XLA_FLAGS": "--xla_force_host_platform_device_count=4"})
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    return dict(np.load(path))


def test_sweep_on_four_devices_matches_64_single_runs(four_devices):
    assert four_devices["devices"] == 4
    # 64 configurations (16 learning rates x 4 entropy coefficients), 30 updates each:
    # vmapped and sharded, the same numbers as one by one up to float reassociation
    # (measured: at most 1.2e-7 apart in the loss; the same evaluated returns)
    np.testing.assert_allclose(four_devices["sweep/loss"], four_devices["single/loss"],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(four_devices["sweep/eval/return"],
                               four_devices["single/eval/return"], rtol=1e-5)
    assert four_devices["sweep/loss"].shape == (64, 30)
    # the configurations differ: a sweep that ran one configuration 64 times would not
    assert len(np.unique(four_devices["sweep/loss"][:, -1].round(5))) > 32
    # a count of runs that does not divide the devices: padded, and the pads dropped
    toy = four_devices["toy/value"]
    assert toy.shape == (2, 3, 4)
    np.testing.assert_allclose(np.diff(toy, axis=-1), np.broadcast_to(
        np.array([0.5, 2.0])[:, None, None], (2, 3, 3)), rtol=1e-5)
    np.testing.assert_allclose(toy[0, :, 0] - 0.5, toy[1, :, 0] - 2.0, rtol=1e-6)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SWEEP_ARGS = ["sweep", "bc", "--env", "cartpole", "--demos", "d.npz", "--seeds", 3,
              "--grid", "learning_rate=1e-3,3e-3", "--updates", 20, "--batch-size", 32,
              "--set", "hidden_sizes=8"]


@pytest.fixture(scope="module")
def cli_sweep(cartpole_expert, tmp_path_factory):
    """A folder with demos `d.npz` and the output `out/` of `jaxil SWEEP_ARGS`."""
    env, expert, _ = cartpole_expert
    folder = tmp_path_factory.mktemp("cli-sweep")
    demos = jaxil.data.collect(env, expert, jax.random.key(2), 2)
    jaxil.data.save(folder / "d.npz", demos, metadata={"env": "cartpole"})
    done = run_jaxil(*SWEEP_ARGS, "--out", "out", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder, done


def _jsonl(path):
    return [json.loads(x) for x in Path(path).read_text().splitlines()]


def test_cli_sweep_writes_a_table_and_refuses_foreign_files(cli_sweep, capsys):
    folder, done = cli_sweep
    assert "loss over 3 seeds" in done.stdout and "6 runs on 1 devices" in done.stdout
    with open(folder / "out" / "table.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["learning_rate"] for r in rows] == ["0.001", "0.003"]
    assert all(r["metric"] == "loss" and r["seeds"] == "3" for r in rows)
    runs = {line["run"] for line in _jsonl(folder / "out" / "metrics.jsonl")}
    assert runs == {f"learning_rate={lr};seed={s}" for lr in ("0.001", "0.003")
                    for s in range(3)}
    # files the sweep did not write are kept, with one line
    (folder / "mine").mkdir()
    (folder / "mine" / "table.csv").write_text("my,own\n")
    refused = run_jaxil(*SWEEP_ARGS, "--out", "mine", cwd=folder)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "refusing to replace them" in refused.stderr
    assert (folder / "mine" / "table.csv").read_text() == "my,own\n"
    assert os.listdir(folder / "mine") == ["table.csv"]
    # demos that end early, for a reward biased by survival (without the absorbing state,
    # on by default): refused on the host before anything compiles, one line, and no
    # output folder made
    env = jaxil.envs.make("obstacle_nav")
    jaxil.data.save(folder / "nav.npz",
                    jaxil.envs.navigation.multimodal_demos(jax.random.key(0), 2, env),
                    metadata={"env": "obstacle_nav"})
    early = run_jaxil("sweep", "gail", "--env", "obstacle_nav", "--demos", "nav.npz",
                      "--seeds", 2, "--updates", 2, "--out", "early",
                      "--set", "adversarial.absorbing_state=false", cwd=folder)
    assert early.returncode == 2 and early.stderr.count("\n") == 1, early.stderr
    assert "terminate early" in early.stderr and "Traceback" not in early.stderr
    assert not (folder / "early").exists()
    # bad grids, in-process (the one-line error path is the subprocess's above)
    capsys.readouterr()
    for grid, message in (("learning_rate=1e-3,inf", "--grid learning_rate=1e-3,inf: "),
                          ("lr=1", "has no field 'lr'"),
                          ("learning_rate=", "expected name=value1,value2")):
        assert run_in_process("sweep", "bc", "--env", "cartpole", "--demos", folder / "d.npz",
                              "--grid", grid, "--out", folder / "bad") == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err


def test_cli_sweep_over_two_processes_is_the_single_process_sweep(cli_sweep):
    """The cluster recipe of docs/sweeps.md on one machine: two `jaxil sweep --distributed`
    processes (one device each) joined on localhost; process 0 writes the files, into the
    folder of an earlier sweep (which it may replace)."""
    folder, _ = cli_sweep
    alone = _jsonl(folder / "out" / "metrics.jsonl")
    port = _free_port()
    processes = [subprocess.Popen(
        [sys.executable, "-m", "jaxil.cli", *map(str, SWEEP_ARGS), "--out", "out",
         "--distributed", "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
         "--process-id", str(i)], cwd=folder, env=environment(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for i in range(2)]
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        assert "6 runs on 2 devices" in out
    together = _jsonl(folder / "out" / "metrics.jsonl")
    assert [line["run"] for line in together] == [line["run"] for line in alone]
    np.testing.assert_allclose([line["loss"] for line in together],
                               [line["loss"] for line in alone], rtol=1e-5, atol=1e-6)
    missing = run_jaxil(*SWEEP_ARGS, "--out", "out", "--process-id", 1, cwd=folder)
    assert missing.returncode == 2 and "need --distributed" in missing.stderr
