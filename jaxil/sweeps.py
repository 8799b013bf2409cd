"""`sweep`: seeds times a hyperparameter grid as one vmapped program, sharded over every
device of every process (`jax.sharding`), with a results table and learning curves.

A sweep of `C` configurations and `S` seeds is `C * S` runs of `jaxil.train`. The runs
whose settings differ only in floats (learning rates, coefficients) are one program: their
PRNG keys and float settings are arrays with a leading run axis, `jax.vmap`ped, and laid
out over a one-axis `Mesh` of all devices (`NamedSharding(mesh, P("runs"))`), padded with
copies of the last run to a multiple of the device count. Settings of any other type
(ints, strings, tuples: they fix shapes or the program) give one program each.

Under `jax.distributed` (several processes, one per host, each with its local devices),
`jax.devices()` lists every process's devices, each process lays out its own shard of the
runs, and the results are gathered to every process: the same call, unchanged, on one
machine or on a cluster (see `docs/sweeps.md`).

Seed `s` of every configuration uses the key `jax.random.fold_in(key, s)` (common random
numbers across configurations), so a run of the sweep is `jaxil.train(make_algo(settings),
jax.random.fold_in(key, s), ...)` on its own, up to float reassociation.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxil.core import Algorithm
from jaxil.data.demos import Demos, as_transitions
from jaxil.envs.base import Env
from jaxil.io import atomic_write
from jaxil.logging import plot_learning_curves, write_runs_jsonl
from jaxil.training import check_on_host, train
from jaxil.types import PRNGKey, is_prng_key

__all__ = ["SweepResult", "configured", "interquartile_mean", "bootstrap_interval", "sweep",
           "with_settings"]

MakeAlgo = Callable[[Mapping[str, Any]], Algorithm]
"""`make_algo(settings) -> Algorithm`: `settings` maps each grid name to its value for one
run (a traced float32 scalar for float settings, the Python value for the others)."""


# ------------------------------------------------------------------ settings by name

def with_settings(config: Any, settings: Mapping[str, Any]) -> Any:
    """`config` (a dataclass / `equinox.Module`, possibly nested) with dotted names set:
    `with_settings(GAILConfig(), {"adversarial.disc_learning_rate": 1e-4})`.

    Raises:
        ValueError: a name that is not a field, naming it and the fields there are.
    """
    for name, value in settings.items():
        config = _set(config, name.split("."), value, name)
    return config


def _set(config: Any, path: list[str], value: Any, name: str) -> Any:
    fields = {f.name for f in dataclasses.fields(config)} if dataclasses.is_dataclass(
        config) else set()
    if path[0] not in fields:
        raise ValueError(f"grid: {name!r} is not a setting of {type(config).__name__} "
                         f"(its fields: {', '.join(sorted(fields)) or 'none'})")
    if len(path) > 1:
        value = _set(getattr(config, path[0]), path[1:], value, name)
    return dataclasses.replace(config, **{path[0]: value})


def configured(factory: Callable[..., Algorithm], env: Env, config: Any,
               **kwargs: Any) -> MakeAlgo:
    """The `make_algo` of `factory(env, with_settings(config, settings), **kwargs)`, e.g.
    `configured(jaxil.algorithms.gail, env, GAILConfig())`."""

    def make_algo(settings: Mapping[str, Any]) -> Algorithm:
        return factory(env, with_settings(config, settings), **kwargs)

    return make_algo


# ---------------------------------------------------------------------- statistics

def interquartile_mean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """The mean of the middle half of `values` along `axis`: `floor(n / 4)` values are
    dropped at each end (as `scipy.stats.trim_mean(values, 0.25)`, which rliable uses)."""
    values = np.sort(np.asarray(values, np.float64), axis=axis)
    n = values.shape[axis]
    cut = n // 4
    return np.take(values, np.arange(cut, n - cut), axis=axis).mean(axis=axis)


def bootstrap_interval(values: np.ndarray, statistic: Callable[..., np.ndarray] = np.mean,
                       confidence: float = 0.95, resamples: int = 2_000,
                       seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval of `statistic` over `values` `[n]` (the seeds):
    `resamples` resamples of `n` with replacement, from a fixed NumPy seed."""
    values = np.asarray(values, np.float64).reshape(-1)
    if values.size == 0:
        return float("nan"), float("nan")
    low, high = _bootstrap(values, statistic, confidence, resamples, seed)
    return float(low), float(high)


