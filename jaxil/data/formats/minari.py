"""Minari datasets in the HDF5 layout (format `"minari"`), read and written with `h5py`
(the `minari` package is not needed).

Layout (Minari's `HDF5Storage`): a dataset folder `<id>/data/` holding `metadata.json`
(`total_episodes`, `total_steps`, `data_format: "hdf5"`, the spaces serialised as JSON
strings, `dataset_id`, `minari_version`, optionally the gymnasium `env_spec`, ...) and
`main_data.hdf5` with one group `episode_<i>` per episode `i = 0..N-1`, each holding

- `observations`: `[L + 1, obs_dim]`, the final observation included;
- `actions`: `[L]` integers (discrete) or `[L, act_dim]`;
- `rewards`: `[L]`; `terminations`, `truncations`: `[L]` bool;
- optionally an `infos` group (ignored here) and attributes `id`, `total_steps`, `seed`.

`path` may be the dataset folder `<id>` (with `data/` inside), the `data` folder, or the
`main_data.hdf5` file itself. Only flat (`Box`) observations and `Box`/`Discrete` actions
are read; dictionary or tuple spaces, and Minari's `"arrow"` storage, raise `ValueError`.

Terminations and time-outs come from the file: the flags at an episode's last step. A
step flagged both terminated and truncated (gymnasium allows it) counts as terminated
(the episode really ended; it is not bootstrapped). An episode with neither flag keeps
neither. A flag before an episode's last step is an error.

Writing makes the same layout under `path/data/`: spaces from the spec (the argument,
else `demos.spec`; without one, observations as an unbounded `Box` and integer actions as
`Discrete(max + 1)`, continuous ones as an unbounded `Box`), `dataset_id` the folder name
(with `-v0` appended unless it ends in a version), `minari_version` 0.5.0, the jaxil spec
under `jaxil_spec` (used when reading back without a spec) and user `metadata` under
`jaxil_metadata`. Minari needs actions and rewards: demos without them are refused.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np

from jaxil.data.demos import Demos
from jaxil.data.formats import _common
from jaxil.types import Box, Discrete, EnvSpec, spec_from_json, spec_to_json

NAME = "minari"
MAIN, METADATA = "main_data.hdf5", "metadata.json"
MINARI_VERSION = "0.5.0"
EPISODE_GROUP = re.compile(r"episode_(\d+)")


def _is_data_folder(folder: str) -> bool:
    """`main_data.hdf5` is there, or a Minari `metadata.json` (of another storage)."""
    if os.path.isfile(os.path.join(folder, MAIN)):
        return True
    try:
        with open(os.path.join(folder, METADATA), encoding="utf-8") as f:
            metadata = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(metadata, dict) and {"data_format", "total_episodes"} <= set(metadata)


def data_folder(path: str) -> str | None:
    """The Minari data folder: `path` itself or `path/data`; `None` if neither is one."""
    for folder in (path, os.path.join(path, "data")):
        if _is_data_folder(folder):
            return folder
    return None


def looks_like(path: str) -> bool:
    """Whether the folder `path` is a Minari dataset (or its `data` folder)."""
    return os.path.isdir(path) and data_folder(path) is not None


def _metadata(where: str, folder: str) -> dict[str, Any]:
    file = os.path.join(folder, METADATA)
    if not os.path.isfile(file):
        return {}
    try:
        with open(file, encoding="utf-8") as f:
            metadata = json.load(f)
    except (OSError, ValueError) as err:
        raise _common.fail(where, METADATA, f"expected JSON ({err})") from err
    if not isinstance(metadata, dict):
        raise _common.fail(where, METADATA, f"expected a JSON object, found "
                                            f"{type(metadata).__name__}")
    return metadata


def _episodes(where: str, h5py, file) -> list[tuple[int, Any]]:
    episodes = []
    for key in file:
        match = EPISODE_GROUP.fullmatch(key)
        if match and isinstance(file[key], h5py.Group):
            episodes.append((int(match.group(1)), file[key]))
    episodes.sort(key=lambda e: e[0])
    if not episodes:
        raise _common.fail(where, "episode_0", f"missing (a Minari file holds groups "
                                               f"episode_0..episode_<N-1>, found "
                                               f"{sorted(file)[:10]})")
    ids = [i for i, _ in episodes]
    if ids != list(range(len(ids))):
        missing = sorted(set(range(max(ids) + 1)) - set(ids))[0]
        raise _common.fail(where, f"episode_{missing}", f"missing (found {len(ids)} episode "
                                                        f"groups up to episode_{max(ids)})")
    return episodes


def _dataset(where: str, h5py, group, name: str) -> np.ndarray:
    if name not in group:
        raise _common.fail(where, f"{group.name.lstrip('/')}/{name}",
                           f"missing (an episode holds observations, actions, rewards, "
                           f"terminations and truncations; found {sorted(group)})")
    item = group[name]
    if not isinstance(item, h5py.Dataset):
        raise _common.fail(where, f"{group.name.lstrip('/')}/{name}",
                           "expected an array, found a group (dictionary and tuple spaces "
                           "are not supported)")
    return item[()]


def read(path: str | os.PathLike, spec: EnvSpec | None = None, *,
         max_episode_steps: int | None = None) -> tuple[Demos, dict[str, Any]]:
    """Reads a Minari HDF5 dataset: `(demos, metadata.json contents)`.

    `max_episode_steps` is unused: Minari records terminations and truncations.

    Raises:
        ValueError: naming the path and the group or dataset that is missing or wrong.
        ImportError: h5py is not installed (`pip install 'jaxil[io]'`).
    """
    del max_episode_steps
    where = os.fspath(path)
    if os.path.isdir(where):
        folder = data_folder(where)
        if folder is None:
            raise _common.fail(where, MAIN, "missing (expected a Minari dataset folder with "
                                            "data/main_data.hdf5, or the data folder itself)")
        file_path = os.path.join(folder, MAIN)
    else:
        folder, file_path = os.path.dirname(where), where
    metadata = _metadata(where, folder)
    if metadata.get("data_format", "hdf5") != "hdf5":
        raise _common.fail(where, "data_format", f"expected 'hdf5', found "
                                                 f"{metadata['data_format']!r} (jaxil reads "
                                                 f"Minari's HDF5 storage only)")
    if not os.path.isfile(file_path):
        raise _common.fail(where, MAIN, "missing")
    h5py = _common.require("h5py", "Minari (HDF5)")
    obs, acts, rews, flags = [], [], [], []
    with h5py.File(file_path, "r") as file:
        for i, group in _episodes(where, h5py, file):
            obs.append(_dataset(where, h5py, group, "observations"))
            acts.append(_dataset(where, h5py, group, "actions"))
            rews.append(_dataset(where, h5py, group, "rewards"))
            flags.append((_dataset(where, h5py, group, "terminations"),
                          _dataset(where, h5py, group, "truncations")))
            steps = len(acts[-1])
            for name, x in (("observations", obs[-1]), ("rewards", rews[-1]),
                            ("terminations", flags[-1][0]), ("truncations", flags[-1][1])):
                want = steps + 1 if name == "observations" else steps
                if x.ndim == 0 or len(x) != want:
                    raise _common.fail(where, f"episode_{i}/{name}",
                                       f"expected {want} rows ({steps} actions"
                                       f"{' + the final observation' if want > steps else ''}),"
                                       f" found shape {list(np.shape(x))}")
            if steps == 0:
                raise _common.fail(where, f"episode_{i}/actions", "expected at least one step, "
                                                                  "found none")
    lengths = np.array([len(a) for a in acts], np.int64)
    for i, (terminations, truncations) in enumerate(flags):
        early = (terminations[:-1].astype(bool) | truncations[:-1].astype(bool))
        if early.any():
            raise _common.fail(where, f"episode_{i}/terminations", f"expected episode ends "
                                                                    f"only at the last step "
                                                                    f"{lengths[i] - 1}, found "
                                                                    f"one at step "
                                                                    f"{int(np.argmax(early))}")
    term = np.array([bool(f[0][-1]) for f in flags])
    trunc = np.array([bool(f[1][-1]) for f in flags])
    ends = np.where(term, _common.TERMINATED, np.where(trunc, _common.TRUNCATED, _common.OPEN))
    steps_first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    obs_first = steps_first + np.arange(len(lengths))
    if spec is None and isinstance(metadata.get("jaxil_spec"), dict):
        try:
            spec = spec_from_json(metadata["jaxil_spec"], "jaxil_spec")
        except ValueError as err:
            raise ValueError(f"{where}: {METADATA}: {err}") from err
    demos = _common.build_demos(
        where, _common.gather_obs(np.concatenate(obs), obs_first, lengths),
        _common.gather_steps(np.concatenate(acts), steps_first, lengths),
        _common.gather_steps(np.concatenate(rews), steps_first, lengths), lengths, ends, spec)
    return demos, metadata


def _box(shape: tuple[int, ...], low: Any, high: Any, dtype: str = "float32") -> str:
    bound = lambda b: np.broadcast_to(np.asarray(b, np.float64), shape).tolist()
    return json.dumps({"type": "Box", "dtype": dtype, "shape": list(shape),
                       "low": bound(low), "high": bound(high)})


def _spaces(ep: dict[str, Any], spec: EnvSpec | None) -> tuple[str, str]:
    """Minari's serialised observation and action spaces for the demos."""
    obs_space = _box(ep["obs"].shape[2:], -np.inf, np.inf)
    space = None if spec is None else spec.action_space
    actions = ep["actions"]
    if space is None:
        if np.issubdtype(actions.dtype, np.integer):
            space = Discrete(int(actions.max()) + 1)
        else:
            space = Box(tuple(actions.shape[2:]), -np.inf, np.inf)
    if isinstance(space, Discrete):
        action_space = json.dumps({"type": "Discrete", "dtype": "int64", "start": 0,
                                   "n": int(space.n)})
    else:
        action_space = _box(tuple(space.shape), space.low, space.high)
    return obs_space, action_space


