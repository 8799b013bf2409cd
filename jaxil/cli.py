"""The `jaxil` command: quickstart, expert, train, eval.

Every error is one line on stderr, `jaxil: error: <option> <value>: <what was expected>`,
with exit code 2 for a user's mistake (an option, a setting or an input file that does not
fit) and 1 for a run that failed (training diverged, a file could not be written, a policy
with non-finite weights). An unexpected internal error is one line too, exit code 1;
`JAXIL_DEBUG=1` shows its traceback. Output paths are checked before anything is trained,
never overwrite an input, and are written atomically (a failed write leaves the old file).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, NamedTuple, NoReturn

import typer
import typer.core
from rich.console import Console

from jaxil.algorithms.registry import ALGORITHMS, AlgorithmEntry, check_setting
from jaxil.checkpoint import CheckpointMismatchError
from jaxil.progress import busy

DEBUG_ENV = "JAXIL_DEBUG"
"""Set (to anything non-empty) to get the traceback of an internal error."""

MAX_SEED = 2**32 - 1
"""The largest `--seed`: `jax.random.key` keeps 32 bits of a seed (without x64), so larger
seeds would repeat smaller ones, and past 64 bits it raises."""


class CLIError(Exception):
    """An error reported as one line: exit code 2 for a user's mistake, 1 for a failed run."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, exit_code: int = 2) -> NoReturn:
    """Stops the command with `jaxil: error: <message>` and `exit_code`."""
    raise CLIError(message, exit_code)


def _one_line(text: object) -> str:
    """`text` with its whitespace (newlines included) collapsed to single spaces."""
    return " ".join(str(text).split())


def _is_click_error(err: Exception) -> bool:
    """A click usage or parameter error (Typer vendors its own copy of click, so the class
    is recognised by its interface rather than imported)."""
    return callable(getattr(err, "format_message", None)) and isinstance(
        getattr(err, "exit_code", None), int)


def _click_error_line(err: Exception) -> str:
    """One line for a click error; a usage error points to the command's `--help`."""
    message = _one_line(err.format_message())
    ctx = getattr(err, "ctx", None)
    if ctx is not None and err.exit_code == 2:
        message += f" (see '{ctx.command_path} --help')"
    return message


def _echo_error(line: str) -> None:
    print(f"jaxil: {line}", file=sys.stderr, flush=True)


def run_reporting_errors(main: Callable[[], Any]) -> int:
    """Runs click's non-standalone `main()` and returns the exit code.

    Errors are printed as one line on stderr; an unexpected exception is re-raised when
    `JAXIL_DEBUG` is set (for its traceback) and reported as an internal error otherwise.
    """
    try:
        result = main()
    except CLIError as err:
        _echo_error(f"error: {_one_line(err)}")
        return err.exit_code
    except typer.Abort:
        _echo_error("aborted")
        return 1
    except Exception as err:
        if type(err).__name__ == "NoArgsIsHelpError":  # bare `jaxil`: the help text
            err.show()
            return err.exit_code
        if _is_click_error(err):
            _echo_error(f"error: {_click_error_line(err)}")
            return err.exit_code
        if os.environ.get(DEBUG_ENV):
            raise
        _echo_error(f"internal error: {type(err).__name__}: {_one_line(err)} "
                    f"(rerun with {DEBUG_ENV}=1 for the traceback)")
        return 1
    return result if isinstance(result, int) else 0