def _bootstrap(values: np.ndarray, statistic: Callable[..., np.ndarray], confidence: float,
               resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`bootstrap_interval` of every column of `values` `[n, ...]` at once (the same
    resampled seeds for every column), as `(low[...], high[...])`."""
    picks = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    stats = statistic(values[picks], axis=1)
    tail = (1 - confidence) / 2
    return np.quantile(stats, tail, axis=0), np.quantile(stats, 1 - tail, axis=0)


# ------------------------------------------------------------------------- results

@dataclasses.dataclass
class SweepResult:
    """What `sweep` returns.

    Attributes:
        names: the grid's setting names.
        configs: `[C]` dicts, each configuration's settings (in grid order: the last name
            varies fastest).
        seeds: `S`, the seeds per configuration.
        metrics: name -> `[C, S, num_updates]` (evaluations `eval/...`: `[C, S, E]`),
            NumPy arrays on the host.
        states: `[C]` final states, one per configuration, each leaf `[S, ...]` on the
            host (typed PRNG keys as their key data; `None` when `keep_states` was off).
        devices: devices the runs were laid out over.
        compile_seconds: compiling, summed over the programs.
        run_seconds: running, summed over the programs.
    """

    names: tuple[str, ...]
    configs: list[dict[str, Any]]
    seeds: int
    metrics: dict[str, np.ndarray]
    states: Any
    devices: int
    compile_seconds: float
    run_seconds: float

    def default_metric(self) -> str:
        """`eval/return` when the runs were evaluated, else `episode_return` or `loss`."""
        for name in ("eval/return", "episode_return", "loss"):
            if name in self.metrics:
                return name
        return sorted(self.metrics)[0]

    def final(self, metric: str | None = None, last: int = 10) -> np.ndarray:
        """`[C, S]`: each run's final value of `metric` (its last evaluation, or the mean
        of its last `last` updates)."""
        metric = metric or self.default_metric()
        if metric not in self.metrics:
            raise ValueError(f"metric: {metric!r} is not among the sweep's metrics "
                             f"({', '.join(sorted(self.metrics))})")
        values = self.metrics[metric]
        if values.shape[-1] == 0:
            raise ValueError(f"metric: {metric!r} has no values (no evaluation ran)")
        keep = 1 if metric.startswith("eval/") else last
        return values[..., -keep:].mean(axis=-1)

    def table(self, metric: str | None = None, last: int = 10,
              confidence: float = 0.95) -> list[dict[str, Any]]:
        """One row per configuration: its settings, and over its seeds' final values the
        `mean`, the interquartile mean `iqm`, and a bootstrap interval of the IQM
        (`iqm_low`, `iqm_high`), as rliable recommends."""
        metric = metric or self.default_metric()
        final = self.final(metric, last)
        rows = []
        for config, values in zip(self.configs, final, strict=True):
            low, high = bootstrap_interval(values, interquartile_mean, confidence)
            rows.append({**config, "metric": metric, "seeds": self.seeds,
                         "mean": float(values.mean()), "iqm": float(interquartile_mean(values)),
                         "iqm_low": low, "iqm_high": high})
        return rows

    def format_table(self, metric: str | None = None, last: int = 10) -> str:
        """`table` as aligned text."""
        rows = self.table(metric, last)
        columns = [*self.names, "mean", "iqm", "95% interval"]
        cells = [[_fmt(row[n]) for n in self.names]
                 + [_fmt(row["mean"]), _fmt(row["iqm"]),
                    f"[{_fmt(row['iqm_low'])}, {_fmt(row['iqm_high'])}]"] for row in rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
        title = f"{rows[0]['metric']} over {self.seeds} seeds (IQM's bootstrap interval)"
        return "\n".join([title, *lines])

    def curves(self, metric: str | None = None, confidence: float = 0.95
               ) -> dict[str, tuple[np.ndarray, ...]]:
        """`{label: (x, mean, low, high)}`: each configuration's curve of `metric`, the
        mean over seeds with a bootstrap interval of the mean at each point."""
        metric = metric or self.default_metric()
        values = self.metrics[metric]
        if metric.startswith("eval/") and "eval/update" in self.metrics:
            x = self.metrics["eval/update"][0, 0]
        else:
            x = np.arange(1, values.shape[-1] + 1)
        out = {}
        for config, runs in zip(self.configs, values, strict=True):
            label = ", ".join(f"{k}={_fmt(v)}" for k, v in config.items()) or "default"
            low, high = _bootstrap(np.asarray(runs, np.float64), np.mean, confidence, 500, 0)
            out[label] = (x, runs.mean(axis=0), low, high)
        return out

    def write_table(self, path: str, metric: str | None = None, last: int = 10) -> None:
        """`table` as CSV (atomically): the settings' columns, then `TABLE_COLUMNS`."""
        rows = self.table(metric, last)
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow([*self.names, *TABLE_COLUMNS])
        for row in rows:
            writer.writerow([*(row[n] for n in self.names), *(row[c] for c in TABLE_COLUMNS)])
        atomic_write(path, lambda f: f.write(text.getvalue().encode()))

    def write_metrics(self, path: str) -> None:
        """Every run's metrics to one JSON Lines file (atomically), each line's `run` the
        configuration's settings and the seed, `"learning_rate=0.001;seed=3"`."""
        runs = {}
        for i, config in enumerate(self.configs):
            label = ",".join(f"{k}={_fmt(v)}" for k, v in config.items())
            for s in range(self.seeds):
                name = f"{label};seed={s}" if label else f"seed={s}"
                runs[name] = {k: v[i, s] for k, v in self.metrics.items()}
        write_runs_jsonl(path, runs)

    def plot(self, path: str, metric: str | None = None) -> bool:
        """Learning curves (mean over seeds, 95% bootstrap band) of every configuration to
        an image at `path` (atomically); False without matplotlib."""
        metric = metric or self.default_metric()
        return plot_learning_curves(path, {f"{metric} ({self.seeds} seeds)":
                                           self.curves(metric)})


