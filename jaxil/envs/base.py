"""The Brax-style environment protocol.

An environment is a plain Python object (it is captured by closures, never traced) with a
static `spec` and two pure functions:

    reset(key) -> EnvState
    step(state, action) -> EnvState

`EnvState` carries `obs`, `reward`, `terminated`, `truncated` and `info`, plus the env's own
dynamic state in `inner`. `done` is `terminated | truncated`: a time-out (`truncated`) is
bootstrapped by learners, a true end (`terminated`) is not.
"""

from __future__ import annotations

import abc
from typing import Any, NamedTuple

import jax

from jaxil.types import Array, EnvSpec, PRNGKey


class EnvState(NamedTuple):
    """State of one environment (or a batch of them, with a leading `[B]` axis).

    Attributes:
        inner: the environment's own dynamic state (physics state, a Brax `State`, ...).
        obs: current observation, `[obs_dim]` float32 (`[N, obs_dim]` for a multi-agent
            env, see `jaxil.envs.multiagent`). After an auto-reset this is the first
            observation of the new episode; the true final observation is in
            `info["final_obs"]`.
        reward: reward of the last step, `[]` float32 (`[N]`, one per agent, multi-agent).
        terminated: `[]` bool, the last step ended the episode for real (one per
            environment, also multi-agent).
        truncated: `[]` bool, the last step hit the time limit (and did not terminate).
        info: dict of extra arrays (`steps`, `final_obs`, `rng`, ... set by wrappers). Its
            structure is the same after `reset` and `step` so states can be scanned.
    """

    inner: Any
    obs: Array
    reward: Array
    terminated: Array
    truncated: Array
    info: dict[str, Any]

    @property
    def done(self) -> Array:
        return self.terminated | self.truncated


class Env(abc.ABC):
    """An environment: a static `spec` and pure `reset` / `step` functions."""

    spec: EnvSpec

    @abc.abstractmethod
    def reset(self, key: PRNGKey) -> EnvState:
        """Starts an episode. `key`: a PRNG key."""

    @abc.abstractmethod
    def step(self, state: EnvState, action: Array) -> EnvState:
        """Advances one step. `action`: `[]` int32 or `[act_dim]` float32."""

    @property
    def unwrapped(self) -> Env:
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec.name})"


def initial_info() -> dict[str, Any]:
    """The info dict a base environment starts with (wrappers add their own keys)."""
    return {}


def _false() -> Array:
    return jax.numpy.zeros((), dtype=bool)


def base_state(inner: Any, obs: Array, reward: Array | float = 0.0,
               terminated: Array | None = None) -> EnvState:
    """Builds an `EnvState` for a base (unwrapped) environment."""
    jnp = jax.numpy
    return EnvState(
        inner=inner,
        obs=jnp.asarray(obs, jnp.float32),
        reward=jnp.asarray(reward, jnp.float32),
        terminated=_false() if terminated is None else jnp.asarray(terminated, bool),
        truncated=_false(),
        info=initial_info(),
    )
