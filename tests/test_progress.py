"""`jaxil.train`'s in-program evaluation, progress bar and metric hooks; metric files."""

import io
import json

import jax
import numpy as np
import pytest
from cli_subprocess import run_in_process, run_jaxil
from tree_checks import assert_bit_identical

import jaxil
from jaxil.algorithms import BCConfig, bc
from jaxil.checkpoint import latest_step
from jaxil.logging import read_metrics_jsonl, write_metrics_csv, write_metrics_jsonl
from jaxil.progress import ProgressBar

UPDATES, EVERY = 40, 10
CONFIG = BCConfig(hidden_sizes=(16,))


@pytest.fixture(scope="module")
def setup(cartpole_expert, cartpole_demos):
    env = cartpole_expert[0]
    return env, cartpole_demos, bc(env, CONFIG)


def test_evaluation_records_the_returns_and_leaves_training_as_it_was(setup):
    env, demos, algo = setup
    key = jax.random.key(3)
    plain_state, plain = jaxil.train(algo, key, demos, UPDATES, 64)
    state, metrics = jaxil.train(algo, key, demos, UPDATES + 5, 64, eval_env=env,
                                 eval_every=EVERY, eval_episodes=4)
    assert metrics["eval/update"].tolist() == [10, 20, 30, 40]
    assert metrics["eval/return"].shape == metrics["eval/return_std"].shape == (4,)
    assert metrics["loss"].shape == (UPDATES + 5,)
    # the same updates as a run without evaluation (evaluation has keys of its own)
    np.testing.assert_array_equal(metrics["loss"][:UPDATES], plain["loss"])
    # each evaluation is the return of the policy of that moment: check the last one
    # against jaxil.evaluate with the key train used
    at_40, _ = jaxil.train(algo, key, demos, UPDATES, 64, eval_env=env, eval_every=EVERY,
                           eval_episodes=4)
    assert_bit_identical(at_40, plain_state)
    eval_key = jax.random.fold_in(jax.random.fold_in(key, 0x6576616C), 40)
    returns = jaxil.evaluate(env, algo.policy(plain_state), eval_key, 4)
    np.testing.assert_allclose(metrics["eval/return"][3], returns.mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["eval/return_std"][3], returns.std(), rtol=1e-4,
                               atol=1e-4)