class _Group(typer.core.TyperGroup):
    """Typer's command group, reporting every error as one plain line (see the module)."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        def run() -> Any:
            return super(_Group, self).main(args, prog_name, complete_var,
                                            standalone_mode=False, **extra)

        if not standalone_mode:  # the caller handles errors (and exit codes) itself
            return run()
        sys.exit(run_reporting_errors(run))


app = typer.Typer(cls=_Group, add_completion=False, no_args_is_help=True,
                  pretty_exceptions_enable=False,
                  help="jaxil: functional, pure-JAX imitation learning.")
console = Console()

Seed = Annotated[int, typer.Option(min=0, max=MAX_SEED, help="PRNG seed (0 to 2**32 - 1).")]
Backend = Annotated[str | None, typer.Option(
    help="Brax physics backend (brax/<name> and coop/brax/<name> environments only).")]
Force = Annotated[bool, typer.Option(
    "--force", help="Overwrite output files that exist and are not jaxil's own kind.")]
ShowProgress = Annotated[bool | None, typer.Option(
    "--progress/--no-progress",
    help="Show a progress bar on stderr (default: when stderr is a terminal).")]


def _show_progress(flag: bool | None) -> bool:
    """`--progress` / `--no-progress`, or whether stderr is a terminal."""
    return sys.stderr.isatty() if flag is None else flag

AlgorithmName = enum.Enum("AlgorithmName", {name: name for name in ALGORITHMS}, type=str)
"""The names `jaxil train` accepts (checked, and listed on a mistake, by Typer)."""


# ------------------------------------------------------------------ --set name=value

def _is_config(value: Any) -> bool:
    """A nested group of settings (an `equinox.Module` / dataclass instance)."""
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _parse_bool(raw: str) -> bool:
    table = {"true": True, "false": False, "1": True, "0": False}
    if raw.lower() not in table:
        raise ValueError(raw)
    return table[raw.lower()]


def _parse_ints(raw: str) -> tuple[int, ...]:
    return tuple(int(x) for x in raw.split(","))


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda raw: None if raw.lower() in ("none", "null") else parse(raw)


_KINDS: dict[str, tuple[Callable[[str], Any], str]] = {
    "bool": (_parse_bool, "true or false"),
    "int": (int, "an integer"),
    "float": (float, "a float"),
    "str": (str, "a string"),
    "ints": (_parse_ints, "comma-separated positive integers, e.g. 64,64"),
    "float?": (_optional(float), "a float or none"),
    "bool?": (_optional(_parse_bool), "true, false or none"),
    "ints?": (_optional(_parse_ints), "comma-separated positive integers or none"),
}
"""Value kinds `--set` reads: `(parse, what is expected)`."""


HEAD_OPTIONS = "head_options"
"""The field of head-specific settings, `(name, value)` pairs: `--set head_options.NAME=V`
(the head checks the names when the policy is built)."""


def _parse_scalar(raw: str) -> bool | int | float | str:
    """A JSON-like scalar: `true`/`false`, an integer, a float, else the string itself."""
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    for parse in (int, float):
        try:
            return parse(raw)
        except ValueError:
            pass
    return raw


def _value_kind(field: dataclasses.Field, default: Any) -> str | None:
    """Which `_KINDS` entry reads `field` (from its default, else its annotation)."""
    annotation = str(field.type)
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if type(default) is types:  # `none` too where the field may be None
            return f"{kind}?" if "None" in annotation and f"{kind}?" in _KINDS else kind
    ints = annotation.startswith("tuple[int")
    if isinstance(default, tuple) and (ints or (default and all(
            type(v) is int for v in default))):
        return "ints"
    if default is None and ints:
        return "ints?"
    if default is None and annotation.startswith("float"):
        return "float?"
    if default is None and annotation.startswith("bool"):
        return "bool?"
    return None


def _parse_setting(config: Any, field: dataclasses.Field, raw: str, item: str) -> Any:
    """The value of `--set item` for `field` of `config`, parsed and checked."""
    default = getattr(config, field.name)
    kind = _value_kind(field, default)
    if field.name == HEAD_OPTIONS:
        fail(f"--set {item}: set one head option at a time, "
             f"{HEAD_OPTIONS}.<name>=value (e.g. {HEAD_OPTIONS}.num_components=3)")
    if kind is None:
        fail(f"--set {item}: {field.name} ({field.type}) cannot be set from the command line; "
             "use the Python API")
    parse, expected = _KINDS[kind]
    try:
        value = parse(raw)
    except ValueError:
        fail(f"--set {item}: expected {expected}")
    try:
        check_setting(type(config), field.name, value, default)
    except ValueError as err:
        fail(f"--set {item}: {err}")
    return value


def _override(config: Any, names: list[str], raw: str, item: str, prefix: str = "") -> Any:
    """`config` with the field at the dotted path `names` set from `raw`."""
    name, rest = names[0], names[1:]
    fields = {f.name: f for f in dataclasses.fields(config) if f.init}
    if name not in fields:
        fail(f"--set {item}: {type(config).__name__} has no field {prefix + name!r}; "
             f"expected one of {', '.join(prefix + f for f in sorted(fields))}")
    current = getattr(config, name)
    if name == HEAD_OPTIONS and len(rest) == 1:  # (name, value) pairs, set one at a time
        option = _parse_scalar(raw)
        if isinstance(option, float) and not math.isfinite(option):
            fail(f"--set {item}: expected a finite number")
        value = tuple({**dict(current), rest[0]: option}.items())
    elif _is_config(current):
        if not rest:
            fail(f"--set {item}: {prefix + name} is a group of settings "
                 f"({type(current).__name__}); expected {prefix + name}.<field>=value, e.g. "
                 f"{prefix + name}.{dataclasses.fields(current)[0].name}=...")
        value = _override(current, rest, raw, item, f"{prefix}{name}.")
    elif rest:
        fail(f"--set {item}: {prefix + name} is one setting, not a group; "
             f"expected {prefix + name}=value")
    else:
        value = _parse_setting(config, fields[name], raw, item)
    try:  # the config's own checks (`__check_init__`, converters), if any
        return dataclasses.replace(config, **{name: value})
    except (ValueError, TypeError) as err:
        fail(f"--set {item}: {_one_line(err)}")


def parse_overrides(config_cls: type, overrides: Sequence[str]) -> Any:
    """`config_cls()` with every `name=value` of `overrides` applied in order.

    A dotted name reaches into nested configs at any depth (`ppo.gamma=0.99`,
    `adversarial.absorbing_state=true`). Values are read by the field's type (booleans
    `true`/`false`, integers, floats, comma-separated integers for sizes, `none` where a
    field may be `None`) and checked with `jaxil.algorithms.registry.check_setting`
    (finite floats inside their range, positive sizes, strings from their allowed list).

    Raises:
        CLIError: exit code 2, one line naming the override and what was expected.
    """
    config = config_cls()
    for item in overrides:
        path, sep, raw = item.partition("=")
        if not sep or not path:
            fail(f"--set {item}: expected name=value, e.g. learning_rate=3e-4")
        config = _override(config, path.split("."), raw, item)
    return config


def _setting_error(err: Exception, overrides: Sequence[str], context: str) -> str:
    """One line for a library `ValueError`: attributed to the `--set` whose field it names
    (`"head: ..."`, `"GAILConfig.adversarial.gradient_penalty: ..."`), else to `context`."""
    message = _one_line(err)
    field, sep, rest = message.partition(": ")
    if sep and " " not in field:
        leaf = field.rsplit(".", 1)[-1]
        for item in reversed(overrides):
            if item.partition("=")[0].rsplit(".", 1)[-1] == leaf:
                return f"--set {item}: {rest}"
    return f"{context}: {message}"


# ---------------------------------------------------------------------- files

def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """`a` and `b` name one file (the same real path, or hard links to one inode)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _first_line(path: str | os.PathLike, limit: int = 1 << 16) -> bytes:
    """The first line of `path` (at most `limit` bytes)."""
    with open(path, "rb") as f:
        return f.readline(limit)


def _is_policy_file(path: str) -> bool:
    """`path` starts with a jaxil policy header (`jaxil.save_policy` wrote it)."""
    from jaxil.networks.serialization import POLICY_FORMATS

    try:
        return json.loads(_first_line(path)).get("format") in POLICY_FORMATS
    except (OSError, ValueError, AttributeError):
        return False


def _is_metrics_csv(path: str) -> bool:
    """`path` starts with the header that `jaxil.logging.write_metrics_csv` writes."""
    from jaxil.logging import METRICS_HEADER

    try:
        return _first_line(path).decode().strip() == ",".join(METRICS_HEADER)
    except (OSError, UnicodeDecodeError):
        return False


def _is_metrics_jsonl(path: str) -> bool:
    """`path` starts with a line that `jaxil.logging.write_metrics_jsonl` writes."""
    from jaxil.logging import is_metrics_jsonl_line

    try:
        return is_metrics_jsonl_line(_first_line(path))
    except OSError:
        return False


def _is_demos_file(path: str) -> bool:
    """`path` is a jaxil demos file (`jaxil.data.save` wrote it; another library's
    demonstrations, which `jaxil.data.load` also reads, are the user's own data)."""
    import jaxil

    try:
        jaxil.data.load(path, format="jaxil")
    except (OSError, ValueError):  # `load` reports any damaged or foreign file so
        return False
    return True


