"""Multi-agent particle environments (MPE; Lowe et al., 2017) in pure JAX: the cooperative
`simple_spread` and `simple_speaker_listener`, the competitive `simple_push` (keep-away)
and `simple_tag` (predator-prey).

Facts follow the original `openai/multiagent-particle-envs` (`multiagent/core.py`,
`environment.py`, `scenarios/simple_spread.py`, `simple_speaker_listener.py`,
`simple_push.py`, `simple_tag.py`); `jaxil.envs.make("mpe/<scenario>")` builds each env
with its 25-step time limit.

Teams: every env has a read-only `teams` property, a tuple with one int per agent in
agent order, `0` (`ADVERSARY`) for an adversary and `1` (`GOOD`) for a good agent;
cooperative envs are all `1`. Adversaries come first, as in the original `world.agents`.
Rewards are per agent: cooperative envs repeat the team's summed reward, competitive ones
give each agent its own.

World: discs in the plane, `dt = 0.1`, damping `0.25`, mass `1`. One step of the world
(`particle_step`):
  1. action force `u_i = a_i m_i`, the sensitivity `a_i` (`accel`, 5 unless the scenario
     sets it) times the move `m_i`; discrete actions `0..4` are no-op, left `(-1, 0)`,
     right `(1, 0)`, down `(0, -1)`, up `(0, 1)`;
  2. contact force between every pair of colliding entities (immovable landmarks push
     colliding agents but never move), with `d_ij = |p_i - p_j|`:
     `f_ij = c (p_i - p_j) / d_ij * k softplus(-(d_ij - s_i - s_j) / k)`, `f_ji = -f_ij`,
     for `c = contact_force = 100` and `k = contact_margin = 1e-3`;
  3. `v' = (1 - damping) v + (u + f) / mass * dt`; an agent with a `max_speed` whose
     `|v'|` exceeds it has `v'` scaled to that speed (simple_tag); then `p' = p + v' dt`
     (the position moves with the new velocity, as in the original MPE).

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

simple_push (keep-away): agent 0 the adversary, agent 1 the good agent (`teams (0, 1)`),
both of the default size 0.05, colliding with each other, silent, sensitivity 5, no speed
limit. 2 landmarks of size 0.05 that do not collide, one of them the goal (drawn
uniformly; both agents know it). All positions uniform in `[-1, 1]^2`, agents at rest.
Colours: landmark 0 green `(0.1, 0.9, 0.1)`, landmark 1 blue `(0.1, 0.1, 0.9)`; the good
agent `(0.25, 0.25, 0.25)` plus 0.5 on the goal's channel (`PUSH_GOOD_COLORS`).
Observations (`[2, 19]`, the adversary's row zero-padded):
  - adversary `[8]`: `[v_0 (2), l_k - p_0 for each landmark k (4), p_1 - p_0 (2)]`;
  - good agent `[19]`: `[v_1 (2), l_goal - p_1 (2), its colour (3), l_k - p_1 (4), the
    landmarks' colours (6), p_0 - p_1 (2)]`.
Rewards (after the step, not summed): with `d_i = |p_i - l_goal|`, the good agent
`-d_1`, the adversary `d_1 - d_0` (the nearest good agent's distance minus its own).
Actions: `[2]` moves, or `continuous=True` `[2, 2]` in `[-1, 1]`.

simple_tag (predator-prey): `A = 3` adversaries (agents `0..A-1`, size 0.075, accel 3,
max speed 1.0) chase `G = 1` good agent (size 0.05, accel 4, max speed 1.3); `L = 2`
obstacle landmarks of size 0.2 that collide (they push agents and never move). Agents
uniform in `[-1, 1]^2` at rest, obstacles uniform in `[-0.9, 0.9]^2`. All agents collide
and are silent. Observation of agent `i`, `[4 + 2L + 2(N - 1) + 2 G_i]` with `G_i` the
good agents other than `i` (`[16]` for an adversary, `[14]` for the good agent, padded to
16):

    [v_i (2), p_i (2), l_k - p_i for each obstacle k (2L),
     p_j - p_i for each other agent j in index order (2(N - 1)),
     v_j for each other good agent j (2 G_i)]

Rewards (after the step, not summed), with `caught(g, a)` true when
`|p_g - p_a| < 0.05 + 0.075`:
  - every adversary: `10 #{(g, a) : caught(g, a)}` over all good agents and all
    adversaries (the same for the whole team);
  - good agent `g`: `-10 #{a : caught(g, a)} - sum_d bound(|p_g[d]|)` with `bound(x) = 0`
    for `x < 0.9`, `10 (x - 0.9)` for `x < 1`, else `min(exp(2x - 2), 10)` (`tag_bound`).
  - `shape=True` (off by default, as in the original) adds the original's shaping: the
    good agent `+0.1 sum_a |p_g - p_a|`, every adversary `-0.1 sum_a min_g |p_g - p_a|`.
`SimpleTag(num_good, num_adversaries, num_obstacles)` changes the counts. Actions: `[N]`
moves, or `continuous=True` `[N, 2]` in `[-1, 1]` (times each agent's accel).
Neither competitive env terminates; both are truncated at 25 steps.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

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
PUSH_AGENT_SIZE = 0.05  # the default entity size; the two agents collide
PUSH_LANDMARK_SIZE = 0.05  # landmarks do not collide
PUSH_NUM_LANDMARKS = 2
PUSH_EPISODE_STEPS = 25
# simple_push colours: landmark k's, and the good agent's when landmark k is the goal.
PUSH_LANDMARK_COLORS = ((0.1, 0.9, 0.1), (0.1, 0.1, 0.9))
PUSH_GOOD_COLORS = ((0.25, 0.75, 0.25), (0.25, 0.25, 0.75))
PUSH_ADVERSARY_OBS = 2 + 2 * PUSH_NUM_LANDMARKS + 2  # 8
PUSH_GOOD_OBS = 2 + 2 + 3 + 2 * PUSH_NUM_LANDMARKS + 3 * PUSH_NUM_LANDMARKS + 2  # 19
TAG_ADVERSARY_SIZE = 0.075
TAG_ADVERSARY_ACCEL = 3.0
TAG_ADVERSARY_MAX_SPEED = 1.0
TAG_GOOD_SIZE = 0.05
TAG_GOOD_ACCEL = 4.0
TAG_GOOD_MAX_SPEED = 1.3
TAG_OBSTACLE_SIZE = 0.2  # obstacles collide (they push agents and never move)
TAG_OBSTACLE_RANGE = 0.9  # obstacles start uniform in [-0.9, 0.9]^2
TAG_CATCH_REWARD = 10.0
TAG_SHAPE_WEIGHT = 0.1
TAG_EPISODE_STEPS = 25

# Teams (`env.teams`): adversaries and good agents.
ADVERSARY = 0
GOOD = 1

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
              damping: float = DAMPING, mass: float = MASS,
              max_speed: Array | float | None = None) -> tuple[Array, Array]:
    """One damped semi-implicit Euler step: `(p + v' dt, v')` with
    `v' = (1 - damping) v + force / mass * dt`. All arrays `[N, 2]`.

    `max_speed` (a number or `[N]`; `None`: no limit): a `v'` faster than it is scaled
    down to that speed along its direction before the position moves (as in `core.py`).
    """
    vel = vel * (1.0 - damping) + force / mass * dt
    if max_speed is not None:
        limit = jnp.broadcast_to(jnp.asarray(max_speed, jnp.float32), vel.shape[:1])[:, None]
        speed = jnp.sqrt(jnp.sum(vel**2, axis=-1, keepdims=True))
        too_fast = speed > limit
        vel = jnp.where(too_fast, vel / jnp.where(too_fast, speed, 1.0) * limit, vel)
    return pos + vel * dt, vel


def random_world(agent_key: PRNGKey, landmark_key: PRNGKey, num_agents: int,
                 num_landmarks: int, landmark_range: float = 1.0) -> ParticleState:
    """A reset world: agents uniform in `[-1, 1]^2` and at rest, landmarks uniform in
    `[-landmark_range, landmark_range]^2`."""
    return ParticleState(
        agent_pos=jax.random.uniform(agent_key, (num_agents, 2), minval=-1.0, maxval=1.0),
        agent_vel=jnp.zeros((num_agents, 2), jnp.float32),
        landmark_pos=jax.random.uniform(landmark_key, (num_landmarks, 2),
                                        minval=-landmark_range, maxval=landmark_range),
    )


def agent_moves(action: Array, num_agents: int, continuous: bool) -> Array:
    """Checks the actions' shape and returns the `[N, 2]` moves: `discrete_moves` of `[N]`
    ints, or `[N, 2]` continuous moves clipped to `[-1, 1]`."""
    action = jnp.asarray(action)
    expected = (num_agents, 2) if continuous else (num_agents,)
    if action.shape != expected:
        raise ValueError(f"action: expected shape {expected}, got {action.shape}")
    return jnp.clip(action, -1.0, 1.0) if continuous else discrete_moves(action)


def move_space(continuous: bool) -> Box | Discrete:
    """Every agent's action space: `Box((2,), -1, 1)` or `Discrete(5)`."""
    return Box((2,), -1.0, 1.0) if continuous else Discrete(len(MOVES))


