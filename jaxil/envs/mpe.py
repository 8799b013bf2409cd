"""Multi-agent particle environments (MPE; Lowe et al., 2017) in pure JAX: `simple_spread`
and `simple_speaker_listener`.

Facts follow the original `openai/multiagent-particle-envs` (`multiagent/core.py`,
`environment.py`, `scenarios/simple_spread.py`, `scenarios/simple_speaker_listener.py`);
`jaxil.envs.make("mpe/simple_spread")` and `make("mpe/simple_speaker_listener")` build the
envs with their 25-step time limits.

World: discs in the plane, `dt = 0.1`, damping `0.25`, mass `1`. One step of the world:
  1. action force `u_i = 5 m_i`, sensitivity 5 times the move `m_i`; discrete actions
     `0..4` are no-op, left `(-1, 0)`, right `(1, 0)`, down `(0, -1)`, up `(0, 1)`;
  2. contact force between every pair of colliding entities (only agents in
     simple_spread: landmarks neither collide nor move), with `d_ij = |p_i - p_j|`:
     `f_ij = c (p_i - p_j) / d_ij * k softplus(-(d_ij - s_i - s_j) / k)`, `f_ji = -f_ij`,
     for `c = contact_force = 100` and `k = contact_margin = 1e-3`;
  3. `v' = (1 - damping) v + (u + f) / mass * dt`, then `p' = p + v' dt` (the position
     moves with the new velocity, as in the original MPE).

simple_spread (cooperative navigation): `N = 3` agents of size 0.15 and `N` landmarks of
size 0.05, positions uniform in `[-1, 1]^2`, agents at rest. Agents are silent with a
communication channel of dim 2, so their utterances are always zero but still take their
place in the observations. Observation of agent `i`, `[4 + 2N + 4(N - 1)]` (`[18]`):

    [v_i (2), p_i (2), l_k - p_i for each landmark k (2N),
     p_j - p_i for each other agent j in index order (2(N - 1)), c_j for each other agent
     (2(N - 1), zeros)]

Reward with `D = sum_k min_j |p_j - l_k|` (after the step) and `collide(i, j)` true when
`|p_i - p_j| < s_i + s_j`:
  - default (`local_ratio=None`), the original MPE's cooperative reward: each agent's
    scenario reward is `r_i = -D - #{j : collide(i, j)}` with `j` running over all agents,
    `i` itself included (so every `r_i` holds a constant -1, kept so that returns match
    the published ones), and every agent receives `sum_i r_i`
    (`= -N D - N - 2 #colliding pairs`);
  - `local_ratio=a` in `[0, 1]`, PettingZoo's `simple_spread_v3`:
    `r_i = -(1 - a) D - a #{j != i : collide(i, j)}`.

Actions: discrete `[N]` int32 by default; `continuous=True` gives the original MPE's
continuous movement, `[N, 2]` float32 in `[-1, 1]` (clipped to it), `u_i = 5 a_i`.
The env never terminates; episodes only end by truncation at the time limit.

simple_speaker_listener (cooperative communication): 2 agents of size 0.075 and 3
landmarks of size 0.04, nothing collides (so no contact forces), all positions uniform in
`[-1, 1]^2`, agents at rest, a goal landmark drawn uniformly. Communication dim 3.
  - agent 0, the speaker: immovable (it keeps its reset position and zero velocity),
    not silent. Action `Discrete(3)`: message `m`, its utterance becomes
    `c = one_hot(m, 3)` (it has no physical action). Observation `[3]`: the goal
    landmark's colour (`LANDMARK_COLORS`: red, green, blue for landmarks 0, 1, 2).
  - agent 1, the listener: movable, silent, sensitivity 5 (no `accel`), world damping and
    mass, no speed limit. Action `Discrete(5)`: the moves above. Observation `[11]`:
    `[v_1 (2), l_k - p_1 for each landmark k (6), c (3): the speaker's utterance]`.
The speaker's row is zero-padded to 11 (its true size 3 is in its `EnvSpec`).
Message timing, as in the original: `world.step()` sets the utterance state `c` from the
action of that same step (after integrating, before the observations are computed), so the
message sent at step `t` is in the observation that step `t` returns, i.e. the listener
acts on it at step `t + 1`; at reset `c = 0`.
Reward, after the step: every agent receives the sum over both agents of the scenario
reward `-|p_1 - l_goal|^2` (the original env sums rewards of `collaborative` worlds), i.e.
`-2 |p_1 - l_goal|^2`. Never terminates; truncated at 25 steps.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxil.envs.base import EnvState, base_state
from jaxil.envs.multiagent import MultiAgentEnv, MultiAgentSpec, pad_observations
from jaxil.types import Array, Box, Discrete, EnvSpec, PRNGKey

DT = 0.1
DAMPING = 0.25
MASS = 1.0
CONTACT_FORCE = 1e2
CONTACT_MARGIN = 1e-3
SENSITIVITY = 5.0
COMM_DIM = 2
SPREAD_AGENT_SIZE = 0.15
SPREAD_LANDMARK_SIZE = 0.05  # landmarks do not collide: their size only matters for drawing
SPREAD_EPISODE_STEPS = 25
SL_COMM_DIM = 3
SL_NUM_LANDMARKS = 3
SL_AGENT_SIZE = 0.075  # nothing collides: sizes only matter for drawing
SL_LANDMARK_SIZE = 0.04
SL_EPISODE_STEPS = 25
SL_LISTENER_OBS = 2 + 2 * SL_NUM_LANDMARKS + SL_COMM_DIM  # 11
# Colours of landmarks 0, 1, 2 (the speaker observes the goal's).
LANDMARK_COLORS = ((0.65, 0.15, 0.15), (0.15, 0.65, 0.15), (0.15, 0.15, 0.65))

# Discrete moves 0..4: no-op, left, right, down, up.
MOVES = ((0.0, 0.0), (-1.0, 0.0), (1.0, 0.0), (0.0, -1.0), (0.0, 1.0))


class ParticleState(NamedTuple):
    """The dynamic state of an MPE world.

    Attributes:
        agent_pos: `[N, 2]` float32 agent positions.
        agent_vel: `[N, 2]` float32 agent velocities.
        landmark_pos: `[L, 2]` float32 landmark positions (landmarks never move).
    """

    agent_pos: Array
    agent_vel: Array
    landmark_pos: Array


def discrete_moves(action: Array) -> Array:
    """`[N]` int actions in `0..4` -> `[N, 2]` unit moves (see `MOVES`)."""
    return jnp.asarray(MOVES, jnp.float32)[action]


def contact_forces(pos: Array, size: Array, contact_force: float = CONTACT_FORCE,
                   contact_margin: float = CONTACT_MARGIN) -> Array:
    """Soft contact forces between colliding discs.

    Args:
        pos: `[N, 2]` positions.
        size: `[N]` radii.
        contact_force: stiffness `c`.
        contact_margin: softness `k` of the softplus penetration.

    Returns:
        `[N, 2]`, the sum over `j != i` of `c (p_i - p_j) / d_ij * k softplus(-(d_ij - s_i -
        s_j) / k)`. Coincident discs push with zero force (the reference divides by zero).
    """
    delta = pos[:, None, :] - pos[None, :, :]  # [N, N, 2]: p_i - p_j
    dist = jnp.sqrt(jnp.sum(delta**2, axis=-1))
    other = ~jnp.eye(pos.shape[0], dtype=bool)
    safe_dist = jnp.where(other & (dist > 0), dist, 1.0)
    min_dist = size[:, None] + size[None, :]
    penetration = contact_margin * jax.nn.softplus(-(dist - min_dist) / contact_margin)
    pair_force = contact_force * delta / safe_dist[..., None] * penetration[..., None]
    return jnp.sum(jnp.where(other[..., None], pair_force, 0.0), axis=1)


def integrate(pos: Array, vel: Array, force: Array, dt: float = DT,
              damping: float = DAMPING, mass: float = MASS) -> tuple[Array, Array]:
    """One damped semi-implicit Euler step: `(p + v' dt, v')` with
    `v' = (1 - damping) v + force / mass * dt`. All arrays `[N, 2]`."""
    vel = vel * (1.0 - damping) + force / mass * dt
    return pos + vel * dt, vel


def spread_observation(state: ParticleState) -> Array:
    """simple_spread observations, `[N, 4 + 2L + 4(N - 1)]` (layout: module docstring)."""
    pos, vel = state.agent_pos, state.agent_vel
    n = pos.shape[0]
    landmarks = (state.landmark_pos[None, :, :] - pos[:, None, :]).reshape(n, -1)
    relative = pos[None, :, :] - pos[:, None, :]  # [i, j]: p_j - p_i
    # Row i keeps the columns j != i, in index order.
    others = jnp.asarray([[j for j in range(n) if j != i] for i in range(n)], jnp.int32)
    other_pos = jnp.take_along_axis(relative, others[..., None], axis=1).reshape(n, -1)
    comm = jnp.zeros((n, (n - 1) * COMM_DIM), jnp.float32)  # silent agents
    return jnp.concatenate([vel, pos, landmarks, other_pos, comm], axis=1)


def spread_reward(state: ParticleState, agent_size: float = SPREAD_AGENT_SIZE,
                  local_ratio: float | None = None) -> Array:
    """simple_spread rewards, `[N]` float32 (the two variants: module docstring)."""
    pos = state.agent_pos
    to_landmarks = jnp.linalg.norm(pos[:, None, :] - state.landmark_pos[None, :, :], axis=-1)
    coverage = jnp.sum(jnp.min(to_landmarks, axis=0))  # D
    dist = jnp.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    collide = dist < 2 * agent_size  # [N, N], the diagonal included
    if local_ratio is None:
        per_agent = -coverage - jnp.sum(collide, axis=1)
        return jnp.full(pos.shape[:1], jnp.sum(per_agent), jnp.float32)
    others_hit = jnp.sum(collide & ~jnp.eye(pos.shape[0], dtype=bool), axis=1)
    return (-(1.0 - local_ratio) * coverage - local_ratio * others_hit).astype(jnp.float32)


class SimpleSpread(MultiAgentEnv):
    """MPE cooperative navigation; see the module docstring.

    Args:
        num_agents: `N` agents and `N` landmarks (3 in the original).
        local_ratio: `None` for the original cooperative reward, or PettingZoo's weight of
            the local collision penalty in `[0, 1]`.
        continuous: `[N, 2]` continuous moves in `[-1, 1]` instead of `[N]` discrete ones.
    """

    def __init__(self, num_agents: int = 3, *, local_ratio: float | None = None,
                 continuous: bool = False):
        if isinstance(num_agents, bool) or not isinstance(num_agents, int) or num_agents < 2:
            raise ValueError(f"num_agents: expected an int >= 2, got {num_agents!r}")
        if local_ratio is not None and not 0.0 <= local_ratio <= 1.0:
            raise ValueError(f"local_ratio: expected None or a number in [0, 1], got "
                             f"{local_ratio!r}")
        self.local_ratio = None if local_ratio is None else float(local_ratio)
        self.continuous = bool(continuous)
        obs_size = 4 + 2 * num_agents + 4 * (num_agents - 1)
        space = Box((2,), -1.0, 1.0) if continuous else Discrete(len(MOVES))
        self.spec = MultiAgentSpec.homogeneous("mpe/simple_spread", num_agents, obs_size,
                                               space, SPREAD_EPISODE_STEPS)

    def _state(self, world: ParticleState, reward: Array) -> EnvState:
        return base_state(inner=world, obs=spread_observation(world), reward=reward)

    def reset(self, key: PRNGKey) -> EnvState:
        n = self.num_agents
        agent_key, landmark_key = jax.random.split(key)
        world = ParticleState(
            agent_pos=jax.random.uniform(agent_key, (n, 2), minval=-1.0, maxval=1.0),
            agent_vel=jnp.zeros((n, 2), jnp.float32),
            landmark_pos=jax.random.uniform(landmark_key, (n, 2), minval=-1.0, maxval=1.0),
        )
        return self._state(world, jnp.zeros((n,), jnp.float32))

    def step(self, state: EnvState, action: Array) -> EnvState:
        n = self.num_agents
        action = jnp.asarray(action)
        expected = (n, 2) if self.continuous else (n,)
        if action.shape != expected:
            raise ValueError(f"action: expected shape {expected}, got {action.shape}")
        world: ParticleState = state.inner
        move = jnp.clip(action, -1.0, 1.0) if self.continuous else discrete_moves(action)
        force = SENSITIVITY * move + contact_forces(
            world.agent_pos, jnp.full((n,), SPREAD_AGENT_SIZE, jnp.float32))
        pos, vel = integrate(world.agent_pos, world.agent_vel, force)
        world = world._replace(agent_pos=pos, agent_vel=vel)
        reward = spread_reward(world, SPREAD_AGENT_SIZE, self.local_ratio)
        return state._replace(inner=world, obs=spread_observation(world), reward=reward)


class SpeakerListenerState(NamedTuple):
    """The dynamic state of simple_speaker_listener.

    Attributes:
        world: the `ParticleState`: `agent_pos`, `agent_vel` `[2, 2]` (row 0 the speaker,
            row 1 the listener), `landmark_pos` `[3, 2]`.
        goal: `[]` int32, the goal landmark's index in `0..2`.
        comm: `[3]` float32, the speaker's utterance state `c` (one-hot of its last
            message; zeros at reset).
    """

    world: ParticleState
    goal: Array
    comm: Array


def speaker_listener_observation(state: SpeakerListenerState) -> Array:
    """simple_speaker_listener observations, `[2, 11]` float32: row 0 the speaker's goal
    colour `[3]` zero-padded, row 1 the listener's `[v_1, l_k - p_1, c]` (module
    docstring)."""
    world = state.world
    colour = jnp.asarray(LANDMARK_COLORS, jnp.float32)[state.goal]
    listener = jnp.concatenate([
        world.agent_vel[1],
        (world.landmark_pos - world.agent_pos[1]).reshape(-1),
        state.comm,
    ])
    return pad_observations([colour, listener], SL_LISTENER_OBS)


def speaker_listener_reward(state: SpeakerListenerState) -> Array:
    """simple_speaker_listener rewards, `[2]` float32: both agents get
    `-2 |p_1 - l_goal|^2` (the sum over the 2 agents of the shared scenario reward)."""
    world = state.world
    dist2 = jnp.sum((world.agent_pos[1] - world.landmark_pos[state.goal]) ** 2)
    return jnp.full((2,), -2.0 * dist2, jnp.float32)


class SimpleSpeakerListener(MultiAgentEnv):
    """MPE cooperative communication; see the module docstring.

    Actions: `[2]` int32, `action[0]` the speaker's message in `0..2`, `action[1]` the
    listener's move in `0..4` (values out of range are not checked inside `jit`).
    """

    def __init__(self):
        self.spec = MultiAgentSpec("mpe/simple_speaker_listener", (
            EnvSpec("mpe/simple_speaker_listener", 3, Discrete(SL_COMM_DIM),
                    SL_EPISODE_STEPS),
            EnvSpec("mpe/simple_speaker_listener", SL_LISTENER_OBS, Discrete(len(MOVES)),
                    SL_EPISODE_STEPS),
        ), SL_EPISODE_STEPS)

    def _state(self, inner: SpeakerListenerState, reward: Array) -> EnvState:
        return base_state(inner=inner, obs=speaker_listener_observation(inner),
                          reward=reward)

    def reset(self, key: PRNGKey) -> EnvState:
        goal_key, agent_key, landmark_key = jax.random.split(key, 3)
        inner = SpeakerListenerState(
            world=ParticleState(
                agent_pos=jax.random.uniform(agent_key, (2, 2), minval=-1.0, maxval=1.0),
                agent_vel=jnp.zeros((2, 2), jnp.float32),
                landmark_pos=jax.random.uniform(landmark_key, (SL_NUM_LANDMARKS, 2),
                                                minval=-1.0, maxval=1.0),
            ),
            goal=jax.random.randint(goal_key, (), 0, SL_NUM_LANDMARKS),
            comm=jnp.zeros((SL_COMM_DIM,), jnp.float32),
        )
        return self._state(inner, jnp.zeros((2,), jnp.float32))

    def step(self, state: EnvState, action: Array) -> EnvState:
        action = jnp.asarray(action)
        if action.shape != (2,):
            raise ValueError(f"action: expected shape (2,) (speaker message, listener "
                             f"move), got {action.shape}")
        inner: SpeakerListenerState = state.inner
        world = inner.world
        # Only the listener moves; no contact forces (nothing collides).
        force = SENSITIVITY * discrete_moves(action[1:])
        pos, vel = integrate(world.agent_pos[1:], world.agent_vel[1:], force)
        world = world._replace(
            agent_pos=jnp.concatenate([world.agent_pos[:1], pos]),
            agent_vel=jnp.concatenate([world.agent_vel[:1], vel]))
        # The utterance is set in the same world step, before the observations.
        comm = jax.nn.one_hot(action[0], SL_COMM_DIM, dtype=jnp.float32)
        inner = inner._replace(world=world, comm=comm)
        return state._replace(inner=inner, obs=speaker_listener_observation(inner),
                              reward=speaker_listener_reward(inner))


SCENARIOS = {"simple_spread": SimpleSpread, "simple_speaker_listener": SimpleSpeakerListener}
"""MPE scenarios by the name `jaxil.envs.make("mpe/<name>")` takes."""
