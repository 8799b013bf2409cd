"""Demonstration formats of other libraries: detection, importers and exporters.

`jaxil.data.load(path, spec, format="auto")` and `jaxil.data.save(..., format=...)` use
this package; `jaxil.data.convert` reads one format and writes another.

| format           | what                                          | read | write | needs    |
|------------------|-----------------------------------------------|------|-------|----------|
| `"jaxil"`        | jaxil's `.npz` (`jaxil.data.storage`)         | yes  | yes   |          |
| `"imitation"`    | imitation's rollout `.npz`                    | yes  | yes   |          |
| `"imitation-hf"` | imitation's Hugging Face datasets folder      | yes  | yes   | pyarrow  |
| `"minari"`       | a Minari dataset (HDF5 storage)               | yes  | yes   | h5py     |
| `"d4rl"`         | a D4RL-style flat HDF5 (or `.npz`) file       | yes  |       | h5py     |
| `"ogbench"`      | an OGBench `.npz`                             | yes  |       |          |

`pip install 'jaxil[io]'` installs h5py and pyarrow; without them, reading or writing a
format that needs one raises `ImportError` naming that extra.

Detection (`detect`) looks at the content, never the file name:

- a directory with `state.json` and `dataset_info.json`: `imitation-hf`; with
  `main_data.hdf5` (or a Minari `metadata.json`), itself or in `data/`: `minari`;
- an HDF5 file: `minari` if it holds `episode_<i>` groups, `d4rl` if it holds
  `observations`;
- an `.npz`: `jaxil` if it has jaxil's header entry; `imitation` with `obs`, `acts`
  and `indices`; `d4rl` with `observations`, `actions`, `terminals` and `timeouts`;
  `ogbench` with `observations`, `actions` and `terminals`;
- any other file is handed to the jaxil reader, whose error says what it found and
  which formats were tried; an unknown directory or HDF5 file raises `ValueError`
  naming them.

Each format module's docstring gives its layout and the rules it applies: how episodes
are split, where the final observation comes from, and how terminations and time-outs
are told apart where the format merges them (the time-limit rule:
`_common.time_limit_ends`). Every reader opens `.npz` files with `allow_pickle=False`
and never decodes `infos`.

Layering: the format modules build `Demos` with `jaxil.data.make_demos` and know nothing
of `jaxil.data.storage`, which dispatches to them; `convert` (above both) reads with
`load` and writes with `save`.
"""

from __future__ import annotations

import os
from typing import Any

from jaxil.data.demos import Demos
from jaxil.data.formats import _common, d4rl, imitation, imitation_hf, minari, ogbench
from jaxil.types import EnvSpec

READERS = {m.NAME: m.read for m in (imitation, imitation_hf, minari, d4rl, ogbench)}
WRITERS = {m.NAME: m.write for m in (imitation, imitation_hf, minari)}
READABLE = ("jaxil", *READERS)
WRITABLE = ("jaxil", *WRITERS)

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"


def check_format(format: str, known: tuple[str, ...], what: str) -> str:
    """`format` if it is one of `known`, else `ValueError` listing them."""
    if format not in known:
        raise ValueError(f"format: expected one of {', '.join(map(repr, known))} for "
                         f"{what}, found {format!r}")
    return format


def _detect_dir(path: str) -> str:
    if imitation_hf.looks_like(path):
        return imitation_hf.NAME
    if minari.looks_like(path):
        return minari.NAME
    raise ValueError(
        f"{path}: a directory of no demonstration format jaxil reads (tried "
        f"{', '.join(READABLE)}): expected an imitation Hugging Face dataset (state.json, "
        f"dataset_info.json and .arrow files) or a Minari dataset (main_data.hdf5 or "
        f"data/main_data.hdf5); the other formats are single files")


def _detect_hdf5(path: str) -> str:
    h5py = _common.require("h5py", "HDF5 (Minari or D4RL)")
    with h5py.File(path, "r") as file:
        names = set(file)
    if any(minari.EPISODE_GROUP.fullmatch(name) for name in names):
        return minari.NAME
    if "observations" in names:
        return d4rl.NAME
    raise ValueError(f"{path}: an HDF5 file of no demonstration format jaxil reads (tried "
                     f"{', '.join(READABLE)}): expected Minari's episode_<i> groups or "
                     f"D4RL's flat observations, actions and terminals; found entries "
                     f"{sorted(names)[:10]}")


def _detect_npz(path: str) -> str:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as npz:
            entries = set(npz.files)
    except Exception:  # a damaged archive: the jaxil reader reports it
        return "jaxil"
    if "__jaxil__" in entries:
        return "jaxil"
    for module in (imitation, d4rl, ogbench):
        if module.looks_like(entries):
            return module.NAME
    return "jaxil"


def detect(path: str | os.PathLike) -> str:
    """The format of the file or directory at `path`, from its content (see above).

    Anything that is not recognised as another format is `"jaxil"`, so that the jaxil
    reader reports what it found.

    Raises:
        ValueError: `path` is a directory or HDF5 file of no known format (naming the
            formats tried).
        FileNotFoundError: nothing is at `path`.
        ImportError: `path` is HDF5 and h5py is not installed.
    """
    where = os.fspath(path)
    if os.path.isdir(where):
        return _detect_dir(where)
    with open(where, "rb") as f:
        magic = f.read(8)
    if magic == _HDF5_MAGIC:
        return _detect_hdf5(where)
    if magic.startswith(_ZIP_MAGIC):
        return _detect_npz(where)
    return "jaxil"


def resolve(path: str | os.PathLike, format: str) -> str:
    """The format to read `path` with: `detect(path)` for `"auto"`, else `format` checked.

    Raises:
        ValueError: an unknown format name, or a directory given for a single-file format.
    """
    if format == "auto":
        return detect(path)
    check_format(format, READABLE, "reading")
    if os.path.isdir(path) and format not in (imitation_hf.NAME, minari.NAME):
        raise ValueError(f"{os.fspath(path)}: format {format!r} is a single file, found a "
                         f"directory")
    return format


def read(path: str | os.PathLike, format: str, spec: EnvSpec | None = None, *,
         max_episode_steps: int | None = None) -> tuple[Demos, dict[str, Any]]:
    """Reads `path` in the (non-jaxil) `format`: `(demos, header)`, the header shaped like
    a jaxil file's with the source's own description under `"metadata"`.

    Args:
        path: file or directory.
        format: one of `READERS`.
        spec: the env's spec: checked against the data, attached to the demos, and its
            time limit used by formats that merge terminations and time-outs.
        max_episode_steps: overrides the spec's time limit for those formats.
    """
    check_format(format, tuple(READERS), "reading other libraries' demonstrations")
    demos, metadata = READERS[format](path, spec, max_episode_steps=max_episode_steps)
    return demos, _common.foreign_header(format, demos, metadata)


def write(path: str | os.PathLike, demos: Demos, format: str, *, spec: EnvSpec | None = None,
          metadata: dict[str, Any] | None = None) -> None:
    """Writes `demos` to `path` in the (non-jaxil) `format`, atomically.

    Raises:
        ValueError: an unknown format, or demos the format cannot hold (see its module).
    """
    check_format(format, tuple(WRITERS), "writing other libraries' demonstrations")
    WRITERS[format](path, demos, spec=spec, metadata=metadata)
