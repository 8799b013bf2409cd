"""Writing metrics: CSV files and learning-curve plots (matplotlib, the `plot` extra)."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping

import numpy as np


def write_metrics_csv(path: str | os.PathLike, metrics: Mapping[str, np.ndarray],
                      run: str = "", append: bool = False) -> None:
    """Writes per-update metrics as long-format rows `run, update, metric, value`.

    Args:
        path: CSV file.
        metrics: name -> `[num_updates]` array of scalars.
        run: a label for the run (e.g. `"bc/cartpole"`).
        append: add rows to an existing file instead of replacing it.
    """
    exists = os.path.exists(path) and append
    with open(path, "a" if append else "w", newline="") as f:
        writer = csv.writer(f)
        if not exists:
            writer.writerow(["run", "update", "metric", "value"])
        for name, values in sorted(metrics.items()):
            for i, v in enumerate(np.asarray(values).reshape(-1)):
                writer.writerow([run, i, name, f"{float(v):.6g}"])


def plot_learning_curves(path: str | os.PathLike,
                         curves: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]],
                         ) -> bool:
    """Plots one panel per entry of `curves`: `{panel: {label: (x[n], y[n])}}`.

    Returns False (and writes nothing) when matplotlib is not installed.
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
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
