"""Cooperative control: a single-agent continuous-control env split into agents by actuator.

The MAGAIL paper's cooperative-control case (multi-walker style): one body, several agents,
each driving its own actuators, all sharing the body's reward. `ActuatorSplit(env, groups)`
turns an unwrapped single-agent env with a `Box` action vector `[A]` into a
`MultiAgentEnv` (protocol: `jaxil.envs.multiagent`):

    action      [N, k] float32   agent i's k actions go to the actuators `groups[i]`
    obs         [N, D]           the whole observation for every agent (`observe="shared"`)
                                 or each agent's own entries, zero-padded to the largest
    reward      [N]              the inner env's reward, repeated for every agent
    terminated, truncated, info  the inner env's, as they are

`groups` is a tuple of `N` tuples of actuator indices, disjoint and together covering all
`A` actuators once; every group has the same size `k` (agents' actions stack on the agent
axis, and MAPPO shares one policy head). Agent i's `Box` has the inner env's bounds of its
actuators (MAPPO also needs every agent's bounds to be the same). All agents are in one
team: `teams` is all `1` (`jaxil.envs.mpe.GOOD`), as for the cooperative MPE envs.

Time limits: the adapter wraps the *unwrapped* inner env (a wrapped one is refused: an
inner `AutoReset` would keep a single-agent `final_obs`) and keeps its default time limit
in the spec; `jaxil.envs.make` (or the user, with `TimeLimit`) puts the limit on top, as
for every other env, so `TimeLimit` / `AutoReset` / `VmapEnv` apply to it unchanged.

Ready-made splits (`SPLITS`), built by `jaxil.envs.make("coop/<inner name>")`, e.g.
`make("coop/brax/ant")` (Brax's kwargs such as `backend=` pass through):

- `brax/ant`, 4 agents, one leg each, in leg order 1 to 4. Brax's `envs/assets/ant.xml`
  lists its 8 motors as `hip_4, ankle_4, hip_1, ankle_1, hip_2, ankle_2, hip_3, ankle_3`
  (legs: 1 `front_left_leg`, 2 `front_right_leg`, 3 `back_leg`, 4 `right_back_leg`), so
  the groups are `((2, 3), (4, 5), (6, 7), (0, 1))`.
- `brax/halfcheetah`, 2 agents: the back leg and the front leg. Brax's
  `envs/assets/half_cheetah.xml` lists `bthigh, bshin, bfoot, fthigh, fshin, ffoot`, so
  the groups are `((0, 1, 2), (3, 4, 5))`.
- `pointmass`, 2 agents: one moves the point along x, the other along y (a toy, cheap to
  test with).

`observe="local"` (ant and halfcheetah only) gives each agent the torso's entries and its
own joints' angles and velocities instead of the whole observation. With Brax's default
observation (`qpos` without the torso's x, y (ant) or x (halfcheetah), then `qvel`):

- ant `[27]`: torso `0..4` (z, quaternion) and `13..18` (linear and angular velocity);
  leg `l` (1..4): angles `5 + 2(l - 1)`, `+1` and velocities `19 + 2(l - 1)`, `+1`:
  15 entries per agent;
- halfcheetah `[17]`: torso `0, 1` (z, pitch) and `8..10` (its velocities); back leg
  angles `2..4` and velocities `11..13`, front leg `5..7` and `14..16`: 11 per agent.

These indices were checked against `env.sys.actuator.q_id` / `qd_id` of Brax 0.14.2 (ant:
actuators at `q` 13, 14, 7, ..., 12; halfcheetah: 3 .. 8). Other observation options of
the Brax envs (contact forces, positions kept) change these sizes and are refused with
`observe="local"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxil.envs.base import Env, EnvState
from jaxil.envs.mpe import GOOD
from jaxil.envs.multiagent import MultiAgentEnv, MultiAgentSpec, is_multiagent, pad_observations
from jaxil.types import Array, Box, EnvSpec, PRNGKey

Groups = tuple[tuple[int, ...], ...]

SPLITS: dict[str, Groups] = {
    "brax/ant": ((2, 3), (4, 5), (6, 7), (0, 1)),
    "brax/halfcheetah": ((0, 1, 2), (3, 4, 5)),
    "pointmass": ((0,), (1,)),
}
"""Ready-made actuator groups by inner env name (see the module docstring)."""


def _ant_leg(leg: int) -> tuple[int, ...]:
    angles, velocities = 5 + 2 * (leg - 1), 19 + 2 * (leg - 1)
    return (0, 1, 2, 3, 4, *range(13, 19), angles, angles + 1, velocities, velocities + 1)


_CHEETAH_TORSO = (0, 1, 8, 9, 10)

LOCAL_OBSERVATIONS: dict[str, tuple[int, tuple[tuple[int, ...], ...]]] = {
    "brax/ant": (27, tuple(_ant_leg(leg) for leg in (1, 2, 3, 4))),
    "brax/halfcheetah": (17, (_CHEETAH_TORSO + (2, 3, 4, 11, 12, 13),
                              _CHEETAH_TORSO + (5, 6, 7, 14, 15, 16))),
}
"""`observe="local"` by inner env name: `(the observation size it assumes, one index tuple
per agent in the order of SPLITS)`."""


def _index_tuples(value: Any, field: str, size: int, what: str) -> tuple[tuple[int, ...], ...]:
    """`value` as a non-empty tuple of non-empty tuples of ints in `[0, size)`."""
    try:
        rows = tuple(tuple(row) for row in value)
    except TypeError:
        rows = ()
    if not rows or not all(rows) or not all(
            isinstance(i, int | np.integer) and not isinstance(i, bool) and 0 <= i < size
            for row in rows for i in row):
        raise ValueError(f"{field}: expected a tuple of non-empty tuples of {what} indices "
                         f"in [0, {size}), got {value!r}")
    return tuple(tuple(int(i) for i in row) for row in rows)


def _bound(bound: float | tuple[float, ...], group: tuple[int, ...]) -> float | tuple[float, ...]:
    """The bounds of `group`'s actuators: one float when they are all the same."""
    if not isinstance(bound, tuple):
        return float(bound)
    values = tuple(float(bound[i]) for i in group)
    return values[0] if len(set(values)) == 1 else values