def particle_step(world: ParticleState, move: Array, accel: Array | float,
                  agent_size: Array | float, landmark_size: float | None = None,
                  max_speed: Array | float | None = None) -> ParticleState:
    """One world step of movable, colliding agents among immovable landmarks.

    Args:
        world: the world before the step.
        move: `[N, 2]` moves; the action force is `accel * move`.
        accel: the sensitivity, a number or `[N]` (`SENSITIVITY` unless an agent has an
            `accel`).
        agent_size: the agents' radii, a number or `[N]`; all agents collide.
        landmark_size: the landmarks' radius when they collide (they push agents but never
            move), `None` when they do not.
        max_speed: see `integrate`.

    Returns:
        The world after the step (landmarks where they were).
    """
    n, num_landmarks = world.agent_pos.shape[0], world.landmark_pos.shape[0]
    pos = world.agent_pos
    size = jnp.broadcast_to(jnp.asarray(agent_size, jnp.float32), (n,))
    if landmark_size is not None:
        pos = jnp.concatenate([pos, world.landmark_pos])
        size = jnp.concatenate([size, jnp.full((num_landmarks,), landmark_size, jnp.float32)])
    accel = jnp.broadcast_to(jnp.asarray(accel, jnp.float32), (n,))
    force = accel[:, None] * move + contact_forces(pos, size)[:n]
    pos, vel = integrate(world.agent_pos, world.agent_vel, force, max_speed=max_speed)
    return world._replace(agent_pos=pos, agent_vel=vel)


