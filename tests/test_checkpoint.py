"""Full-state checkpoints (`jaxil.checkpoint`, `jaxil.train(checkpoint_dir=...)`, the CLI's
`--checkpoint-dir` / `--resume`): exact round trips, and a resumed run (after an exception,
a SIGKILL or a damaged file) ending bit for bit where an uninterrupted run does.

Tiny settings throughout (random demos, 8-unit networks, a handful of updates):
nothing is learned, and the time goes into compiling the updates (BC's uninterrupted scan
and chunk programs, GAIL's and AIRL's chunk program) and starting `jaxil` processes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from adversarial_setup import TINY_ADV, TINY_PPO
from cli_subprocess import run_jaxil
from tree_checks import assert_bit_identical
from typer.testing import CliRunner

import jaxil
from jaxil import checkpoint
from jaxil.algorithms import AIRLConfig, BCConfig, GAILConfig, airl, bc, gail
from jaxil.checkpoint import CheckpointMismatchError
from jaxil.cli import app

NUM_UPDATES, BATCH, EVERY = {"bc": 5, "gail": 4, "airl": 4}, 16, 2
"""Updates per run (BC's last chunk is shorter: a second chunk program), batch, chunk."""
KEY = jax.random.key(1)
# no gradient penalty (its second derivatives add compile time)
ADV = dataclasses.replace(TINY_ADV, gradient_penalty="none")
BC_CONFIG = BCConfig(hidden_sizes=(8,))


def _algorithm(name: str, env) -> jaxil.Algorithm:
    if name == "bc":
        return bc(env, BC_CONFIG)
    if name == "gail":  # with a replay buffer of policy samples in its state
        return gail(env, GAILConfig(adversarial=dataclasses.replace(ADV, replay_rollouts=2),
                                    ppo=TINY_PPO))
    return airl(env, AIRLConfig(adversarial=ADV, ppo=TINY_PPO))


class Setup:
    """The env, random demos (also as a file), one algorithm object per method (so
    its chunk programs compile once for the module) and each method's uninterrupted run."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.env = jaxil.envs.make("cartpole")
        # three episodes of 20 random steps, cut by a time limit (nothing to compile)
        rng = np.random.default_rng(0)
        truncated = np.zeros((3, 20), bool)
        truncated[:, -1] = True
        demos = jaxil.data.make_demos(rng.normal(size=(3, 21, 4)) * 0.05,
                                      rng.integers(0, 2, (3, 20)), np.ones((3, 20)),
                                      truncated=truncated, spec=self.env.spec)
        self.demos_path = folder / "demos.npz"
        jaxil.data.save(self.demos_path, demos, metadata={"env": "cartpole"})
        self.demos = jaxil.data.load(self.demos_path)
        self.algos = {name: _algorithm(name, self.env) for name in NUM_UPDATES}
        # BC's update counts its traces: each chunk program (one per chunk length) traces it
        # once, however many runs, resumed or not, use it
        self.bc_traces = []
        update = self.algos["bc"].update
        self.algos["bc"] = self.algos["bc"]._replace(
            update=lambda state, batch: self.bc_traces.append(1) or update(state, batch))
        self._runs = {}

    def uninterrupted(self, name: str):
        """`name`'s uninterrupted run, `(state, metrics)`. For BC, `jaxil.train` without
        checkpoints (a fresh BC object: its scan is no chunk trace). For GAIL and AIRL,
        `jaxil.train` with checkpoints, not interrupted: the chunk program a resumed run
        uses, so their update compiles once (seconds each); that chunked and plain runs
        agree is BC's part."""
        if name not in self._runs:
            if name == "bc":
                self._runs[name] = jaxil.train(_algorithm(name, self.env), KEY, self.demos,
                                               NUM_UPDATES[name], BATCH)
            else:
                self._runs[name] = self.train(name, self.folder / f"{name}-uninterrupted")
        return self._runs[name]

    def train(self, name: str, directory):
        """`name`'s run with checkpoints every `EVERY` updates in `directory`."""
        return jaxil.train(self.algos[name], KEY, self.demos, NUM_UPDATES[name], BATCH,
                           checkpoint_dir=directory, checkpoint_every=EVERY)


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Setup:
    return Setup(tmp_path_factory.mktemp("checkpoint"))


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """`{name: (sha256, mtime_ns)}` of every file in `folder`."""
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir()) if p.is_file()}