_OUTPUT_KINDS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "policy": ("a jaxil policy file", _is_policy_file),
    "metrics": ("a jaxil metrics CSV", _is_metrics_csv),
    "metrics-jsonl": ("a jaxil metrics JSON Lines file", _is_metrics_jsonl),
    "demos": ("a jaxil demos file", _is_demos_file),
}


def _check_writable_dir(option: str, path: str, directory: str) -> None:
    """Fails unless a file can be created in `directory` (tried, not guessed)."""
    if not os.path.isdir(directory):
        fail(f"{option} {path}: the directory {directory} does not exist")
    try:
        with tempfile.TemporaryFile(dir=directory, prefix=".jaxil-check-"):
            pass
    except OSError as err:
        fail(f"{option} {path}: cannot write in the directory {directory} "
             f"({err.strerror or err})")


def check_output(option: str, path: str, kind: str, others: Mapping[str, str | None],
                 force: bool = False) -> None:
    """Fails (exit 2) before any work when `path` cannot or must not be written.

    Args:
        option: the option that names the output (`--out`, ...), for messages.
        path: the output file.
        kind: `"policy"`, `"metrics"`, `"metrics-jsonl"` or `"demos"`: an existing file of
            another kind is refused unless `force`.
        others: the command's other files by option (inputs and outputs); `path` must be
            none of them.
        force: replace an existing file of another kind.
    """
    if not path:
        fail(f"{option} {path!r}: expected a file path")
    if os.path.isdir(path):
        fail(f"{option} {path}: is a directory; expected a file path")
    for other_option, other in others.items():
        if other and _same_file(path, other):
            fail(f"{option} {path}: is the same file as {other_option} {other}; "
                 "refusing to overwrite it")
    _check_writable_dir(option, path, os.path.dirname(os.path.abspath(path)))
    label, is_kind = _OUTPUT_KINDS[kind]
    if os.path.exists(path) and not force and not is_kind(path):
        fail(f"{option} {path}: exists and is not {label}; refusing to replace it "
             "(pass --force to overwrite)")


def _check_output_dir(option: str, path: str, make: bool = True) -> None:
    """Fails unless `path` is (or can be made) a writable directory; makes it (with
    `make=False`, a missing one is only checked to be makeable, for a command that makes
    it once its work is done)."""
    if os.path.exists(path) and not os.path.isdir(path):
        fail(f"{option} {path}: exists and is not a directory")
    if not make and not os.path.exists(path):
        _check_writable_dir(option, path, os.path.dirname(os.path.abspath(path)))
        return
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        fail(f"{option} {path}: cannot make the directory ({err.strerror or err})")
    _check_writable_dir(option, path, path)


def _write(option: str, path: str, write: Callable[[], None]) -> None:
    """Runs `write()` (atomic), turning a failed write into one line naming `path`."""
    try:
        write()
    except OSError as err:
        fail(f"{option} {path}: could not write it ({err.strerror or err}); "
             "an existing file is left as it was", 1)


# ------------------------------------------------------------------ inputs and checks

def _expert_argument(entry: AlgorithmEntry, path: str | None) -> dict:
    """`{"expert": policy}` for algorithms that query an expert (DAgger, DART), else `{}`."""
    if not entry.needs_expert:
        if path is not None:
            fail(f"--expert {path}: {entry.name} does not query an expert; leave --expert out")
        return {}
    if path is None:
        fail(f"--expert: {entry.name} queries an expert; expected a saved policy "
             "(`jaxil expert ENV --out expert.eqx`)")
    return {"expert": _load_policy("--expert", path)}


def _load_policy(option: str, path: str, multiagent: bool = False):
    """The policy saved at `path`, or one line naming `option`. A multi-agent policy is
    refused unless `multiagent` (the command can use one)."""
    import jaxil

    try:
        loaded = jaxil.load_policy(path)
    except (ValueError, OSError) as err:
        fail(f"{option} {path}: {_without_path(err, path)}")
    if not multiagent and isinstance(loaded, jaxil.networks.MultiAgentPolicy):
        fail(f"{option} {path}: a multi-agent policy ({loaded.num_agents} agents); expected "
             "a single-agent one here")
    return loaded


