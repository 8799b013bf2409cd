"""Saving and loading policies: a JSON header line, then equinox-serialised leaves.

The file is written to a temporary name and renamed, so a failed save leaves no half file.
"""

from __future__ import annotations

import dataclasses
import json
import os

import equinox as eqx
import jax

from jaxil.io import atomic_write
from jaxil.networks.normalizer import init_normalizer
from jaxil.networks.policy import ActorPolicy, PolicyArch, make_actor_policy
from jaxil.types import Box, Discrete

POLICY_FORMAT = "jaxil-policy-v1"


def _space_to_json(space: Discrete | Box) -> dict:
    if isinstance(space, Discrete):
        return {"type": "discrete", "n": space.n}
    return {"type": "box", "shape": list(space.shape), "low": space.low, "high": space.high}


def _space_from_json(d: dict) -> Discrete | Box:
    if d["type"] == "discrete":
        return Discrete(int(d["n"]))
    as_bound = lambda b: tuple(b) if isinstance(b, list) else float(b)
    return Box(tuple(d["shape"]), as_bound(d["low"]), as_bound(d["high"]))


def save_policy(path: str | os.PathLike, policy: ActorPolicy) -> None:
    """Writes an `ActorPolicy` (architecture, normaliser and weights) to `path`."""
    if not isinstance(policy, ActorPolicy):
        raise TypeError(f"policy: expected an ActorPolicy, got {type(policy).__name__}")
    arch = dataclasses.asdict(policy.network.arch)
    arch["action_space"] = _space_to_json(policy.network.arch.action_space)
    header = {"format": POLICY_FORMAT, "arch": arch, "deterministic": policy.deterministic}

    def write(f):
        f.write((json.dumps(header) + "\n").encode())
        eqx.tree_serialise_leaves(f, policy)

    atomic_write(path, write)


def load_policy(path: str | os.PathLike) -> ActorPolicy:
    """Reads a policy written by `save_policy`; raises `ValueError` for other files."""
    with open(path, "rb") as f:
        line = f.readline()
        try:
            header = json.loads(line.decode())
            ok = header.get("format") == POLICY_FORMAT
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            ok = False
        if not ok:
            raise ValueError(f"{path}: not a jaxil policy file (expected a "
                             f"{POLICY_FORMAT!r} header)")
        arch = dict(header["arch"])
        arch["action_space"] = _space_from_json(arch["action_space"])
        arch["hidden_sizes"] = tuple(arch["hidden_sizes"])
        arch["head_options"] = tuple(tuple(kv) for kv in arch.get("head_options", ()))
        arch = PolicyArch(**arch)
        skeleton = make_actor_policy(arch, jax.random.key(0),
                                     init_normalizer(arch.observation_size))
        skeleton = skeleton.with_deterministic(bool(header["deterministic"]))
        try:
            return eqx.tree_deserialise_leaves(f, skeleton)
        except Exception as err:  # truncated or mismatched weights
            raise ValueError(f"{path}: policy weights are truncated or corrupted ({err})") from err
