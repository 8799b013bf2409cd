"""CartPole with the classic dynamics (Barto, Sutton & Anderson 1983; Gym's CartPole-v1).

Observation `[4]`: cart position, cart velocity, pole angle, pole angular velocity.
Actions: `0` push left, `1` push right. Reward 1 for every step, the last one included.
The episode terminates when the pole leans more than 12 degrees or the cart leaves
`|x| <= 2.4`; `jaxil.envs.make("cartpole")` adds the 500-step time limit.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxil.envs.base import Env, EnvState, base_state
from jaxil.types import Array, Discrete, EnvSpec, PRNGKey

GRAVITY = 9.8
MASS_CART = 1.0
MASS_POLE = 0.1
HALF_LENGTH = 0.5
FORCE_MAG = 10.0
TAU = 0.02
THETA_LIMIT = 12 * 2 * math.pi / 360
X_LIMIT = 2.4


class CartPole(Env):
    """Discrete cart-pole balancing; see the module docstring."""

    def __init__(self):
        self.spec = EnvSpec("cartpole", 4, Discrete(2), max_episode_steps=500)

    def reset(self, key: PRNGKey) -> EnvState:
        obs = jax.random.uniform(key, (4,), minval=-0.05, maxval=0.05)
        return base_state(inner=obs, obs=obs)

    def step(self, state: EnvState, action: Array) -> EnvState:
        x, x_dot, theta, theta_dot = state.inner
        force = jnp.where(action == 1, FORCE_MAG, -FORCE_MAG)
        cos, sin = jnp.cos(theta), jnp.sin(theta)
        total_mass = MASS_CART + MASS_POLE
        pole_ml = MASS_POLE * HALF_LENGTH
        temp = (force + pole_ml * theta_dot**2 * sin) / total_mass
        theta_acc = (GRAVITY * sin - cos * temp) / (
            HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * cos**2 / total_mass)
        )
        x_acc = temp - pole_ml * theta_acc * cos / total_mass
        x = x + TAU * x_dot
        x_dot = x_dot + TAU * x_acc
        theta = theta + TAU * theta_dot
        theta_dot = theta_dot + TAU * theta_acc
        obs = jnp.stack([x, x_dot, theta, theta_dot])
        terminated = (jnp.abs(x) > X_LIMIT) | (jnp.abs(theta) > THETA_LIMIT)
        return state._replace(inner=obs, obs=obs, reward=jnp.ones((), jnp.float32),
                              terminated=terminated)
