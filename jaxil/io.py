"""Small file-system helpers shared by every module that writes files."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import BinaryIO


def current_umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Calls `write(file)` on a temporary file next to `path`, then renames it to `path`.

    The rename is atomic on POSIX and Windows, so readers see either the old file or the
    complete new one (with the default permissions, `0o666` less the umask). If `write`
    raises, the temporary file is removed, an existing file at `path` is left untouched
    and the error propagates.

    Args:
        path: destination file; its directory must exist.
        write: writes the whole content to the binary file object it is given.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):  # mkstemp makes 0600 files; use the usual mode
                os.fchmod(f.fileno(), 0o666 & ~current_umask())
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
