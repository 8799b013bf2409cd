"""Running the `jaxil` command as a user does, in a subprocess (shared by the CLI tests)."""

from __future__ import annotations

import subprocess
import sys

# A wide terminal and no colour: messages come out on one line, without escape codes.
ENV = {"COLUMNS": "400", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}


def run_jaxil(*args, cwd) -> subprocess.CompletedProcess:
    """`jaxil ARGS...` in `cwd`: the completed process (exit code, stdout, stderr as text)."""
    return subprocess.run([sys.executable, "-m", "jaxil.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env=ENV)
