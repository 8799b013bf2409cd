"""Obstacle navigation: a 2-D task with two equally good ways round an obstacle.

A point starts near `start` and must reach `goal`; a disc obstacle sits between them on
the straight line, so an episode passes it on the left or on the right. Each step the
point moves to `clip(p + step_size * a, -1, 1)` for an action `a` in `Box((2,), -1, 1)`.
The episode terminates (`terminated=True`) when the point comes within `goal_radius` of
the goal (reward bonus `+1`) or enters the obstacle (`-1`; the point is left where it
entered); otherwise the reward is the progress `|p - g| - |p' - g|`. Observation `[4]`:
`p` and `g - p`. `jaxil.envs.make("obstacle_nav")` adds a 50-step time limit.

`scripted_expert(side)` passes on a given side, or on one drawn at random at the start;
`multimodal_demos(key, n)` demonstrates both sides from the same start states, so the
demonstrated action there is bimodal. A unimodal Gaussian policy fitted to them heads
between the two sides, along the line into the obstacle; it can only get round by
tipping to one side through its own small asymmetry, which the fast-growing instability
of the averaged flow (a state just left of the line was demonstrated going left) turns
into a pass in some trainings, more often the longer it is trained
(`benchmarks/multimodal_bc.py` measures this). `success`, `collided` and `side`
read episodes (`Demos` or `jaxil.rollout.Episodes`): pure `jnp` functions of `obs` and
`lengths`.

Sides are seen along the start-to-goal direction: left is `+y` for the default layout.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.envs.base import Env, EnvState, base_state
from jaxil.types import Array, Box, EnvSpec, PRNGKey

GOAL_BONUS = 1.0
COLLISION_PENALTY = 1.0
LEFT, RIGHT, NO_SIDE = 1, -1, 0
SIDES = {"left": LEFT, "right": RIGHT}


class Layout(NamedTuple):
    """The geometry of an obstacle-navigation task (Python floats, hashable).

    Attributes:
        start: nominal start position `(x, y)`.
        goal: goal position `(x, y)`.
        obstacle: centre of the disc obstacle `(x, y)`.
        obstacle_radius: radius of the obstacle.
        goal_radius: the goal is reached within this distance of `goal`.
        jitter: `(along, across)`: a start is `start + U(-along, along) u +
            U(-across, across) n` for the unit vector `u` from `start` to `goal` and its
            left normal `n`. By default the start moves along the line only: the two
            sides are then demonstrated from the same lateral position, as mirror images,
            and a policy that averages them leaves the line only through its own
            asymmetry (see the module docstring).
        step_size: distance moved per step by a unit action component.
    """

    start: tuple[float, float] = (-0.8, 0.0)
    goal: tuple[float, float] = (0.8, 0.0)
    obstacle: tuple[float, float] = (0.0, 0.0)
    obstacle_radius: float = 0.3
    goal_radius: float = 0.1
    jitter: tuple[float, float] = (0.05, 0.0)
    step_size: float = 0.1

    @property
    def heading(self) -> Array:
        """`[2]` unit vector `u` from `start` to `goal`."""
        d = jnp.asarray(self.goal) - jnp.asarray(self.start)
        return d / jnp.linalg.norm(d)

    def lateral(self, pos: Array) -> Array:
        """`[...]` signed distance of `pos[..., 2]` from the line through the obstacle's
        centre along `heading` (the start-goal line when the obstacle is on it); left > 0."""
        u = self.heading
        rel = pos - jnp.asarray(self.obstacle)
        return u[0] * rel[..., 1] - u[1] * rel[..., 0]

    def along(self, pos: Array) -> Array:
        """`[...]` coordinate of `pos[..., 2]` along `heading`, the obstacle's centre at 0."""
        return jnp.sum((pos - jnp.asarray(self.obstacle)) * self.heading, axis=-1)


def _checked_layout(layout: Layout) -> Layout:
    """`layout` with its points as tuples of floats (hashable); raises `ValueError` when the
    start region or the goal region overlaps the obstacle, or the start is at the goal."""
    as_point = lambda v: tuple(float(x) for x in v)
    layout = Layout(as_point(layout.start), as_point(layout.goal), as_point(layout.obstacle),
                    float(layout.obstacle_radius), float(layout.goal_radius),
                    as_point(layout.jitter), float(layout.step_size))
    if math.dist(layout.start, layout.goal) <= layout.goal_radius:
        raise ValueError(f"layout: the start {layout.start} is inside the goal region")
    for name, point, reach in (("start", layout.start, math.hypot(*layout.jitter)),
                               ("goal", layout.goal, layout.goal_radius)):
        if math.dist(point, layout.obstacle) - layout.obstacle_radius <= reach:
            raise ValueError(f"layout: the {name} {point} overlaps the obstacle at "
                             f"{layout.obstacle} (radius {layout.obstacle_radius})")
    return layout


