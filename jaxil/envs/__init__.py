"""Environments: the Brax-style protocol, wrappers, adapters and built-in pure-JAX envs.

`make(name)` returns a ready environment with its time limit: built-ins by bare name
(`cartpole`, `pendulum`, `pointmass`, `obstacle_nav`), the pure-JAX multi-agent particle
envs as `mpe/<name>` (`mpe/simple_spread`, `mpe/simple_speaker_listener`,
`mpe/simple_push`, `mpe/simple_tag`; protocol in `jaxil.envs.multiagent`), Brax envs as
`brax/<name>`, MuJoCo Playground envs as `playground/<name>`, and cooperative actuator
splits of single-agent continuous-control envs as `coop/<name>` (`coop/brax/ant`,
`coop/brax/halfcheetah`, `coop/pointmass`; `jaxil.envs.cooperative`).
`jaxil.envs.navigation` holds `obstacle_nav`'s scripted two-sided expert, its multimodal
demonstrations and success / side helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jaxil.envs import cooperative, mpe, multiagent, navigation
from jaxil.envs.adapters import BraxEnv, PlaygroundEnv
from jaxil.envs.base import Env, EnvState, base_state
from jaxil.envs.cartpole import CartPole
from jaxil.envs.cooperative import ActuatorSplit
from jaxil.envs.mpe import SimplePush, SimpleSpeakerListener, SimpleSpread, SimpleTag
from jaxil.envs.multiagent import MultiAgentEnv, MultiAgentSpec, is_multiagent
from jaxil.envs.navigation import ObstacleNav
from jaxil.envs.pendulum import Pendulum
from jaxil.envs.pointmass import PointMass
from jaxil.envs.wrappers import (
    AutoReset,
    LatentCode,
    TimeLimit,
    VmapEnv,
    Wrapper,
    vectorize,
)

_REGISTRY: dict[str, Callable[..., Env]] = {
    "cartpole": CartPole,
    "obstacle_nav": ObstacleNav,
    "pendulum": Pendulum,
    "pointmass": PointMass,
}


def register(name: str, factory: Callable[..., Env]) -> None:
    """Makes `make(name, **kwargs)` build `factory(**kwargs)` (with its time limit)."""
    if "/" in name:
        raise ValueError(f"name: built-in names may not contain '/', got {name!r}")
    _REGISTRY[name] = factory


def names() -> list[str]:
    """The built-in environment names."""
    return sorted(_REGISTRY)


def make(name: str, *, max_episode_steps: int | None = None, **kwargs: Any) -> Env:
    """Builds an environment wrapped in its time limit.

    Args:
        name: `"cartpole"`, `"pendulum"`, `"pointmass"`, `"obstacle_nav"`,
            `"mpe/<scenario>"`, `"brax/<name>"`, `"playground/<name>"` or
            `"coop/<name>"` (a ready-made `ActuatorSplit` of `<name>`).
        max_episode_steps: overrides the environment's default time limit.
        **kwargs: passed to the environment (e.g. `backend="positional"` for Brax;
            `coop/<name>` also takes `observe=`, see `jaxil.envs.cooperative.cooperative`).

    Returns:
        A `TimeLimit`-wrapped `Env`; its `spec.max_episode_steps` is the limit.
    """
    if name.startswith("brax/"):
        base: Env = BraxEnv(name.removeprefix("brax/"), **kwargs)
    elif name.startswith("playground/"):
        base = PlaygroundEnv(name.removeprefix("playground/"), **kwargs)
    elif name.startswith("coop/"):
        base = cooperative.cooperative(name.removeprefix("coop/"), **kwargs)
    elif name.startswith("mpe/"):
        scenario = name.removeprefix("mpe/")
        if scenario not in mpe.SCENARIOS:
            raise ValueError(f"env name: unknown MPE scenario {name!r}; expected one of "
                             f"{['mpe/' + s for s in sorted(mpe.SCENARIOS)]}")
        base = mpe.SCENARIOS[scenario](**kwargs)
    elif name in _REGISTRY:
        base = _REGISTRY[name](**kwargs)
    else:
        raise ValueError(
            f"env name: unknown environment {name!r}; expected one of {names()}, "
            "'mpe/<scenario>', 'brax/<name>', 'playground/<name>' or 'coop/<name>'"
        )
    return TimeLimit(base, max_episode_steps or base.spec.max_episode_steps)


__all__ = [
    "ActuatorSplit", "AutoReset", "BraxEnv", "CartPole", "Env", "EnvState", "LatentCode",
    "MultiAgentEnv", "MultiAgentSpec", "ObstacleNav", "Pendulum", "PlaygroundEnv", "PointMass",
    "SimplePush", "SimpleSpeakerListener", "SimpleSpread", "SimpleTag", "TimeLimit", "VmapEnv",
    "Wrapper", "base_state", "cooperative", "is_multiagent", "make", "mpe", "multiagent",
    "names", "navigation", "register", "vectorize",
]