class ActuatorSplit(MultiAgentEnv):
    """A single-agent continuous-control env as cooperating agents, one per actuator group.

    Args:
        env: an unwrapped single-agent env with a `Box` action vector `[A]` (e.g.
            `jaxil.envs.make("brax/ant").unwrapped`).
        groups: `N` tuples of actuator indices, disjoint, covering `0 .. A - 1` once, all
            of one size `k`.
        observe: `"shared"` (every agent sees the whole observation) or `N` tuples of
            observation indices, agent i's own entries (they may overlap), zero-padded to
            the largest.
        name: the spec's name; by default `coop/<inner name>` for a ready-made split with
            shared observations (what `jaxil.envs.make` rebuilds), else
            `<inner name>/actuator_split`.
    """

    def __init__(self, env: Env, groups: Sequence[Sequence[int]],
                 observe: str | Sequence[Sequence[int]] = "shared", name: str | None = None):
        if is_multiagent(env) or env.unwrapped is not env:
            raise ValueError(f"env: expected an unwrapped single-agent env, got {env!r}; pass "
                             "env.unwrapped and put the time limit on top of the split")
        space = env.spec.action_space
        if not isinstance(space, Box) or len(space.shape) != 1:
            raise ValueError(f"env: expected a Box action space of shape [A], got {space} "
                             f"({env.spec.name})")
        num_actuators = space.shape[0]
        self.groups = _index_tuples(groups, "groups", num_actuators, "actuator")
        flat = [i for group in self.groups for i in group]
        if sorted(flat) != list(range(num_actuators)):
            raise ValueError(f"groups: expected every actuator 0..{num_actuators - 1} of "
                             f"{env.spec.name} exactly once, got {groups!r}")
        if len({len(group) for group in self.groups}) > 1:
            raise ValueError(f"groups: expected groups of one size (agents' Box actions stack "
                             f"on the agent axis), got sizes "
                             f"{[len(g) for g in self.groups]} in {groups!r}")
        num_agents = len(self.groups)
        obs_size = env.spec.observation_size
        if isinstance(observe, str):
            if observe != "shared":
                raise ValueError(f"observe: expected 'shared' or a tuple of index tuples, "
                                 f"got {observe!r}")
            self.observe: str | tuple[tuple[int, ...], ...] = "shared"
            sizes = (obs_size,) * num_agents
        else:
            self.observe = _index_tuples(observe, "observe", obs_size, "observation")
            if len(self.observe) != num_agents:
                raise ValueError(f"observe: expected one index tuple per agent ({num_agents}), "
                                 f"got {len(self.observe)}")
            sizes = tuple(len(row) for row in self.observe)
        if name is None:
            ready = SPLITS.get(env.spec.name) == self.groups and self.observe == "shared"
            name = f"coop/{env.spec.name}" if ready else f"{env.spec.name}/actuator_split"
        self.env = env
        self._actuators = np.asarray(flat)  # the inner index of each flattened agent action
        steps = env.spec.max_episode_steps
        self.spec = MultiAgentSpec(name, tuple(
            EnvSpec(name, size, Box((len(group),), _bound(space.low, group),
                                    _bound(space.high, group)), steps)
            for size, group in zip(sizes, self.groups, strict=True)), steps)

    @property
    def teams(self) -> tuple[int, ...]:
        """All agents in one team (`GOOD`): the split is cooperative."""
        return (GOOD,) * self.num_agents

    def inner_action(self, action: Array) -> Array:
        """`[N, k]` agent actions -> the inner env's `[A]` action vector."""
        flat = jnp.reshape(jnp.asarray(action, jnp.float32), (-1,))
        return jnp.zeros(self._actuators.shape, jnp.float32).at[self._actuators].set(flat)

    def observations(self, obs: Array) -> Array:
        """The inner env's `[obs_size]` observation -> `[N, D]` agent observations."""
        if self.observe == "shared":
            return jnp.broadcast_to(obs, (self.num_agents, obs.shape[0])).astype(jnp.float32)
        return pad_observations([obs[np.asarray(row)] for row in self.observe],
                                self.spec.observation_size)

    def _state(self, inner: EnvState) -> EnvState:
        return EnvState(inner=inner, obs=self.observations(inner.obs),
                        reward=jnp.full((self.num_agents,), inner.reward, jnp.float32),
                        terminated=inner.terminated, truncated=inner.truncated,
                        info=inner.info)

    def reset(self, key: PRNGKey) -> EnvState:
        return self._state(self.env.reset(key))

    def step(self, state: EnvState, action: Array) -> EnvState:
        return self._state(self.env.step(state.inner, self.inner_action(action)))

    def __repr__(self) -> str:
        return f"ActuatorSplit({self.env!r}, {self.groups})"


