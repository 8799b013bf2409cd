"""The `jaxil` command's errors: one line, the right exit code, and no file touched.

Each user's mistake runs the real command in a subprocess, in its own copy of a folder of
small inputs (random-policy demos, an untrained policy, a user's own file), and checks:
the exit code (2 for a mistake, 1 for a failed run), exactly one line on stderr naming
the option or setting, no traceback anywhere, and every file of the folder byte-identical
afterwards (no input overwritten, no output or temporary file left).

Starting Python and importing jaxil costs seconds, far more than most cases (they fail
before anything compiles), so the cases run in processes forked from a server that has
done the imports (`FORK_SERVER`), two at a time; two cases also run through
`python -m jaxil.cli` itself. The parsing, registry and atomic-writing pieces are tested
in-process.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import importlib.util
import json
import os
import queue
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxil
from jaxil import cli
from jaxil.adversarial import GAIL_REWARDS
from jaxil.algorithms import (
    ALGORITHMS,
    BCConfig,
    DAggerConfig,
    GAILConfig,
    GCLConfig,
    MAGAILConfig,
    MaxEntIRLConfig,
)
from jaxil.algorithms.registry import check_setting, choices
from jaxil.cli import CLIError, check_output, parse_overrides
from jaxil.logging import METRICS_HEADER, write_metrics_csv
from jaxil.networks.mlp import ACTIVATIONS
from jaxil.networks.policy import policy_kinds


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A folder of small inputs: random-policy demos (cartpole, pendulum, state-only), an
    untrained cartpole policy, one with NaN weights, and a file of the user's own."""
    folder = tmp_path_factory.mktemp("inputs")
    for name in ("cartpole", "pendulum"):
        env = jaxil.envs.make(name)
        demos = jaxil.data.collect(env, jaxil.RandomPolicy(env.spec.action_space),
                                   jax.random.key(0), 3)
        jaxil.data.save(folder / f"{name}.npz", demos, metadata={"env": name})
        if name == "cartpole":
            jaxil.data.save(folder / "state_only.npz", demos._replace(actions=None),
                            metadata={"env": name})
    env = jaxil.envs.make("cartpole")
    policy = jaxil.networks.make_actor_policy(
        jaxil.networks.PolicyArch.for_env(env.spec, hidden_sizes=(8,)), jax.random.key(0))
    jaxil.save_policy(folder / "policy.eqx", policy)
    nan = jax.tree.map(lambda x: x * jnp.nan if eqx.is_inexact_array(x) else x, policy)
    jaxil.save_policy(folder / "nan.eqx", nan)
    # pointmass's observation size and action shape, with bounds of its own
    wide = jaxil.envs.make("pointmass").spec.action_space
    wide = jaxil.Box(wide.shape, -2.0, 2.0)
    jaxil.save_policy(folder / "wide.eqx", jaxil.networks.make_actor_policy(
        jaxil.networks.PolicyArch(4, wide, hidden_sizes=(8,)), jax.random.key(0)))
    (folder / "notes.txt").write_text("a user's notes, not jaxil's\n")
    return folder


class Case(NamedTuple):
    """A command line, its exit code and a string its one error line must contain."""

    id: str
    args: list[str]
    code: int
    mention: str


TRAIN = ["train", "bc", "--env", "cartpole", "--demos", "cartpole.npz", "--updates", "2",
         "--batch-size", "16", "--out", "out.eqx"]
GAIL = ["train", "gail", *TRAIN[2:]]


def _train(*extra: str, base: list[str] = TRAIN) -> list[str]:
    return [*base, *extra]