def _without_path(err: Exception, path: str) -> str:
    """The message of `err` without a leading `"<path>: "` (the caller names the path)."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    message = _one_line(err)
    return message.removeprefix(f"{os.fspath(path)}: ")


def _make_env(name: str, backend: str | None):
    """`jaxil.envs.make(name)`, with `--backend` for Brax environments only."""
    from jaxil import envs

    if backend is not None and not name.removeprefix("coop/").startswith("brax/"):
        fail(f"--backend {backend}: only Brax environments (--env brax/<name> or "
             f"coop/brax/<name>) have a physics backend; --env {name} has none")
    try:
        return envs.make(name, **({"backend": backend} if backend else {}))
    except ImportError as err:  # an optional extra that is not installed
        fail(f"--env {name}: {_one_line(err).removeprefix(f'{name} ')}")
    except ValueError as err:
        message = _one_line(err).removeprefix("env name: ")
        if backend is not None and "backend" in message:
            fail(f"--backend {backend}: {message}")
        fail(f"--env {name}: {message}")


def _check_env_fits(entry: AlgorithmEntry, environment: Any, name: str) -> None:
    """A tabular algorithm needs a tabular environment, a multi-agent one a multi-agent
    environment, and a single-agent one a single-agent environment."""
    from jaxil import envs
    from jaxil.tabular import TabularEnv

    if entry.multiagent != envs.is_multiagent(environment):
        kind = "multi-agent" if entry.multiagent else "single-agent"
        fitting = ([f"mpe/{n}" for n in sorted(envs.mpe.SCENARIOS)]
                   + [f"coop/{n}" for n in sorted(envs.cooperative.SPLITS)]
                   if entry.multiagent else None)
        others = [e.name for e in ALGORITHMS.values() if e.multiagent != entry.multiagent]
        fail(f"--env {name}: {entry.name} is a {kind} method; "
             + (f"expected a multi-agent environment: {', '.join(fitting)}" if fitting
                else f"{name} is multi-agent: use {', '.join(others)}"))

    if entry.tabular and not isinstance(environment.unwrapped, TabularEnv):
        tabular = [n for n in envs.names()
                   if isinstance(envs.make(n).unwrapped, TabularEnv)]
        fail(f"--env {name}: {entry.name} is a tabular method; expected a tabular "
             f"environment: {', '.join(tabular)}")


class _Run(NamedTuple):
    """What `_set_up` gives: the pieces of a `train` or `sweep` command."""

    env: Any  # the environment of the demos
    acting_env: Any  # the one the learned policy acts in (InfoGAIL's adds a code)
    data: Any  # the demos, checked against env
    extra: dict  # the factory's extra arguments (expert=...)
    algorithm: Any  # the factory's Algorithm, settings checked


def _set_up(entry: AlgorithmEntry, env: str, backend: str | None, demos: str, config: Any,
            overrides: Sequence[str], expert: str | None) -> _Run:
    """The environment, demos and algorithm of `jaxil train` / `jaxil sweep`, each
    checked with one line naming the option at fault."""
    environment = _make_env(env, backend)
    _check_env_fits(entry, environment, env)
    data = _load_demos(demos, environment)
    if data.actions is None and entry.needs_actions(config):
        fail(f"--demos {demos}: {entry.name} needs demonstrations with actions; these are "
             "state-only")
    extra = _expert_argument(entry, expert)
    try:
        algorithm = entry.factory(environment, config, **extra)
    except ValueError as err:
        fail(_setting_error(err, overrides, f"{entry.name} on {env}"))
    acting = environment if entry.acting_env is None else entry.acting_env(environment,
                                                                           config)
    return _Run(environment, acting, data, extra, algorithm)


def _load_demos(path: str, environment: Any):
    """The demonstrations at `path`, checked against `environment`, or one line naming
    `--demos`. On an actuator split (`coop/...`), demos of the whole body are split by
    actuator (`jaxil.data.split_demos`)."""
    import jaxil
    from jaxil.envs.cooperative import ActuatorSplit

    errors = (ValueError, OSError, ImportError)  # ImportError: the [io] extra is missing
    try:
        return jaxil.data.load(path, spec=environment.spec)
    except errors as err:
        message = _without_path(err, path)
    split = environment.unwrapped
    if isinstance(split, ActuatorSplit):
        try:
            body = jaxil.data.load(path, spec=split.env.spec)
            return jaxil.data.split_demos(environment, body)
        except errors as err:
            message += f"; as demos of the whole body ({split.env.spec.name}): " \
                       f"{_without_path(err, path)}"
    fail(f"--demos {path}: {message}")


def _not_finite(tree: Any) -> bool:
    """Some floating-point array leaf of `tree` holds a NaN or an infinity."""
    import equinox as eqx
    import jax
    import numpy as np

    leaves = jax.tree.leaves(eqx.filter(tree, eqx.is_inexact_array))
    return any(not np.isfinite(np.asarray(x)).all() for x in leaves)


def _first_bad_metric(metrics: Mapping[str, Any]) -> str | None:
    """`"'name' at update i"` for the first non-finite value of a metric history, or None."""
    import numpy as np

    first: dict[str, int] = {}
    for name, values in metrics.items():
        values = np.atleast_1d(np.asarray(values))
        if np.issubdtype(values.dtype, np.inexact):
            bad = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
            if bad.size:
                first[name] = int(bad[0])
    if not first:
        return None
    name = min(sorted(first), key=first.get)
    return f"'{name}' at update {first[name]}"


def _check_finite(what: str, policy: Any, metrics: Mapping[str, Any]) -> None:
    """Fails (exit 1, nothing written) when training produced non-finite numbers."""
    bad_metric = _first_bad_metric(metrics)
    if bad_metric is None and not _not_finite(policy):
        return
    found = ("the policy's parameters are not finite" if bad_metric is None
             else f"metric {bad_metric} is not finite")
    fail(f"{what} diverged: {found}; nothing was written (try a smaller learning rate "
         "or max_grad_norm)", 1)


def _check_policy_fits(loaded: Any, path: str, environment: Any, env: str) -> None:
    """The saved policy's observation size and action space (kind, size and, for a `Box`,
    its bounds: a squashed policy scales its actions to them) are the environment's."""
    import numpy as np

    from jaxil.envs import is_multiagent
    from jaxil.networks import MultiAgentPolicy
    from jaxil.networks.multiagent import action_sizes
    from jaxil.types import Box, Discrete

    spec = environment.spec
    if isinstance(loaded, MultiAgentPolicy) != is_multiagent(environment):
        kind = (f"a multi-agent policy ({loaded.num_agents} agents)"
                if isinstance(loaded, MultiAgentPolicy) else "a single-agent policy")
        fail(f"policy {path}: {kind}, but --env {env} is "
             f"{'multi-agent' if is_multiagent(environment) else 'single-agent'}")
    if isinstance(loaded, MultiAgentPolicy):
        if loaded.num_agents != spec.num_agents:
            fail(f"policy {path}: acts for {loaded.num_agents} agents, but --env {env} has "
                 f"{spec.num_agents}")
        masked = action_sizes(loaded.policy)
        if masked is not None:
            if tuple(masked) != tuple(spec.action_sizes):
                fail(f"policy {path}: acts with {list(masked)} actions per agent, but "
                     f"--env {env}'s agents have {list(spec.action_sizes)}")
            theirs = Discrete(max(masked))
        else:
            try:
                theirs = spec.action_space
            except ValueError:
                fail(f"policy {path}: shares one action space across agents, but --env "
                     f"{env}'s agents have different ones")
        arch = loaded.policy.network.arch
        size = spec.observation_size + (spec.num_agents if loaded.agent_ids else 0)
    else:
        arch, size, theirs = loaded.network.arch, spec.observation_size, spec.action_space
    if arch.observation_size != size:
        fail(f"policy {path}: observation size {arch.observation_size} does not match "
             f"--env {env}'s {size}")
    mine = arch.action_space
    same = (type(mine) is type(theirs)
            and (mine.n == theirs.n if isinstance(mine, Discrete)
                 else tuple(mine.shape) == tuple(theirs.shape)))
    if not same:
        fail(f"policy {path}: acts in {mine}, but --env {env}'s actions are {theirs}")
    if isinstance(mine, Box) and not all(
            np.allclose(np.broadcast_to(np.asarray(a, np.float64), mine.shape),
                        np.broadcast_to(np.asarray(b, np.float64), mine.shape))
            for a, b in ((mine.low, theirs.low), (mine.high, theirs.high))):
        fail(f"policy {path}: acts within bounds low={mine.low}, high={mine.high}, but "
             f"--env {env}'s bounds are low={theirs.low}, high={theirs.high}")