class ObstacleNav(Env):
    """2-D navigation round a disc obstacle; see the module docstring.

    `EnvState.inner` is the position `[2]`; `info` carries `reached_goal` and `collided`
    (`[]` bool, for the last step).
    """

    def __init__(self, layout: Layout | None = None, max_episode_steps: int = 50, **kwargs):
        """Args:
            layout: the geometry; `None`: `Layout(**kwargs)` (the defaults unless given).
            max_episode_steps: the default time limit that `jaxil.envs.make` applies.
            **kwargs: `Layout` fields, when `layout` is `None`.
        """
        if layout is not None and kwargs:
            raise ValueError(f"layout: give a Layout or its fields, not both ({kwargs})")
        self.layout = _checked_layout(Layout(**kwargs) if layout is None else layout)
        self.spec = EnvSpec("obstacle_nav", 4, Box((2,), -1.0, 1.0),
                            max_episode_steps=max_episode_steps)

    def _obs(self, pos: Array) -> Array:
        return jnp.concatenate([pos, jnp.asarray(self.layout.goal) - pos])

    def reset(self, key: PRNGKey) -> EnvState:
        lay = self.layout
        along, across = jnp.asarray(lay.jitter) * jax.random.uniform(
            key, (2,), minval=-1.0, maxval=1.0)
        u = lay.heading
        pos = jnp.asarray(lay.start) + along * u + across * jnp.stack([-u[1], u[0]])
        state = base_state(inner=pos, obs=self._obs(pos))
        false = jnp.zeros((), bool)
        return state._replace(info={**state.info, "reached_goal": false, "collided": false})

    def step(self, state: EnvState, action: Array) -> EnvState:
        lay = self.layout
        goal, centre = jnp.asarray(lay.goal), jnp.asarray(lay.obstacle)
        pos = state.inner
        new = jnp.clip(pos + lay.step_size * jnp.clip(action, -1.0, 1.0), -1.0, 1.0)
        reached = jnp.linalg.norm(new - goal) <= lay.goal_radius
        collided = jnp.linalg.norm(new - centre) < lay.obstacle_radius
        progress = jnp.linalg.norm(pos - goal) - jnp.linalg.norm(new - goal)
        reward = progress + GOAL_BONUS * reached - COLLISION_PENALTY * collided
        return state._replace(
            inner=new, obs=self._obs(new), reward=reward.astype(jnp.float32),
            terminated=reached | collided,
            info={**state.info, "reached_goal": reached, "collided": collided})


def _final_positions(episodes) -> Array:
    """`[N, 2]` final positions of `episodes` (anything with `obs[N, T + 1, 4]`, `lengths`)."""
    obs = jnp.asarray(episodes.obs)
    last = jnp.take_along_axis(obs, jnp.asarray(episodes.lengths)[:, None, None], axis=1)
    return last[:, 0, :2]


def success(episodes, layout: Layout = Layout()) -> Array:
    """`[N]` bool: the episode ended at the goal (and so without a collision).

    Args:
        episodes: `Demos` or `jaxil.rollout.Episodes` of `obstacle_nav`.
        layout: the env's `Layout` (`env.unwrapped.layout`; the default one unless given).
    """
    final = _final_positions(episodes)
    return jnp.linalg.norm(final - jnp.asarray(layout.goal), axis=-1) <= layout.goal_radius


def collided(episodes, layout: Layout = Layout()) -> Array:
    """`[N]` bool: the episode ended inside the obstacle. Arguments as for `success`."""
    final = _final_positions(episodes)
    dist = jnp.linalg.norm(final - jnp.asarray(layout.obstacle), axis=-1)
    return dist < layout.obstacle_radius


def side(episodes, layout: Layout = Layout()) -> Array:
    """`[N]` int32: the side each episode passed the obstacle on.

    `LEFT` (1) or `RIGHT` (-1) is the sign of the lateral offset (from the start-goal line)
    at the first position at or beyond the obstacle's centre along that line, or, for an
    episode that never gets there (a collision, a time-out), at its last position;
    `NO_SIDE` (0) when that offset is exactly zero. Arguments as for `success`.
    """
    pos = jnp.asarray(episodes.obs)[..., :2]  # [N, T + 1, 2]
    steps = jnp.arange(pos.shape[1])
    valid = steps[None] <= jnp.asarray(episodes.lengths)[:, None]
    past = valid & (layout.along(pos) >= 0)
    first = jnp.where(past.any(axis=1), jnp.argmax(past, axis=1),
                      jnp.asarray(episodes.lengths))
    lateral = jnp.take_along_axis(layout.lateral(pos), first[:, None], axis=1)[:, 0]
    return jnp.sign(lateral).astype(jnp.int32)


