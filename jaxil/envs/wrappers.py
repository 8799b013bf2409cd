"""Wrappers: episode time limit, auto-reset that keeps the true final observation, vmap.

The usual stack is `VmapEnv(AutoReset(TimeLimit(base, max_steps)), num_envs)`; see
`jaxil.envs.vectorize`. The same stack serves multi-agent envs (`jaxil.envs.multiagent`):
their per-agent fields carry a leading `[N]` axis while `terminated` and `truncated` stay
one per environment, so `TimeLimit` and `AutoReset` work on them unchanged.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxil.envs.base import Env, EnvState
from jaxil.types import Array, PRNGKey


class Wrapper(Env):
    """Base class of wrappers: delegates everything to `env`."""

    def __init__(self, env: Env):
        self.env = env
        self.spec = env.spec

    def reset(self, key: PRNGKey) -> EnvState:
        return self.env.reset(key)

    def step(self, state: EnvState, action: Array) -> EnvState:
        return self.env.step(state, action)

    @property
    def unwrapped(self) -> Env:
        return self.env.unwrapped

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env!r})"


class TimeLimit(Wrapper):
    """Truncates episodes after `max_episode_steps` steps.

    Adds `info["steps"]` (int32 step counter). A step that terminates on the last allowed
    step counts as `terminated`, not `truncated`.
    """

    def __init__(self, env: Env, max_episode_steps: int):
        super().__init__(env)
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps: expected >= 1, got {max_episode_steps}")
        self.max_episode_steps = int(max_episode_steps)
        self.spec = dataclasses.replace(env.spec, max_episode_steps=int(max_episode_steps))

    def reset(self, key: PRNGKey) -> EnvState:
        state = self.env.reset(key)
        return state._replace(info={**state.info, "steps": jnp.zeros((), jnp.int32)})

    def step(self, state: EnvState, action: Array) -> EnvState:
        steps = state.info["steps"] + 1
        nxt = self.env.step(state, action)
        truncated = (steps >= self.max_episode_steps) & ~nxt.terminated
        return nxt._replace(truncated=truncated, info={**nxt.info, "steps": steps})


class AutoReset(Wrapper):
    """Resets an episode as soon as it ends, keeping what learners need of the last step.

    After a step that ends an episode, `state.obs` is the first observation of the new
    episode, while `reward`, `terminated` and `truncated` still describe the step that
    ended, and `info["final_obs"]` holds the true final observation. For steps that do not
    end an episode `info["final_obs"] == obs`. The reset key is carried in `info["rng"]`,
    so every episode starts from a fresh random state.
    """

    def reset(self, key: PRNGKey) -> EnvState:
        key, reset_key = jax.random.split(key)
        state = self.env.reset(reset_key)
        return state._replace(info={**state.info, "final_obs": state.obs, "rng": key})

    def step(self, state: EnvState, action: Array) -> EnvState:
        rng, reset_key = jax.random.split(state.info["rng"])
        inner_info = {k: v for k, v in state.info.items() if k not in ("final_obs", "rng")}
        nxt = self.env.step(state._replace(info=inner_info), action)
        fresh = self.env.reset(reset_key)
        done = nxt.terminated | nxt.truncated

        def pick(reset_leaf, step_leaf):  # one env: `done` is a scalar, even multi-agent
            return jnp.where(done, reset_leaf, step_leaf)

        inner = jax.tree.map(pick, fresh.inner, nxt.inner)
        info = jax.tree.map(pick, fresh.info, nxt.info)
        return nxt._replace(
            inner=inner,
            obs=jnp.where(done, fresh.obs, nxt.obs),
            info={**info, "final_obs": nxt.obs, "rng": rng},
        )


class VmapEnv(Wrapper):
    """Runs `num_envs` copies of `env` in parallel; states get a leading `[B]` axis."""

    def __init__(self, env: Env, num_envs: int):
        super().__init__(env)
        if num_envs < 1:
            raise ValueError(f"num_envs: expected >= 1, got {num_envs}")
        self.num_envs = int(num_envs)

    def reset(self, key: PRNGKey) -> EnvState:
        return jax.vmap(self.env.reset)(jax.random.split(key, self.num_envs))

    def step(self, state: EnvState, action: Array) -> EnvState:
        return jax.vmap(self.env.step)(state, action)


def vectorize(env: Env, num_envs: int) -> VmapEnv:
    """`num_envs` auto-resetting copies of `env` (which should carry a time limit)."""
    return VmapEnv(AutoReset(env), num_envs)


CODE_DISTRIBUTIONS = ("categorical", "uniform")


class LatentCode(Wrapper):
    """Appends a latent code to the observations, drawn at every reset (so per episode,
    across auto-resets) or fixed.

    `distribution="categorical"` (default): `c ~ Uniform{0..K-1}`, observations become
    `concat(obs, one_hot(c))` and `info["code"]` is `[]` int32. `"uniform"`: a continuous
    code `c ~ Uniform([-1, 1]^K)`, observations become `concat(obs, c)` and `info["code"]`
    is `[K]` float32. Either way observations are `[obs_size + K]`. InfoGAIL's policy
    `pi(a | s, c)` acts in this env; a fixed `code` evaluates the behaviour one code
    stands for.

    Args:
        env: the environment (with its time limit).
        num_codes: `K`: the number of codes (`>= 2`, categorical) or the code's dimension
            (`>= 1`, uniform).
        code: `None` (drawn per episode) or a fixed code: an int in `[0, K)`
            (categorical), a sequence of `K` floats in `[-1, 1]` (uniform).
        distribution: one of `CODE_DISTRIBUTIONS`.
    """

    def __init__(self, env: Env, num_codes: int, code=None, distribution: str = "categorical"):
        super().__init__(env)
        if distribution not in CODE_DISTRIBUTIONS:
            raise ValueError(f"distribution: expected one of {CODE_DISTRIBUTIONS}, got "
                             f"{distribution!r}")
        least = 2 if distribution == "categorical" else 1
        if isinstance(num_codes, bool) or not isinstance(num_codes, int) or num_codes < least:
            raise ValueError(f"num_codes: expected an int >= {least} for a {distribution} "
                             f"code, got {num_codes!r}")
        if code is not None:
            code = _checked_code(code, num_codes, distribution)
        self.num_codes, self.code, self.distribution = num_codes, code, distribution
        self.spec = dataclasses.replace(env.spec,
                                        observation_size=env.spec.observation_size + num_codes)

    def _with_code(self, state: EnvState, code: Array) -> EnvState:
        return state._replace(obs=append_code(state.obs, code, self.num_codes,
                                              self.distribution),
                              info={**state.info, "code": code})

    def reset(self, key: PRNGKey) -> EnvState:
        code_key, key = jax.random.split(key)
        if self.code is not None:
            dtype = jnp.int32 if self.distribution == "categorical" else jnp.float32
            code = jnp.asarray(self.code, dtype)
        else:
            code = draw_codes(code_key, (), self.num_codes, self.distribution)
        return self._with_code(self.env.reset(key), code)

    def step(self, state: EnvState, action: Array) -> EnvState:
        code = state.info["code"]
        inner = state._replace(obs=state.obs[:-self.num_codes])
        return self._with_code(self.env.step(inner, action), code)


def _checked_code(code, num_codes: int, distribution: str):
    """A fixed code, checked: an int in `[0, K)` or a tuple of `K` floats in `[-1, 1]`."""
    if distribution == "categorical":
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code < num_codes:
            raise ValueError(f"code: expected a code in [0, {num_codes}) (an int), got "
                             f"{code!r}")
        return code
    try:
        values = tuple(float(v) for v in code)
    except (TypeError, ValueError):
        raise ValueError(f"code: expected {num_codes} numbers in [-1, 1] for a uniform "
                         f"code, got {code!r}") from None
    if len(values) != num_codes:
        raise ValueError(f"code: expected {num_codes} value(s) in [-1, 1] for a uniform "
                         f"code, got {len(values)}")
    if not all(-1.0 <= v <= 1.0 for v in values):
        raise ValueError("code: expected values in [-1, 1] (a uniform code is drawn from "
                         f"U([-1, 1]^K)), got {code!r}")
    return values


def draw_codes(key: PRNGKey, shape: tuple[int, ...], num_codes: int,
               distribution: str = "categorical") -> Array:
    """Codes of `LatentCode(env, num_codes, distribution=distribution)`: `[*shape]` int32
    in `[0, K)` (categorical) or `[*shape, K]` float32 in `[-1, 1]` (uniform)."""
    if distribution == "categorical":
        return jax.random.randint(key, shape, 0, num_codes, jnp.int32)
    return jax.random.uniform(key, (*shape, num_codes), jnp.float32, -1.0, 1.0)


def append_code(obs: Array, code: Array, num_codes: int, distribution: str = "categorical"
                ) -> Array:
    """`[..., obs_size + K]`: `obs[..., obs_size]` with `code` appended as a `LatentCode`
    observation has it (`[...]` int32 one-hot, or `[..., K]` as it is); `strip_code`'s
    inverse."""
    if distribution == "categorical":
        features = jax.nn.one_hot(code, num_codes, dtype=obs.dtype)
    else:
        features = code.astype(obs.dtype)
    return jnp.concatenate([obs, features], axis=-1)


def strip_code(obs: Array, num_codes: int, distribution: str = "categorical"
               ) -> tuple[Array, Array]:
    """`(obs[..., :-K], code)`: a `LatentCode` observation split into the env's observation
    and the code: `[...]` int32 (categorical) or `[..., K]` float32 (uniform)."""
    rest, features = obs[..., :-num_codes], obs[..., -num_codes:]
    if distribution == "categorical":
        return rest, jnp.argmax(features, axis=-1).astype(jnp.int32)
    return rest, features.astype(jnp.float32)