def _check_checkpoint_options(directory: str | None, every: int | None,
                              resume: bool) -> None:
    """`--checkpoint-every` and `--resume` need `--checkpoint-dir`, a directory that is (or
    can be made) writable; it is made when training starts."""
    if directory is None:
        if every is not None:
            fail(f"--checkpoint-every {every}: needs --checkpoint-dir DIR (where to save)")
        if resume:
            fail("--resume: needs --checkpoint-dir DIR (the directory of the run to resume)")
        return
    if not directory:
        fail(f"--checkpoint-dir {directory!r}: expected a directory path")
    if os.path.exists(directory):
        if not os.path.isdir(directory):
            fail(f"--checkpoint-dir {directory}: exists and is not a directory")
        _check_writable_dir("--checkpoint-dir", directory, directory)
    else:
        if resume:
            fail(f"--resume: --checkpoint-dir {directory} does not exist; nothing to resume")
        _check_writable_dir("--checkpoint-dir", directory,
                            os.path.dirname(os.path.abspath(directory)))


def _resume_step(directory: str | None, resume: bool) -> int | None:
    """The update the run resumes at (`None`: from the start); with `--resume`, fails
    unless `directory` holds an intact checkpoint (whether it is this run's is checked
    when training starts)."""
    from jaxil.checkpoint import latest_step

    step = None if directory is None else latest_step(directory)
    if resume and step is None:
        fail(f"--resume: --checkpoint-dir {directory} holds no intact checkpoint to resume; "
             "leave --resume out to start a run there")
    return step


def _run_description(algo: str, env: str, backend: str | None, config: Any,
                     expert: str | None) -> str:
    """What a checkpoint records of the run's settings besides the seed, demos, updates and
    batch size (which the fingerprint has): the algorithm, env and config (and expert)."""
    import hashlib

    text = f"{algo} on {env}" + (f" (backend {backend})" if backend else "")
    text += f", {_one_line(repr(config))}"
    if expert is not None:
        with open(expert, "rb") as f:
            text += f", expert sha256 {hashlib.sha256(f.read()).hexdigest()[:16]}"
    return text


# ------------------------------------------------------------------------- commands

@app.command()
def quickstart(
    out: Annotated[str, typer.Option(help="Output directory.")] = "runs/quickstart",
    seed: Seed = 0,
    episodes: Annotated[int, typer.Option(min=1, help="Expert episodes for BC.")] = 10,
):
    """Trains PPO experts, collects demos, runs BC and prints a table of returns."""
    from jaxil.quickstart import run_quickstart

    _check_output_dir("--out", out)
    run_quickstart(out, seed=seed, num_episodes=episodes, console=console)


@app.command()
def expert(
    env: Annotated[str, typer.Argument(help="Environment name, e.g. cartpole or brax/hopper.")],
    out: Annotated[str, typer.Option(help="Where to save the expert policy (.eqx).")],
    timesteps: Annotated[int | None, typer.Option(
        min=1, help="PPO env steps (default per env).")] = None,
    seed: Seed = 0,
    demos: Annotated[str | None, typer.Option(help="Also collect demos to this .npz.")] = None,
    episodes: Annotated[int, typer.Option(min=1, help="Episodes to collect with --demos.")]
    = 10,
    backend: Backend = None,
    sampled_actions: Annotated[bool, typer.Option(
        help="Record sampled actions in --demos instead of the expert's mode.")] = False,
    force: Force = False,
    progress: ShowProgress = None,
):
    """Trains a PPO expert on ENV and saves it (optionally with demonstrations)."""
    import jax

    import jaxil

    check_output("--out", out, "policy", {"--demos": demos}, force)
    if demos:
        check_output("--demos", demos, "demos", {"--out": out}, force)
    environment = _make_env(env, backend)
    minimum = jaxil.experts.default_config(environment.spec.name).batch_size
    if timesteps is not None and timesteps < minimum:
        fail(f"--timesteps {timesteps}: expected at least {minimum} for {env} (one PPO "
             "update: num_envs * rollout_length environment steps)")
    key = jax.random.key(seed)
    bar = None
    if _show_progress(progress):
        bar = jaxil.experts.progress_bar(environment, timesteps, description=f"PPO expert "
                                                                             f"on {env}")
    with busy(console, f"training a PPO expert on {env}", bar is None):
        try:
            policy, info = jaxil.experts.train_ppo(
                environment, key, num_timesteps=timesteps, progress=bar,
                progress_every=None)
        except ValueError as err:
            fail(f"expert on {env}: {_one_line(err)}")
        finally:
            if bar is not None:
                bar.close()
    _check_finite(f"the PPO expert on {env}", policy, info["metrics"])
    data = None
    if demos:
        data = jaxil.data.collect(environment, policy, jax.random.fold_in(key, 1), episodes,
                                  deterministic=not sampled_actions)
    _write("--out", out, lambda: jaxil.save_policy(out, policy))
    kind = "team return" if jaxil.envs.is_multiagent(environment) else "return"
    console.print(f"expert on {env}: mean {kind} {info['eval_return']:.1f} "
                  f"({info['timesteps']} steps, {info['seconds']:.1f} s) -> {out}")
    if data is not None:
        metadata = {"env": env, "expert_return": float(info["eval_return"])}
        _write("--demos", demos, lambda: jaxil.data.save(demos, data, metadata=metadata))
        console.print(f"{episodes} episodes (mean {kind} {data.returns.mean():.1f}) -> "
                      f"{demos}")


