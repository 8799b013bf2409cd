"""Saving and loading policies: a JSON header line, then equinox-serialised leaves.

The file is written to a temporary name and renamed, so a failed save leaves no half file.

A single-agent `ActorPolicy` is written with format `"jaxil-policy-v1"`. A
`MultiAgentPolicy` (one `ActorPolicy` shared by all agents) is written with format
`"jaxil-policy-v2"`: the same header and leaves (those of the shared `ActorPolicy`; its
`arch.observation_size` is the per-agent input `D (+ N)`) plus a `"multiagent"` field
`{"num_agents": N, "agent_ids": bool}`. A jaxil that knows only v1 refuses such a file
rather than loading the shared network as a single-agent policy. When the agents'
`Discrete` action spaces differ in size (the shared network is an `AgentActionMask`,
`arch.action_space` the widest), the field also holds `"action_sizes": [n_0, ...]`;
files without it (agents sharing one space) are read as before.
"""

from __future__ import annotations

import dataclasses
import json
import os

import equinox as eqx
import jax

from jaxil.io import atomic_write
from jaxil.networks.multiagent import MultiAgentPolicy, action_sizes, mask_actions
from jaxil.networks.normalizer import init_normalizer
from jaxil.networks.policy import ActorPolicy, PolicyArch, make_actor_policy
from jaxil.types import action_space_from_json, action_space_to_json

POLICY_FORMAT = "jaxil-policy-v1"
MULTIAGENT_POLICY_FORMAT = "jaxil-policy-v2"
POLICY_FORMATS = (POLICY_FORMAT, MULTIAGENT_POLICY_FORMAT)
"""Every policy file format `load_policy` reads."""


def save_policy(path: str | os.PathLike, policy: ActorPolicy | MultiAgentPolicy) -> None:
    """Writes a policy (architecture, normaliser and weights) to `path`.

    Args:
        path: destination file (written atomically).
        policy: an `ActorPolicy`, or a `MultiAgentPolicy` whose shared `policy` is one
            (as `jaxil.rl.mappo` and `jaxil.experts.train_ppo` give on a multi-agent env).

    Raises:
        TypeError: `policy` is neither.
    """
    multi = None
    if isinstance(policy, MultiAgentPolicy):
        if not isinstance(policy.policy, ActorPolicy):
            raise TypeError(f"policy.policy: expected the MultiAgentPolicy to share an "
                            f"ActorPolicy, got {type(policy.policy).__name__}")
        multi = {"num_agents": policy.num_agents, "agent_ids": policy.agent_ids}
        sizes = action_sizes(policy.policy)
        if sizes is not None:
            multi["action_sizes"] = list(sizes)
    elif not isinstance(policy, ActorPolicy):
        raise TypeError(f"policy: expected an ActorPolicy or a MultiAgentPolicy, got "
                        f"{type(policy).__name__}")
    actor = policy.policy if multi else policy
    arch = dataclasses.asdict(actor.network.arch)
    arch["action_space"] = action_space_to_json(actor.network.arch.action_space)
    header = {"format": MULTIAGENT_POLICY_FORMAT if multi else POLICY_FORMAT, "arch": arch,
              "deterministic": actor.deterministic}
    if multi:
        header["multiagent"] = multi

    def write(f):
        f.write((json.dumps(header) + "\n").encode())
        eqx.tree_serialise_leaves(f, actor)

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


def _multiagent_from_header(header: dict, arch: PolicyArch
                            ) -> tuple[int, bool, tuple[int, ...] | None]:
    """`(num_agents, agent_ids, action_sizes)` from a v2 header (`action_sizes`: `None`
    without masks); `ValueError` naming a bad field."""
    multi = header.get("multiagent")
    if not isinstance(multi, dict):
        raise ValueError(f"multiagent: expected an object {{\"num_agents\": N, "
                         f"\"agent_ids\": bool}} in a {MULTIAGENT_POLICY_FORMAT!r} file, "
                         f"found {multi!r}")
    n, ids = multi.get("num_agents"), multi.get("agent_ids")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"multiagent.num_agents: expected a positive int, found {n!r}")
    if not isinstance(ids, bool):
        raise ValueError(f"multiagent.agent_ids: expected true or false, found {ids!r}")
    if "action_sizes" not in multi:
        return n, ids, None
    sizes = multi["action_sizes"]
    width = getattr(arch.action_space, "n", None)
    if not isinstance(sizes, list) or len(sizes) != n or not all(
            isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= (width or 0)
            for k in sizes) or max(sizes) != width:
        raise ValueError(f"multiagent.action_sizes: expected {n} positive ints, the largest "
                         f"the discrete arch.action_space's n = {width}, found {sizes!r}")
    if not ids:
        raise ValueError("multiagent.action_sizes: the masks are chosen by the one-hot "
                         "agent ids, but agent_ids is false")
    return n, ids, tuple(sizes)


def load_policy(path: str | os.PathLike) -> ActorPolicy | MultiAgentPolicy:
    """Reads a policy written by `save_policy`: an `ActorPolicy`, or a `MultiAgentPolicy`
    for a `"jaxil-policy-v2"` (multi-agent) file.

    Raises:
        ValueError: the file is not a jaxil policy file, its header is malformed (naming
            the path and the field), or its weights are truncated or corrupted.
    """
    with open(path, "rb") as f:
        line = f.readline()
        try:
            header = json.loads(line.decode())
            ok = isinstance(header, dict) and header.get("format") in POLICY_FORMATS
        except (UnicodeDecodeError, json.JSONDecodeError):
            ok = False
        if not ok:
            raise ValueError(f"{path}: not a jaxil policy file (expected a "
                             f"{' or '.join(map(repr, POLICY_FORMATS))} header)")
        try:
            arch, deterministic = _arch_from_header(header)
            multi = None
            if header["format"] == MULTIAGENT_POLICY_FORMAT:
                multi = _multiagent_from_header(header, arch)
            skeleton = make_actor_policy(arch, jax.random.key(0),
                                         init_normalizer(arch.observation_size))
        except (ValueError, TypeError) as err:  # TypeError: a head option it does not take
            raise ValueError(f"{path}: {err}") from err
        skeleton = skeleton.with_deterministic(deterministic)
        if multi is not None:
            skeleton = mask_actions(skeleton, multi[2])
        try:
            actor = eqx.tree_deserialise_leaves(f, skeleton)
        except Exception as err:  # truncated or mismatched weights
            raise ValueError(f"{path}: policy weights are truncated or corrupted ({err})") from err
    return actor if multi is None else MultiAgentPolicy(actor, *multi[:2])
