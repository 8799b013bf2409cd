"""Writing metrics: CSV files and learning-curve plots (matplotlib, the `plot` extra)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping

import numpy as np

from jaxil.io import atomic_write

METRICS_HEADER = ("run", "update", "metric", "value")
"""The first row of a metrics CSV."""


def _metrics_rows(metrics: Mapping[str, np.ndarray], run: str, header: bool) -> bytes:
    """The CSV text (optionally with `METRICS_HEADER`) of `metrics`, as bytes."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    if header:
        writer.writerow(METRICS_HEADER)
    for name, values in sorted(metrics.items()):
        for i, v in enumerate(np.asarray(values).reshape(-1)):
            writer.writerow([run, i, name, f"{float(v):.6g}"])
    return text.getvalue().encode()


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
    old = b""
    if append and os.path.exists(path):
        with open(path, "rb") as f:
            old = f.read()
        first = old.split(b"\n", 1)[0].strip()
        if old and first != ",".join(METRICS_HEADER).encode():
            raise ValueError(f"{os.fspath(path)}: not a metrics CSV (its first line is not "
                             f"{','.join(METRICS_HEADER)!r}); refusing to append to it")
        if old and not old.endswith(b"\n"):
            old += b"\r\n"
    new = _metrics_rows(metrics, run, header=not old)
    atomic_write(path, lambda f: f.write(old + new))


def plot_learning_curves(path: str | os.PathLike,
                         curves: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]],
                         ) -> bool:
    """Plots one panel per entry of `curves`: `{panel: {label: (x[n], y[n])}}`.

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
        for label, (x, y) in lines.items():
            ax.plot(np.asarray(x), np.asarray(y), label=label)
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
