"""Host-side (numpy) checks of the `Demos` data contract.

Every check raises `ValueError` with a message that starts with the field name and says
what was expected and what was found, e.g.
`"lengths: expected values in 1..50 (the padded length T), found 51 at episode 3"`.
Multi-agent demos (whose spec is a `MultiAgentSpec`) name the agent as well, e.g.
`"actions[agent 1]: expected discrete actions in [0, 5), found 7 at episode 0, step 3"`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import numpy as np

from jaxil.envs.multiagent import MultiAgentSpec
from jaxil.types import Box, Discrete, EnvSpec, Transition

if TYPE_CHECKING:
    from jaxil.data.demos import Demos


def _shape(x: np.ndarray) -> str:
    return "[" + ", ".join(str(d) for d in x.shape) + "]"


def _check_finite(name: str, x: np.ndarray) -> None:
    finite = np.isfinite(x)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        value = x[where]
        raise ValueError(
            f"{name}: expected finite values, found {value} at index {list(where)} "
            f"({int(np.sum(~finite))} non-finite values in all)"
        )


def _check_flags(name: str, flags: np.ndarray, n: int, t: int) -> None:
    if flags.shape != (n, t):
        raise ValueError(f"{name}: expected shape [{n}, {t}] (like actions [N, T]), "
                         f"found {_shape(flags)}")
    if flags.dtype != np.bool_:
        raise ValueError(f"{name}: expected dtype bool, found {flags.dtype}")


def validate_demos(demos: Demos, spec: EnvSpec | MultiAgentSpec | None = None) -> None:
    """Checks that `demos` follows the `Demos` contract; raises `ValueError` if not.

    Checked: `obs` is `[N, T + 1, obs_dim]` floating with `N, T >= 1`; `actions` (unless
    `None`) is `[N, T]` integer in `[0, n)` for a discrete space or `[N, T, *shape]`
    floating for a continuous one; `rewards` (unless `None`) is `[N, T]` floating; obs,
    actions and rewards are finite (padding included); `lengths` is `[N]` integer in
    `1..T`; `terminated` and `truncated` are `[N, T]` bool, never both true at one step,
    and true only at the last valid step `lengths[i] - 1` of an episode. With a spec (the
    one given, else `demos.spec`), the observation size and the action space must match
    it: discrete actions integer in `[0, n)`, continuous actions floating and within the
    bounds up to `BOUND_TOLERANCE` of the bounds' width. A given spec and `demos.spec`
    must describe the same spaces.

    Multi-agent demos (the spec is a `MultiAgentSpec` of `A` agents, padded observation
    size `D`): `obs` is `[N, T + 1, A, D]` with agent `i`'s entries beyond its own
    observation size zero, `actions` `[N, T, A]` (discrete) or `[N, T, A, *shape]`,
    `rewards` `[N, T, A]`; each agent's actions are checked against its own action space
    and errors name the agent (`actions[agent 1]: ...`); `lengths`, `terminated` and
    `truncated` are one per episode, as above.

    Args:
        demos: the demonstrations (numpy or JAX arrays).
        spec: the environment's spec; `None` to use `demos.spec` (env-specific checks are
            skipped when both are `None`; multi-agent demos need their `MultiAgentSpec`).

    Raises:
        ValueError: naming the field (and the agent), the expected and the found shape,
            dtype or value.
    """
    spec = _resolve_spec(spec, getattr(demos, "spec", None))
    multi = isinstance(spec, MultiAgentSpec)
    obs = np.asarray(demos.obs)
    layout = "[N, T + 1, A, D]" if multi else "[N, T + 1, obs_dim]"
    if obs.ndim < (4 if multi else 3):
        raise ValueError(f"obs: expected shape {layout}, found {_shape(obs)}")
    if not np.issubdtype(obs.dtype, np.floating):
        raise ValueError(f"obs: expected a floating dtype (float32), found {obs.dtype}")
    n, t = obs.shape[0], obs.shape[1] - 1
    if n == 0 or t <= 0:
        raise ValueError(
            f"obs: empty demos, expected at least one episode of at least one step "
            f"(obs [N >= 1, T + 1 >= 2, ...]), found {_shape(obs)}")
    if multi:
        _validate_multiagent_obs(obs, spec)
    elif spec is not None and obs.shape[2:] != (spec.observation_size,):
        raise ValueError(
            f"obs: expected observation size {spec.observation_size} for env "
            f"{spec.name!r} (obs [N, T + 1, {spec.observation_size}]), found {_shape(obs)}")
    _check_finite("obs", obs)

    if demos.actions is not None:
        if multi:
            _validate_multiagent_actions(np.asarray(demos.actions), n, t, spec)
        else:
            _validate_actions(np.asarray(demos.actions), n, t, spec)

    if demos.rewards is not None:
        rewards = np.asarray(demos.rewards)
        want = (n, t, spec.num_agents) if multi else (n, t)
        if rewards.shape != want:
            like = "one per agent, [N, T, A]" if multi else "like actions [N, T]"
            raise ValueError(f"rewards: expected shape [{', '.join(map(str, want))}] "
                             f"({like}), found {_shape(rewards)}")
        if not np.issubdtype(rewards.dtype, np.floating):
            raise ValueError(f"rewards: expected a floating dtype (float32), "
                             f"found {rewards.dtype}")
        if multi:
            for i in range(spec.num_agents):
                _check_finite(f"rewards[agent {i}]", rewards[:, :, i])
        else:
            _check_finite("rewards", rewards)

    lengths = np.asarray(demos.lengths)
    if lengths.shape != (n,):
        raise ValueError(f"lengths: expected shape [{n}] (one per episode), "
                         f"found {_shape(lengths)}")
    if not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths: expected an integer dtype (int32), found {lengths.dtype}")
    bad = (lengths < 1) | (lengths > t)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"lengths: expected values in 1..{t} (the padded length T), "
                         f"found {int(lengths[i])} at episode {i}")

    terminated, truncated = np.asarray(demos.terminated), np.asarray(demos.truncated)
    _check_flags("terminated", terminated, n, t)
    _check_flags("truncated", truncated, n, t)
    both = terminated & truncated
    if both.any():
        i, s = (int(v) for v in np.argwhere(both)[0])
        raise ValueError(f"terminated/truncated: expected at most one of them true at a step, "
                         f"found both true at episode {i}, step {s}")
    last = np.arange(t)[None] == (lengths[:, None] - 1)
    for name, flags in (("terminated", terminated), ("truncated", truncated)):
        misplaced = flags & ~last
        if misplaced.any():
            i, s = (int(v) for v in np.argwhere(misplaced)[0])
            raise ValueError(
                f"{name}: expected true only at the last valid step lengths[i] - 1, found "
                f"true at episode {i}, step {s} (lengths[{i}] = {int(lengths[i])})")
    if demos.actions is None or spec is None:
        return
    if multi:
        actions = np.asarray(demos.actions)
        for i, agent in enumerate(spec.agent_specs):
            if isinstance(agent.action_space, Box):
                _check_bounds(actions[:, :, i], lengths, agent.action_space, spec.name,
                              f"actions[agent {i}]")
    elif isinstance(spec.action_space, Box):
        _check_bounds(np.asarray(demos.actions), lengths, spec.action_space, spec.name)


def _validate_multiagent_obs(obs: np.ndarray, spec: MultiAgentSpec) -> None:
    """`obs[N, T + 1, A, D]` for `spec`, each agent's padding (beyond its size) zero."""
    a, d = spec.num_agents, spec.observation_size
    if obs.shape[2:] != (a, d):
        raise ValueError(
            f"obs: expected shape [{obs.shape[0]}, {obs.shape[1]}, {a}, {d}] for env "
            f"{spec.name!r} ({a} agents, observation size {d} padded), found {_shape(obs)}")
    for i, size in enumerate(spec.observation_sizes):
        pad = obs[:, :, i, size:]
        if pad.size and np.any(pad != 0):
            e, s, k = (int(v) for v in np.argwhere(pad != 0)[0])
            raise ValueError(
                f"obs[agent {i}]: expected zero padding after its observation size {size}, "
                f"found {float(pad[e, s, k]):g} at episode {e}, step {s}, entry {size + k}")


