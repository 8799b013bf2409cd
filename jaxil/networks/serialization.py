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
from jaxil.types import action_space_from_json, action_space_to_json

POLICY_FORMAT = "jaxil-policy-v1"


def save_policy(path: str | os.PathLike, policy: ActorPolicy) -> None:
    """Writes an `ActorPolicy` (architecture, normaliser and weights) to `path`."""
    if not isinstance(policy, ActorPolicy):
        raise TypeError(f"policy: expected an ActorPolicy, got {type(policy).__name__}")
    arch = dataclasses.asdict(policy.network.arch)
    arch["action_space"] = action_space_to_json(policy.network.arch.action_space)
    header = {"format": POLICY_FORMAT, "arch": arch, "deterministic": policy.deterministic}

    def write(f):
        f.write((json.dumps(header) + "\n").encode())
        eqx.tree_serialise_leaves(f, policy)

    atomic_write(path, write)


def _arch_from_header(header: dict) -> tuple[PolicyArch, bool]:
    """`(arch, deterministic)` from a policy header; `ValueError` naming a bad field."""
    arch = header.get("arch")
    if not isinstance(arch, dict):
        raise ValueError(f"arch: expected an object describing the network, found {arch!r}")
    known = {f.name for f in dataclasses.fields(PolicyArch)}
    unknown = sorted(set(arch) - known)
    if unknown:
        raise ValueError(f"arch.{unknown[0]}: unknown field (known: {', '.join(sorted(known))})")
    if "observation_size" not in arch or "action_space" not in arch:
        raise ValueError("arch: expected 'observation_size' and 'action_space' entries, "
                         f"found {sorted(arch)}")
    size = arch["observation_size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"arch.observation_size: expected a positive int, found {size!r}")
    hidden = arch.get("hidden_sizes", [])
    if not isinstance(hidden, list) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden):
        raise ValueError(f"arch.hidden_sizes: expected a list of positive ints, found {hidden!r}")
    for name, kind in (("head", str), ("activation", str), ("state_dependent_std", bool),
                       ("init_std", (int, float))):
        if name in arch and (not isinstance(arch[name], kind)
                             or (kind is not bool and isinstance(arch[name], bool))):
            raise ValueError(f"arch.{name}: expected {getattr(kind, '__name__', 'a number')}, "
                             f"found {arch[name]!r}")
    options = arch.get("head_options", [])
    if not isinstance(options, list) or not all(
            isinstance(kv, list) and len(kv) == 2 and isinstance(kv[0], str) for kv in options):
        raise ValueError(f"arch.head_options: expected a list of [name, value] pairs, "
                         f"found {options!r}")
    deterministic = header.get("deterministic")
    if not isinstance(deterministic, bool):  # "false" would be truthy
        raise ValueError(f"deterministic: expected true or false, found {deterministic!r}")
    fields = dict(arch, action_space=action_space_from_json(arch["action_space"],
                                                            "arch.action_space"),
                  hidden_sizes=tuple(hidden), head_options=tuple(tuple(kv) for kv in options))
    return PolicyArch(**fields), deterministic


def load_policy(path: str | os.PathLike) -> ActorPolicy:
    """Reads a policy written by `save_policy`.

    Raises:
        ValueError: the file is not a jaxil policy file, its header is malformed (naming
            the path and the field), or its weights are truncated or corrupted.
    """
    with open(path, "rb") as f:
        line = f.readline()
        try:
            header = json.loads(line.decode())
            ok = isinstance(header, dict) and header.get("format") == POLICY_FORMAT
        except (UnicodeDecodeError, json.JSONDecodeError):
            ok = False
        if not ok:
            raise ValueError(f"{path}: not a jaxil policy file (expected a "
                             f"{POLICY_FORMAT!r} header)")
        try:
            arch, deterministic = _arch_from_header(header)
            skeleton = make_actor_policy(arch, jax.random.key(0),
                                         init_normalizer(arch.observation_size))
        except (ValueError, TypeError) as err:  # TypeError: a head option it does not take
            raise ValueError(f"{path}: {err}") from err
        skeleton = skeleton.with_deterministic(deterministic)
        try:
            return eqx.tree_deserialise_leaves(f, skeleton)
        except Exception as err:  # truncated or mismatched weights
            raise ValueError(f"{path}: policy weights are truncated or corrupted ({err})") from err
