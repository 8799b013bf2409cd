"""Running the `jaxil` command as a user does, in a subprocess, or in this process where a
subprocess elsewhere already covers the path (shared by the CLI tests)."""

from __future__ import annotations

import os
import subprocess
import sys

# A wide terminal and no colour: messages come out on one line, without escape codes.
ENV = {"COLUMNS": "400", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
CACHE_VARIABLE = "JAX_COMPILATION_CACHE_DIR"  # the run's compilation cache (conftest.py)


def run_jaxil(*args, cwd) -> subprocess.CompletedProcess:
    """`jaxil ARGS...` in `cwd`: the completed process (exit code, stdout, stderr as text)."""
    return subprocess.run([sys.executable, "-m", "jaxil.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env=environment())


def environment() -> dict[str, str]:
    """`ENV`, plus the test run's compilation cache when there is one."""
    cache = os.environ.get(CACHE_VARIABLE)
    return ENV if cache is None else {**ENV, CACHE_VARIABLE: cache}


def run_in_process(*args) -> int:
    """`jaxil ARGS...` in this process, reporting errors as the command does: its exit
    code (its output goes to this process's stdout and stderr, e.g. pytest's `capsys`)."""
    from jaxil.cli import app, run_reporting_errors

    return run_reporting_errors(lambda: app([str(a) for a in args], standalone_mode=False))
