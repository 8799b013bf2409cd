"""Pendulum swing-up (Gym's Pendulum-v1 dynamics).

Observation `[3]`: `cos(theta), sin(theta), theta_dot`. Action `[1]`: torque in `[-2, 2]`.
Reward `-(theta^2 + 0.1 theta_dot^2 + 0.001 u^2)` with `theta` wrapped to `[-pi, pi)`;
never terminates; `jaxil.envs.make("pendulum")` adds the 200-step time limit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxil.envs.base import Env, EnvState, base_state
from jaxil.types import Array, Box, EnvSpec, PRNGKey

MAX_SPEED = 8.0
MAX_TORQUE = 2.0
DT = 0.05
GRAVITY = 10.0
MASS = 1.0
LENGTH = 1.0


def _obs(theta: Array, theta_dot: Array) -> Array:
    return jnp.stack([jnp.cos(theta), jnp.sin(theta), theta_dot])


class Pendulum(Env):
    """Continuous pendulum swing-up; see the module docstring."""

    def __init__(self):
        self.spec = EnvSpec("pendulum", 3, Box((1,), -MAX_TORQUE, MAX_TORQUE),
                            max_episode_steps=200)

    def reset(self, key: PRNGKey) -> EnvState:
        k1, k2 = jax.random.split(key)
        theta = jax.random.uniform(k1, (), minval=-jnp.pi, maxval=jnp.pi)
        theta_dot = jax.random.uniform(k2, (), minval=-1.0, maxval=1.0)
        return base_state(inner=jnp.stack([theta, theta_dot]), obs=_obs(theta, theta_dot))

    def step(self, state: EnvState, action: Array) -> EnvState:
        theta, theta_dot = state.inner
        u = jnp.clip(jnp.reshape(action, ()), -MAX_TORQUE, MAX_TORQUE)
        wrapped = (theta + jnp.pi) % (2 * jnp.pi) - jnp.pi
        cost = wrapped**2 + 0.1 * theta_dot**2 + 0.001 * u**2
        theta_dot = theta_dot + (
            3 * GRAVITY / (2 * LENGTH) * jnp.sin(theta) + 3.0 / (MASS * LENGTH**2) * u
        ) * DT
        theta_dot = jnp.clip(theta_dot, -MAX_SPEED, MAX_SPEED)
        theta = theta + theta_dot * DT
        return state._replace(inner=jnp.stack([theta, theta_dot]), obs=_obs(theta, theta_dot),
                              reward=-cost.astype(jnp.float32))