ISSUE_CASES = [
    # data destroyed: an output onto an input, or onto a file of the user's own
    Case("out-is-demos", _train("--out", "cartpole.npz"), 2, "--out cartpole.npz"),
    Case("csv-is-demos", _train("--metrics-csv", "cartpole.npz"), 2, "--metrics-csv"),
    Case("out-is-users-file", _train("--out", "notes.txt"), 2, "--out notes.txt"),
    # broken models: settings that cannot train, and a run that diverges
    Case("lr-nan", _train("--set", "learning_rate=nan"), 2, "learning_rate=nan"),
    Case("lr-inf", _train("--set", "learning_rate=inf"), 2, "learning_rate=inf"),
    Case("lr-negative", _train("--set", "learning_rate=-1"), 2, "learning_rate=-1"),
    Case("l2-nan", _train("--set", "l2_coef=nan"), 2, "l2_coef=nan"),
    Case("grad-norm-zero", _train("--set", "max_grad_norm=0"), 2, "max_grad_norm=0"),
    Case("hidden-zero", _train("--set", "hidden_sizes=0"), 2, "hidden_sizes=0"),
    Case("batch-zero", _train("--batch-size", "0"), 2, "--batch-size"),
    Case("updates-zero", _train("--updates", "0"), 2, "--updates"),
    Case("diverges", _train("--out", "policy.eqx", "--set", "learning_rate=3e38", "--set",
                            "max_grad_norm=3e38"), 1, "diverged"),
    # one line where a traceback was
    Case("head-bogus", _train("--set", "head=bogus"), 2, "head=bogus"),
    Case("activation-bogus", _train("--set", "activation=bogus"), 2, "activation=bogus"),
    Case("hidden-negative", _train("--set", "hidden_sizes=-5"), 2, "hidden_sizes=-5"),
    Case("head-categorical-continuous",
         _train("--env", "pendulum", "--demos", "pendulum.npz", "--set", "head=categorical"),
         2, "head=categorical"),
    Case("gail-reward-exp", _train("--set", "reward=exp", base=GAIL), 2, "reward=exp"),
    Case("gail-ppo-group", _train("--set", "ppo=1", base=GAIL), 2, "ppo=1"),
    Case("gail-nested-nan", _train("--set", "ppo.gamma=nan", base=GAIL), 2, "ppo.gamma=nan"),
    Case("updates-negative", _train("--updates", "-1"), 2, "--updates"),
    Case("batch-negative", _train("--batch-size", "-1"), 2, "--batch-size"),
    Case("seed-huge", _train("--seed", str(10**30)), 2, "--seed"),
    Case("backend-builtin", _train("--backend", "xyz"), 2, "--backend xyz"),
    Case("tabular-on-cartpole", ["train", "maxent_irl", *TRAIN[2:]], 2, "--env cartpole"),
    Case("eval-episodes-zero", ["eval", "policy.eqx", "--env", "cartpole", "--episodes", "0"],
         2, "--episodes"),
    Case("expert-timesteps-zero", ["expert", "cartpole", "--out", "e.eqx", "--timesteps", "0"],
         2, "--timesteps"),
    Case("bc-state-only", _train("--demos", "state_only.npz"), 2, "--demos state_only.npz"),
    Case("gail-state-only", _train("--demos", "state_only.npz", base=GAIL), 2,
         "--demos state_only.npz"),
    Case("out-dir-missing", _train("--out", "missing/out.eqx"), 2, "--out missing/out.eqx"),
    Case("csv-dir-missing", _train("--metrics-csv", "missing/m.csv"), 2,
         "--metrics-csv missing/m.csv"),
    Case("expert-demos-dir-missing", ["expert", "cartpole", "--out", "e.eqx", "--demos",
                                      "missing/d.npz"], 2, "--demos missing/d.npz"),
    # eval: the action space and finite weights
    Case("eval-discrete-on-continuous", ["eval", "policy.eqx", "--env", "pointmass"], 2,
         "pointmass"),
    Case("eval-nan-policy", ["eval", "nan.eqx", "--env", "cartpole"], 1, "nan.eqx"),
    Case("eval-other-bounds", ["eval", "wide.eqx", "--env", "pointmass"], 2, "bounds"),
    Case("unknown-head-option", ["train", "bc", "--env", "pendulum", "--demos",
                                 "pendulum.npz", "--out", "p.eqx", "--set", "head=mixture",
                                 "--set", "head_options.components=3"], 2, "components"),
]
"""The mistakes the issue measured, each run as a subprocess."""
if sys.platform.startswith("linux"):  # a directory nobody can create files in, root included
    ISSUE_CASES.append(Case("out-dir-unwritable", _train("--out", "/proc/out.eqx"), 2,
                            "--out /proc/out.eqx"))
