"""`Demos`: padded expert episodes, their construction (validated), concatenation and flat
transitions view."""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from jaxil.data.validation import validate_demos
from jaxil.envs.multiagent import MultiAgentSpec
from jaxil.types import Array, Discrete, EnvSpec, Transition

_INT32 = np.iinfo(np.int32)
ARRAY_FIELDS = ("obs", "actions", "rewards", "terminated", "truncated", "lengths")


class Demos(NamedTuple):
    """`N` episodes padded to `T` steps. Build with `jaxil.data.make_demos` (which validates).

    Attributes:
        obs: `[N, T + 1, obs_dim]` float32; `obs[i, t + 1]` follows `actions[i, t]`, and
            `obs[i, lengths[i]]` is the true final observation of episode `i`.
        actions: `[N, T]` int32 (discrete) or `[N, T, act_dim]` float32; `None` for
            state-only demonstrations.
        rewards: `[N, T]` float32 or `None`.
        terminated: `[N, T]` bool, true at a real terminal step.
        truncated: `[N, T]` bool, true at a time-limit step.
        lengths: `[N]` int32, steps in each episode (`1 <= lengths <= T`).
        spec: the `EnvSpec` of the env the demos were recorded in (`collect` and `load`
            set it; `None` when unknown). Static: it is pytree structure, not a leaf, so
            `Demos` pass through `jit` and `vmap` with it.

    Multi-agent demos (`spec` a `jaxil.envs.MultiAgentSpec` of `A` agents, padded
    observation size `D`; the spec is what marks them as multi-agent, so they always carry
    it) have an agent axis after time on the per-agent fields:
    `obs[N, T + 1, A, D]` (agent `i`'s observation zero-padded after
    `spec.agent_specs[i].observation_size`), `actions[N, T, A]` int32 or
    `[N, T, A, act_dim]` float32, `rewards[N, T, A]`; `terminated`, `truncated` `[N, T]`
    and `lengths[N]` stay one per episode (all agents end together).
    """

    obs: Array
    actions: Array | None
    rewards: Array | None
    terminated: Array
    truncated: Array
    lengths: Array
    spec: EnvSpec | MultiAgentSpec | None = None

    @property
    def multiagent(self) -> bool:
        """Whether these are multi-agent demos (their spec is a `MultiAgentSpec`)."""
        return isinstance(self.spec, MultiAgentSpec)

    @property
    def num_agents(self) -> int:
        """`A`, the number of agents (1 for single-agent demos)."""
        return self.spec.num_agents if self.multiagent else 1

    @property
    def arrays(self) -> dict[str, Array]:
        """The array fields by name (`None` for absent actions or rewards), without `spec`."""
        return {name: getattr(self, name) for name in ARRAY_FIELDS}

    @property
    def num_episodes(self) -> int:
        return int(self.obs.shape[0])

    @property
    def num_transitions(self) -> int:
        return int(np.sum(np.asarray(self.lengths)))

    @property
    def returns(self) -> np.ndarray:
        """Undiscounted return of each episode `[N]` (needs rewards). Multi-agent: the team
        return, the mean over agents of `agent_returns` (as `Episodes.returns`)."""
        returns = self.agent_returns
        return returns if returns.ndim == 1 else np.mean(returns, axis=-1)

    @property
    def agent_returns(self) -> np.ndarray:
        """Undiscounted return of each episode `[N]`, or of each agent `[N, A]` for
        multi-agent demos (needs rewards)."""
        if self.rewards is None:
            raise ValueError("rewards: these demos carry no rewards")
        rewards, lengths = np.asarray(self.rewards), np.asarray(self.lengths)
        mask = np.arange(rewards.shape[1])[None] < lengths[:, None]
        mask = mask.reshape(mask.shape + (1,) * (rewards.ndim - 2))
        return np.sum(np.where(mask, rewards, 0.0), axis=1)


def _as_float32(x: np.ndarray) -> np.ndarray:
    """Numeric arrays as float32; anything else unchanged (validation reports it)."""
    if np.issubdtype(x.dtype, np.number) and not np.issubdtype(x.dtype, np.complexfloating):
        return x.astype(np.float32)
    return x


def _as_int32(x: np.ndarray) -> np.ndarray:
    """Integer arrays that fit as int32; anything else unchanged (validation reports it)."""
    if np.issubdtype(x.dtype, np.integer) and (
            x.size == 0 or (x.min() >= _INT32.min and x.max() <= _INT32.max)):
        return x.astype(np.int32)
    return x


