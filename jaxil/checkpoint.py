"""Full-state checkpoints: a training run's whole pytree saved to one file, restored bit for bit.

Everything an algorithm's state holds is saved exactly: equinox modules, optax states,
normaliser statistics, replay buffers, environment states with typed PRNG keys
(`jax.random.key`), step counters, metrics. `jaxil.train(..., checkpoint_dir=...)` uses
this module to save a run after every chunk of updates and to resume it.

A checkpoint is one file, `<directory>/checkpoint-<step>.ckpt` (the step, zero-padded,
is the number of updates done):

- line 1, a JSON header: `{"format": "jaxil-checkpoint-v1", "jaxil": <version>,
  "step": <int>, "fingerprint": {...}, "keys": [...], "payload_bytes": <int>,
  "sha256": <hex of the payload>, "header_sha256": <hex of the other fields>}`;
- then the payload: the tree's array leaves in `jax.tree` order, each a NumPy `.npy`
  record (written by `equinox.tree_serialise_leaves`, read back with `allow_pickle=False`:
  nothing is ever unpickled). A typed PRNG key is saved as its `jax.random.key_data`
  (`uint32`), and its implementation (`"threefry2x32"`, `"rbg"`, ...) is recorded in
  `"keys"` (one entry per saved leaf, `null` for the other leaves) to wrap it back;
  Python scalars are saved as 0-d arrays of their own precision (`float64`, `int64`).

A file is written to a temporary name in the same directory, flushed, fsynced and renamed
(`jaxil.io.atomic_write`), and the directory is fsynced, so a crash leaves either the old
files or the complete new one. A truncated or corrupted file (its payload's length or
SHA-256 differs from the header's) is skipped, with a warning, in favour of the previous
checkpoint. The last `keep` (2) checkpoints are kept; older ones are removed once a new one
is safely written.

The fingerprint (`fingerprint`) says which run a checkpoint belongs to, so a directory
holding another run's checkpoints is refused (`CheckpointMismatchError`) and left as it is.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import warnings
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxil.io import atomic_write
from jaxil.types import is_prng_key
from jaxil.version import __version__

__all__ = [
    "CHECKPOINT_FORMAT", "CheckpointMismatchError", "KEEP", "checkpoint_files", "fingerprint",
    "latest_step", "restore", "save",
]

CHECKPOINT_FORMAT = "jaxil-checkpoint-v1"
KEEP = 2
"""How many checkpoints `save` keeps (the newest)."""

_NAME = re.compile(r"^checkpoint-(\d+)\.ckpt$")
_TEMPORARY = re.compile(r"^\.tmp-.*checkpoint-\d+\.ckpt$")  # `atomic_write`'s, left by a crash
_HEADER_LIMIT = 1 << 24  # bytes: the header line is far shorter
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # `<function f at 0x7f...>` differs per process

_LABELS = {
    "jaxil": "jaxil version",
    "state": "state structure (networks, optimiser and env state: tree, shapes, dtypes)",
    "key": "PRNG key",
    "num_updates": "num_updates",
    "batch_size": "batch_size",
    "demos": "demonstrations",
    "description": "description",
}
_SHOWN = ("jaxil", "num_updates", "batch_size", "description")  # values worth printing


class CheckpointMismatchError(ValueError):
    """A checkpoint directory holds a checkpoint of another run (other settings)."""


class _Corrupt(Exception):
    """A checkpoint file that cannot be read back (truncated, corrupted, foreign)."""


# ------------------------------------------------------------------------ fingerprint

def _is_saved(x: Any) -> bool:
    """A leaf whose value is saved: an array (or its shape) or a Python / NumPy scalar.

    Other leaves (functions held by a module, ...) are part of the program, not of its
    state: they come back from the `like` tree given to `restore`.
    """
    return isinstance(x, (jax.Array, jax.ShapeDtypeStruct, np.ndarray, np.generic, bool, int,
                          float, complex))


def _sha256(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


def _leaf_signature(x: Any) -> str:
    """`"shape dtype"` of an array-like leaf, `"type name"` of any other leaf."""
    if _is_saved(x) and not isinstance(x, (bool, int, float, complex)):
        return f"{tuple(x.shape)} {x.dtype}"
    return type(x).__name__


def _key_text(key: Any) -> str:
    """`"<impl>:<hex of its data>"` for a typed key, `"raw <dtype>[<shape>]:<hex>"` for a
    raw one (`jax.random.PRNGKey`)."""
    if is_prng_key(key):
        data = np.asarray(jax.random.key_data(key))
        return f"{jax.random.key_impl(key)}:{data.tobytes().hex()}"
    data = np.asarray(key)
    return f"raw {data.dtype}{list(data.shape)}:{data.tobytes().hex()}"


def _tree_digest(tree: Any) -> str:
    """SHA-256 of a pytree's structure and its leaves' shapes, dtypes and bytes."""
    leaves, treedef = jax.tree.flatten(tree)
    parts = [_ADDRESS.sub("", str(treedef))]
    for x in leaves:
        x = np.asarray(x)
        parts += [f"{x.shape} {x.dtype}", np.ascontiguousarray(x).tobytes()]
    return _sha256(*parts)


def fingerprint(state: Any, key: Any, *, num_updates: int, batch_size: int,
                demos: Any = None, description: str = "") -> dict[str, str | int]:
    """What makes two training runs the same run (same settings), as JSON values.

    Args:
        state: the run's initial state, or its shapes (`equinox.filter_eval_shape` of
            `init`): its tree structure (which includes equinox static fields, so the
            network sizes and static config) and its leaves' shapes and dtypes count.
        key: the run's PRNG key (typed or raw); its data and implementation count.
        num_updates: the run's total number of updates.
        batch_size: expert transitions per update.
        demos: the demonstrations (any pytree of arrays, e.g. the flat `Transition`
            `[M, ...]`), digested (structure, shapes, dtypes, bytes); `None` for none.
        description: free text naming what the state does not show (the algorithm and its
            float settings, which live in `update`'s closure): e.g. the CLI's
            `"gail on cartpole, GAILConfig(...)"`.

    Returns:
        `{"jaxil", "state", "key", "num_updates", "batch_size", "demos", "description"}`:
        the version, SHA-256 digests (`state`, `key`, `demos`), the two ints and the text.
    """
    leaves, treedef = jax.tree.flatten(state)
    structure = _sha256(_ADDRESS.sub("", str(treedef)), *map(_leaf_signature, leaves))
    return {
        "jaxil": __version__,
        "state": structure,
        "key": _sha256(_key_text(key)),
        "num_updates": int(num_updates),
        "batch_size": int(batch_size),
        "demos": "none" if demos is None else _tree_digest(demos),
        "description": str(description),
    }


def _differences(theirs: dict, mine: dict) -> str:
    """What differs between two fingerprints, in words."""
    found = []
    for name in [*_LABELS, *sorted((set(theirs) | set(mine)) - set(_LABELS))]:
        a, b = theirs.get(name), mine.get(name)
        if a == b:
            continue
        label = _LABELS.get(name, name)
        if name in _SHOWN:
            found.append(f"{label} {a!r} there, {b!r} here")
        else:
            found.append(f"another {label}")
    return "; ".join(found) or "another format"


# ----------------------------------------------------------------------- host arrays

def _to_host(tree: Any) -> tuple[list[np.ndarray], list[str | None]]:
    """The saved leaves of `tree` as NumPy arrays, and each one's key implementation."""
    arrays, impls = [], []
    for x in jax.tree.leaves(tree):
        if not _is_saved(x):
            continue
        if isinstance(x, jax.ShapeDtypeStruct):
            raise TypeError("save: the tree holds shapes (jax.ShapeDtypeStruct), not values")
        if is_prng_key(x):
            arrays.append(np.asarray(jax.random.key_data(x)))
            impls.append(str(jax.random.key_impl(x)))
        else:
            arrays.append(np.asarray(x))
            impls.append(None)
    return arrays, impls


def _expected(x: Any) -> np.ndarray:
    """The shape and dtype a saved leaf like `x` has in the payload, as a read-only NumPy
    array of that shape that takes no memory (the `like` of `tree_deserialise_leaves`)."""
    if is_prng_key(x):
        shape = jax.eval_shape(jax.random.key_data, jax.ShapeDtypeStruct(x.shape, x.dtype))
    elif isinstance(x, (bool, int, float, complex)):
        shape = np.asarray(x)
    else:
        shape = jax.ShapeDtypeStruct(tuple(x.shape), x.dtype)
    return np.broadcast_to(np.zeros((), shape.dtype), shape.shape)


def _save_npy(f, x: np.ndarray) -> None:
    np.save(f, x, allow_pickle=False)


def _load_npy(f, like: np.ndarray) -> np.ndarray:
    try:
        x = np.load(f, allow_pickle=False)
    except Exception as err:  # a short read, a bad .npy header, an object array
        raise _Corrupt(f"unreadable array ({type(err).__name__}: {err})") from err
    if x.shape != like.shape or x.dtype != like.dtype:
        raise _Corrupt(f"an array of {x.shape} {x.dtype} where {like.shape} {like.dtype} "
                       "was expected")
    return x


def _restore_leaf(like: Any, x: np.ndarray, impl: str | None) -> Any:
    """The leaf `like` (a value or its `jax.ShapeDtypeStruct`) with the saved value `x`."""
    if is_prng_key(like):
        if impl is None:
            raise _Corrupt("a PRNG key saved without its implementation")
        key = jax.random.wrap_key_data(jnp.asarray(x), impl=impl)
        if key.dtype != like.dtype:
            raise _Corrupt(f"a {key.dtype} PRNG key where {like.dtype} was expected")
        return key
    if isinstance(like, (bool, int, float, complex)):
        return type(like)(x.item())
    if isinstance(like, np.generic):
        return x[()]
    if isinstance(like, np.ndarray):
        return x
    if getattr(like, "weak_type", False) and x.shape == ():
        weak = jnp.asarray(x.item())  # a Python scalar makes a weakly typed array
        if weak.dtype == x.dtype:
            return weak
    return jnp.asarray(x)


# ------------------------------------------------------------------------ files

def _path(directory: str | os.PathLike, step: int) -> str:
    return os.path.join(os.fspath(directory), f"checkpoint-{step:012d}.ckpt")


def checkpoint_files(directory: str | os.PathLike) -> list[tuple[int, str]]:
    """`[(step, path)]` of the checkpoint files in `directory`, newest (highest step) first.

    Only names `checkpoint-<step>.ckpt` count; other files are ignored (and never touched).
    A missing directory has none.
    """
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = [(int(m.group(1)), os.path.join(os.fspath(directory), name))
             for name in names if (m := _NAME.match(name))]
    return sorted(found, reverse=True)


def _read_header(path: str) -> dict:
    """The JSON header of the checkpoint file at `path` (`_Corrupt` if it has none)."""
    try:
        with open(path, "rb") as f:
            line = f.readline(_HEADER_LIMIT)
        header = json.loads(line.decode())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _Corrupt(f"no readable header ({type(err).__name__})") from err
    if not isinstance(header, dict) or header.get("format") != CHECKPOINT_FORMAT:
        raise _Corrupt(f"not a {CHECKPOINT_FORMAT!r} file")
    for name, kind in (("step", int), ("fingerprint", dict), ("keys", list),
                       ("payload_bytes", int), ("sha256", str), ("header_sha256", str)):
        if not isinstance(header.get(name), kind):
            raise _Corrupt(f"header field {name!r} is missing or malformed")
    if _header_digest(header) != header["header_sha256"]:
        raise _Corrupt("corrupted header: its SHA-256 differs from the one it records")
    return header


def _header_digest(header: dict) -> str:
    """SHA-256 of the header's other fields (canonical JSON): a damaged header is caught
    as damage, not taken for another run's."""
    fields = {k: v for k, v in header.items() if k != "header_sha256"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def _read_payload(path: str, header: dict) -> bytes:
    """The payload of the file at `path`, checked against the header's length and hash."""
    with open(path, "rb") as f:
        f.readline(_HEADER_LIMIT)
        payload = f.read()
    if len(payload) != header["payload_bytes"]:
        raise _Corrupt(f"truncated or extended: {len(payload)} payload bytes, the header "
                       f"says {header['payload_bytes']}")
    if hashlib.sha256(payload).hexdigest() != header["sha256"]:
        raise _Corrupt("corrupted: the payload's SHA-256 differs from the header's")
    return payload


def _fsync_directory(directory: str) -> None:
    """Makes a rename in `directory` durable (where the OS can open directories)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _prune(directory: str, step: int, keep: int) -> None:
    """Removes the checkpoints older than the newest `keep` up to `step`, those past
    `step` (skipped as corrupted when this run resumed) and crashed saves' temporary files."""
    kept = 0
    for other, path in checkpoint_files(directory):
        if other <= step and kept < keep:
            kept += 1
            continue
        os.remove(path)
    for name in os.listdir(directory):
        if _TEMPORARY.match(name):
            os.remove(os.path.join(directory, name))


def save(directory: str | os.PathLike, tree: Any, step: int, run: dict,
         keep: int = KEEP) -> str:
    """Saves `tree` as the checkpoint of `step` in `directory`, atomically.

    Args:
        directory: an existing directory.
        tree: any pytree of values (arrays, typed PRNG keys, Python and NumPy scalars;
            other leaves, e.g. functions, are not saved).
        step: the number of updates done (names the file).
        run: the run's `fingerprint`, stored in the header.
        keep: how many checkpoints to keep: once the new file is written, older ones are
            removed (with checkpoints past `step` and leftover temporary files).

    Returns:
        The path of the new checkpoint file.
    """
    if keep < 1:
        raise ValueError(f"keep: expected at least 1, got {keep}")
    directory = os.fspath(directory)
    arrays, impls = _to_host(tree)
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, arrays, filter_spec=_save_npy)
    payload = buffer.getvalue()
    header = {"format": CHECKPOINT_FORMAT, "jaxil": __version__, "step": int(step),
              "fingerprint": run, "keys": impls, "payload_bytes": len(payload),
              "sha256": hashlib.sha256(payload).hexdigest()}
    header["header_sha256"] = _header_digest(header)
    line = (json.dumps(header, sort_keys=True) + "\n").encode()
    path = _path(directory, step)

    def write(f):
        f.write(line)
        f.write(payload)

    atomic_write(path, write)
    _fsync_directory(directory)
    _prune(directory, int(step), keep)
    return path


def _load(path: str, header: dict, like: Any) -> Any:
    """The tree saved at `path`, in the structure of `like` (`_Corrupt` if unreadable)."""
    payload = _read_payload(path, header)
    leaves, treedef = jax.tree.flatten(like)
    saved = [x for x in leaves if _is_saved(x)]
    impls = header["keys"]
    if len(impls) != len(saved):
        raise _Corrupt(f"{len(impls)} saved leaves where {len(saved)} were expected")
    buffer = io.BytesIO(payload)
    try:
        arrays = eqx.tree_deserialise_leaves(buffer, [_expected(x) for x in saved],
                                             filter_spec=_load_npy)
    except _Corrupt:
        raise
    except Exception as err:  # equinox wraps the leaf's error, naming the leaf
        cause = err.__cause__ if err.__cause__ is not None else err
        raise _Corrupt(f"{err}: {cause}") from err
    if buffer.tell() != len(payload):
        raise _Corrupt(f"{len(payload) - buffer.tell()} bytes left over after the arrays")
    restored = iter(_restore_leaf(x, a, i) for x, a, i in zip(saved, arrays, impls,
                                                                strict=True))
    return jax.tree.unflatten(treedef, [next(restored) if _is_saved(x) else x
                                        for x in leaves])


def _skip(path: str, why: Any) -> None:
    warnings.warn(f"{path}: {why}; skipping it for the previous checkpoint", stacklevel=3)


def restore(directory: str | os.PathLike, like: Callable[[int], Any],
            run: dict) -> tuple[int, Any] | None:
    """The newest intact checkpoint of the run `run` in `directory`, if any.

    A file that cannot be read back (no header, truncated, corrupted payload) is skipped
    with a `UserWarning`, for the previous one. Nothing in `directory` is changed.

    Args:
        directory: where `save` wrote the run's checkpoints (may not exist).
        like: `like(step)` is the saved tree's structure, shapes and dtypes at `step`
            (values or `jax.ShapeDtypeStruct`s, e.g. `equinox.filter_eval_shape` of
            `init`; typed keys as key dtypes): a function of the step, for trees whose
            shapes grow with it (metrics `[step]`). Leaves that are not saved (functions
            held by a module) are taken from it.
        run: this run's `fingerprint`.

    Returns:
        `(step, tree)`, or `None` when the directory holds no intact checkpoint.

    Raises:
        CheckpointMismatchError: the directory holds a checkpoint of another run (its
            fingerprint differs), naming what differs.
    """
    files = checkpoint_files(directory)
    headers = {}
    for _, path in files:
        try:
            header = _read_header(path)
        except _Corrupt as why:
            _skip(path, why)
            continue
        if header["fingerprint"] != run:
            raise CheckpointMismatchError(
                f"checkpoint_dir {os.fspath(directory)}: holds a checkpoint of another run "
                f"({os.path.basename(path)}: {_differences(header['fingerprint'], run)}); "
                "use another directory, or remove its checkpoint-*.ckpt files to start over")
        headers[path] = header
    for step, path in files:
        if path not in headers:
            continue
        header = headers[path]
        try:
            if header["step"] != step:
                raise _Corrupt(f"its header says step {header['step']}")
            tree = _load(path, header, like(step))
        except _Corrupt as why:
            _skip(path, why)
            continue
        return step, tree
    return None


def latest_step(directory: str | os.PathLike) -> int | None:
    """The step of the newest intact checkpoint in `directory` (of any run), or `None`."""
    for step, path in checkpoint_files(directory):
        try:
            header = _read_header(path)
            _read_payload(path, header)
        except _Corrupt:
            continue
        if header["step"] == step:
            return step
    return None
