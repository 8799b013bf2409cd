"""Point-mass navigation in the plane.

A point at `p` in `[-1, 1]^2` moves to `clip(p + 0.1 a, -1, 1)` for an action `a` in
`[-1, 1]^2` and is rewarded `-||p' - g||` each step, for a goal `g` drawn uniformly in
`[-1, 1]^2` at reset. Observation `[4]`: `p` and `g - p`. Never terminates;
`jaxil.envs.make("pointmass")` adds a 50-step time limit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxil.envs.base import Env, EnvState, base_state
from jaxil.types import Array, Box, EnvSpec, PRNGKey

STEP_SIZE = 0.1


class PointMass(Env):
    """2-D continuous navigation to a random goal; see the module docstring."""

    def __init__(self):
        self.spec = EnvSpec("pointmass", 4, Box((2,), -1.0, 1.0), max_episode_steps=50)

    def reset(self, key: PRNGKey) -> EnvState:
        k1, k2 = jax.random.split(key)
        pos = jax.random.uniform(k1, (2,), minval=-1.0, maxval=1.0)
        goal = jax.random.uniform(k2, (2,), minval=-1.0, maxval=1.0)
        return base_state(inner=(pos, goal), obs=jnp.concatenate([pos, goal - pos]))

    def step(self, state: EnvState, action: Array) -> EnvState:
        pos, goal = state.inner
        pos = jnp.clip(pos + STEP_SIZE * jnp.clip(action, -1.0, 1.0), -1.0, 1.0)
        reward = -jnp.linalg.norm(goal - pos)
        return state._replace(inner=(pos, goal), obs=jnp.concatenate([pos, goal - pos]),
                              reward=reward.astype(jnp.float32))
