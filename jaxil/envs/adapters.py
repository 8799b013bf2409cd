"""Adapters that present Brax and MuJoCo Playground environments as jaxil `Env`s.

The wrapped environment's own `done` is taken as `terminated`; time limits come from
jaxil's `TimeLimit` wrapper, so `terminated` and `truncated` stay apart.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import jax.numpy as jnp

from jaxil.envs.base import Env, EnvState, base_state
from jaxil.types import Array, Box, EnvSpec, PRNGKey

BRAX_DEFAULT_EPISODE_STEPS = 1000

_BACKEND_NOISE = re.compile(r"Failed to import (mujoco_)?warp: ")
"""Lines MuJoCo prints on stdout when importing MJX without its optional `warp` backend."""


@contextlib.contextmanager
def _quiet_backend_imports() -> Iterator[None]:
    """Hides the import noise of Brax and MuJoCo that no jaxil user can act on: MuJoCo's
    "Failed to import warp" lines (printed, not logged) and Brax's "not actively being
    maintained" `UserWarning`. Every other line printed meanwhile is passed on."""
    captured = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(captured):
            warnings.filterwarnings("ignore", message="Brax System, piplines",
                                    category=UserWarning)
            yield
    finally:
        kept = [line for line in captured.getvalue().splitlines(keepends=True)
                if not _BACKEND_NOISE.match(line)]
        sys.stdout.write("".join(kept))


class _ExternalEnv(Env):
    """Shared adapter for environments whose state has `obs`, `reward` and `done`."""

    def __init__(self, env: Any, name: str, observation_size: int, action_size: int,
                 max_episode_steps: int):
        self.external = env
        self.spec = EnvSpec(name, int(observation_size), Box((int(action_size),), -1.0, 1.0),
                            max_episode_steps=int(max_episode_steps))

    def _wrap(self, inner: Any) -> EnvState:
        return base_state(inner=inner, obs=inner.obs, reward=inner.reward,
                          terminated=inner.done > 0.5)

    def reset(self, key: PRNGKey) -> EnvState:
        return self._wrap(self.external.reset(key))

    def step(self, state: EnvState, action: Array) -> EnvState:
        action = jnp.clip(action, -1.0, 1.0)
        return self._wrap(self.external.step(state.inner, action))


class BraxEnv(_ExternalEnv):
    """A `brax.envs` environment, any backend (`generalized`, `positional`, `spring`, `mjx`).

    Args:
        name: Brax environment name, e.g. `"inverted_pendulum"`, `"hopper"`.
        backend: Brax physics backend; `None` takes Brax's default.
        max_episode_steps: time limit applied by `jaxil.envs.make` (Brax's usual 1000).
        **kwargs: passed to `brax.envs.get_environment`.
    """

    def __init__(self, name: str, backend: str | None = None,
                 max_episode_steps: int = BRAX_DEFAULT_EPISODE_STEPS, **kwargs: Any):
        with _quiet_backend_imports():
            from brax import envs as brax_envs

        if name not in brax_envs._envs:  # noqa: SLF001 - Brax has no public registry query
            known = ", ".join(sorted(brax_envs._envs))
            raise ValueError(f"env name: unknown Brax environment {name!r}; known: {known}")
        if backend is not None:
            kwargs["backend"] = backend
        with _quiet_backend_imports():
            env = brax_envs.get_environment(name, **kwargs)
        super().__init__(env, f"brax/{name}", env.observation_size, env.action_size,
                         max_episode_steps)


class PlaygroundEnv(_ExternalEnv):
    """A MuJoCo Playground environment (`pip install 'jaxil[playground]'`).

    Only environments with a flat vector observation are supported.
    """

    def __init__(self, name: str, max_episode_steps: int | None = None, **kwargs: Any):
        try:
            with _quiet_backend_imports():
                from mujoco_playground import registry
        except ImportError as err:
            raise ImportError(
                f"playground/{name} needs MuJoCo Playground, which is an optional extra: "
                "install it with `pip install 'jaxil[playground]'`"
            ) from err
        with _quiet_backend_imports():
            env = registry.load(name, **kwargs)
        obs_size = env.observation_size
        if not isinstance(obs_size, int):
            raise ValueError(
                f"env name: playground/{name} has a structured observation {obs_size}; "
                "jaxil expects a flat vector observation"
            )
        steps = max_episode_steps or getattr(env._config, "episode_length", 1000)  # noqa: SLF001
        super().__init__(env, f"playground/{name}", obs_size, env.action_size, steps)