def _as_bool(x: np.ndarray) -> np.ndarray:
    """Bool arrays, and integer arrays of 0s and 1s, as bool; anything else unchanged."""
    if np.issubdtype(x.dtype, np.integer) and np.isin(x, (0, 1)).all():
        return x.astype(bool)
    return x


def _discrete(spec: EnvSpec | MultiAgentSpec | None) -> bool:
    if isinstance(spec, MultiAgentSpec):
        return spec.discrete
    return spec is not None and isinstance(spec.action_space, Discrete)


def make_demos(obs, actions, rewards=None, terminated=None, truncated=None, lengths=None,
               spec: EnvSpec | MultiAgentSpec | None = None) -> Demos:
    """Builds `Demos` from padded arrays (on the host, as numpy) and validates them.

    Dtypes are made canonical: obs, rewards and continuous actions float32, discrete
    actions and lengths int32, flags bool (integer 0/1 flags are accepted).

    Args:
        obs: `[N, T + 1, obs_dim]`; `obs[i, lengths[i]]` is the true final observation and
            later entries are padding.
        actions: `[N, T]` integer (discrete) or `[N, T, act_dim]` (continuous), or `None`
            for state-only demonstrations.
        rewards: `[N, T]` or `None`.
        terminated: `[N, T]` bool, true only at the last step of an episode that really
            ended; `None`: false everywhere.
        truncated: `[N, T]` bool, true only at the last step of an episode cut by a time
            limit; `None`: false everywhere.
        lengths: `[N]` integer steps per episode, in `1..T`; `None`: one step after the
            first `terminated | truncated` flag of each episode, or `T` if it has none.
        spec: the env the demos come from: the observation size and action space are
            checked against it (discrete actions in `[0, n)`, continuous actions within
            the bounds up to a small tolerance), and the `Demos` carry it. A
            `MultiAgentSpec` makes multi-agent demos: `obs[N, T + 1, A, D]`,
            `actions[N, T, A, ...]`, `rewards[N, T, A]` (see `Demos`).

    Returns:
        Validated `Demos` of numpy arrays, with `spec`.

    Raises:
        ValueError: naming the field, the expected and the found shape, dtype or value
            (see `validate_demos`).
    """
    obs = _as_float32(np.asarray(obs))
    if obs.ndim < 2:
        raise ValueError(f"obs: expected shape [N, T + 1, obs_dim], found {list(obs.shape)}")
    n, t = obs.shape[0], obs.shape[1] - 1
    if actions is not None:
        actions = np.asarray(actions)
        discrete = _discrete(spec)
        if np.issubdtype(actions.dtype, np.integer) and (spec is None or discrete):
            actions = _as_int32(actions)
        elif not discrete:
            actions = _as_float32(actions)
    if rewards is not None:
        rewards = _as_float32(np.asarray(rewards))
    flags = []
    for x in (terminated, truncated):
        flags.append(np.zeros((n, max(t, 0)), bool) if x is None else _as_bool(np.asarray(x)))
    terminated, truncated = flags
    if lengths is None:
        lengths = np.full((n,), t, np.int32)
        if terminated.shape == truncated.shape == (n, t) and t > 0:
            done = terminated.astype(bool) | truncated.astype(bool)
            lengths = np.where(done.any(axis=1), np.argmax(done, axis=1) + 1, t)
    lengths = _as_int32(np.asarray(lengths))
    demos = Demos(obs, actions, rewards, terminated, truncated, lengths, spec)
    validate_demos(demos)
    return demos


def _pad_time(x: np.ndarray, t: int, mode: str) -> np.ndarray:
    """`x[N, T_x, ...]` padded along time to `t` steps (`"edge"` repeats, `"zero"` zeros)."""
    widths = [(0, 0), (0, t - x.shape[1])] + [(0, 0)] * (x.ndim - 2)
    return np.pad(x, widths, mode="edge") if mode == "edge" else np.pad(x, widths)