def test_evaluation_and_reports_under_jit_and_vmap(setup):
    env, demos, algo = setup
    seen = []

    def run(key, data):
        return jaxil.train(algo, key, data, UPDATES, 64, eval_env=env, eval_every=EVERY,
                           eval_episodes=2, callback=lambda u, m: seen.append((u, m)),
                           report_every=EVERY // 2)

    keys = jax.random.split(jax.random.key(0), 3)
    states, metrics = jax.jit(jax.vmap(run, in_axes=(0, None)))(keys, demos)
    jax.block_until_ready(states)
    assert metrics["eval/return"].shape == (3, 4) and metrics["loss"].shape == (3, UPDATES)
    # each seed reports every 5 updates; updates that are evaluated come with the return
    assert sorted({u for u, _ in seen}) == list(range(5, UPDATES + 1, 5))
    assert len(seen) == 3 * UPDATES // 5
    evaluated = [m for u, m in seen if u % EVERY == 0]
    assert all("eval/return" in m and "loss" in m for m in evaluated)
    assert not any("eval/return" in m for u, m in seen if u % EVERY)
    # one seed of the vmapped sweep is the single run with its key
    _, single = jaxil.train(algo, keys[1], demos, UPDATES, 64, eval_env=env,
                            eval_every=EVERY, eval_episodes=2)
    np.testing.assert_allclose(metrics["eval/return"][1], single["eval/return"], rtol=1e-5)


def test_progress_bar_follows_the_run_and_closes_itself():
    out = io.StringIO()
    bar = ProgressBar(10, file=out)
    for step in (5, 5, 10):  # a vmapped run reports each step once per seed
        bar(step, {"loss": 0.5, "accuracy": 1.0})
    assert bar._bar is None  # closed at the last update
    bar(5, {"loss": 0.25})  # the compiled run called again: a new bar
    assert bar._bar is not None and bar._shown == {"loss": 0.25}
    bar.close()
    bar.close()
    assert bar._bar is None


def test_train_shows_progress_and_calls_back(setup, capfd):
    _, demos, algo = setup
    calls = []
    jaxil.train(algo, jax.random.key(0), demos, 20, 64, progress="loss",
                callback=lambda u, m: calls.append(u))
    assert calls == list(range(1, 21))  # a hundredth of 20 updates: every update
    err = capfd.readouterr().err
    assert "loss" in err and "20/20" in err


@pytest.mark.parametrize("kwargs, field", [
    ({"eval_every": 5}, "eval_env and eval_every"),
    ({"eval_env": "env", "eval_every": 0}, "eval_every"),
    ({"eval_env": "env", "eval_every": 5, "eval_episodes": 0}, "eval_episodes"),
    ({"progress": 3}, "progress"),
    ({"callback": 3}, "callback"),
    ({"report_every": 0}, "report_every"),
])
def test_bad_options_name_the_argument(setup, kwargs, field):
    env, demos, algo = setup
    kwargs = {k: env if v == "env" else v for k, v in kwargs.items()}
    with pytest.raises(ValueError, match=field):
        jaxil.train(algo, jax.random.key(0), demos, 10, 8, **kwargs)


def test_checkpointed_run_with_evaluation_resumes_bit_identically(setup, tmp_path):
    env, demos, algo = setup
    key = jax.random.key(5)
    options = dict(eval_env=env, eval_every=EVERY, eval_episodes=2)
    _, whole = jaxil.train(algo, key, demos, UPDATES, 64, **options)
    with pytest.raises(ValueError, match="multiple of eval_every"):
        jaxil.train(algo, key, demos, UPDATES, 64, checkpoint_dir=tmp_path / "bad",
                    checkpoint_every=15, **options)
    _, first = jaxil.train(algo, key, demos, UPDATES, 64, checkpoint_dir=tmp_path / "b",
                           checkpoint_every=2 * EVERY, **options)
    # resume from the checkpoint after update 20: remove the last one
    max(p for p in (tmp_path / "b").iterdir() if p.name.startswith("checkpoint-")).unlink()
    assert latest_step(tmp_path / "b") == 2 * EVERY
    _, resumed = jaxil.train(algo, key, demos, UPDATES, 64, checkpoint_dir=tmp_path / "b",
                             checkpoint_every=2 * EVERY, **options)
    for name in ("loss", "eval/return", "eval/update"):
        np.testing.assert_array_equal(first[name], resumed[name])
        np.testing.assert_allclose(first[name], whole[name], rtol=1e-5)


def test_metrics_files_put_evaluations_at_their_update(tmp_path):
    metrics = {"loss": np.array([3.0, 2.0, 1.0, 0.5]),
               "eval/return": np.array([10.0, 20.0]), "eval/return_std": np.array([1.0, 2.0]),
               "eval/update": np.array([2, 4], np.int32)}
    path = tmp_path / "m.jsonl"
    write_metrics_jsonl(path, metrics, run="bc/cartpole")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    # `update` is the update's index; an evaluation sits on the update it followed
    assert [line["update"] for line in lines] == [0, 1, 2, 3]
    assert lines[1] == {"run": "bc/cartpole", "update": 1, "loss": 2.0, "eval/return": 10.0,
                        "eval/return_std": 1.0}
    assert "eval/return" not in lines[2]
    assert read_metrics_jsonl(path)["eval/return"].tolist() == [10.0, 20.0]
    write_metrics_jsonl(path, {"loss": np.array([0.25])}, run="again", append=True)
    assert len(path.read_text().splitlines()) == 5
    foreign = tmp_path / "notes.jsonl"
    foreign.write_text('{"note": 1}\n')
    with pytest.raises(ValueError, match="not a metrics JSON Lines file"):
        write_metrics_jsonl(foreign, metrics, append=True)
    assert foreign.read_text() == '{"note": 1}\n'  # left as it was
    csv_path = tmp_path / "m.csv"
    write_metrics_csv(csv_path, metrics, run="r")
    rows = csv_path.read_text().splitlines()
    assert "r,3,eval/return,20" in rows and "r,0,loss,3" in rows
    assert not any("eval/update" in row for row in rows)


def test_cli_evaluates_inside_the_run_and_writes_json_lines(cartpole_expert, tmp_path,
                                                            capsys):
    env, expert, _ = cartpole_expert
    demos = jaxil.data.collect(env, expert, jax.random.key(1), 3)
    jaxil.data.save(tmp_path / "d.npz", demos, metadata={"env": "cartpole"})
    done = run_jaxil("train", "bc", "--env", "cartpole", "--demos", "d.npz", "--out", "p.eqx",
                     "--updates", 60, "--eval-every", 20, "--eval-episodes", 2,
                     "--metrics-jsonl", "m.jsonl", "--progress", "--set", "hidden_sizes=16",
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "60/60 updates" in done.stderr  # the bar, drawn from inside the compiled run
    assert "evaluated return" in done.stdout
    metrics = read_metrics_jsonl(tmp_path / "m.jsonl")
    assert metrics["loss"].shape == (60,) and metrics["eval/return"].shape == (3,)
    assert np.all(metrics["eval/return"] >= 0)
    # a mistake, in-process (the one-line error path is the CLI's own, checked through a
    # subprocess in test_cli_errors)
    capsys.readouterr()
    assert run_in_process("train", "bc", "--env", "cartpole", "--demos", tmp_path / "d.npz",
                          "--out", tmp_path / "q.eqx", "--eval-every", 20, "--checkpoint-dir",
                          tmp_path / "c", "--checkpoint-every", 30) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "--checkpoint-every 30: expected a multiple of --eval-every 20" in err
    assert not (tmp_path / "q.eqx").exists() and not (tmp_path / "c").exists()
