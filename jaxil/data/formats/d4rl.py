"""D4RL-style flat datasets (format `"d4rl"`): an HDF5 file (read with `h5py`) or an
`.npz` with the same arrays, `M` steps of all episodes one after the other:

- `observations`: `[M, obs_dim]` (or `[M, ...]`), the observation before each step;
- `actions`: `[M, ...]`; `rewards`: `[M]` (optional);
- `terminals`: `[M]`, true at a step after which the episode really ended;
- `timeouts`: `[M]` (optional), true at a step after which the episode hit its time limit;
- `next_observations`: `[M, obs_dim]` (optional), the observation after each step.

Other entries (`infos/...`, `metadata/...` groups) are ignored.

Episodes: an episode ends at each step flagged `terminals` or `timeouts`; steps after
the last flag form one more episode, cut by the end of the data.

Final observations and flags:

- with `next_observations`, every step is kept and an episode's final observation is
  `next_observations` at its last step. It ends terminated if its last step is flagged
  `terminals` (also when `timeouts` is set too: the episode really ended), truncated if
  flagged `timeouts` or cut by the end of the data.
- without `next_observations` the observation after an episode's last step is not in the
  file (`observations` continues with the next episode's reset). That last step is
  dropped: the episode keeps its first `L - 1` steps, ends on the observation before the
  dropped step, and is marked truncated (the data stop before the episode's end, so
  its value must be bootstrapped, whatever ended it). Episodes of one step are dropped.
  D4RL's own `qlearning_dataset` drops the time-out steps for the same reason.

`spec` is checked against the data; `max_episode_steps` is unused (time-outs are marked).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jaxil.data.demos import Demos
from jaxil.data.formats import _common
from jaxil.types import EnvSpec

NAME = "d4rl"
KEYS = ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")
REQUIRED = ("observations", "actions", "terminals")


def looks_like(entries: set[str]) -> bool:
    """Whether flat arrays with these names are a D4RL-style dataset."""
    return {"observations", "actions", "terminals", "timeouts"} <= entries


def _load(where: str, path: str) -> tuple[dict[str, np.ndarray], list[str]]:
    with open(path, "rb") as f:
        magic = f.read(8)
    if magic == b"\x89HDF\r\n\x1a\n":
        h5py = _common.require("h5py", "D4RL (HDF5)")
        with h5py.File(path, "r") as file:
            entries = sorted(file)
            arrays = {k: file[k][()] for k in KEYS
                      if k in file and isinstance(file[k], h5py.Dataset)}
        return arrays, entries
    with np.load(path, allow_pickle=False) as npz:
        return _common.read_npz(where, npz, KEYS), sorted(npz.files)


def flat_episodes(where: str, arrays: dict[str, np.ndarray], ends: np.ndarray,
                  end_codes: np.ndarray, spec: EnvSpec | None,
                  next_obs: np.ndarray | None) -> tuple[Demos, int]:
    """`Demos` from flat step arrays split at `ends` (true at each episode's last step).

    `end_codes[M]` is the code of an episode ending at each step (`OPEN` where none is
    marked). With `next_obs` every step is kept; without, each episode's last step is
    dropped and the episode is truncated (see the module docstring). Returns the demos
    and the number of one-step episodes dropped.
    """
    obs = arrays["observations"]
    starts, lengths = _common.split_points(where, "terminals", ends)
    codes = end_codes[starts + lengths - 1].copy()
    codes[codes == _common.OPEN] = _common.TRUNCATED  # cut by the end of the data
    dropped = 0
    if next_obs is None:
        keep = lengths > 1
        dropped = int((~keep).sum())
        starts, lengths = starts[keep], lengths[keep] - 1
        codes = np.full(lengths.shape, _common.TRUNCATED, np.int8)
        if lengths.size == 0:
            raise _common.fail(where, "observations", "expected an episode of at least two "
                                                      "steps (without next_observations each "
                                                      "episode's last step is dropped), found "
                                                      "none")
        padded_obs = _common.gather_obs(obs, starts, lengths)
    else:
        m = len(obs)
        source = np.concatenate([obs, next_obs])
        t = np.arange(int(lengths.max()) + 1)[None]
        inside = t < lengths[:, None]
        padded_obs = source[np.where(inside, starts[:, None] + t,
                                     m + (starts + lengths - 1)[:, None])]
    demos = _common.build_demos(where, padded_obs,
                                _common.gather_steps(arrays["actions"], starts, lengths),
                                _common.gather_steps(arrays.get("rewards"), starts, lengths),
                                lengths, codes, spec)
    return demos, dropped


def check_rows(where: str, arrays: dict[str, np.ndarray], names: tuple[str, ...]) -> int:
    """All the named arrays present have the same number of rows `M >= 1`; returns `M`."""
    m = len(arrays["observations"]) if arrays["observations"].ndim else 0
    if m == 0 or arrays["observations"].ndim < 2:
        raise _common.fail(where, "observations", f"expected shape [M >= 1, obs_dim], found "
                                                  f"{list(arrays['observations'].shape)}")
    for name in names:
        x = arrays.get(name)
        if x is not None and (x.ndim == 0 or len(x) != m):
            raise _common.fail(where, name, f"expected {m} rows (like observations), found "
                                            f"shape {list(x.shape)}")
    for name in ("rewards", "terminals", "timeouts"):
        x = arrays.get(name)
        if x is not None and x.ndim == 2 and x.shape[1] == 1:
            arrays[name] = x[:, 0]  # some files store [M, 1]
        elif x is not None and x.ndim != 1:
            raise _common.fail(where, name, f"expected shape [{m}], found {list(x.shape)}")
    if arrays.get("next_observations") is not None and \
            arrays["next_observations"].shape != arrays["observations"].shape:
        raise _common.fail(where, "next_observations", f"expected shape "
                                                       f"{list(arrays['observations'].shape)} "
                                                       f"like observations, found "
                                                       f"{list(arrays['next_observations'].shape)}")
    return m


def read(path: str | os.PathLike, spec: EnvSpec | None = None, *,
         max_episode_steps: int | None = None) -> tuple[Demos, dict[str, Any]]:
    """Reads a D4RL-style file: `(demos, {"entries", "dropped_episodes"})`.

    Raises:
        ValueError: naming the path and the missing or inconsistent array.
        ImportError: the file is HDF5 and h5py is not installed (`pip install 'jaxil[io]'`).
    """
    del max_episode_steps
    where = os.fspath(path)
    arrays, entries = _load(where, where)
    for name in REQUIRED:
        if name not in arrays:
            raise _common.fail(where, name, f"missing (a D4RL-style dataset has "
                                            f"{list(REQUIRED)}, optionally rewards, timeouts "
                                            f"and next_observations; found {entries})")
    m = check_rows(where, arrays, KEYS)
    terminals = arrays["terminals"].astype(bool)
    timeouts = arrays["timeouts"].astype(bool) if "timeouts" in arrays else np.zeros(m, bool)
    codes = np.where(terminals, _common.TERMINATED,
                     np.where(timeouts, _common.TRUNCATED, _common.OPEN)).astype(np.int8)
    demos, dropped = flat_episodes(where, arrays, terminals | timeouts, codes, spec,
                                   arrays.get("next_observations"))
    return demos, {"entries": entries, "dropped_episodes": dropped}