def _dataset_id(path: str) -> str:
    name = os.path.basename(os.path.abspath(path))
    return name if re.fullmatch(r"[\w.-]+-v\d+", name) else f"{name}-v0"


def write(path: str | os.PathLike, demos: Demos, spec: EnvSpec | None = None,
          metadata: dict[str, Any] | None = None) -> None:
    """Writes `demos` as a Minari HDF5 dataset folder `path/data/...` (atomically: a
    temporary folder renamed into place; an existing Minari dataset at `path` is replaced).

    Raises:
        ValueError: the demos have no actions or no rewards.
        TypeError: `metadata` is not JSON-serialisable.
    """
    h5py = _common.require("h5py", "Minari (HDF5)")
    for field in ("actions", "rewards"):
        if getattr(demos, field) is None:
            raise ValueError(f"{field}: Minari datasets need {field}; these demos have none")
    spec = spec if spec is not None else demos.spec
    ep = _common.episode_arrays(demos)
    obs_space, action_space = _spaces(ep, spec)
    lengths = ep["lengths"]
    info = {"total_episodes": int(lengths.size), "total_steps": int(lengths.sum()),
            "data_format": "hdf5", "jpeg_encoding": False, "observation_space": obs_space,
            "action_space": action_space, "dataset_id": _dataset_id(os.fspath(path)),
            "algorithm_name": "jaxil", "minari_version": MINARI_VERSION,
            "jaxil_spec": None if spec is None else spec_to_json(spec),
            "jaxil_metadata": {} if metadata is None else dict(metadata)}
    try:
        text = json.dumps(info, allow_nan=True)
    except (TypeError, ValueError) as err:
        raise TypeError(f"metadata: expected a JSON-serialisable dict ({err})") from err

    def write_folder(tmp: str) -> None:
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        with h5py.File(os.path.join(data, MAIN), "w", track_order=True) as file:
            for i, n in enumerate(lengths.tolist()):
                group = file.create_group(f"episode_{i}")
                group.attrs["id"] = i
                group.attrs["total_steps"] = n
                group.create_dataset("observations", data=ep["obs"][i, :n + 1])
                actions = ep["actions"][i, :n]
                if np.issubdtype(actions.dtype, np.integer):
                    actions = actions.astype(np.int64)
                group.create_dataset("actions", data=actions)
                group.create_dataset("rewards", data=ep["rewards"][i, :n])
                for name, flag in (("terminations", ep["terminated"]),
                                   ("truncations", ep["truncated"])):
                    column = np.zeros(n, bool)
                    column[-1] = flag[i]
                    group.create_dataset(name, data=column)
                group.create_group("infos")
        with open(os.path.join(data, METADATA), "w", encoding="utf-8") as f:
            f.write(text)

    _common.atomic_directory(path, NAME, write_folder, looks_like)