class Interrupted(Exception):
    """Stands for a crash right after a checkpoint was written."""


def _interrupt_after(monkeypatch, saves: int):
    """Makes `jaxil.checkpoint.save` raise `Interrupted` after its `saves`-th file."""
    real, done = checkpoint.save, []

    def save(*args, **kwargs):
        path = real(*args, **kwargs)
        done.append(path)
        if len(done) == saves:
            raise Interrupted(path)
        return path

    monkeypatch.setattr(checkpoint, "save", save)


# ------------------------------------------------------------------------ round trip

def test_round_trip_is_bit_identical(setup, tmp_path):
    # a GAIL state after updates: equinox networks, optax states, normaliser statistics, a
    # replay buffer, the vectorised env state with typed keys, int counters, metrics
    state, metrics = setup.uninterrupted("gail")
    assert state.replay is not None
    extras = {"rbg": jax.random.key(3, impl="rbg"), "raw": jax.random.PRNGKey(4),
              "step": 7, "rate": 0.1, "flag": True, "f64": np.float64(1 / 3),
              "host": np.arange(3, dtype=np.int64), "odd": jnp.array([np.nan, -0.0, np.inf])}
    tree = {"state": state, "metrics": metrics, "extras": extras}
    run = checkpoint.fingerprint(state, KEY, num_updates=4, batch_size=BATCH)
    path = checkpoint.save(tmp_path, tree, 4, run)
    assert os.path.basename(path) == "checkpoint-000000000004.ckpt"
    # restored into the shapes of its JAX arrays (as `train` does), and into the values
    shapes = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype)
                          if isinstance(x, jax.Array) else x, tree)
    for like in (shapes, tree):
        step, restored = checkpoint.restore(tmp_path, lambda step: like, run)  # noqa: B023
        assert step == 4
        assert_bit_identical(restored, tree)
    assert restored["state"].key.dtype == state.key.dtype  # still a typed threefry key
    assert jax.random.key_impl(restored["extras"]["rbg"]) == jax.random.key_impl(
        extras["rbg"])
    assert type(restored["extras"]["rate"]) is float and restored["extras"]["rate"] == 0.1
    assert restored["extras"]["f64"].dtype == np.float64


# ------------------------------------------------------------------------ resume

