"""Saving and loading `Demos` as `.npz` files, without pickle.

A demos file is a (compressed) numpy `.npz` archive holding one array per `Demos` field
(`actions` and `rewards` are absent when `None`) and a `__jaxil__` entry: the UTF-8 bytes
of a JSON header

    {"format": "jaxil-demos", "version": 1, "env": <name or null>, "spec": {...} | null,
     "num_episodes": N, "num_transitions": M,
     "fields": {"obs": {"shape": [...], "dtype": "float32"}, ...},
     "metadata": {...user metadata...}}

Files are written atomically (temporary file + rename) and read with
`allow_pickle=False`; anything unexpected raises `ValueError` naming the problem.

Multi-agent demos (see `Demos`) are written as format version 2 (so a jaxil that knows
only version 1 refuses them by name rather than misreading them), with the same arrays
(`obs[N, T + 1, A, D]`, `actions[N, T, A, ...]`, `rewards[N, T, A]`, flags `[N, T]`,
`lengths[N]`) and `"spec"` a multi-agent spec
`{"name", "max_episode_steps", "agents": [<one single-agent spec per agent>]}`
(`jaxil.envs.multiagent.any_spec_to_json`). Single-agent files are unchanged (version 1).
Only the `"jaxil"` format holds multi-agent demos.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from jaxil.data import formats
from jaxil.data.demos import Demos, make_demos
from jaxil.data.validation import validate_demos
from jaxil.envs.multiagent import MultiAgentSpec, any_spec_from_json, any_spec_to_json
from jaxil.io import atomic_write
from jaxil.types import EnvSpec

FORMAT_NAME = "jaxil-demos"
FORMAT_VERSION = 1
MULTIAGENT_FORMAT_VERSION = 2
"""The version written for multi-agent demos (single-agent ones stay `FORMAT_VERSION`)."""
SUPPORTED_VERSIONS = (1, 2)
HEADER_KEY = "__jaxil__"
REQUIRED_FIELDS = ("obs", "terminated", "truncated", "lengths")
OPTIONAL_FIELDS = ("actions", "rewards")


def save(path: str | os.PathLike, demos: Demos, metadata: dict[str, Any] | None = None,
         spec: EnvSpec | None = None, format: str = "jaxil") -> None:
    """Writes `demos` to `path` (used as given: no `.npz` suffix is added).

    The demos are validated first (against `spec`, else their own `demos.spec`) and
    nothing is written if they are invalid. The write is atomic: on any failure no partial
    file is left and an existing file at `path` is unchanged.

    Args:
        path: destination file; its directory must exist.
        demos: the demonstrations.
        metadata: JSON-serialisable user metadata (expert return, seed, ...), returned by
            `load_with_metadata` under `"metadata"`.
        spec: the env's spec; recorded in the header (env name, sizes) and checked.
            `None`: the demos' own `spec` (as `collect` sets it), if any.
        format: `"jaxil"` (this module's `.npz`), or another library's format:
            `"imitation"` (rollout `.npz`), `"imitation-hf"` (a Hugging Face datasets
            folder) or `"minari"` (a Minari HDF5 dataset folder); each records what its
            layout can hold (see `jaxil.data.formats`).

    Raises:
        ValueError: the demos are invalid, the format is unknown or cannot hold them.
        TypeError: `metadata` is not JSON-serialisable.
        ImportError: the format needs h5py or pyarrow (`pip install 'jaxil[io]'`).
    """
    formats.check_format(format, formats.WRITABLE, "writing")
    validate_demos(demos, spec)
    spec = spec if spec is not None else demos.spec
    multi = isinstance(spec, MultiAgentSpec)
    if multi and format != "jaxil":
        raise ValueError(f"format: {format!r} cannot hold multi-agent demos ({spec.name!r}, "
                         f"{spec.num_agents} agents); use format='jaxil'")
    if format != "jaxil":
        formats.write(path, demos, format, spec=spec, metadata=metadata)
        return
    arrays = {name: np.asarray(value) for name, value in demos.arrays.items()
              if value is not None}
    header = {
        "format": FORMAT_NAME,
        "version": MULTIAGENT_FORMAT_VERSION if multi else FORMAT_VERSION,
        "env": None if spec is None else spec.name,
        "spec": None if spec is None else any_spec_to_json(spec),
        "num_episodes": demos.num_episodes,
        "num_transitions": demos.num_transitions,
        "fields": {name: {"shape": list(a.shape), "dtype": a.dtype.str}
                   for name, a in arrays.items()},
        "metadata": {} if metadata is None else dict(metadata),
    }
    try:
        text = json.dumps(header, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"metadata: expected a JSON-serialisable dict ({err})") from err
    arrays[HEADER_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


class _NotDemos(ValueError):
    """The file is readable but is not a jaxil demos file."""


def _read(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Reads the raw arrays and header of a demos file, checking the format."""
    where = os.fspath(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    try:
        if magic != b"PK\x03\x04":
            raise _NotDemos(f"expected an .npz (zip) archive, found a file starting with "
                            f"{magic!r}")
        with np.load(path, allow_pickle=False) as npz:
            names = set(npz.files)
            if HEADER_KEY not in names:
                raise _NotDemos(f"it has no {HEADER_KEY!r} header entry "
                                f"(entries: {sorted(names)})")
            try:
                header = json.loads(npz[HEADER_KEY].tobytes().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise _NotDemos(f"its {HEADER_KEY!r} header is not valid JSON") from err
            if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
                raise _NotDemos(f"its header does not declare format {FORMAT_NAME!r}")
            arrays = {name: npz[name] for name in names if name != HEADER_KEY}
    except _NotDemos as err:
        raise ValueError(f"{where}: not a jaxil demos file: {err}") from err
    except Exception as err:  # whatever a damaged archive makes zipfile or numpy raise
        raise ValueError(f"{where}: truncated or corrupted demos file "
                         f"({type(err).__name__}: {err})") from err
    return arrays, header


def load_with_metadata(path: str | os.PathLike, spec: EnvSpec | None = None,
                       format: str = "auto", *, max_episode_steps: int | None = None,
                       ) -> tuple[Demos, dict[str, Any]]:
    """Reads a file written by `save`, or another library's demos: `(demos, header)`.

    Args:
        path: the file (or, for `"imitation-hf"` and `"minari"`, the folder).
        spec: when given, the demos are validated against it (sizes, action space) and
            it must agree with the spec recorded in the file, if any. Formats that merge
            terminations and time-outs use its time limit to tell them apart.
        format: `"auto"` (detected from the content), `"jaxil"`, `"imitation"`,
            `"imitation-hf"`, `"minari"`, `"d4rl"` or `"ogbench"`; see
            `jaxil.data.formats` for each layout and its rules. Other formats give a
            header of the same keys, with `"format"` their name, `"version"` `None` and
            `"metadata"` what the source says about itself.
        max_episode_steps: the time limit for those formats, instead of the spec's.

    Returns:
        The validated `Demos` (numpy arrays; their `spec` is the given one, else the one
        recorded in the file) and the file's header: `"format"`,
        `"version"`, `"env"`, `"spec"`, `"num_episodes"`, `"num_transitions"`, `"fields"`
        (shape and dtype of each array) and `"metadata"` (what was given to `save`).

    Raises:
        ValueError: the file is not a jaxil demos file, is truncated or corrupted, has a
            format version this jaxil does not know, misses a field, has a header that
            does not match its arrays or `spec`, or holds demos that fail validation.
            Reading never modifies the file. With `"auto"`, a file or folder of no known
            format is named with the formats tried.
        ImportError: the format needs h5py or pyarrow (`pip install 'jaxil[io]'`).
    """
    if format == "auto":
        found = formats.detect(path)
        if found != "jaxil":
            return formats.read(path, found, spec, max_episode_steps=max_episode_steps)
        try:
            return load_with_metadata(path, spec, "jaxil")
        except ValueError as err:
            if isinstance(err.__cause__, _NotDemos):
                raise ValueError(f"{err}; nor a file of another format jaxil reads (tried "
                                 f"{', '.join(formats.READABLE)}); for arrays of your own, "
                                 f"build demos with jaxil.data.make_demos(obs, actions, "
                                 f"...) and write them with jaxil.data.save") from err
            raise
    if formats.resolve(path, format) != "jaxil":
        return formats.read(path, format, spec, max_episode_steps=max_episode_steps)
    where = os.fspath(path)
    arrays, header = _read(path)
    version = header.get("version")
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"{where}: version: demos format version {version!r} is not "
                         f"supported (this jaxil reads versions {list(SUPPORTED_VERSIONS)})")
    missing = [name for name in REQUIRED_FIELDS if name not in arrays]
    if missing:
        raise ValueError(f"{where}: {missing[0]}: missing field (expected fields "
                         f"{list(REQUIRED_FIELDS)} and optionally {list(OPTIONAL_FIELDS)}, "
                         f"found {sorted(arrays)})")
    fields = header.get("fields")
    fields = fields if isinstance(fields, dict) else {}
    for name, a in arrays.items():
        want = fields.get(name)
        if not isinstance(want, dict) or "shape" not in want or "dtype" not in want:
            continue
        if list(a.shape) != list(want["shape"]) or a.dtype.str != want["dtype"]:
            raise ValueError(f"{where}: {name}: header records shape {want['shape']} "
                             f"dtype {want['dtype']}, found {list(a.shape)} {a.dtype.str}: "
                             "the file is corrupted")
    try:
        recorded = None if header.get("spec") is None else any_spec_from_json(header["spec"])
        multi = isinstance(recorded, MultiAgentSpec)
        if version == MULTIAGENT_FORMAT_VERSION and not multi:
            raise ValueError(f"spec: format version {version} holds multi-agent demos, but "
                             f"the header records no multi-agent spec")
        if version != MULTIAGENT_FORMAT_VERSION and multi:
            raise ValueError(f"spec: format version {version} holds single-agent demos, but "
                             f"the header records a multi-agent spec ({recorded.name!r})")
        if recorded is not None and header.get("env") not in (None, recorded.name):
            raise ValueError(f"env: the header names env {header['env']!r} but its spec "
                             f"describes {recorded.name!r}")
        demos = make_demos(arrays["obs"], arrays.get("actions"), arrays.get("rewards"),
                           arrays["terminated"], arrays["truncated"], arrays["lengths"],
                           spec=recorded)
        if spec is not None:
            validate_demos(demos, spec)
            demos = demos._replace(spec=spec)
        _check_counts(header, demos)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err
    return demos, header


def _check_counts(header: dict[str, Any], demos: Demos) -> None:
    """The header's episode and transition counts match the arrays."""
    for name, found in (("num_episodes", demos.num_episodes),
                        ("num_transitions", demos.num_transitions)):
        recorded = header.get(name)
        if recorded is not None and recorded != found:
            raise ValueError(f"{name}: the header records {recorded!r}, the arrays hold "
                             f"{found}: the file is corrupted or was edited")


def load(path: str | os.PathLike, spec: EnvSpec | None = None, format: str = "auto", *,
         max_episode_steps: int | None = None) -> Demos:
    """Reads demos written by `save`, or in another library's format (detected from the
    content with `format="auto"`); see `load_with_metadata`, which also gives the header.

    Raises:
        ValueError: the file is not valid demos of the format (see `load_with_metadata`).
        ImportError: the format needs h5py or pyarrow (`pip install 'jaxil[io]'`).
    """
    return load_with_metadata(path, spec, format, max_episode_steps=max_episode_steps)[0]