@app.command()
def train(
    algo: Annotated[AlgorithmName, typer.Argument(
        help="Algorithm (see `jaxil.algorithms.ALGORITHMS`).")],
    env: Annotated[str, typer.Option(help="Environment name.")],
    demos: Annotated[str, typer.Option(help="Demonstrations (.npz from `jaxil expert`).")],
    out: Annotated[str, typer.Option(help="Where to save the learned policy.")]
    = "policy.eqx",
    updates: Annotated[int, typer.Option(min=1, help="Number of updates.")] = 2_000,
    batch_size: Annotated[int, typer.Option(min=1, help="Expert transitions per update.")]
    = 256,
    seed: Seed = 0,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Config override name=value, dotted for nested settings "
                      "(ppo.gamma=0.99); repeatable.")] = None,
    backend: Backend = None,
    metrics_csv: Annotated[str | None, typer.Option(help="Write per-update metrics here.")]
    = None,
    metrics_jsonl: Annotated[str | None, typer.Option(
        help="Write per-update metrics here as JSON Lines (one object per update).")] = None,
    eval_every: Annotated[int | None, typer.Option(
        min=1, help="Evaluate the policy every N updates inside the run (eval/return in "
                    "the metrics).")] = None,
    eval_episodes: Annotated[int, typer.Option(
        min=1, help="Episodes per evaluation with --eval-every.")] = 10,
    expert: Annotated[str | None, typer.Option(
        help="A saved expert policy (.eqx from `jaxil expert`), for methods that query "
             "one (dagger, dart).")] = None,
    force: Force = False,
    progress: ShowProgress = None,
    checkpoint_dir: Annotated[str | None, typer.Option(
        help="Save the whole training state here every --checkpoint-every updates (the "
             "last two checkpoints are kept). If it holds a checkpoint of this run (same "
             "algorithm, settings, env, demos, seed, updates and batch size), training "
             "resumes from it; one of another run is an error.")] = None,
    checkpoint_every: Annotated[int | None, typer.Option(
        min=1, help="Updates between checkpoints (default: a tenth of --updates).")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Resume from --checkpoint-dir, which must hold a checkpoint of "
                         "this run.")] = False,
):
    """Trains ALGO on demonstrations and saves the policy.

    With --checkpoint-dir, a run that is stopped (killed, out of time) continues where its
    last checkpoint left off when the same command is run again, and ends with the policy
    an uninterrupted run with --checkpoint-dir gives, bit for bit.
    """
    import time

    import jax
    import numpy as np

    import jaxil

    algo = algo.value
    entry = ALGORITHMS[algo]
    overrides = set_ or []
    config = parse_overrides(entry.config, overrides)
    inputs = {"--demos": demos, "--expert": expert}
    outputs = {"--out": (out, "policy"), "--metrics-csv": (metrics_csv, "metrics"),
               "--metrics-jsonl": (metrics_jsonl, "metrics-jsonl")}
    for option, (path, kind) in outputs.items():
        if path is not None:
            others = {o: p for o, (p, _) in outputs.items() if o != option}
            check_output(option, path, kind, {**inputs, **others}, force)
    _check_checkpoint_options(checkpoint_dir, checkpoint_every, resume)
    if eval_every is not None and checkpoint_every is not None and \
            checkpoint_every % eval_every:
        fail(f"--checkpoint-every {checkpoint_every}: expected a multiple of --eval-every "
             f"{eval_every} (evaluations fall inside checkpointed chunks)")
    run = _set_up(entry, env, backend, demos, config, overrides, expert)
    acting, data, algorithm = run.acting_env, run.data, run.algorithm
    context = f"{algo} on {env}"
    resumed = _resume_step(checkpoint_dir, resume)
    show = _show_progress(progress)
    options = {"progress": show}
    if eval_every is not None:
        options.update(eval_env=acting, eval_every=eval_every, eval_episodes=eval_episodes)
    start = time.perf_counter()
    with busy(console, f"training {algo} on {env} ({updates} updates)", not show):
        try:  # host-side checks of the demos and settings raise before anything compiles
            if checkpoint_dir is None:
                state, metrics = jax.jit(
                    lambda k: jaxil.train(algorithm, k, data, updates, batch_size,
                                          **options))(jax.random.key(seed))
            else:  # on the host, chunk by chunk, saving after each
                description = _run_description(algo, env, backend, config, expert)
                state, metrics = jaxil.train(
                    algorithm, jax.random.key(seed), data, updates, batch_size,
                    checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
                    checkpoint_description=description, **options)
        except CheckpointMismatchError as err:
            message = _one_line(err).removeprefix(f"checkpoint_dir {checkpoint_dir}: ")
            fail(f"--checkpoint-dir {checkpoint_dir}: {message}")
        except ValueError as err:
            fail(_setting_error(err, overrides, f"{context} with --demos {demos}"))
        except OSError as err:  # a checkpoint that could not be written
            if checkpoint_dir is None:
                raise
            fail(f"--checkpoint-dir {checkpoint_dir}: could not write a checkpoint "
                 f"({err.strerror or err})", 1)
        jax.block_until_ready(state)
    seconds = time.perf_counter() - start
    policy = algorithm.policy(state)
    metrics = {k: np.asarray(v) for k, v in metrics.items()}
    _check_finite(f"{context} ({updates} updates)", policy, metrics)
    returns = jaxil.evaluate(acting, policy, jax.random.key(seed + 1), 20)
    _write("--out", out, lambda: jaxil.save_policy(out, policy))
    from jaxil.logging import write_metrics_csv, write_metrics_jsonl

    for option, path, write in (("--metrics-csv", metrics_csv, write_metrics_csv),
                                ("--metrics-jsonl", metrics_jsonl, write_metrics_jsonl)):
        if path:
            _write(option, path, functools.partial(write, path, metrics, run=f"{algo}/{env}"))
    since = "" if resumed is None else f" (resumed at update {resumed})"
    curve = ""
    if "eval/return" in metrics and metrics["eval/return"].size:
        curve = f", evaluated return {float(metrics['eval/return'][-1]):.1f}"
    console.print(f"{algo} on {env}: {updates} updates in {seconds:.1f} s{since}{curve}, "
                  f"mean return {float(returns.mean()):.1f} -> {out}")