def _validate_multiagent_actions(actions: np.ndarray, n: int, t: int,
                                 spec: MultiAgentSpec) -> None:
    """`actions[N, T, A, ...]`, agent `i`'s checked against its own action space."""
    a = spec.num_agents
    if actions.shape[:3] != (n, t, a):
        raise ValueError(
            f"actions: expected shape [{n}, {t}, {a}, ...] (obs [N, T + 1, A, D] has one "
            f"more step than actions [N, T, A, ...]), found {_shape(actions)}")
    for i, agent in enumerate(spec.agent_specs):
        _validate_actions(actions[:, :, i], n, t, agent, f"actions[agent {i}]")


def same_spaces(a: EnvSpec | MultiAgentSpec, b: EnvSpec | MultiAgentSpec) -> bool:
    """Whether two specs have the same observation size and action space (for multi-agent
    specs: the same number of agents, each with the same sizes and spaces)."""
    if isinstance(a, MultiAgentSpec) or isinstance(b, MultiAgentSpec):
        return (isinstance(a, MultiAgentSpec) and isinstance(b, MultiAgentSpec)
                and a.num_agents == b.num_agents
                and all(same_spaces(x, y)
                        for x, y in zip(a.agent_specs, b.agent_specs, strict=True)))
    return a.observation_size == b.observation_size and a.action_space == b.action_space