def concatenate(*demos: Demos) -> Demos:
    """The episodes of several `Demos` in one `Demos`, in the order given (on the host).

    Demos padded to different lengths are padded to the longest (observations repeat
    their last entry, actions and rewards are zero, flags false).

    Args:
        *demos: one or more `Demos` with the same observation and action shapes; all or
            none of them carry actions, and all or none carry rewards.

    Returns:
        Validated `Demos` with `sum(N_i)` episodes, padded to `max(T_i)` steps.

    Raises:
        ValueError: naming the field that does not match (or `demos` when none is given).
    """
    if not demos:
        raise ValueError("demos: expected at least one Demos to concatenate, got none")
    for i, d in enumerate(demos):
        if not isinstance(d, Demos):
            raise ValueError(f"demos: expected Demos, found {type(d).__name__} at position {i}")
    first = demos[0]
    for i, d in enumerate(demos[1:], start=1):
        for name in ("obs", "actions", "rewards"):
            x, x0 = getattr(d, name), getattr(first, name)
            if (x is None) != (x0 is None):
                have = lambda v: "none" if v is None else "some"
                raise ValueError(f"{name}: expected all or none of the demos to carry {name}, "
                                 f"found {have(x)} at position {i} and {have(x0)} at position 0")
            if x is None:
                continue
            x, x0 = np.asarray(x), np.asarray(x0)
            if x.shape[2:] != x0.shape[2:] or x.dtype != x0.dtype:
                raise ValueError(f"{name}: expected {x0.dtype} with trailing shape "
                                 f"{list(x0.shape[2:])} like the demos at position 0, found "
                                 f"{x.dtype} {list(x.shape)} at position {i}")
    specs = {d.spec for d in demos if d.spec is not None}
    if len(specs) > 1:
        raise ValueError(f"spec: expected demos from one env, found {len(specs)} different "
                         f"specs ({', '.join(sorted(s.name for s in specs))})")
    t = max(np.shape(d.terminated)[1] for d in demos)

    def cat(name: str, pad: str, extra: int = 0):
        if getattr(first, name) is None:
            return None
        return np.concatenate([_pad_time(np.asarray(getattr(d, name)), t + extra, pad)
                               for d in demos])

    return make_demos(cat("obs", "edge", 1), cat("actions", "zero"), cat("rewards", "zero"),
                      cat("terminated", "zero"), cat("truncated", "zero"),
                      np.concatenate([np.asarray(d.lengths) for d in demos]),
                      spec=next(iter(specs), None))


def step_mask(demos: Demos) -> np.ndarray:
    """`[N, T]` bool, true for the steps inside each episode."""
    t = np.asarray(demos.terminated).shape[1]
    return np.arange(t)[None] < np.asarray(demos.lengths)[:, None]


def as_transitions(demos: Demos | Transition) -> Transition:
    """The valid steps of `demos` as one flat `Transition` of `[M, ...]` arrays (on host).

    `M = sum(lengths)`. A `Transition` is returned as it is. Every episode ends in a
    flagged step: an episode whose last valid step has neither flag (a recording that
    stops there, as demonstrations from other tools may) gets `truncated` there, since it
    was cut off, not terminated. Without that, the flat view would run it into the next
    episode for everything that finds episodes by their flags (GCL's episode length,
    trajectory ids).

    Multi-agent demos keep the agent axis after the flat step axis: `obs` and `next_obs`
    `[M, A, D]`, `action` `[M, A]` or `[M, A, act_dim]`, `reward` `[M, A]`, while
    `terminated` and `truncated` are `[M]` (one per env step, shared by its agents). Each
    of the `M` entries is one env step of all agents; fold the agents into the batch with
    `x.reshape(M * A, ...)` for a per-agent view.
    """
    if isinstance(demos, Transition):
        return demos
    mask = step_mask(demos)
    obs = np.asarray(demos.obs)
    pick = lambda x: None if x is None else jax.numpy.asarray(np.asarray(x)[mask])
    terminated, truncated = np.asarray(demos.terminated), np.asarray(demos.truncated)
    lengths = np.asarray(demos.lengths)
    last = np.zeros(mask.shape, bool)  # each episode's last valid step
    last[np.flatnonzero(lengths > 0), lengths[lengths > 0] - 1] = True
    truncated = truncated | (last & ~terminated)
    rewards = demos.rewards
    if rewards is None:
        agents = (demos.num_agents,) if demos.multiagent else ()
        rewards = np.zeros(mask.shape + agents, np.float32)
    return Transition(
        obs=pick(obs[:, :-1]),
        action=pick(demos.actions),
        reward=pick(rewards),
        next_obs=pick(obs[:, 1:]),
        terminated=pick(terminated),
        truncated=pick(truncated),
    )