def _with_fixed_code(code: int | None, code_values: str | None, loaded: Any, policy: str,
                     environment: Any, env: str) -> Any:
    """`environment` with the latent code that `--code` (categorical) or `--code-values`
    (continuous) fixes (`environment` itself when neither is given); one line for a code
    that does not fit the policy (`jaxil.envs.LatentCode` checks the code itself)."""
    import jaxil

    if code is None and code_values is None:
        return environment
    option = f"--code {code}" if code is not None else f"--code-values {code_values}"
    if code is not None and code_values is not None:
        fail("--code, --code-values: give one (--code for a categorical code, --code-values "
             "for a continuous one)")
    if isinstance(loaded, jaxil.networks.MultiAgentPolicy):
        fail(f"{option}: policy {policy} is a multi-agent policy; it takes no latent code")
    codes = loaded.network.arch.observation_size - environment.spec.observation_size
    kind, least = ("categorical", 2) if code is not None else ("continuous", 1)
    if codes < least:
        fail(f"{option}: policy {policy} takes no {kind} latent code in --env {env} (its "
             f"observations have {max(codes, 0)} entries beyond the env's)")
    fixed, distribution = code, "categorical"
    if code is None:
        distribution = "uniform"
        try:
            fixed = [float(v) for v in code_values.split(",")]
        except ValueError:
            fail(f"{option}: expected comma-separated numbers in [-1, 1]")
    try:
        return jaxil.envs.LatentCode(environment, codes, code=fixed, distribution=distribution)
    except ValueError as err:
        fail(f"{option}: {str(err).removeprefix('code: ')}, for policy {policy} (its "
             f"observations have {codes} entries beyond --env {env}'s)")


@app.command("eval")
def eval_(
    policy: Annotated[str, typer.Argument(help="A saved policy (.eqx).")],
    env: Annotated[str, typer.Option(help="Environment name.")],
    episodes: Annotated[int, typer.Option(min=1, help="Number of episodes.")] = 20,
    seed: Seed = 0,
    backend: Backend = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    code: Annotated[int | None, typer.Option(
        min=0, help="For a policy with a categorical latent code (infogail): the code to "
                    "act with; its number of codes is what the policy's observations have "
                    "beyond the env's.")] = None,
    code_values: Annotated[str | None, typer.Option(
        help="For a policy with a continuous latent code (infogail with "
             "code_distribution=uniform): the code to act with, comma-separated values in "
             "[-1, 1], as many as the policy's observations have beyond the env's.")] = None,
):
    """Evaluates a saved policy: mean and std of complete-episode returns."""
    import jax
    import numpy as np

    import jaxil

    environment = _make_env(env, backend)
    loaded = _load_policy("policy", policy, multiagent=True)
    environment = _with_fixed_code(code, code_values, loaded, policy, environment, env)
    _check_policy_fits(loaded, policy, environment, env)
    if _not_finite(loaded):
        fail(f"policy {policy}: its weights are not finite (NaN or inf); refusing to "
             "evaluate it", 1)
    returns = np.asarray(jaxil.evaluate(environment, loaded, jax.random.key(seed), episodes))
    result = {"env": env, "policy": os.fspath(policy), "episodes": episodes,
              "mean_return": float(returns.mean()), "std_return": float(returns.std())}
    if code is not None or code_values is not None:
        result["code"] = environment.code
    if json_out:
        print(json.dumps(result))
    else:
        kind = "team return" if jaxil.envs.is_multiagent(environment) else "return"
        console.print(f"{env}: mean {kind} {result['mean_return']:.1f} "
                      f"± {result['std_return']:.1f} over {episodes} episodes")


@app.command()
def convert(
    src: Annotated[str, typer.Argument(help="Demonstrations to read (a file or a folder).")],
    dst: Annotated[str, typer.Argument(
        help="Where to write them (a folder for imitation-hf and minari).")],
    env: Annotated[str, typer.Option(
        help="Environment name: the demos are checked against it, and its time limit tells "
             "time-outs from terminations where the source format merges them.")],
    from_: Annotated[str, typer.Option(
        "--from", help="Source format: auto (detect), jaxil, imitation, imitation-hf, "
                       "minari, d4rl or ogbench.")] = "auto",
    to: Annotated[str, typer.Option(
        help="Destination format: jaxil, imitation, imitation-hf or minari.")] = "jaxil",
):
    """Converts demonstrations between formats (jaxil, imitation, Minari, D4RL, OGBench)."""
    from jaxil.data import formats
    from jaxil.data.formats.convert import convert as convert_demos

    for option, name, known in (("--from", from_, ("auto", *formats.READABLE)),
                                ("--to", to, formats.WRITABLE)):
        if name not in known:
            fail(f"{option} {name}: expected one of {', '.join(known)}")
    environment = _make_env(env, None)
    if os.path.exists(dst) and _same_file(src, dst):
        fail(f"DST {dst}: is the same as SRC {src}; refusing to overwrite it")
    try:
        demos = convert_demos(src, dst, spec=environment.spec, src_format=from_, dst_format=to)
    except (ValueError, ImportError) as err:
        message = _one_line(err)
        named = message.startswith((os.fspath(src), os.fspath(dst), os.path.abspath(dst)))
        fail(message if named else f"{dst}: {message}")
    except OSError as err:
        fail(f"{dst}: could not convert {src} ({err.strerror or err}); nothing was "
             "written", 1)
    console.print(f"{demos.num_episodes} episodes ({demos.num_transitions} steps): {src} "
                  f"-> {dst} ({to})")


def _parse_grid(entry: AlgorithmEntry, overrides: list[str], items: list[str]
                ) -> dict[str, list[Any]]:
    """`--grid name=v1,v2,...` (repeatable) as `{name: [values]}`, each value read and
    checked like `--set name=value`."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name or not raw:
            fail(f"--grid {item}: expected name=value1,value2,..., e.g. "
                 "learning_rate=1e-4,3e-4")
        if name in grid:
            fail(f"--grid {item}: {name} is already swept; give its values in one --grid")
        if name.split(".")[0] == HEAD_OPTIONS:
            fail(f"--grid {item}: head options cannot be swept; use --set")
        values = []
        for value in raw.split(","):
            try:
                config = parse_overrides(entry.config, [*overrides, f"{name}={value}"])
            except CLIError as err:
                fail(str(err).replace(f"--set {name}={value}", f"--grid {item}", 1))
            values.append(functools.reduce(getattr, name.split("."), config))
        if len(set(map(repr, values))) < len(values):
            fail(f"--grid {item}: expected distinct values")
        grid[name] = values
    return grid


SWEEP_OUTPUTS = ("table.csv", "metrics.jsonl", "curves.png")
"""The files `jaxil sweep` writes in its --out folder."""


def _check_sweep_outputs(out: str, force: bool) -> None:
    """The files of `SWEEP_OUTPUTS` in `out` may be replaced only when they are an earlier
    sweep's (its table.csv is a sweep table) or with --force."""
    from jaxil.sweeps import is_sweep_table

    existing = [n for n in SWEEP_OUTPUTS if os.path.exists(os.path.join(out, n))]
    for name in existing:
        if os.path.isdir(os.path.join(out, name)):
            fail(f"--out {out}: {name} there is a directory; expected a folder for "
                 f"{', '.join(SWEEP_OUTPUTS)}")
    if existing and not force and not is_sweep_table(os.path.join(out, SWEEP_OUTPUTS[0])):
        fail(f"--out {out}: holds {', '.join(existing)} that an earlier sweep did not write; "
             "refusing to replace them (pass --force to overwrite)")