if importlib.util.find_spec("mujoco_playground") is None:
    ISSUE_CASES.append(Case("playground-missing",
                            _train("--env", "playground/CartpoleBalance"), 2,
                            "--env playground/CartpoleBalance"))

MORE_CASES = [
    Case("csv-is-out", _train("--metrics-csv", "out.eqx"), 2, "--metrics-csv out.eqx"),
    Case("out-is-expert", ["train", "dagger", *TRAIN[2:], "--expert", "policy.eqx",
                           "--out", "policy.eqx"], 2, "--out policy.eqx"),
    Case("csv-is-users-file", _train("--metrics-csv", "notes.txt"), 2, "--metrics-csv"),
    Case("expert-out-is-demos", ["expert", "cartpole", "--out", "x.npz", "--demos", "x.npz"],
         2, "--out x.npz"),
    Case("expert-out-is-users-file", ["expert", "cartpole", "--out", "cartpole.npz"], 2,
         "--out cartpole.npz"),
    Case("gail-nested-bool", _train("--set", "adversarial.absorbing_state=maybe", base=GAIL),
         2, "adversarial.absorbing_state=maybe"),
    Case("unknown-field", _train("--set", "learning_rat=1e-3"), 2, "learning_rat"),
    Case("set-without-value", _train("--set", "learning_rate"), 2, "--set learning_rate"),
    Case("seed-negative", _train("--seed", "-1"), 2, "--seed"),
    Case("unknown-env", _train("--env", "nope"), 2, "--env nope"),
    Case("unknown-algorithm", ["train", "nope", *TRAIN[2:]], 2, "nope"),
    Case("demos-other-env", _train("--env", "pendulum"), 2, "--demos cartpole.npz"),
    Case("demos-not-demos", _train("--demos", "notes.txt"), 2, "--demos notes.txt"),
    Case("expert-for-bc", _train("--expert", "policy.eqx"), 2, "--expert"),
    Case("dagger-without-expert", ["train", "dagger", *TRAIN[2:]], 2, "--expert"),
    Case("out-dir-is-file", _train("--out", "notes.txt/out.eqx"), 2, "--out notes.txt/out.eqx"),
    Case("out-is-dir", _train("--out", "."), 2, "--out ."),
    Case("eval-other-obs-size", ["eval", "policy.eqx", "--env", "pendulum"], 2, "pendulum"),
    Case("eval-not-a-policy", ["eval", "notes.txt", "--env", "cartpole"], 2, "notes.txt"),
    Case("expert-timesteps-few", ["expert", "cartpole", "--out", "e.eqx", "--timesteps", "5"],
         2, "--timesteps 5"),
]
"""More mistakes of the same kinds."""

ENV = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1", "JAX_PLATFORMS": "cpu"}
ENV.pop(cli.DEBUG_ENV, None)


def _snapshot(folder: Path) -> dict[str, str]:
    """`{relative path: sha256}` of every file under `folder`, hidden ones included."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _jaxil(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """The `jaxil` command as a user runs it, a subprocess: `(exit code, stdout, stderr)`."""
    done = subprocess.run([sys.executable, "-m", "jaxil.cli", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout, done.stderr


FORK_SERVER = r"""
import json, os, sys, traceback
import jaxil.cli  # what every start of `jaxil` imports, imported once; no JAX backend yet

def child(request):
    code = 1
    try:
        os.chdir(request["cwd"])
        for fd, path in ((0, os.devnull), (1, request["stdout"]), (2, request["stderr"])):
            os.dup2(os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC), fd)
        sys.argv = ["jaxil", *request["args"]]
        try:
            jaxil.cli.main()
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
        except BaseException:
            traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        child(request)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""
"""Runs `jaxil` commands sent as JSON lines on stdin, each in a forked child process with
its own directory, stdout, stderr and exit code (printed back): a fresh `jaxil` process
without the seconds of imports, which happen once, before any JAX backend or thread
exists (so forking is safe)."""