def cooperative(name: str, observe: str = "shared", **kwargs: Any) -> ActuatorSplit:
    """The ready-made split of `name` (a key of `SPLITS`), without a time limit
    (`jaxil.envs.make("coop/<name>")` adds it).

    Args:
        name: the inner env, e.g. `"brax/ant"`.
        observe: `"shared"` or `"local"` (each agent the torso and its own joints; see the
            module docstring; `brax/ant` and `brax/halfcheetah` only).
        **kwargs: passed to `jaxil.envs.make(name)` (e.g. `backend="positional"`).
    """
    if name not in SPLITS:
        raise ValueError(f"env name: no ready-made actuator split for {name!r}; expected one "
                         f"of {['coop/' + n for n in sorted(SPLITS)]}")
    if observe not in ("shared", "local") or (observe == "local"
                                              and name not in LOCAL_OBSERVATIONS):
        raise ValueError(f"observe: expected 'shared' or 'local' (local: "
                         f"{sorted(LOCAL_OBSERVATIONS)} only), got {observe!r} for {name}")
    from jaxil.envs import make  # jaxil.envs imports this module

    inner = make(name, **kwargs).unwrapped
    if observe == "shared":
        return ActuatorSplit(inner, SPLITS[name], name=f"coop/{name}")
    size, rows = LOCAL_OBSERVATIONS[name]
    if inner.spec.observation_size != size:
        raise ValueError(f"observe: 'local' assumes {name}'s default observation of {size} "
                         f"entries, got {inner.spec.observation_size} with {kwargs}")
    return ActuatorSplit(inner, SPLITS[name], rows, name=f"coop/{name}")
