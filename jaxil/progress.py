"""Reporting from inside a compiled training run: a progress bar and metric hooks.

`jaxil.train(..., progress=True, callback=fn)` calls the host every `report_every`
updates through `jax.debug.callback`, from inside the one compiled `lax.scan`, so it works
under `jit` and with vmapped seeds. This module holds the host side: `ProgressBar` (a
`rich` bar) and `Reporter`, which converts the metrics to Python floats and hands them to
the bar and to a user's callback (a TensorBoard or Weights & Biases writer, say: jaxil
depends on neither).

Under `jax.vmap` the host is called once per vmapped run with that run's scalars (JAX
runs a debug callback per batch element); the bar shows the last one it received.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

MetricsCallback = Callable[[int, dict[str, float]], None]
"""`callback(update, metrics)`: called on the host with the number of updates done and the
metrics of the latest one (Python floats; evaluation metrics are named `eval/...`)."""


def default_report_every(num_updates: int) -> int:
    """Updates between two reports when `train` is not told: a hundredth of the run."""
    return max(1, num_updates // 100)


class ProgressBar:
    """A `rich` progress bar fed by `Reporter`: updates done, updates per second, time left,
    and the latest value of one metric.

    Restarts when it receives a step below the last (a compiled function run again) and
    closes itself at the last update, so it needs no cleanup under `jit`; `close` ends it
    early (an interrupted run).

    Args:
        total: number of updates of the run.
        metric: the metric shown beside the bar (`None`: the first of `loss`,
            `eval/return`, `episode_return`, or of the sorted names, that is reported).
        description: text before the bar.
        file: where to draw (standard error by default).
    """

    def __init__(self, total: int, metric: str | None = None,
                 description: str = "training", file: Any = None):
        self.total = int(total)
        self.metric = metric
        self.description = description
        self._file = file
        self._bar = None
        self._task = None
        self._last = -1
        self._shown: dict[str, float] = {}
        self._lock = threading.Lock()

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(file=self._file or sys.stderr)
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                             MofNCompleteColumn(), TextColumn("updates"),
                             TimeElapsedColumn(), TimeRemainingColumn(),
                             TextColumn("{task.fields[shown]}"), console=console,
                             transient=False)
        self._task = self._bar.add_task(self.description, total=self.total, shown="")
        self._bar.start()

    def _choose(self, metrics: Mapping[str, float]) -> str | None:
        if self.metric is not None:
            return self.metric if self.metric in metrics else None
        for name in ("loss", "eval/return", "episode_return", *sorted(metrics)):
            if name in metrics:
                return name
        return None

    def __call__(self, step: int, metrics: Mapping[str, float]) -> None:
        with self._lock:
            if self._bar is not None and step < self._last:
                self._close()
            if self._bar is None:
                self._start()
            self._last = step
            name = self._choose(metrics)
            if name is not None:
                self._shown[name] = metrics[name]
            shown = "  ".join(f"{k} {v:.4g}" for k, v in self._shown.items())
            self._bar.update(self._task, completed=step, shown=shown)
            if step >= self.total:
                self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        self._bar, self._task, self._last, self._shown = None, None, -1, {}

    def close(self) -> None:
        """Ends the bar (safe to call more than once)."""
        with self._lock:
            self._close()


def _scalar(value: Any) -> float:
    value = np.asarray(value)
    return float(value) if value.size == 1 else float("nan")


class Reporter:
    """The host end of `jaxil.train`'s reports: `reporter(update, metrics)` converts the
    metrics (0-d arrays) to Python floats and calls the progress bar and the user's
    callback with them. Hashable by identity (it is a static part of compiled programs)."""

    def __init__(self, bar: ProgressBar | None = None, callback: MetricsCallback | None = None):
        self.bar = bar
        self.callback = callback

    def __call__(self, step: Any, metrics: Mapping[str, Any]) -> None:
        step = int(step)
        floats = {k: _scalar(v) for k, v in metrics.items()}
        if self.bar is not None:
            self.bar(step, floats)
        if self.callback is not None:
            self.callback(step, floats)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def busy(console: Any, message: str, show: bool = True) -> Any:
    """A context manager: a `rich` spinner with `message` on `console` while a long step
    runs, or nothing when `show` is off (a progress bar is drawn instead)."""
    return console.status(message) if show else contextlib.nullcontext()


def make_reporter(num_updates: int, progress: bool | str,
                  callback: MetricsCallback | None) -> Reporter | None:
    """The `Reporter` for `train`'s `progress` and `callback` arguments (`None`: neither)."""
    if progress is not True and progress is not False and not isinstance(progress, str):
        raise ValueError(f"progress: expected a bool or a metric name, got {progress!r}")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback: expected a callable callback(update, metrics), got "
                         f"{callback!r}")
    if not progress and callback is None:
        return None
    bar = None
    if progress:
        bar = ProgressBar(num_updates, metric=progress if isinstance(progress, str) else None)
    return Reporter(bar, callback)