@pytest.mark.parametrize("name", ["bc", "gail", "airl"])
def test_resume_after_an_interruption_is_bit_identical(setup, name, tmp_path, monkeypatch):
    expected = setup.uninterrupted(name)
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 1)
        with pytest.raises(Interrupted):
            setup.train(name, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [f"checkpoint-{EVERY:012d}.ckpt"]
    resumed = setup.train(name, tmp_path)
    assert_bit_identical(resumed, expected)
    steps = [step for step, _ in checkpoint.checkpoint_files(tmp_path)]
    assert steps == [NUM_UPDATES[name], (NUM_UPDATES[name] - 1) // EVERY * EVERY]  # last 2
    if name == "bc":  # chunks of 2, 2 and 1 updates: two programs, each compiled once
        assert len(setup.bc_traces) == 2
    # a finished run returns its result without training again
    assert_bit_identical(setup.train(name, tmp_path), expected)


SIGKILLED_RUN = textwrap.dedent("""
    import sys, time
    import jax, jaxil
    from jaxil import checkpoint
    from jaxil.algorithms import BCConfig, bc

    save = checkpoint.save
    def save_then_wait(*args, **kwargs):  # the test kills the process while it waits
        path = save(*args, **kwargs)
        print("saved", path, flush=True)
        time.sleep(600)
        return path
    checkpoint.save = save_then_wait
    directory, demos_path, num_updates, batch, every = sys.argv[1:]
    env = jaxil.envs.make("cartpole")
    algo = bc(env, BCConfig(hidden_sizes=(8,)))
    jaxil.train(algo, jax.random.key(1), jaxil.data.load(demos_path), int(num_updates),
                int(batch), checkpoint_dir=directory, checkpoint_every=int(every))
    print("finished", flush=True)
""")


@pytest.fixture(scope="module", autouse=True)
def sigkilled_run(setup, tmp_path_factory):
    """`(process, directory, log)`: `SIGKILLED_RUN`, started before the module's first test
    (it starts and compiles on the other core while this process compiles), killed by
    `test_resume_after_sigkill_is_bit_identical` (or at the end)."""
    folder = tmp_path_factory.mktemp("sigkill")
    directory, log = folder / "run", folder / "log.txt"
    with open(log, "w") as output:  # a file, not a pipe that nobody reads while polling
        process = subprocess.Popen(
            [sys.executable, "-c", SIGKILLED_RUN, str(directory), str(setup.demos_path),
             str(NUM_UPDATES["bc"]), str(BATCH), str(EVERY)],
            stdout=output, stderr=subprocess.STDOUT)
    try:
        yield process, directory, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_resume_after_sigkill_is_bit_identical(setup, sigkilled_run):
    process, directory, log = sigkilled_run
    deadline = time.monotonic() + 300
    while not checkpoint.checkpoint_files(directory):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "no checkpoint after 300 s"
        time.sleep(0.05)
    assert process.poll() is None  # still running: it waits after its first checkpoint
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL and "finished" not in log.read_text()
    assert [step for step, _ in checkpoint.checkpoint_files(directory)] == [EVERY]
    resumed = setup.train("bc", directory)
    assert_bit_identical(resumed, setup.uninterrupted("bc"))


# ------------------------------------------------------------------ damaged, foreign

def _finished_bc_run(setup, directory) -> list[Path]:
    """A finished BC run in `directory`: its two checkpoint files, newest first."""
    setup.train("bc", directory)
    return [Path(p) for _, p in checkpoint.checkpoint_files(directory)]


@pytest.mark.parametrize("damage", ["truncated", "flipped-byte", "header-byte", "no-header"])
def test_a_damaged_latest_checkpoint_falls_back_to_the_previous(setup, tmp_path, damage):
    latest, previous = _finished_bc_run(setup, tmp_path)
    data = latest.read_bytes()
    if damage == "truncated":
        latest.write_bytes(data[:len(data) // 2])
    elif damage == "flipped-byte":
        latest.write_bytes(data[:-10] + bytes([data[-10] ^ 1]) + data[-9:])
    elif damage == "header-byte":  # still JSON, but not what was written: damage, not a run
        latest.write_bytes(data.replace(b'"num_updates": 5', b'"num_updates": 7', 1))
        assert latest.read_bytes() != data
    else:
        latest.write_bytes(b"\0" * 64)
    # a temporary file left by a save that was killed mid-write
    stale = tmp_path / f".tmp-x1y2z3{latest.name}"
    stale.write_bytes(data[:100])
    step = int(previous.stem.split("-")[1])
    assert checkpoint.latest_step(tmp_path) == step
    with pytest.warns(UserWarning, match=f"{latest.name}: .*skipping it"):
        resumed = setup.train("bc", tmp_path)  # resumes at `step`, rewrites the latest
    assert_bit_identical(resumed, setup.uninterrupted("bc"))
    assert not stale.exists() and len(setup.bc_traces) <= 2
    assert checkpoint.latest_step(tmp_path) == NUM_UPDATES["bc"]


@pytest.mark.parametrize(("change", "says"), [
    ({"num_updates": 7}, "num_updates 5 there, 7 here"),
    ({"key": jax.random.key(2)}, "another PRNG key"),
    ({"checkpoint_description": "bc with lr 1e-2"}, "description '' there, 'bc with lr 1e-2'"),
    ({"algo": "wider"}, "another state structure"),
    ({"demos": "fewer"}, "another demonstrations"),
])
def test_a_checkpoint_of_another_run_is_refused_and_left_alone(setup, tmp_path, change, says):
    _finished_bc_run(setup, tmp_path)
    before = _snapshot(tmp_path)
    change = dict(change)
    algo = setup.algos["bc"]
    if change.pop("algo", None):
        algo = bc(setup.env, BCConfig(hidden_sizes=(16,)))
    demos = setup.demos
    if change.pop("demos", None):
        demos = jax.tree.map(lambda x: x[:-1], jaxil.data.as_transitions(demos))
    kwargs = {"num_updates": NUM_UPDATES["bc"], "key": KEY, **change}
    with pytest.raises(CheckpointMismatchError, match=says) as info:
        jaxil.train(algo, kwargs.pop("key"), demos, kwargs.pop("num_updates"), BATCH,
                    checkpoint_dir=tmp_path, checkpoint_every=EVERY, **kwargs)
    message = str(info.value)
    assert message.startswith(f"checkpoint_dir {tmp_path}: holds a checkpoint of another run")
    assert "use another directory" in message and "\n" not in message
    assert _snapshot(tmp_path) == before


def test_checkpointed_training_refuses_tracing_and_stray_settings(setup, tmp_path):
    algo = setup.algos["bc"]
    with pytest.raises(ValueError, match="cannot be traced"):
        jax.jit(lambda k: jaxil.train(algo, k, setup.demos, 2, BATCH,
                                      checkpoint_dir=tmp_path))(KEY)
    with pytest.raises(ValueError, match="checkpoint_every: 3 given without checkpoint_dir"):
        jaxil.train(algo, KEY, setup.demos, 2, BATCH, checkpoint_every=3)
    with pytest.raises(ValueError, match="checkpoint_every: expected a positive int"):
        jaxil.train(algo, KEY, setup.demos, 2, BATCH, checkpoint_dir=tmp_path,
                    checkpoint_every=0)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------ CLI

def test_cli_checkpoint_dir_then_resume(setup, tmp_path, monkeypatch):
    train = ["train", "bc", "--env", "cartpole", "--demos", setup.demos_path, "--updates", 6,
             "--batch-size", BATCH, "--set", "hidden_sizes=8", "--checkpoint-dir", "run",
             "--checkpoint-every", 2]
    # the first run in this process (no start-up to wait for), the resumed one as a user
    # runs it, in a process of its own
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(app, [*map(str, train), "--out", "first.eqx"])
    assert done.exit_code == 0, done.output
    files = checkpoint.checkpoint_files(tmp_path / "run")
    assert [step for step, _ in files] == [6, 4]
    os.remove(files[0][1])  # as if the run had been killed after its checkpoint at 4
    done = run_jaxil(*train, "--resume", "--out", "second.eqx", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "resumed at update 4" in done.stdout
    assert (tmp_path / "first.eqx").read_bytes() == (tmp_path / "second.eqx").read_bytes()

    # mistakes: one line, exit code 2, no file touched
    (tmp_path / "empty").mkdir()
    before = _snapshot(tmp_path / "run")
    train = [str(a) for a in train]
    absolute = lambda name: str(tmp_path / name)  # noqa: E731
    for args, mention in (
            ([*train[:-4], "--checkpoint-dir", absolute("empty"), "--resume"],
             f"--resume: --checkpoint-dir {absolute('empty')} holds no intact checkpoint"),
            ([*train[:-4], "--resume"], "--resume: needs --checkpoint-dir"),
            ([*train[:-4], "--checkpoint-every", "2"], "--checkpoint-every 2: needs"),
            ([*train[:-4], "--checkpoint-dir", absolute("run"), "--seed", "1"],
             f"--checkpoint-dir {absolute('run')}: holds a checkpoint of another run"),
            ([*train[:-4], "--checkpoint-dir", absolute("first.eqx")],
             "exists and is not a directory")):
        result = CliRunner().invoke(app, [*args, "--out", absolute("third.eqx")])
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 2, result.stderr
        assert len(lines) == 1 and lines[0].startswith("jaxil: error: "), result.stderr
        assert mention in lines[0], lines[0]
    assert _snapshot(tmp_path / "run") == before
    assert not (tmp_path / "third.eqx").exists() and not any((tmp_path / "empty").iterdir())
