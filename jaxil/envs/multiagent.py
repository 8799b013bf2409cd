"""The multi-agent environment protocol: per-agent arrays on a leading agent axis.

A multi-agent environment is an `Env` whose `spec` is a `MultiAgentSpec`. It keeps the
single-agent protocol (`reset(key) -> EnvState`, `step(state, action) -> EnvState`) and
the same `EnvState`; the fields that are per agent gain a leading agent axis `[N]`:

    obs         [N, D] float32   one row per agent (D: see "Different observation sizes")
    reward      [N] float32      one reward per agent (cooperative envs repeat a shared one)
    terminated  [] bool          one per environment: all agents end together
    truncated   [] bool          one per environment
    action      [N] int32 (discrete) or [N, act_dim] float32 (continuous)

Because `terminated` and `truncated` stay scalars, the single-agent wrappers apply as they
are: `TimeLimit` counts steps per environment, `AutoReset` keeps the true final
observation `info["final_obs"]` (`[N, D]`) and selects between the reset and the stepped
state with a scalar `done`, and `VmapEnv` adds a leading `[B]` axis in front of the agent
axis (`obs[B, N, D]`, `reward[B, N]`, `terminated[B]`).

Different observation sizes (e.g. MPE's speaker and listener): every agent's observation
is zero-padded at the end to the largest size, `D = spec.observation_size`; the true sizes
are static and live in the spec (`spec.agent_specs[i].observation_size`), with
`spec.observation_mask()` giving the `[N, D]` bool mask of the real entries. Sizes are
recorded in the spec rather than as a mask in the state because they never change during
an episode: nothing extra is carried, scanned or vmapped, and agent `i`'s observation is
`obs[i, :spec.agent_specs[i].observation_size]`. Actions must stack on the agent axis, so
all agents' action spaces have one shape: `Discrete` spaces may differ in `n` (agent `i`
uses actions `0 .. n_i - 1`), `Box` spaces must have the same shape.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxil.envs.base import Env, EnvState
from jaxil.types import (
    ActionSpace,
    Array,
    Discrete,
    EnvSpec,
    PRNGKey,
    _json_field,
    spec_from_json,
    spec_to_json,
)


@dataclasses.dataclass(frozen=True)
class MultiAgentSpec:
    """Static description of a multi-agent environment.

    Attributes:
        name: the name `jaxil.envs.make` knows it by.
        agent_specs: one `EnvSpec` per agent (its true observation size and its action
            space). They share the environment's `name` and `max_episode_steps`, which are
            set here, so `dataclasses.replace(spec, max_episode_steps=...)` (as `TimeLimit`
            does) keeps them consistent.
        max_episode_steps: the time limit of the environment (all agents together).
    """

    name: str
    agent_specs: tuple[EnvSpec, ...]
    max_episode_steps: int

    def __post_init__(self):
        specs = tuple(self.agent_specs)
        if not specs or not all(isinstance(s, EnvSpec) for s in specs):
            raise ValueError(f"agent_specs: expected a non-empty sequence of EnvSpec, got "
                             f"{self.agent_specs!r}")
        if isinstance(self.max_episode_steps, bool) or \
                not isinstance(self.max_episode_steps, int) or self.max_episode_steps < 1:
            raise ValueError(f"max_episode_steps: expected an int >= 1, got "
                             f"{self.max_episode_steps!r}")
        kinds = {type(s.action_space) for s in specs}
        shapes = {s.action_space.shape for s in specs}
        if len(kinds) > 1 or len(shapes) > 1:
            found = [s.action_space for s in specs]
            raise ValueError("agent_specs: expected action spaces that stack on the agent "
                             "axis (all Discrete, or all Box of one shape), found "
                             f"{found}")
        object.__setattr__(self, "agent_specs", tuple(
            dataclasses.replace(s, name=self.name, max_episode_steps=self.max_episode_steps)
            for s in specs))

    @classmethod
    def homogeneous(cls, name: str, num_agents: int, observation_size: int,
                    action_space: ActionSpace, max_episode_steps: int) -> MultiAgentSpec:
        """`num_agents` identical agents, each with `observation_size` and `action_space`."""
        if isinstance(num_agents, bool) or not isinstance(num_agents, int) or num_agents < 1:
            raise ValueError(f"num_agents: expected an int >= 1, got {num_agents!r}")
        agent = EnvSpec(name, observation_size, action_space, max_episode_steps)
        return cls(name, (agent,) * num_agents, max_episode_steps)

    @property
    def num_agents(self) -> int:
        """`N`, the length of the leading agent axis."""
        return len(self.agent_specs)

    @property
    def observation_sizes(self) -> tuple[int, ...]:
        """Each agent's true observation size, `N` ints."""
        return tuple(s.observation_size for s in self.agent_specs)

    @property
    def observation_size(self) -> int:
        """`D`, the padded per-agent observation size (the largest agent's)."""
        return max(self.observation_sizes)

    @property
    def homogeneous_agents(self) -> bool:
        """All agents have the same observation size and action space."""
        return len({(s.observation_size, s.action_space) for s in self.agent_specs}) == 1

    @property
    def action_space(self) -> ActionSpace:
        """The action space every agent shares; `ValueError` if agents differ."""
        spaces = {s.action_space for s in self.agent_specs}
        if len(spaces) > 1:
            raise ValueError(f"action_space: the agents have different action spaces "
                             f"{[s.action_space for s in self.agent_specs]}; use "
                             "agent_specs[i].action_space")
        return self.agent_specs[0].action_space

    @property
    def discrete(self) -> bool:
        return isinstance(self.agent_specs[0].action_space, Discrete)

    @property
    def action_size(self) -> int:
        """Per-agent number of actions (discrete) or action dimensions (continuous)."""
        return _action_size(self.action_space)

    @property
    def action_sizes(self) -> tuple[int, ...]:
        """Each agent's number of actions (discrete: `n_i`, which may differ between
        agents) or action dimensions (continuous), `N` ints."""
        return tuple(_action_size(s.action_space) for s in self.agent_specs)

    def observation_mask(self) -> np.ndarray:
        """`[N, D]` bool: True where an agent's padded observation holds a real entry."""
        sizes = np.asarray(self.observation_sizes)
        return np.arange(self.observation_size)[None, :] < sizes[:, None]