def relative_positions(world: ParticleState) -> tuple[Array, Array]:
    """Each agent's view of the others: `[N, 2L]` `l_k - p_i` for each landmark `k`, and
    `[N, 2(N - 1)]` `p_j - p_i` for each other agent `j` in index order."""
    pos = world.agent_pos
    n = pos.shape[0]
    landmarks = (world.landmark_pos[None, :, :] - pos[:, None, :]).reshape(n, -1)
    others = np.asarray([[j for j in range(n) if j != i] for i in range(n)], np.int32)
    return landmarks, (pos[others] - pos[:, None, :]).reshape(n, -1)


def spread_observation(state: ParticleState) -> Array:
    """simple_spread observations, `[N, 4 + 2L + 4(N - 1)]` (layout: module docstring)."""
    n = state.agent_pos.shape[0]
    landmarks, other_pos = relative_positions(state)
    comm = jnp.zeros((n, (n - 1) * COMM_DIM), jnp.float32)  # silent agents
    return jnp.concatenate([state.agent_vel, state.agent_pos, landmarks, other_pos, comm],
                           axis=1)


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


class SpreadGreedyPolicy(NamedTuple):
    """A scripted demonstrator for discrete `mpe/simple_spread`: agent `i` heads for
    landmark `i`.

    From agent `i`'s observation (`[v_i, p_i, l_k - p_i, ...]`) it takes the offset
    `e = (l_i - p_i) - braking * v_i` and moves along the axis where `|e|` is larger
    (right / left, up / down), or does nothing once both components are within
    `deadband`. Deterministic; `key` is unused. Over 256 episodes it scores a team return
    of about -137 (a uniformly random policy: about -235; jaxil's MAPPO expert recipe:
    about -140), so it is a cheap expert for tests and examples that no learner made.

    Call: `policy(obs[N, D], key) -> action[N]` int32.
    """

    braking: float = 0.3
    deadband: float = 0.05

    def __call__(self, obs: Array, key: PRNGKey) -> Array:
        del key
        n = obs.shape[0]
        landmark = jax.vmap(lambda row, i: jax.lax.dynamic_slice(row, (4 + 2 * i,), (2,)))(
            obs, jnp.arange(n))
        e = landmark - self.braking * obs[:, :2]
        horizontal = jnp.where(e[:, 0] > 0, 2, 1)
        vertical = jnp.where(e[:, 1] > 0, 4, 3)
        move = jnp.where(jnp.abs(e[:, 0]) > jnp.abs(e[:, 1]), horizontal, vertical)
        return jnp.where(jnp.max(jnp.abs(e), axis=-1) < self.deadband, 0, move
                         ).astype(jnp.int32)


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
        self.spec = MultiAgentSpec.homogeneous("mpe/simple_spread", num_agents, obs_size,
                                               move_space(continuous), SPREAD_EPISODE_STEPS)

    @property
    def teams(self) -> tuple[int, ...]:
        """All agents are good agents (team 1): `(1,) * N`."""
        return (GOOD,) * self.num_agents

    def _state(self, world: ParticleState, reward: Array) -> EnvState:
        return base_state(inner=world, obs=spread_observation(world), reward=reward)

    def reset(self, key: PRNGKey) -> EnvState:
        n = self.num_agents
        world = random_world(*jax.random.split(key), n, n)
        return self._state(world, jnp.zeros((n,), jnp.float32))

    def step(self, state: EnvState, action: Array) -> EnvState:
        move = agent_moves(action, self.num_agents, self.continuous)
        world = particle_step(state.inner, move, SENSITIVITY, SPREAD_AGENT_SIZE)
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

    @property
    def teams(self) -> tuple[int, ...]:
        """Both agents are good agents (team 1): `(1, 1)`."""
        return (GOOD, GOOD)

    def _state(self, inner: SpeakerListenerState, reward: Array) -> EnvState:
        return base_state(inner=inner, obs=speaker_listener_observation(inner),
                          reward=reward)

    def reset(self, key: PRNGKey) -> EnvState:
        goal_key, agent_key, landmark_key = jax.random.split(key, 3)
        inner = SpeakerListenerState(
            world=random_world(agent_key, landmark_key, 2, SL_NUM_LANDMARKS),
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


class PushState(NamedTuple):
    """The dynamic state of simple_push.

    Attributes:
        world: the `ParticleState`: `agent_pos`, `agent_vel` `[2, 2]` (row 0 the
            adversary, row 1 the good agent), `landmark_pos` `[2, 2]`.
        goal: `[]` int32, the goal landmark's index in `0..1` (the same for both agents).
    """

    world: ParticleState
    goal: Array


def push_observation(state: PushState) -> Array:
    """simple_push observations, `[2, 19]` float32: row 0 the adversary's `[8]`
    zero-padded, row 1 the good agent's `[19]` (layouts: module docstring)."""
    world = state.world
    pos, vel, landmarks = world.agent_pos, world.agent_vel, world.landmark_pos
    goal = landmarks[state.goal]
    adversary = jnp.concatenate([
        vel[0], (landmarks - pos[0]).reshape(-1), pos[1] - pos[0]])
    good = jnp.concatenate([
        vel[1], goal - pos[1],
        jnp.asarray(PUSH_GOOD_COLORS, jnp.float32)[state.goal],
        (landmarks - pos[1]).reshape(-1),
        jnp.asarray(PUSH_LANDMARK_COLORS, jnp.float32).reshape(-1),
        pos[0] - pos[1]])
    return pad_observations([adversary, good], PUSH_GOOD_OBS)


def push_reward(state: PushState) -> Array:
    """simple_push rewards, `[2]` float32: the adversary's `|p_1 - g| - |p_0 - g|`, the good
    agent's `-|p_1 - g|` for the goal landmark `g` (not summed: competitive)."""
    world = state.world
    to_goal = jnp.linalg.norm(world.agent_pos - world.landmark_pos[state.goal], axis=-1)
    return jnp.stack([to_goal[1] - to_goal[0], -to_goal[1]]).astype(jnp.float32)


class SimplePush(MultiAgentEnv):
    """MPE keep-away; see the module docstring.

    Args:
        continuous: `[2, 2]` continuous moves in `[-1, 1]` instead of `[2]` discrete ones.
    """

    def __init__(self, *, continuous: bool = False):
        self.continuous = bool(continuous)
        space = move_space(continuous)
        self.spec = MultiAgentSpec("mpe/simple_push", (
            EnvSpec("mpe/simple_push", PUSH_ADVERSARY_OBS, space, PUSH_EPISODE_STEPS),
            EnvSpec("mpe/simple_push", PUSH_GOOD_OBS, space, PUSH_EPISODE_STEPS),
        ), PUSH_EPISODE_STEPS)

    @property
    def teams(self) -> tuple[int, ...]:
        """Agent 0 is the adversary, agent 1 the good agent: `(0, 1)`."""
        return (ADVERSARY, GOOD)

    def _state(self, inner: PushState, reward: Array) -> EnvState:
        return base_state(inner=inner, obs=push_observation(inner), reward=reward)

    def reset(self, key: PRNGKey) -> EnvState:
        goal_key, agent_key, landmark_key = jax.random.split(key, 3)
        inner = PushState(
            world=random_world(agent_key, landmark_key, 2, PUSH_NUM_LANDMARKS),
            goal=jax.random.randint(goal_key, (), 0, PUSH_NUM_LANDMARKS))
        return self._state(inner, jnp.zeros((2,), jnp.float32))

    def step(self, state: EnvState, action: Array) -> EnvState:
        move = agent_moves(action, 2, self.continuous)
        inner: PushState = state.inner
        inner = inner._replace(
            world=particle_step(inner.world, move, SENSITIVITY, PUSH_AGENT_SIZE))
        return state._replace(inner=inner, obs=push_observation(inner),
                              reward=push_reward(inner))


def tag_observation(world: ParticleState, num_adversaries: int) -> Array:
    """simple_tag observations, `[N, 4 + 2L + 2(N - 1) + 2G]` float32 (`G` good agents):
    agent `i`'s `[v_i, p_i, l_k - p_i, p_j - p_i for j != i, v_j for good j != i]`, the
    good agents' rows (2 entries shorter) zero-padded at the end, as `pad_observations`
    pads (module docstring)."""
    pos, vel = world.agent_pos, world.agent_vel
    n = pos.shape[0]
    # Row i: the other good agents in index order, then -1 (zeros) to fill the row.
    good_others = np.full((n, n - num_adversaries), -1, np.int32)
    for i in range(n):
        row = [j for j in range(num_adversaries, n) if j != i]
        good_others[i, :len(row)] = row
    good_vel = jnp.where((good_others >= 0)[..., None], vel[np.maximum(good_others, 0)], 0.0)
    landmarks, other_pos = relative_positions(world)
    return jnp.concatenate([vel, pos, landmarks, other_pos, good_vel.reshape(n, -1)], axis=1)


def tag_bound(x: Array) -> Array:
    """simple_tag's penalty for a good agent's coordinate magnitude `x = |p_d|`: 0 below
    0.9, `10 (x - 0.9)` below 1, then `min(exp(2x - 2), 10)`."""
    return jnp.where(x < 0.9, 0.0,
                     jnp.where(x < 1.0, (x - 0.9) * 10.0,
                               jnp.minimum(jnp.exp(2.0 * x - 2.0), 10.0)))


def tag_reward(world: ParticleState, num_adversaries: int, shape: bool = False) -> Array:
    """simple_tag rewards, `[N]` float32 (module docstring): every adversary gets 10 per
    colliding (good agent, adversary) pair; a good agent loses 10 per adversary colliding
    with it and `tag_bound` of each coordinate's magnitude. `shape`: the original's
    optional distance shaping."""
    pos = world.agent_pos
    adversaries, good = pos[:num_adversaries], pos[num_adversaries:]
    dist = jnp.linalg.norm(good[:, None, :] - adversaries[None, :, :], axis=-1)  # [G, A]
    caught = dist < TAG_GOOD_SIZE + TAG_ADVERSARY_SIZE
    adversary_reward = TAG_CATCH_REWARD * jnp.sum(caught)
    good_reward = (-TAG_CATCH_REWARD * jnp.sum(caught, axis=1)
                   - jnp.sum(tag_bound(jnp.abs(good)), axis=1))
    if shape:
        adversary_reward -= TAG_SHAPE_WEIGHT * jnp.sum(jnp.min(dist, axis=0))
        good_reward += TAG_SHAPE_WEIGHT * jnp.sum(dist, axis=1)
    return jnp.concatenate([jnp.full((num_adversaries,), adversary_reward),
                            good_reward]).astype(jnp.float32)


class SimpleTag(MultiAgentEnv):
    """MPE predator-prey; see the module docstring.

    Args:
        num_good: good agents (1 in the original).
        num_adversaries: adversaries (3 in the original); they come first in agent order.
        num_obstacles: obstacle landmarks (2 in the original).
        shape: add the original's optional distance shaping to the rewards (off there).
        continuous: `[N, 2]` continuous moves in `[-1, 1]` instead of `[N]` discrete ones.
    """

    def __init__(self, num_good: int = 1, num_adversaries: int = 3, num_obstacles: int = 2,
                 *, shape: bool = False, continuous: bool = False):
        for name, value, least in (("num_good", num_good, 1),
                                   ("num_adversaries", num_adversaries, 1),
                                   ("num_obstacles", num_obstacles, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name}: expected an int >= {least}, got {value!r}")
        self.num_good, self.num_adversaries = num_good, num_adversaries
        self.num_obstacles = num_obstacles
        self.shape, self.continuous = bool(shape), bool(continuous)
        n = num_good + num_adversaries
        adversary_obs = 4 + 2 * num_obstacles + 2 * (n - 1) + 2 * num_good
        space = move_space(continuous)
        self.spec = MultiAgentSpec("mpe/simple_tag", tuple(
            EnvSpec("mpe/simple_tag", adversary_obs - 2 * team, space, TAG_EPISODE_STEPS)
            for team in self.teams), TAG_EPISODE_STEPS)

    @property
    def teams(self) -> tuple[int, ...]:
        """The adversaries (team 0), then the good agents (team 1)."""
        return (ADVERSARY,) * self.num_adversaries + (GOOD,) * self.num_good

    def _per_agent(self, adversary: float, good: float) -> Array:
        return jnp.asarray([good if team else adversary for team in self.teams], jnp.float32)

    def _state(self, world: ParticleState, reward: Array) -> EnvState:
        return base_state(inner=world, obs=tag_observation(world, self.num_adversaries),
                          reward=reward)

    def reset(self, key: PRNGKey) -> EnvState:
        world = random_world(*jax.random.split(key), self.num_agents, self.num_obstacles,
                             TAG_OBSTACLE_RANGE)
        return self._state(world, jnp.zeros((self.num_agents,), jnp.float32))

    def step(self, state: EnvState, action: Array) -> EnvState:
        move = agent_moves(action, self.num_agents, self.continuous)
        world = particle_step(
            state.inner, move,
            accel=self._per_agent(TAG_ADVERSARY_ACCEL, TAG_GOOD_ACCEL),
            agent_size=self._per_agent(TAG_ADVERSARY_SIZE, TAG_GOOD_SIZE),
            landmark_size=TAG_OBSTACLE_SIZE,
            max_speed=self._per_agent(TAG_ADVERSARY_MAX_SPEED, TAG_GOOD_MAX_SPEED))
        return state._replace(inner=world, obs=tag_observation(world, self.num_adversaries),
                              reward=tag_reward(world, self.num_adversaries, self.shape))


SCENARIOS = {"simple_spread": SimpleSpread, "simple_speaker_listener": SimpleSpeakerListener,
             "simple_push": SimplePush, "simple_tag": SimpleTag}
"""MPE scenarios by the name `jaxil.envs.make("mpe/<name>")` takes."""