def _start_distributed(coordinator: str | None, num_processes: int | None,
                       process_id: int | None) -> None:
    """`jax.distributed.initialize` with the given settings; the unset ones are detected
    from the cluster's environment (SLURM, Open MPI, Kubernetes...) by JAX."""
    import jax

    try:
        jax.distributed.initialize(coordinator_address=coordinator,
                                   num_processes=num_processes, process_id=process_id)
    except (ValueError, TypeError, RuntimeError) as err:
        fail(f"--distributed: could not join the other processes ({_one_line(err)}); give "
             "--coordinator HOST:PORT --num-processes N --process-id I, or run under a "
             "cluster manager JAX detects (SLURM, Open MPI)", 1)


@app.command("sweep")
def sweep_(
    algo: Annotated[AlgorithmName, typer.Argument(help="Algorithm to sweep.")],
    env: Annotated[str, typer.Option(help="Environment name.")],
    demos: Annotated[str, typer.Option(help="Demonstrations (.npz from `jaxil expert`).")],
    out: Annotated[str, typer.Option(
        help="Output folder: table.csv (one row per configuration), metrics.jsonl and "
             "curves.png.")] = "runs/sweep",
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per configuration.")] = 8,
    grid: Annotated[list[str] | None, typer.Option(
        "--grid", help="Values to sweep, name=v1,v2,... (dotted for nested settings); "
                       "repeatable: every combination is a configuration.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Config override name=value for every run; repeatable.")] = None,
    updates: Annotated[int, typer.Option(min=1, help="Updates per run.")] = 2_000,
    batch_size: Annotated[int, typer.Option(min=1, help="Expert transitions per update.")]
    = 256,
    seed: Seed = 0,
    eval_every: Annotated[int | None, typer.Option(
        min=1, help="Evaluate every N updates inside the runs (the table then ranks the "
                    "last evaluation).")] = None,
    eval_episodes: Annotated[int, typer.Option(min=1, help="Episodes per evaluation.")]
    = 10,
    metric: Annotated[str | None, typer.Option(
        help="Metric of the table and curves (default: eval/return with --eval-every, "
             "else loss).")] = None,
    expert: Annotated[str | None, typer.Option(
        help="A saved expert policy, for methods that query one (dagger, dart).")] = None,
    backend: Backend = None,
    progress: ShowProgress = None,
    force: Force = False,
    distributed: Annotated[bool, typer.Option(
        "--distributed", help="Join other processes (one per host) with "
                              "jax.distributed first; the runs are spread over every "
                              "process's devices.")] = False,
    coordinator: Annotated[str | None, typer.Option(
        help="With --distributed: the coordinator's HOST:PORT (process 0's host).")] = None,
    num_processes: Annotated[int | None, typer.Option(
        min=1, help="With --distributed: the number of processes.")] = None,
    process_id: Annotated[int | None, typer.Option(
        min=0, help="With --distributed: this process's index.")] = None,
):
    """Trains ALGO for every combination of --grid values and --seeds seeds as one vmapped
    program per shape of network, sharded over all devices (of all hosts with
    --distributed), and writes a table (mean, IQM, 95% bootstrap interval) and curves."""
    import jax

    import jaxil

    if not distributed and (coordinator or num_processes or process_id is not None):
        fail("--coordinator/--num-processes/--process-id: need --distributed")
    algo = algo.value
    entry = ALGORITHMS[algo]
    overrides = set_ or []
    config = parse_overrides(entry.config, overrides)
    values = _parse_grid(entry, overrides, grid or [])
    _check_output_dir("--out", out, make=False)  # made when there are results to write
    _check_sweep_outputs(out, force)
    if distributed:
        _start_distributed(coordinator, num_processes, process_id)
    run = _set_up(entry, env, backend, demos, config, overrides, expert)
    data = run.data
    make_algo = jaxil.sweeps.configured(entry.factory, run.env, config, **run.extra)
    evaluation = {} if eval_every is None else {
        "eval_env": run.acting_env, "eval_every": eval_every, "eval_episodes": eval_episodes}
    runs = seeds * math.prod(len(v) for v in values.values())
    show = _show_progress(progress)
    with busy(console, f"sweeping {algo} on {env} ({runs} runs)", not show):
        try:
            result = jaxil.sweep(make_algo, jax.random.key(seed), data, seeds=seeds,
                                 grid=values, num_updates=updates, batch_size=batch_size,
                                 progress=show, **evaluation)
        except ValueError as err:
            fail(_setting_error(err, overrides, f"{algo} on {env} with --demos {demos}"))
    if metric is not None and metric not in result.metrics:
        fail(f"--metric {metric}: expected one of {', '.join(sorted(result.metrics))}")
    bad = _first_bad_metric(result.metrics)
    if bad is not None:
        console.print(f"warning: {bad} is not finite in some runs", style="yellow")
    text = result.format_table(metric)
    console.print(text, highlight=False)
    console.print(f"{runs} runs on {result.devices} devices: {result.run_seconds:.1f} s "
                  f"(+{result.compile_seconds:.1f} s compiling)")
    if jax.process_index() != 0:  # process 0 writes the files
        return
    _check_output_dir("--out", out)
    table_path, jsonl, curves = (os.path.join(out, name) for name in SWEEP_OUTPUTS)
    _write("--out", table_path, lambda: result.write_table(table_path, metric))
    _write("--out", jsonl, lambda: result.write_metrics(jsonl))
    _write("--out", curves, lambda: result.plot(curves, metric))
    console.print(f"-> {table_path}, {jsonl}" + (f", {curves}" if os.path.exists(curves)
                                                  else ""))


def main() -> None:
    """The `jaxil` entry point: exits with the command's code (errors as one line)."""
    sys.exit(run_reporting_errors(app))


if __name__ == "__main__":
    main()