class ForkServer:
    """A `FORK_SERVER` subprocess: `run(args, cwd)` is `_jaxil(args, cwd)`, faster."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.process = subprocess.Popen([sys.executable, "-c", FORK_SERVER], env=ENV,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)

    def run(self, args: list[str], cwd: Path) -> tuple[int, str, str]:
        out, err = self.logs / f"{cwd.name}.out", self.logs / f"{cwd.name}.err"
        request = {"args": args, "cwd": str(cwd), "stdout": str(out), "stderr": str(err)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        code = int(self.process.stdout.readline())
        return code, out.read_text(), err.read_text()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def _problems(case: Case, inputs: Path, root: Path, run=_jaxil) -> list[str]:
    """Runs `case` in a fresh copy of `inputs`; what it did wrong (empty when right)."""
    work = root / case.id
    shutil.copytree(inputs, work)
    before = _snapshot(work)
    code, stdout, stderr = run(case.args, work)
    lines = stderr.strip().splitlines()
    problems = []
    if code != case.code:
        problems.append(f"exit code {code}, expected {case.code}")
    if len(lines) != 1 or not lines[0].startswith("jaxil: error: "):
        problems.append(f"stderr is not one 'jaxil: error:' line: {stderr!r}")
    elif case.mention not in lines[0]:
        problems.append(f"{case.mention!r} not in {lines[0]!r}")
    if "Traceback" in stdout + stderr:
        problems.append("a traceback")
    after = _snapshot(work)
    if after != before:
        problems.append(f"files changed: {sorted(set(after.items()) ^ set(before.items()))}")
    return problems


def _run_all(cases: list[Case], inputs: Path, root: Path) -> list[str]:
    """Every case's problems, on two fork servers (the two cores) working through a queue."""
    logs = root / "_logs"
    logs.mkdir()
    pending = queue.SimpleQueue()
    for case in sorted(cases, key=lambda c: c.id != "diverges"):  # the slow one first
        pending.put(case)

    def work() -> list[str]:
        server, failures = ForkServer(logs), []
        try:
            while True:
                try:
                    case = pending.get_nowait()
                except queue.Empty:
                    return failures
                problems = _problems(case, inputs, root, server.run)
                if problems:
                    failures.append(f"{case.id} {case.args}: {'; '.join(problems)}")
        finally:
            server.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        return [f for found in pool.map(lambda _: work(), range(2)) for f in found]


def test_every_mistake_is_one_line_and_touches_no_file(inputs, tmp_path):
    failures = _run_all(ISSUE_CASES + MORE_CASES, inputs, tmp_path)
    assert not failures, "\n".join(failures)


def test_the_installed_command_reports_one_line(inputs, tmp_path):
    # the same check through `python -m jaxil.cli`, start-up and all, for two cases
    for case in (ISSUE_CASES[0], next(c for c in ISSUE_CASES if c.id == "seed-huge")):
        assert not _problems(case, inputs, tmp_path), case


def test_backends_print_no_import_noise(tmp_path):
    # MuJoCo prints "Failed to import warp" and Brax warns it is unmaintained when imported
    code = ("import jaxil; jaxil.envs.make('brax/inverted_pendulum', backend='positional'); "
            "print('made')")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "made" and done.stderr.strip() == "", done.stderr
    code, stdout, stderr = _jaxil(["quickstart", "--help"], tmp_path)
    assert code == 0 and stderr == "", stderr
    assert "warp" not in stdout and "Brax System" not in stdout


# ------------------------------------------------------------------ in-process pieces