TABLE_COLUMNS = ("metric", "seeds", "mean", "iqm", "iqm_low", "iqm_high")
"""The last columns of a sweep table (`SweepResult.write_table`)."""


def is_sweep_table(path: str) -> bool:
    """`path` is a table that `SweepResult.write_table` wrote (its header ends with
    `TABLE_COLUMNS`)."""
    try:
        with open(path, "rb") as f:
            first = f.readline(1 << 16).decode().strip()
    except (OSError, UnicodeDecodeError):
        return False
    return first.endswith(",".join(TABLE_COLUMNS))


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


# --------------------------------------------------------------------------- sweep

def _is_float(value: Any) -> bool:
    return isinstance(value, float | np.floating) and not isinstance(value, bool)


def _check_grid(grid: Mapping[str, Sequence[Any]] | None) -> dict[str, list[Any]]:
    grid = dict(grid or {})
    for name, values in grid.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"grid: expected setting names (str), got {name!r}")
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"grid[{name!r}]: expected a non-empty list of values, got "
                             f"{values!r}")
        kinds = {_is_float(v) for v in values}
        if len(kinds) > 1:
            raise ValueError(f"grid[{name!r}]: mixes floats and other values ({values!r}); "
                             "floats are swept in one program, others one program each")
        if any(_is_float(v) and not math.isfinite(v) for v in values):
            raise ValueError(f"grid[{name!r}]: expected finite values, got {values!r}")
    return {name: list(values) for name, values in grid.items()}


