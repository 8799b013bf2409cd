"""What the format modules share: padding flat episodes into `Demos`, the time-limit rule
that tells terminations from time-outs, optional imports, atomic directory writes."""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

from jaxil.data.demos import Demos, make_demos
from jaxil.io import current_umask
from jaxil.types import EnvSpec, spec_to_json

# How an episode ends, one code per episode (`ends[N]`).
OPEN, TERMINATED, TRUNCATED = 0, 1, 2

EXTRA_HINT = "pip install 'jaxil[io]'"


def require(module: str, fmt: str) -> Any:
    """Imports the optional `module` (`h5py`, `pyarrow`) that reading `fmt` needs.

    Raises:
        ImportError: naming the format and the extra that installs the module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"reading or writing {fmt} demonstrations needs {module}, which is "
                          f"not installed: {EXTRA_HINT}") from err


def fail(where: str, field: str, message: str) -> ValueError:
    """`ValueError("<where>: <field>: <message>")`, the shape of every format error."""
    return ValueError(f"{where}: {field}: {message}")


def read_npz(where: str, npz: Any, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """`npz[name]` for each name present in an `.npz` opened with `allow_pickle=False`,
    refusing object arrays (they need pickle, which jaxil never uses to read data)."""
    out = {}
    for name in names:
        if name not in npz.files:
            continue
        try:
            out[name] = npz[name]
        except ValueError as err:  # numpy: "Object arrays cannot be loaded when ..."
            raise fail(where, name, "expected a numeric array, found an object array "
                                    "(jaxil never unpickles data)") from err
    return out


def time_limit_ends(complete: np.ndarray, lengths: np.ndarray, limit: int | None,
                    unknown: int = TERMINATED) -> np.ndarray:
    """End codes `[N]` for formats that only say whether an episode is complete.

    The rule: an incomplete episode (a fragment cut before its end) was truncated; a
    complete one that reached the time limit `limit` (`lengths >= limit`) was truncated
    by it, a shorter complete one terminated. Without a limit every complete episode gets
    the code `unknown` (nothing in the data tells a time-out apart).
    """
    complete = np.asarray(complete, bool)
    if limit is None:
        return np.where(complete, unknown, TRUNCATED).astype(np.int8)
    timed_out = np.asarray(lengths) >= limit
    return np.where(complete & ~timed_out, TERMINATED, TRUNCATED).astype(np.int8)


def resolve_limit(spec: EnvSpec | None, max_episode_steps: int | None) -> int | None:
    """The time limit for `time_limit_ends`: `max_episode_steps` if given, else the spec's."""
    if max_episode_steps is not None:
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps: expected a positive int, "
                             f"found {max_episode_steps}")
        return int(max_episode_steps)
    return None if spec is None else spec.max_episode_steps


def split_points(where: str, field: str, boundaries: np.ndarray) -> tuple[np.ndarray, ...]:
    """Episodes of a flat array from end markers: `(starts[N], lengths[N])`.

    `boundaries[M]` is true at the last row of each episode; rows after the last marker
    form one more episode (the data end there).
    """
    boundaries = np.asarray(boundaries).astype(bool)
    if boundaries.ndim != 1 or boundaries.size == 0:
        raise fail(where, field, f"expected a non-empty 1-D array, found shape "
                                 f"{list(boundaries.shape)}")
    ends = np.flatnonzero(boundaries) + 1
    if ends.size == 0 or ends[-1] != boundaries.size:
        ends = np.append(ends, boundaries.size)
    starts = np.concatenate([[0], ends[:-1]])
    return starts, ends - starts


