"""Helpers shared by the benchmark scripts: machine description, JSON output, timing."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


def machine() -> dict[str, Any]:
    """What the numbers were measured on (JAX's version and device when it is installed:
    peer workers run in the peer library's Python, without JAX)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    info: dict[str, Any] = {"platform": platform.platform(), "cpu": cpu,
                            "cpu_count": os.cpu_count(), "python": platform.python_version()}
    if "jax" in sys.modules or importlib.util.find_spec("jax") is not None:
        import jax

        info.update(jax=jax.__version__, device=str(jax.devices()[0]))
    try:
        info["load_average_1m"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return info


def emit(record: dict[str, Any]) -> None:
    """Prints one JSON object per measurement, with `machine()` unless it has one."""
    if "machine" not in record:
        record = {**record, "machine": machine()}
    print(json.dumps(record), flush=True)


def save_figure(fig: Any, path: str) -> None:
    """Writes a matplotlib figure to `path` (creating its folder), closes it, and says so
    on stderr (stdout holds the JSON records)."""
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}", file=sys.stderr)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Runs `fn`, blocks on its result, returns `(result, seconds)`."""
    import jax

    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, time.perf_counter() - start


def run_peer(python: str | None, script: str, args: list[str],
             timeout: float = 1800) -> dict[str, Any] | None:
    """Runs `script` with the peer library's Python; returns its last JSON line, or None.

    `python` is an interpreter with the peer library (e.g. the PyTorch `imitation`
    library) installed; None or a missing interpreter skips the peer measurement.
    """
    if not python or not os.path.exists(python):
        return None
    proc = subprocess.run([python, script, *args], capture_output=True, text=True,
                          timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(json.dumps({"peer_error": proc.stderr[-2000:]}), file=sys.stderr)
        return None
    return json.loads(lines[-1])
