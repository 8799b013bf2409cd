"""The `imitation` library's Hugging Face datasets folders (format `"imitation-hf"`).

What `imitation.data.serialize.save` writes in imitation 1.0: a `datasets.Dataset`
saved with `save_to_disk`, one row per trajectory, read here with `pyarrow` alone (the
`datasets` package is not needed):

- `state.json` (lists the data files under `"_data_files"`), `dataset_info.json`
  (`"features"`), and the data: `data-00000-of-0000K.arrow`, Arrow IPC streams;
- columns `obs` (list of `L_i + 1` observation vectors), `acts` (list of `L_i` actions:
  integers, or vectors for continuous spaces), `infos` (list of `L_i` jsonpickle
  strings), `terminal` (bool) and, for trajectories with rewards, `rews` (list of
  `L_i` floats).

`infos` is never decoded (jsonpickle, like pickle, can run code). Terminations and
time-outs are told apart by the rule of the `"imitation"` format (see
`jaxil.data.formats.imitation`): `terminal=False` is truncated; a terminal trajectory
reaching the time limit (`max_episode_steps`, else the spec's) is truncated, a shorter one
terminated; without a limit terminal means terminated.

Writing produces the same layout (feature types in the `Sequence` spelling of the
`datasets` 2.x releases imitation 1.0 uses, `infos` as `"{}"` strings, what jsonpickle
makes of an empty dict); `metadata` is not stored.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np

from jaxil.data.demos import Demos
from jaxil.data.formats import _common
from jaxil.data.formats.imitation import split_trajectories, trajectory_arrays
from jaxil.types import EnvSpec

NAME = "imitation-hf"
STATE, INFO = "state.json", "dataset_info.json"


def looks_like(directory: str) -> bool:
    """Whether `directory` is a `datasets.Dataset.save_to_disk` folder."""
    return os.path.isfile(os.path.join(directory, STATE)) and os.path.isfile(
        os.path.join(directory, INFO))


def _data_files(where: str) -> list[str]:
    try:
        with open(os.path.join(where, STATE), encoding="utf-8") as f:
            state = json.load(f)
        files = [entry["filename"] for entry in state["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise _common.fail(where, STATE, f"expected a datasets state file listing "
                                         f"'_data_files' ({type(err).__name__}: {err})") from err
    if not files or not all(isinstance(name, str) and os.path.basename(name) == name
                            for name in files):
        raise _common.fail(where, f"{STATE}: _data_files", f"expected file names in the "
                                                           f"folder, found {files!r}")
    return files


def _read_table(where: str):
    pa = _common.require("pyarrow", "imitation Hugging Face (Arrow)")
    tables = []
    for name in _data_files(where):
        try:
            with pa.OSFile(os.path.join(where, name), "rb") as source:
                tables.append(pa.ipc.open_stream(source).read_all())
        except (OSError, pa.ArrowException) as err:
            raise _common.fail(where, name, f"expected an Arrow IPC stream "
                                            f"({type(err).__name__}: {err})") from err
    try:
        return pa.concat_tables(tables)
    except pa.ArrowException as err:
        raise _common.fail(where, "_data_files", f"expected data files of one schema "
                                                 f"({err})") from err


def _is_list(pa, kind) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind)


def _lists(where: str, table, name: str, vectors: bool) -> tuple[np.ndarray, np.ndarray]:
    """Column `name`, a list per trajectory of scalars or (`vectors`, when they are lists)
    of equal-length vectors: `(flat values [sum(L_i), ...], L_i [N])`."""
    pa = _common.require("pyarrow", "imitation Hugging Face (Arrow)")
    column = table.column(name).combine_chunks()
    if not _is_list(pa, column.type) or column.null_count:
        raise _common.fail(where, name, f"expected a list per trajectory without nulls, "
                                        f"found {column.type} with {column.null_count} nulls")
    lengths = column.value_lengths().to_numpy(zero_copy_only=False).astype(np.int64)
    values = column.flatten()
    if values.null_count:
        raise _common.fail(where, name, "expected no missing values")
    if vectors and pa.types.is_fixed_size_list(values.type):
        flat = values.flatten().to_numpy(zero_copy_only=False)
        return flat.reshape(len(values), values.type.list_size), lengths
    if vectors and _is_list(pa, values.type):
        widths = values.value_lengths().to_numpy(zero_copy_only=False)
        if widths.size and (widths != widths[0]).any():
            raise _common.fail(where, name, f"expected vectors of one size at every step, "
                                            f"found sizes {sorted(set(widths.tolist()))[:5]}")
        flat = values.flatten().to_numpy(zero_copy_only=False)
        return flat.reshape(len(values), int(widths[0]) if widths.size else 0), lengths
    if _is_list(pa, values.type) or pa.types.is_nested(values.type):
        raise _common.fail(where, name, f"expected numbers or vectors at every step, "
                                        f"found {values.type}")
    return values.to_numpy(zero_copy_only=False), lengths


def read(path: str | os.PathLike, spec: EnvSpec | None = None, *,
         max_episode_steps: int | None = None) -> tuple[Demos, dict[str, Any]]:
    """Reads an imitation Hugging Face datasets folder: `(demos, dataset_info)`.

    Raises:
        ValueError: naming the folder and the file or column that is missing or wrong.
        ImportError: pyarrow is not installed (`pip install 'jaxil[io]'`).
    """
    where = os.fspath(path)
    table = _read_table(where)
    columns = set(table.column_names)
    for name in ("obs", "acts", "terminal"):
        if name not in columns:
            raise _common.fail(where, name, f"missing column (an imitation dataset has "
                                            f"obs, acts, infos, terminal and optionally rews; "
                                            f"found {sorted(columns)})")
    obs, obs_lengths = _lists(where, table, "obs", True)
    acts, lengths = _lists(where, table, "acts", True)
    if not np.array_equal(obs_lengths, lengths + 1):
        i = int(np.argmax(obs_lengths != lengths + 1))
        raise _common.fail(where, "obs", f"expected one more observation than actions in "
                                         f"every trajectory, found {int(obs_lengths[i])} "
                                         f"observations and {int(lengths[i])} actions in "
                                         f"trajectory {i}")
    rews = None
    if "rews" in columns:
        rews, rew_lengths = _lists(where, table, "rews", False)
        if not np.array_equal(rew_lengths, lengths):
            i = int(np.argmax(rew_lengths != lengths))
            raise _common.fail(where, "rews", f"expected one reward per action, found "
                                              f"{int(rew_lengths[i])} rewards and "
                                              f"{int(lengths[i])} actions in trajectory {i}")
    terminal = table.column("terminal").to_numpy()
    if terminal.dtype != np.bool_:
        raise _common.fail(where, "terminal", f"expected bool, found {terminal.dtype}")
    demos = split_trajectories(where, obs, acts, rews, terminal, lengths, spec,
                               max_episode_steps)
    try:
        with open(os.path.join(where, INFO), encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError):
        info = {}
    return demos, info if isinstance(info, dict) else {}


def _sequence(feature: dict[str, Any]) -> dict[str, Any]:
    return {"feature": feature, "length": -1, "id": None, "_type": "Sequence"}


def _value(dtype: str) -> dict[str, Any]:
    return {"dtype": dtype, "id": None, "_type": "Value"}


def write(path: str | os.PathLike, demos: Demos, spec: EnvSpec | None = None,
          metadata: dict[str, Any] | None = None) -> None:
    """Writes `demos` as an imitation Hugging Face datasets folder (atomically: a temporary
    folder renamed into place; an existing dataset folder at `path` is replaced)."""
    del spec, metadata  # the format records neither
    pa = _common.require("pyarrow", "imitation Hugging Face (Arrow)")
    t = trajectory_arrays(demos)
    lengths = t["lengths"]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    obs_offsets = np.concatenate([[0], np.cumsum(lengths + 1)]).astype(np.int32)

    for name in ("obs", "acts"):
        if t[name].ndim > 2:
            raise ValueError(f"{'obs' if name == 'obs' else 'actions'}: expected flat vectors "
                             f"per step for {NAME}, found shape {list(t[name].shape[1:])}")

    def nested(flat: np.ndarray, outer: np.ndarray):
        """A list (per trajectory, `outer` offsets) of lists (vectors `flat[i]`)."""
        width = flat.shape[1]
        inner = np.arange(len(flat) + 1, dtype=np.int32) * width
        vectors = pa.ListArray.from_arrays(pa.array(inner), pa.array(flat.ravel()))
        return pa.ListArray.from_arrays(pa.array(outer), vectors)

    obs = t["obs"].astype(np.float32)
    acts = t["acts"]
    columns = {"obs": nested(obs, obs_offsets)}
    features = {"obs": _sequence(_sequence(_value("float32")))}
    if acts.ndim == 1:
        columns["acts"] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(acts))
        features["acts"] = _sequence(_value(str(acts.dtype)))
    else:
        columns["acts"] = nested(acts, offsets)
        features["acts"] = _sequence(_sequence(_value(str(acts.dtype))))
    columns["infos"] = pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(["{}"] * int(lengths.sum()), pa.string()))
    features["infos"] = _sequence(_value("string"))
    columns["terminal"] = pa.array(t["terminal"], pa.bool_())
    features["terminal"] = _value("bool")
    if t["rews"] is not None:
        columns["rews"] = pa.ListArray.from_arrays(pa.array(offsets),
                                                   pa.array(t["rews"].astype(np.float32)))
        features["rews"] = _sequence(_value("float32"))
    info = {"citation": "", "description": "", "features": features, "homepage": "",
            "license": ""}
    table = pa.table(columns).replace_schema_metadata(
        {"huggingface": json.dumps({"info": {"features": features}})})
    data_file = "data-00000-of-00001.arrow"

    def write_folder(tmp: str) -> None:
        with pa.OSFile(os.path.join(tmp, data_file), "wb") as sink:
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
        digest = hashlib.sha256()
        with open(os.path.join(tmp, data_file), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        state = {"_data_files": [{"filename": data_file}],
                 "_fingerprint": digest.hexdigest()[:16], "_format_columns": None,
                 "_format_kwargs": {}, "_format_type": None, "_output_all_columns": False,
                 "_split": None}
        for name, content in ((STATE, state), (INFO, info)):
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                json.dump(content, f, indent=2)

    _common.atomic_directory(path, NAME, write_folder, looks_like)
