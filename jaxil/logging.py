"""Writing metrics: CSV and JSON Lines files, and learning-curve plots (matplotlib, the
`plot` extra).

Both files index rows by `update`, the 0-based index of an update; the evaluations of
`jaxil.train(..., eval_env=...)` (metrics `eval/...`, with `eval/update` the number of
updates done when each ran) sit on the row of the update they followed.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping

import numpy as np

from jaxil.io import atomic_write

METRICS_HEADER = ("run", "update", "metric", "value")
"""The first row of a metrics CSV."""


EVAL_UPDATE = "eval/update"
"""The metric that gives, for each evaluation, the number of updates done before it."""


def _indexed(metrics: Mapping[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`name -> (update_index[n], value[n])` for each scalar metric: per-update metrics at
    0, 1, ...; evaluations (`eval/...`) at the update they followed."""
    evals = None
    if EVAL_UPDATE in metrics:
        evals = np.asarray(metrics[EVAL_UPDATE]).reshape(-1).astype(np.int64) - 1
    out = {}
    for name, values in sorted(metrics.items()):
        if name == EVAL_UPDATE:
            continue
        values = np.asarray(values).reshape(-1)
        steps = np.arange(values.size)
        if evals is not None and name.startswith("eval/"):
            steps = evals
        out[name] = (steps, values)
    return out


def _metrics_rows(metrics: Mapping[str, np.ndarray], run: str, header: bool) -> bytes:
    """The CSV text (optionally with `METRICS_HEADER`) of `metrics`, as bytes."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    if header:
        writer.writerow(METRICS_HEADER)
    for name, (steps, values) in _indexed(metrics).items():
        for i, v in zip(steps, values, strict=True):
            writer.writerow([run, int(i), name, f"{float(v):.6g}"])
    return text.getvalue().encode()


def _read_for_append(path: str | os.PathLike, append: bool, check,
                     newline: bytes = b"\n") -> bytes:
    """The old contents to keep (`b""` without `append` or a file), checked by `check`,
    ending with a line break (`newline` added when it does not)."""
    if not (append and os.path.exists(path)):
        return b""
    with open(path, "rb") as f:
        old = f.read()
    if old:
        check(old)
        if not old.endswith(b"\n"):
            old += newline
    return old


def write_metrics_jsonl(path: str | os.PathLike, metrics: Mapping[str, np.ndarray],
                        run: str = "", append: bool = False) -> None:
    """Writes metrics as JSON Lines: one object per update, `{"run", "update", name:
    value, ...}` (evaluations on the update they followed; non-finite values as `NaN` /
    `Infinity`, as Python's `json` reads them).

    Written atomically, like `write_metrics_csv`; `append` keeps the old lines.

    Raises:
        ValueError: `append` to an existing file whose first line is not a JSON object.
    """
    def check(old: bytes) -> None:
        if not is_metrics_jsonl_line(old.split(b"\n", 1)[0]):
            raise ValueError(f"{os.fspath(path)}: not a metrics JSON Lines file (its first "
                             "line is not an object with a 'run' and an 'update'); refusing "
                             "to append")

    old = _read_for_append(path, append, check)
    atomic_write(path, lambda f: f.write(old + _jsonl_lines(metrics, run).encode()))


def is_metrics_jsonl_line(line: bytes) -> bool:
    """`line` is one that `write_metrics_jsonl` writes: a JSON object with a `run` and an
    `update`."""
    try:
        row = json.loads(line)
    except ValueError:
        return False
    return isinstance(row, dict) and "run" in row and "update" in row


def write_runs_jsonl(path: str | os.PathLike,
                     runs: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Several runs' metrics (`{run: metrics}`, e.g. a sweep's) to one JSON Lines file, in
    the format of `write_metrics_jsonl`, run after run, written atomically once."""
    text = "".join(_jsonl_lines(metrics, run) for run, metrics in runs.items())
    atomic_write(path, lambda f: f.write(text.encode()))


def _jsonl_lines(metrics: Mapping[str, np.ndarray], run: str) -> str:
    """The JSON Lines text of one run's metrics (one object per update)."""
    rows: dict[int, dict] = {}
    for name, (steps, values) in _indexed(metrics).items():
        for i, v in zip(steps, values, strict=True):
            rows.setdefault(int(i), {"run": run, "update": int(i)})[name] = float(v)
    return "".join(json.dumps(rows[i]) + "\n" for i in sorted(rows))


def read_metrics_jsonl(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The metrics of a file from `write_metrics_jsonl`: `name -> values` in file order
    (one run's file gives back the arrays written, `eval/update` aside)."""
    out: dict[str, list[float]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                for name, value in json.loads(line).items():
                    if name not in ("run", "update"):
                        out.setdefault(name, []).append(value)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def write_metrics_csv(path: str | os.PathLike, metrics: Mapping[str, np.ndarray],
                      run: str = "", append: bool = False) -> None:
    """Writes per-update metrics as long-format rows `run, update, metric, value`.

    The file is replaced atomically (`jaxil.io.atomic_write`): a failed write (a full
    disk, say) leaves the old file as it was, never a truncated one. Appending reads the
    old rows and writes old and new rows together, the same way.

    Args:
        path: CSV file.
        metrics: name -> `[num_updates]` array of scalars.
        run: a label for the run (e.g. `"bc/cartpole"`).
        append: add rows to an existing file instead of replacing it.

    Raises:
        ValueError: `append` to an existing file that is not a metrics CSV (its first
            line is not `METRICS_HEADER`).
    """
    def check(old: bytes) -> None:
        if old.split(b"\n", 1)[0].strip() != ",".join(METRICS_HEADER).encode():
            raise ValueError(f"{os.fspath(path)}: not a metrics CSV (its first line is not "
                             f"{','.join(METRICS_HEADER)!r}); refusing to append to it")

    old = _read_for_append(path, append, check, newline=b"\r\n")  # csv's line ending
    new = _metrics_rows(metrics, run, header=not old)
    atomic_write(path, lambda f: f.write(old + new))


def plot_learning_curves(path: str | os.PathLike,
                         curves: Mapping[str, Mapping[str, tuple[np.ndarray, ...]]],
                         ) -> bool:
    """Plots one panel per entry of `curves`: `{panel: {label: (x[n], y[n])}}`, or
    `(x[n], y[n], low[n], high[n])` for a curve with a shaded band.

    The image format follows the extension (PNG without one); the file is written
    atomically. Returns False (and writes nothing) when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.6), squeeze=False)
    for ax, (title, lines) in zip(axes[0], curves.items(), strict=True):
        for label, (x, y, *band) in lines.items():
            (line,) = ax.plot(np.asarray(x), np.asarray(y), label=label)
            if band:  # (x, y, low, high): a shaded interval around the curve
                ax.fill_between(np.asarray(x), np.asarray(band[0]), np.asarray(band[1]),
                                color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    image = io.BytesIO()  # rendered first, then written atomically
    extension = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    fig.savefig(image, dpi=110, format=extension or "png")
    plt.close(fig)
    atomic_write(path, lambda f: f.write(image.getvalue()))
    return True