def _action_size(space: ActionSpace) -> int:
    return space.n if isinstance(space, Discrete) else int(np.prod(space.shape))


# Like `EnvSpec`: structure, not leaves, inside pytrees.
jax.tree_util.register_static(MultiAgentSpec)


def any_spec_to_json(spec: EnvSpec | MultiAgentSpec) -> dict[str, Any]:
    """A single- or multi-agent spec as a JSON-serialisable dict (`any_spec_from_json`
    reads it back). An `EnvSpec` gives `jaxil.types.spec_to_json`'s dict unchanged; a
    `MultiAgentSpec` gives `{"name", "max_episode_steps", "agents": [<one EnvSpec dict per
    agent>]}`."""
    if not isinstance(spec, MultiAgentSpec):
        return spec_to_json(spec)
    return {"name": spec.name, "max_episode_steps": spec.max_episode_steps,
            "agents": [spec_to_json(s) for s in spec.agent_specs]}


def any_spec_from_json(d: Any, where: str = "spec") -> EnvSpec | MultiAgentSpec:
    """Inverse of `any_spec_to_json`: a `MultiAgentSpec` when `d` has an `"agents"`
    entry, else an `EnvSpec`; `ValueError` naming the field (`spec.agents[1].name`, ...)."""
    if not isinstance(d, dict) or "agents" not in d:
        return spec_from_json(d, where)
    name = _json_field(d, "name", str, where)
    steps = _json_field(d, "max_episode_steps", int, where)
    agents = _json_field(d, "agents", list, where)
    specs = tuple(spec_from_json(a, f"{where}.agents[{i}]") for i, a in enumerate(agents))
    try:
        return MultiAgentSpec(name, specs, steps)
    except ValueError as err:
        raise ValueError(f"{where}.{err}") from None


class MultiAgentEnv(Env):
    """A multi-agent environment: a `MultiAgentSpec` and pure `reset` / `step` functions
    whose states carry per-agent arrays on a leading `[N]` axis (see the module docstring).
    """

    spec: MultiAgentSpec

    @property
    def num_agents(self) -> int:
        return self.spec.num_agents

    @abc.abstractmethod
    def reset(self, key: PRNGKey) -> EnvState:
        """Starts an episode: `obs[N, D]`, `reward[N]` (zeros), scalar `terminated` and
        `truncated`."""

    @abc.abstractmethod
    def step(self, state: EnvState, action: Array) -> EnvState:
        """Advances all agents one step. `action`: `[N]` int32 or `[N, act_dim]` float32."""


def is_multiagent(env: Env) -> bool:
    """Whether `env` (wrapped or not) is a multi-agent environment."""
    return isinstance(env.spec, MultiAgentSpec)


def pad_observations(observations: Sequence[Array], size: int) -> Array:
    """Stacks per-agent observations, zero-padding each at the end.

    Args:
        observations: `N` arrays, agent `i`'s of shape `[d_i]` with `d_i <= size`.
        size: `D`, the padded size (`spec.observation_size`).

    Returns:
        `[N, D]` float32.
    """
    rows = []
    for i, obs in enumerate(observations):
        if obs.ndim != 1 or obs.shape[0] > size:
            raise ValueError(f"observations[{i}]: expected a vector of at most {size} "
                             f"entries, got shape {obs.shape}")
        rows.append(jnp.pad(jnp.asarray(obs, jnp.float32), (0, size - obs.shape[0])))
    return jnp.stack(rows)