def _describe(spec: EnvSpec | MultiAgentSpec) -> str:
    if isinstance(spec, MultiAgentSpec):
        return (f"{spec.num_agents} agents, observation sizes {list(spec.observation_sizes)}, "
                f"actions {[s.action_space for s in spec.agent_specs]}")
    return f"observation size {spec.observation_size}, actions {spec.action_space}"


def _resolve_spec(given: EnvSpec | MultiAgentSpec | None,
                  recorded: EnvSpec | MultiAgentSpec | None) -> EnvSpec | MultiAgentSpec | None:
    """The spec to check against: `given`, which must agree with the demos' own."""
    if given is None or recorded is None:
        return given if given is not None else recorded
    if not same_spaces(given, recorded):
        raise ValueError(
            f"spec: the demos were recorded in {recorded.name!r} ({_describe(recorded)}), "
            f"which does not match {given.name!r} ({_describe(given)})")
    return given


# Continuous actions may exceed the bounds by this fraction of the bounds' width (float
# noise in foreign data); anything further out is a data error, not a clipped action.
BOUND_TOLERANCE = 1e-3


def _check_bounds(actions: np.ndarray, lengths: np.ndarray, space: Box, name: str,
                  field: str = "actions") -> None:
    """Valid steps' actions `[N, T, *shape]` within the bounds (padding is not checked)."""
    valid = np.arange(actions.shape[1])[None] < lengths[:, None]
    low = np.broadcast_to(np.asarray(space.low, np.float64), space.shape)
    high = np.broadcast_to(np.asarray(space.high, np.float64), space.shape)
    slack = BOUND_TOLERANCE * (high - low)
    bad = ((actions < low - slack) | (actions > high + slack)) & valid.reshape(
        valid.shape + (1,) * (actions.ndim - 2))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        dim = where[2:]
        raise ValueError(
            f"{field}: expected values within the bounds of {name!r} "
            f"[{low[dim]:g}, {high[dim]:g}] (tolerance {BOUND_TOLERANCE:g} of the width), "
            f"found {float(actions[where]):g} at episode {where[0]}, step {where[1]}"
            + (f", dimension {list(dim)}" if dim else "")
            + f" ({int(np.sum(bad))} values out of bounds in all)")