def _global(host: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array laid out by `sharding` from the same host array on every process
    (each process supplies its addressable shards)."""
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def _to_host(tree: Any) -> Any:
    """Device arrays (sharded over processes too) as NumPy arrays on every process."""
    if jax.process_count() == 1:
        return jax.tree.map(np.asarray, tree)
    from jax.experimental import multihost_utils

    return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))


def sweep(make_algo: MakeAlgo, key: PRNGKey, demos: Demos | Any = None, *,
          seeds: int = 8, grid: Mapping[str, Sequence[Any]] | None = None,
          num_updates: int = 1_000, batch_size: int = 256, eval_env: Env | None = None,
          eval_every: int | None = None, eval_episodes: int = 10,
          devices: Sequence[jax.Device] | None = None, keep_states: bool = True,
          progress: bool | str = False) -> SweepResult:
    """Trains every configuration of `grid` with `seeds` seeds, as few vmapped programs as
    the grid allows, sharded over `devices` (all devices of all processes by default).

    Args:
        make_algo: `make_algo(settings) -> Algorithm` (see `MakeAlgo`; `configured` makes
            one from a factory, an env and a config).
        key: PRNG key; seed `s` runs with `jax.random.fold_in(key, s)`.
        demos: expert demonstrations for `jaxil.train` (`Demos` or its flat view; passed
            into the program as an argument, replicated on every device), or `None`.
        seeds: runs per configuration.
        grid: `{name: [values]}`, dotted names for nested settings
            (`{"adversarial.disc_learning_rate": [1e-4, 3e-4]}`); every combination is a
            configuration (the last name varies fastest). `None`: one configuration.
        num_updates, batch_size, eval_env, eval_every, eval_episodes, progress: as for
            `jaxil.train`, for every run.
        devices: the devices to lay the runs out over (default `jax.devices()`).
        keep_states: also return the final states (`SweepResult.states`).

    Returns:
        A `SweepResult` (metrics `[C, S, ...]`; `table()`, `plot(path)`).

    Raises:
        ValueError: a bad `seeds` or `grid` (naming the entry); demos that do not fit the
            algorithm (`jaxil.training.check_on_host`, before anything compiles).
    """
    if isinstance(seeds, bool) or not isinstance(seeds, int | np.integer) or seeds < 1:
        raise ValueError(f"seeds: expected a positive int, got {seeds!r}")
    grid = _check_grid(grid)
    names = tuple(grid)
    configs = [dict(zip(names, values, strict=True))
               for values in itertools.product(*grid.values())]
    float_names = tuple(n for n in names if _is_float(grid[n][0]))
    devices = list(jax.devices() if devices is None else devices)
    mesh = Mesh(np.array(devices), ("runs",))
    runs_sharding = NamedSharding(mesh, PartitionSpec("runs"))
    replicated = NamedSharding(mesh, PartitionSpec())
    samples_on_host = None if demos is None else (
        as_transitions(demos) if isinstance(demos, Demos) else demos)
    samples = jax.tree.map(lambda x: _global(np.asarray(x), replicated), samples_on_host)
    key_data = np.stack([np.asarray(jax.random.key_data(jax.random.fold_in(key, s)))
                         for s in range(seeds)])
    options = dict(eval_env=eval_env, eval_every=eval_every, eval_episodes=eval_episodes,
                   progress=progress)

    groups: dict[tuple, list[int]] = {}  # static settings -> configuration indices
    for i, config in enumerate(configs):
        static = tuple((n, config[n]) for n in names if n not in float_names)
        groups.setdefault(static, []).append(i)

    results: list[Any] = [None] * len(configs)
    compile_seconds = run_seconds = 0.0
    for members in groups.values():  # the demos' checks, on the host, before compiling
        check_on_host(make_algo(configs[members[0]]), key, samples_on_host)
    for static, members in groups.items():
        floats = np.array([[configs[i][n] for n in float_names] for i in members],
                          np.float32).reshape(len(members), len(float_names))
        count = len(members) * seeds
        padded = -(-count // len(devices)) * len(devices)
        order = np.minimum(np.arange(padded), count - 1)  # pads repeat the last run
        run_keys = key_data[order % seeds]
        run_floats = floats[order // seeds]

        def one(k, f, data, fixed=static):
            settings = {**dict(fixed), **{n: f[j] for j, n in enumerate(float_names)}}
            algo = make_algo(settings)
            return train(algo, jax.random.wrap_key_data(k), data, num_updates, batch_size,
                         **options)

        program = jax.jit(jax.vmap(one, in_axes=(0, 0, None)), out_shardings=runs_sharding)
        args = (_global(run_keys, runs_sharding), _global(run_floats, runs_sharding), samples)
        start = time.perf_counter()
        compiled = program.lower(*args).compile()
        compiled_at = time.perf_counter()
        state, metrics = jax.block_until_ready(compiled(*args))
        run_seconds += time.perf_counter() - compiled_at
        compile_seconds += compiled_at - start
        metrics = _to_host(metrics)
        state = _to_host(_keys_as_data(state)) if keep_states else None
        for j, i in enumerate(members):
            rows = slice(j * seeds, (j + 1) * seeds)
            results[i] = (jax.tree.map(lambda x, r=rows: x[r], metrics),
                          None if state is None else jax.tree.map(lambda x, r=rows: x[r],
                                                                  state))
    shapes = {name: {k: v.shape for k, v in r[0].items()} for name, r in
              zip(map(str, configs), results, strict=True)}
    if len({str(s) for s in shapes.values()}) > 1:
        raise ValueError(f"grid: configurations give metrics of different names or shapes "
                         f"({shapes}); sweep them separately")
    stacked = {k: np.stack([r[0][k] for r in results]) for k in results[0][0]}
    states = [r[1] for r in results] if keep_states else None
    return SweepResult(names, configs, seeds, stacked, states, len(devices),
                       compile_seconds, run_seconds)


def _keys_as_data(tree: Any) -> Any:
    """Typed PRNG keys as their raw `uint32` data (gatherable, stackable)."""
    return jax.tree.map(lambda x: jax.random.key_data(x) if is_prng_key(x) else x, tree)