def gather_obs(flat: np.ndarray, first: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """`[N, T + 1, ...]` observations: rows `first[i] + t` for `t = 0..lengths[i]`, the
    last one repeated as padding (`T = max(lengths)`)."""
    t = np.arange(int(lengths.max()) + 1)
    return flat[first[:, None] + np.minimum(t[None], lengths[:, None])]


def gather_steps(flat: np.ndarray | None, first: np.ndarray,
                 lengths: np.ndarray) -> np.ndarray | None:
    """`[N, T, ...]` per-step values: rows `first[i] + t` for `t < lengths[i]`, zeros after."""
    if flat is None:
        return None
    t = np.arange(int(lengths.max()))
    inside = t[None] < lengths[:, None]
    out = flat[first[:, None] + np.where(inside, t[None], 0)]
    return np.where(inside.reshape(inside.shape + (1,) * (out.ndim - 2)), out,
                    np.zeros((), out.dtype))


def build_demos(where: str, obs: np.ndarray, actions: np.ndarray | None,
                rewards: np.ndarray | None, lengths: np.ndarray, ends: np.ndarray,
                spec: EnvSpec | None) -> Demos:
    """Validated `Demos` from padded arrays and end codes; errors name `where`.

    Args:
        where: the path, for error messages.
        obs: `[N, T + 1, ...]`; actions: `[N, T, ...]` or `None`; rewards: `[N, T]` or
            `None`; lengths: `[N]`; ends: `[N]` codes `OPEN`, `TERMINATED`, `TRUNCATED`.
        spec: checked against and attached to the demos (`make_demos`).
    """
    t = obs.shape[1] - 1
    last = np.arange(t)[None] == (lengths[:, None] - 1)
    terminated = last & (ends == TERMINATED)[:, None]
    truncated = last & (ends == TRUNCATED)[:, None]
    try:
        return make_demos(obs, actions, rewards, terminated, truncated, lengths, spec=spec)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err


def foreign_header(fmt: str, demos: Demos, metadata: dict[str, Any]) -> dict[str, Any]:
    """A header shaped like a jaxil demos file's (`load_with_metadata`) for other formats:
    `"format"` is the format's name, `"version"` `None`, `"metadata"` what the source
    records about itself (JSON-like)."""
    spec = demos.spec
    fields = {name: {"shape": list(np.shape(a)), "dtype": np.asarray(a).dtype.str}
              for name, a in demos.arrays.items() if a is not None}
    return {"format": fmt, "version": None, "env": None if spec is None else spec.name,
            "spec": None if spec is None else spec_to_json(spec),
            "num_episodes": demos.num_episodes, "num_transitions": demos.num_transitions,
            "fields": fields, "metadata": metadata}


def episode_arrays(demos: Demos) -> dict[str, Any]:
    """The demos as host arrays for the exporters: `obs[N, T + 1, ...]`,
    `actions[N, T, ...] | None`, `rewards[N, T] | None`, `lengths[N]`, `terminated[N]` and
    `truncated[N]` (the flag at each episode's last step)."""
    lengths = np.asarray(demos.lengths).astype(np.int64)
    rows = np.arange(lengths.size)
    as_np = lambda x: None if x is None else np.asarray(x)
    return {"obs": np.asarray(demos.obs), "actions": as_np(demos.actions),
            "rewards": as_np(demos.rewards), "lengths": lengths,
            "terminated": np.asarray(demos.terminated)[rows, lengths - 1],
            "truncated": np.asarray(demos.truncated)[rows, lengths - 1]}


def flat_steps(x: np.ndarray, lengths: np.ndarray, extra: int = 0) -> np.ndarray:
    """The valid rows of padded `x[N, T (+ 1), ...]` concatenated: `[sum(lengths + extra), ...]`."""
    mask = np.arange(x.shape[1])[None] < (lengths + extra)[:, None]
    return x[mask]


def atomic_directory(path: str | os.PathLike, fmt: str, write: Callable[[str], None],
                     is_same_format: Callable[[str], bool]) -> None:
    """Calls `write(tmp_dir)` on a fresh directory next to `path`, then renames it to `path`.

    An existing `path` is replaced only if it is an empty directory or a dataset of the same
    format (`is_same_format(path)`); it is moved aside first and removed once the new one
    is in place, so readers see the old dataset or the complete new one. If `write` fails
    nothing is left behind and an existing dataset is untouched.

    Raises:
        ValueError: `path` exists and is a file or an unrelated, non-empty directory.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.lexists(path):
        if not os.path.isdir(path):
            raise fail(path, "path", f"expected a directory for format {fmt!r} (or a new "
                                     f"path), found an existing file")
        if os.listdir(path) and not is_same_format(path):
            raise fail(path, "path", f"expected a new path, an empty directory or a {fmt} "
                                     f"dataset to replace, found a directory holding other "
                                     f"files (nothing was changed)")
    parent = os.path.dirname(path)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".tmp-{os.path.basename(path)}-")
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        write(tmp)
        if os.path.lexists(path):
            old = tempfile.mkdtemp(dir=parent, prefix=f".old-{os.path.basename(path)}-")
            os.replace(path, os.path.join(old, "d"))
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(os.path.join(old, "d"), path)
                raise
            finally:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