def _validate_actions(actions: np.ndarray, n: int, t: int, spec: EnvSpec | None,
                      field: str = "actions") -> None:
    if actions.shape[:2] != (n, t):
        raise ValueError(
            f"{field}: expected shape [{n}, {t}, ...] (obs [N, T + 1, ...] has one more step "
            f"than actions [N, T, ...]), found {_shape(actions)}")
    space = None if spec is None else spec.action_space
    if isinstance(space, Discrete):
        if actions.ndim != 2:
            raise ValueError(f"{field}: expected shape [{n}, {t}] for the discrete action "
                             f"space of {spec.name!r}, found {_shape(actions)}")
        if not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(f"{field}: expected an integer dtype (int32) for the discrete "
                             f"action space of {spec.name!r}, found {actions.dtype}")
        bad = (actions < 0) | (actions >= space.n)
        if bad.any():
            i, s = (int(v) for v in np.argwhere(bad)[0])
            raise ValueError(f"{field}: expected discrete actions in [0, {space.n}), found "
                             f"{int(actions[i, s])} at episode {i}, step {s}")
        return
    if space is not None:
        if actions.shape[2:] != tuple(space.shape):
            expected = ", ".join(str(d) for d in (n, t, *space.shape))
            raise ValueError(f"{field}: expected shape [{expected}] for the action space of "
                             f"{spec.name!r} (action size {spec.action_size}), "
                             f"found {_shape(actions)}")
        if not np.issubdtype(actions.dtype, np.floating):
            raise ValueError(f"{field}: expected a floating dtype (float32) for the "
                             f"continuous action space of {spec.name!r}, found {actions.dtype}")
    elif not (np.issubdtype(actions.dtype, np.integer)
              or np.issubdtype(actions.dtype, np.floating)):
        raise ValueError(f"{field}: expected an integer or floating dtype, "
                         f"found {actions.dtype}")
    if np.issubdtype(actions.dtype, np.floating):
        _check_finite(field, actions)


def is_traced(tree) -> bool:
    """Whether any leaf of `tree` is a tracer (inside `jit`, `vmap`, `grad`, ...)."""
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(tree))


def check_demos(demos: Demos | Transition, spec: EnvSpec) -> None:
    """Host-side check that concrete `demos` fit `spec`; traced demos are not checked.

    `Demos` get the whole `validate_demos`; a flat `Transition` view `[M, ...]` gets the
    env-specific checks (observation size, action dtype, range and bounds; multi-agent:
    `obs[M, A, D]` with zero padding and each agent's actions, naming the agent).

    Raises:
        ValueError: naming the field, as `validate_demos`.
    """
    if is_traced(demos):
        return
    if not isinstance(demos, Transition):
        validate_demos(demos, spec)
        return
    obs = np.asarray(demos.obs)
    if isinstance(spec, MultiAgentSpec):  # env steps [M, A, ...], as one episode
        _validate_multiagent_obs(obs[None], spec)
        if demos.action is not None:
            actions = np.asarray(demos.action)[None]
            _validate_multiagent_actions(actions, 1, actions.shape[1], spec)
        return
    if obs.shape[-1:] != (spec.observation_size,):
        raise ValueError(f"obs: expected observation size {spec.observation_size} for env "
                         f"{spec.name!r}, found transitions of shape {_shape(obs)}")
    if demos.action is not None:
        actions = np.asarray(demos.action)[None]  # as one episode [1, M, ...]
        _validate_actions(actions, 1, actions.shape[1], spec)
        if isinstance(spec.action_space, Box):
            _check_bounds(actions, np.asarray([actions.shape[1]]), spec.action_space,
                          spec.name)