def _rotate(v: Array, angle: Array) -> Array:
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.stack([c * v[0] - s * v[1], s * v[0] + c * v[1]])


class ScriptedExpert(eqx.Module):
    """A stateless expert for `ObstacleNav`: the shortest way round the obstacle on a side.

    While the straight segment to the goal passes within `obstacle_radius + margin / 2` of
    the obstacle's centre, the expert heads along the tangent to the circle of radius
    `obstacle_radius + margin` on its side (or, inside that circle, along the circle);
    afterwards it heads for the goal. Its actions have norm `speed` (less within a step of
    the goal), inside the bounds, where squashed heads fit them well.

    `side` is `LEFT`, `RIGHT`, or `NO_SIDE` to choose on the fly: within `eps` of the
    obstacle's line (see `Layout.lateral`) a side is drawn from `key` (each with
    probability 1/2); further off the line the expert keeps to the side it is on. Its
    first step takes it more than `2 eps` off the line, so a start within `eps` of the
    line (as every default start is) draws once per episode.
    """

    layout: Layout = eqx.field(static=True)
    side: int = eqx.field(static=True)
    margin: float = eqx.field(static=True, default=0.1)
    eps: float = eqx.field(static=True, default=0.02)
    speed: float = eqx.field(static=True, default=0.8)

    def direction(self, pos: Array, sign: Array) -> Array:
        """`[2]` unit direction from `pos[2]`, passing on side `sign` (`1` left, `-1` right)."""
        lay = self.layout
        goal, centre = jnp.asarray(lay.goal), jnp.asarray(lay.obstacle)
        r = lay.obstacle_radius + self.margin
        to_goal = goal - pos
        # distance from the obstacle's centre to the segment pos -> goal
        t = jnp.clip(jnp.dot(centre - pos, to_goal) / jnp.dot(to_goal, to_goal), 0.0, 1.0)
        blocked = jnp.linalg.norm(pos + t * to_goal - centre) < lay.obstacle_radius + (
            self.margin / 2)
        to_centre = centre - pos
        dist = jnp.linalg.norm(to_centre)
        tangent = _rotate(to_centre / dist, sign * jnp.arcsin(jnp.minimum(r / dist, 1.0)))
        along_circle = _rotate(-to_centre / dist, -sign * jnp.pi / 2)
        around = jnp.where(dist > r, tangent, along_circle)
        return jnp.where(blocked, around, to_goal / jnp.linalg.norm(to_goal))

    def __call__(self, obs: Array, key: PRNGKey) -> Array:
        lay = self.layout
        pos = obs[:2]
        if self.side == NO_SIDE:
            lateral = lay.lateral(pos)
            drawn = jnp.where(jax.random.bernoulli(key), LEFT, RIGHT)
            sign = jnp.where(jnp.abs(lateral) < self.eps, drawn, jnp.sign(lateral))
        else:
            sign = jnp.asarray(self.side)
        speed = jnp.minimum(self.speed, jnp.linalg.norm(obs[2:]) / lay.step_size)
        return speed * self.direction(pos, sign.astype(jnp.float32))


def scripted_expert(side: str | None = None, layout: Layout = Layout(),
                    margin: float = 0.1) -> ScriptedExpert:
    """The scripted `ObstacleNav` expert (a `Policy`).

    Args:
        side: `"left"`, `"right"`, or `None` to draw a side at random at the decision
            point (see `ScriptedExpert`).
        layout: the env's `Layout` (`env.unwrapped.layout`).
        margin: clearance kept from the obstacle.
    """
    if side is not None and side not in SIDES:
        raise ValueError(f"side: expected 'left', 'right' or None, got {side!r}")
    return ScriptedExpert(_checked_layout(layout), NO_SIDE if side is None else SIDES[side],
                          margin)


def multimodal_demos(key: PRNGKey, num_episodes: int, env: Env | None = None):
    """Demonstrations that pass the obstacle on both sides, half each, unlabelled.

    Episode `i < N / 2` passes on the left and episode `N / 2 + i` on the right from the
    same start state; the two coincide up to the decision point, where the demonstrated
    action is bimodal.

    Args:
        key: PRNG key (the start states).
        num_episodes: `N`, even, `>= 2`.
        env: an `obstacle_nav` env with its time limit; `None`: `make("obstacle_nav")`.

    Returns:
        `Demos` with `N` episodes (left ones first).
    """
    from jaxil.data import collect, concatenate  # data sits above envs in the layers

    if num_episodes < 2 or num_episodes % 2:
        raise ValueError(f"num_episodes: expected an even number >= 2, got {num_episodes}")
    if env is None:
        from jaxil.envs import make

        env = make("obstacle_nav")
    layout = env.unwrapped.layout
    half = num_episodes // 2
    return concatenate(*(collect(env, scripted_expert(s, layout), key, half)
                         for s in ("left", "right")))