def test_dotted_settings_reach_nested_configs_at_any_depth():
    config = parse_overrides(GAILConfig, ["adversarial.absorbing_state=true",
                                          "adversarial.disc_learning_rate=1e-4",
                                          "ppo.gamma=0.9", "ppo.hidden_sizes=16,16",
                                          "adversarial.absorbing_weight=none",
                                          "reward=logit"])
    assert config.adversarial.absorbing_state is True
    assert config.adversarial.disc_learning_rate == 1e-4
    assert config.adversarial.absorbing_weight is None
    assert config.ppo.gamma == 0.9 and config.ppo.hidden_sizes == (16, 16)
    assert config.reward == "logit"
    assert config.ppo.num_envs == GAILConfig().ppo.num_envs  # the rest keeps its defaults
    # a boolean that may be None (the method's default): false, and back to none
    for raw, value in (("false", False), ("none", None)):
        again = parse_overrides(GAILConfig, [f"adversarial.absorbing_state={raw}"])
        assert again.adversarial.absorbing_state is value
    dagger = parse_overrides(DAggerConfig, ["bc.head=deterministic", "aggregation.num_envs=4",
                                            "bc.learning_rate=3e-3", "beta_schedule=linear"])
    assert (dagger.bc.head, dagger.aggregation.num_envs, dagger.bc.learning_rate) == (
        "deterministic", 4, 3e-3)
    # a nested default that is not its class's default keeps its own values
    gcl = parse_overrides(GCLConfig, ["ppo.gamma=0.95"])
    assert gcl.ppo.gamma == 0.95 and gcl.ppo.rollout_length == GCLConfig().ppo.rollout_length
    assert parse_overrides(BCConfig, []) == BCConfig()
    assert parse_overrides(BCConfig, ["state_dependent_std=True"]).state_dependent_std
    # head options, one at a time, read as JSON-like scalars; a later one replaces its name
    mixture = parse_overrides(BCConfig, ["head=mixture", "head_options.num_components=3",
                                         "head_options.min_std=0.05",
                                         "head_options.num_components=4"])
    assert mixture.head == "mixture"
    assert dict(mixture.head_options) == {"num_components": 4, "min_std": 0.05}
    assert isinstance(dict(mixture.head_options)["num_components"], int)


@pytest.mark.parametrize(("config_cls", "item", "expected"), [
    (BCConfig, "learning_rate=nan", "--set learning_rate=nan: expected a finite float > 0"),
    (BCConfig, "learning_rate=0", "expected a finite float > 0"),
    (BCConfig, "l2_coef=-1", "expected a finite float >= 0"),
    (BCConfig, "learning_rate=fast", "--set learning_rate=fast: expected a float"),
    (BCConfig, "hidden_sizes=64,-1", "expected comma-separated positive integers"),
    (BCConfig, "hidden_sizes=", "expected comma-separated positive integers"),
    (BCConfig, "head=bogus", "expected one of auto, categorical"),
    (BCConfig, "deterministic_policy=yes please", "expected true or false"),
    (BCConfig, "augment=1", "cannot be set from the command line"),
    (BCConfig, "head_options=3", "head_options.<name>=value"),
    (BCConfig, "head_options.min_std=inf", "expected a finite number"),
    (BCConfig, "learning_rat=1", "BCConfig has no field 'learning_rat'"),
    (BCConfig, "=1", "expected name=value"),
    (GAILConfig, "ppo=1", "ppo is a group of settings (PPOConfig)"),
    (GAILConfig, "reward.x=1", "reward is one setting, not a group"),
    (GAILConfig, "ppo.gama=0.9", "PPOConfig has no field 'ppo.gama'"),
    (GAILConfig, "ppo.gamma=1.5", "--set ppo.gamma=1.5: expected a float in [0, 1]"),
    (GAILConfig, "ppo.num_envs=0", "expected an integer >= 1"),
    (GAILConfig, "ppo.num_envs=2.5", "expected an integer"),
    (GAILConfig, "adversarial.bc_steps=-1", "expected an integer >= 0"),
    (MAGAILConfig, "adversarial.bc_steps_per_update=-2", "expected an integer >= 0"),
    (GAILConfig, "adversarial.gradient_penalty=l2", "expected one of none, expert"),
    (MaxEntIRLConfig, "reward=exp", "expected one of linear, mlp"),
])
def test_a_bad_setting_is_one_line_naming_it(config_cls, item, expected):
    with pytest.raises(CLIError, match=None) as info:
        parse_overrides(config_cls, [item])
    assert expected in str(info.value) and info.value.exit_code == 2
    assert "\n" not in str(info.value)


def test_string_settings_use_the_library_lists():
    assert choices(BCConfig, "head") == ("auto", *policy_kinds())
    assert choices(GAILConfig, "ppo") is None
    assert set(choices(BCConfig, "activation")) == set(ACTIVATIONS)
    assert choices(GAILConfig, "reward") == tuple(GAIL_REWARDS)


