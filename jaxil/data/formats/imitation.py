"""The PyTorch `imitation` library's rollout `.npz` files (format `"imitation"`).

Layout (written by `imitation.data.types.save` in imitation 0.3-0.4, read by
`imitation.data.serialize.load` in imitation 1.0), for `N` trajectories of `L_i` steps:

- `obs`: `[sum(L_i + 1), ...]` the observations of all trajectories, one after the other
  (each trajectory has one more observation than actions: its final observation);
- `acts`: `[sum(L_i), ...]` actions (integers for discrete spaces);
- `rews`: `[sum(L_i)]` rewards, present only for `TrajectoryWithRew`;
- `infos`: `[sum(L_i)]` an object array of info dicts (stored with pickle);
- `terminal`: `[N]` bool, whether each trajectory ends its episode;
- `indices`: `[N - 1]` `cumsum(L_i)[:-1]`, where to split `acts` (and, shifted by the
  trajectory index plus one, `obs`).

Reading never unpickles: the file is opened with `allow_pickle=False` and `infos` (or any
other object array) is never read. A file whose needed arrays are object arrays is
rejected.

Terminations and time-outs: imitation marks every complete episode `terminal=True`,
whether it ended or hit the time limit. The rule (`_common.time_limit_ends`): a
trajectory with `terminal=False` is a fragment cut before its end: truncated; a terminal
one of `max_episode_steps` or more steps (the override, else the spec's time limit) was
truncated by the time limit; a shorter terminal one terminated. Without a spec and
without `max_episode_steps`, every terminal trajectory counts as terminated.

Writing follows imitation's own writer: every episode that ended (terminated or
truncated) is `terminal=True`, an episode without a flag `terminal=False`; `infos` is what
imitation writes when there are none (an object array of empty dicts); rewards are
written when the demos have them. Demos without actions cannot be written (imitation's
trajectories always have actions); user `metadata` has no place in the format and is not
stored. Round trips are exact for demos whose truncated episodes reach the time limit of
the spec used to read them back (as `jaxil.data.collect` makes them).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jaxil.data.demos import Demos
from jaxil.data.formats import _common
from jaxil.io import atomic_write
from jaxil.types import EnvSpec

NAME = "imitation"
REQUIRED = ("obs", "acts", "terminal", "indices")


def looks_like(entries: set[str]) -> bool:
    """Whether an `.npz` with these entries is an imitation rollout file."""
    return {"obs", "acts", "indices"} <= entries


def split_trajectories(where: str, obs: np.ndarray, acts: np.ndarray, rews: np.ndarray | None,
                       terminal: np.ndarray, lengths: np.ndarray, spec: EnvSpec | None,
                       max_episode_steps: int | None) -> Demos:
    """`Demos` from imitation's concatenated trajectories (shared with `imitation-hf`).

    Args:
        obs: `[sum(L_i + 1), ...]`; acts: `[sum(L_i), ...]`; rews: `[sum(L_i)]` or `None`;
        terminal: `[N]`; lengths: `[N]` the `L_i`.
    """
    n = lengths.size
    if n == 0:
        raise _common.fail(where, "terminal", "expected at least one trajectory, found none")
    if (lengths < 1).any():
        i = int(np.argmax(lengths < 1))
        raise _common.fail(where, "indices", f"expected increasing split indices (every "
                                             f"trajectory has an action), found trajectory {i} "
                                             f"with {int(lengths[i])} actions")
    if len(acts) != lengths.sum():
        raise _common.fail(where, "acts", f"expected {int(lengths.sum())} rows (the "
                                          f"trajectory lengths), found {len(acts)}")
    if len(obs) != lengths.sum() + n:
        raise _common.fail(where, "obs", f"expected {int(lengths.sum() + n)} rows (one more "
                                         f"than actions per trajectory: {len(acts)} actions, "
                                         f"{n} trajectories), found {len(obs)}")
    if rews is not None and rews.shape != (len(acts),):
        raise _common.fail(where, "rews", f"expected shape [{len(acts)}] (one per action), "
                                          f"found {list(rews.shape)}")
    steps = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    first_obs = steps + np.arange(n)
    ends = _common.time_limit_ends(terminal, lengths,
                                   _common.resolve_limit(spec, max_episode_steps))
    return _common.build_demos(where, _common.gather_obs(obs, first_obs, lengths),
                               _common.gather_steps(acts, steps, lengths),
                               _common.gather_steps(rews, steps, lengths), lengths, ends, spec)


def read(path: str | os.PathLike, spec: EnvSpec | None = None, *,
         max_episode_steps: int | None = None) -> tuple[Demos, dict[str, Any]]:
    """Reads an imitation rollout `.npz`: `(demos, {"entries": [...]})`.

    Raises:
        ValueError: naming the path and the field that is missing or inconsistent.
    """
    where = os.fspath(path)
    with np.load(path, allow_pickle=False) as npz:
        entries = sorted(npz.files)
        arrays = _common.read_npz(where, npz, (*REQUIRED, "rews"))
    for name in REQUIRED:
        if name not in arrays:
            raise _common.fail(where, name, f"missing (an imitation rollout file has "
                                            f"{list(REQUIRED)} and optionally 'rews', "
                                            f"found {entries})")
    terminal, indices = arrays["terminal"], arrays["indices"]
    if terminal.ndim != 1:
        raise _common.fail(where, "terminal", f"expected shape [N] (one flag per "
                                              f"trajectory), found {list(terminal.shape)}")
    if indices.shape != (max(terminal.size - 1, 0),) or not (
            indices.size == 0 or np.issubdtype(indices.dtype, np.integer)):
        raise _common.fail(where, "indices", f"expected {terminal.size - 1} integer split "
                                             f"indices (one fewer than the {terminal.size} "
                                             f"trajectories in 'terminal'), found "
                                             f"{indices.dtype} {list(indices.shape)}")
    bounds = np.concatenate([[0], indices.astype(np.int64), [len(arrays["acts"])]])
    demos = split_trajectories(where, arrays["obs"], arrays["acts"], arrays.get("rews"),
                               terminal, np.diff(bounds), spec, max_episode_steps)
    return demos, {"entries": entries}


def trajectory_arrays(demos: Demos) -> dict[str, Any]:
    """imitation's concatenated trajectory arrays for `demos` (shared with `imitation-hf`):
    `obs`, `acts`, `rews` (or `None`), `terminal`, `lengths`."""
    if demos.actions is None:
        raise ValueError("actions: imitation trajectories need actions; these demos have "
                         "none (state-only demos cannot be written in this format)")
    ep = _common.episode_arrays(demos)
    lengths = ep["lengths"]
    acts = _common.flat_steps(ep["actions"], lengths)
    if np.issubdtype(acts.dtype, np.integer):
        acts = acts.astype(np.int64)  # what gymnasium's Discrete spaces give
    return {"obs": _common.flat_steps(ep["obs"], lengths, extra=1),
            "acts": acts,
            "rews": None if ep["rewards"] is None else _common.flat_steps(ep["rewards"],
                                                                          lengths),
            "terminal": ep["terminated"] | ep["truncated"], "lengths": lengths}


def write(path: str | os.PathLike, demos: Demos, spec: EnvSpec | None = None,
          metadata: dict[str, Any] | None = None) -> None:
    """Writes `demos` as an imitation rollout `.npz` (atomically; `metadata` is not stored)."""
    del spec, metadata  # the format records neither
    t = trajectory_arrays(demos)
    infos = np.empty(len(t["acts"]), dtype=object)
    infos[:] = [{} for _ in range(len(infos))]
    arrays = {"obs": t["obs"], "acts": t["acts"], "infos": infos,
              "terminal": t["terminal"], "indices": np.cumsum(t["lengths"][:-1])}
    if t["rews"] is not None:
        arrays["rews"] = t["rews"]
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))
