"""OGBench datasets (format `"ogbench"`): `.npz` files of flat arrays, read with numpy.

OGBench's files (`ogbench/utils.py: load_dataset`, `data_gen_scripts/generate_*.py`)
hold, for `M` rows of all trajectories one after the other:

- `observations`: `[M, obs_dim]` (`uint8` for visual tasks; converted to float32);
- `actions`: `[M, act_dim]` (or `[M]` integers);
- `terminals`: `[M]`, the end-of-trajectory marker;
- optionally `qpos`, `qvel`, `button_states` (ignored), and in files saved from
  `load_dataset`'s output `next_observations`, `valids`, `rewards` and `masks`.

Three layouts, told apart by their keys:

- raw (as OGBench distributes them): a trajectory is the rows up to and including one
  with `terminals=1`. The last row's observation is the trajectory's final observation;
  its action leads outside the data (OGBench: "(s4, a4, s0) is *not* a valid
  transition"), so a trajectory of `K` rows is an episode of `K - 1` steps. The episode
  is marked truncated: the data stop before its end, and OGBench's episodes all run to
  their time limit anyway. Trajectories of one row are dropped.
- compact (`valids` present): rows with `valids=0` are the final observations; otherwise
  as raw.
- regular (`next_observations` present): every row is a transition; `terminals=1` at the
  last one of each trajectory, whose final observation is its `next_observations`. The
  time-limit rule tells how it ended: a trajectory of `max_episode_steps` or more steps
  (the override, else the spec's limit) was truncated, a shorter one terminated; with no
  limit known it counts as truncated (OGBench's data-collection episodes run to their
  time limit).

`rewards`, when present, are taken as the per-step rewards; `masks` (OGBench's
goal-reached flags for bootstrapping, not episode ends) are ignored.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jaxil.data.demos import Demos
from jaxil.data.formats import _common
from jaxil.data.formats.d4rl import check_rows, flat_episodes
from jaxil.types import EnvSpec

NAME = "ogbench"
KEYS = ("observations", "actions", "terminals", "next_observations", "valids", "rewards")
REQUIRED = ("observations", "actions", "terminals")


def looks_like(entries: set[str]) -> bool:
    """Whether an `.npz` with these entries is an OGBench dataset."""
    return {"observations", "actions", "terminals"} <= entries


def read(path: str | os.PathLike, spec: EnvSpec | None = None, *,
         max_episode_steps: int | None = None) -> tuple[Demos, dict[str, Any]]:
    """Reads an OGBench `.npz`: `(demos, {"entries", "layout", "dropped_episodes"})`.

    Raises:
        ValueError: naming the path and the missing or inconsistent array.
    """
    where = os.fspath(path)
    with np.load(where, allow_pickle=False) as npz:
        entries = sorted(npz.files)
        arrays = _common.read_npz(where, npz, KEYS)
    for name in REQUIRED:
        if name not in arrays:
            raise _common.fail(where, name, f"missing (an OGBench dataset has "
                                            f"{list(REQUIRED)}; found {entries})")
    check_rows(where, arrays, KEYS)
    terminals = arrays["terminals"].astype(bool)
    next_obs = arrays.get("next_observations")
    if next_obs is not None:
        starts, lengths = _common.split_points(where, "terminals", terminals)
        ends_at = np.zeros(len(terminals), np.int8)
        limit = _common.resolve_limit(spec, max_episode_steps)
        ends_at[starts + lengths - 1] = _common.time_limit_ends(
            np.ones(lengths.shape, bool), lengths, limit, unknown=_common.TRUNCATED)
        demos, dropped = flat_episodes(where, arrays, terminals, ends_at, spec, next_obs)
        layout = "regular"
    else:
        layout = "compact" if "valids" in arrays else "raw"
        final = arrays["valids"] == 0 if layout == "compact" else terminals
        # An episode ends at each final row; its last "step" (the final row's action) is
        # dropped by `flat_episodes`, which keeps the final row's observation.
        codes = np.full(len(terminals), _common.TRUNCATED, np.int8)
        demos, dropped = flat_episodes(where, arrays, final, codes, spec, None)
    return demos, {"entries": entries, "layout": layout, "dropped_episodes": dropped}