def _leaf_fields(config, prefix=""):
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            yield from _leaf_fields(value, f"{prefix}{field.name}.")
        else:
            yield type(config), field, value, prefix + field.name


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_every_default_setting_passes_its_own_rule(name):
    # the rules must never refuse a default, and every field but callables and head
    # options is reachable from the command line
    for config_cls, field, default, path in _leaf_fields(ALGORITHMS[name].config()):
        if field.name in ("augment", "head_options"):
            assert cli._value_kind(field, default) is None, path
            continue
        assert cli._value_kind(field, default) is not None, path
        check_setting(config_cls, field.name, default, default)


def test_the_registry_lists_every_imitation_algorithm():
    import inspect

    families = {n for n in dir(jaxil.algorithms)  # each `name(env, NameConfig())`
                if inspect.isfunction(getattr(jaxil.algorithms, n))
                and any(c.lower() == n.replace("_", "").lower() + "config"
                        for c in dir(jaxil.algorithms))}
    # RL, not imitation: `jaxil expert` trains them (PPO, and MAPPO on multi-agent envs)
    assert families - set(ALGORITHMS) == {"ppo", "mappo"}
    for entry in ALGORITHMS.values():
        takes_expert = "expert" in inspect.signature(entry.factory).parameters
        assert takes_expert == entry.needs_expert, entry.name


def test_check_output_refuses_other_files_unless_forced(tmp_path):
    notes, policy = tmp_path / "notes.txt", tmp_path / "policy.eqx"
    notes.write_text("mine")
    with pytest.raises(CLIError, match="--out .*notes.txt: exists and is not a jaxil policy"):
        check_output("--out", str(notes), "policy", {})
    check_output("--out", str(notes), "policy", {}, force=True)
    check_output("--out", str(policy), "policy", {})  # a new file is fine
    with pytest.raises(CLIError, match="same file as --demos"):  # --force never overwrites
        check_output("--out", str(notes), "policy", {"--demos": str(notes)}, force=True)
    link = tmp_path / "link.txt"
    os.link(notes, link)
    with pytest.raises(CLIError, match="same file as --demos"):
        check_output("--out", str(link), "policy", {"--demos": str(notes)}, force=True)
    write_metrics_csv(tmp_path / "m.csv", {"loss": np.zeros(2)})
    check_output("--metrics-csv", str(tmp_path / "m.csv"), "metrics", {})


def test_metrics_csv_is_written_atomically(tmp_path, monkeypatch):
    path = tmp_path / "metrics.csv"
    write_metrics_csv(path, {"loss": np.array([1.0, 0.5])}, run="a")
    write_metrics_csv(path, {"loss": np.array([0.25])}, run="b", append=True)
    rows = path.read_text().splitlines()
    assert rows == [",".join(METRICS_HEADER), "a,0,loss,1", "a,1,loss,0.5", "b,0,loss,0.25"]
    before = path.read_bytes()

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    for append in (False, True):
        with pytest.raises(OSError, match="No space"):
            write_metrics_csv(path, {"loss": np.arange(1000.0)}, run="c", append=append)
        assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"]  # no temp file
    monkeypatch.undo()
    (tmp_path / "notes.txt").write_text("mine\n")
    with pytest.raises(ValueError, match="not a metrics CSV"):
        write_metrics_csv(tmp_path / "notes.txt", {"loss": np.zeros(1)}, append=True)


def test_first_non_finite_metric_is_named():
    metrics = {"loss": np.array([1.0, 2.0, np.nan]), "entropy": np.array([0.0, np.inf, 1.0]),
               "count": np.array([1, 2, 3])}
    assert cli._first_bad_metric(metrics) == "'entropy' at update 1"
    assert cli._first_bad_metric({"loss": np.zeros(3)}) is None


def test_an_internal_error_is_one_line_unless_debugging(capsys, monkeypatch):
    def broken():
        raise KeyError("oops")

    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    assert cli.run_reporting_errors(broken) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: KeyError" in err and cli.DEBUG_ENV in err
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    with pytest.raises(KeyError):
        cli.run_reporting_errors(broken)


def test_learning_curves_are_written_atomically(tmp_path):
    pytest.importorskip("matplotlib")
    from jaxil.logging import plot_learning_curves

    path = tmp_path / "curves.png"
    curves = {"return": {"bc": (np.arange(3), np.array([1.0, 2.0, 3.0]))}}
    assert plot_learning_curves(path, curves)
    assert path.read_bytes().startswith(b"\x89PNG")
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temporary file
