"""Evaluating policies: returns of complete episodes and expert-normalised scores."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from jaxil.envs.base import Env
from jaxil.rollout import rollout_episodes
from jaxil.types import Array, Policy, PRNGKey

_rollout = eqx.filter_jit(rollout_episodes)


def evaluate(env: Env, policy: Policy, key: PRNGKey, num_episodes: int = 20) -> Array:
    """Returns of `num_episodes` complete episodes, `[num_episodes]` float32.

    Each episode runs until it terminates or hits `env`'s time limit. Compiled once per
    (env, policy structure, num_episodes). For a multi-agent env (with a multi-agent
    policy, `policy(obs[A, D], key) -> action[A]`) each return is the team return, the
    mean over agents of each agent's return (`Episodes.returns`).
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes: expected >= 1, got {num_episodes}")
    return _rollout(env, policy, key, num_episodes).returns


def normalized_score(returns: Array | float, random_return: Array | float,
                     expert_return: Array | float) -> Array:
    """`(returns - random) / (expert - random)`: 0 for a random policy, 1 for the expert."""
    returns = jnp.asarray(returns, jnp.float32)
    return (returns - random_return) / (jnp.asarray(expert_return) - random_return)


class Evaluator(NamedTuple):
    """In-program evaluation for `jaxil.train` (as brax/training's `Evaluator`): every
    `every` updates, the current policy's return over `episodes` complete episodes of
    `env`, run as vectorised episodes inside the same compiled program.

    `train` records `eval/return` (mean), `eval/return_std` and `eval/update` (the number
    of updates done at each evaluation) in its metrics, each `[num_updates // every]`, so
    learning curves and time-to-target come out of one compiled run. Evaluation draws its
    own keys: the training run is the same with or without it.

    Attributes:
        env: the environment to evaluate in (with its time limit, not auto-resetting, as
            `jaxil.envs.make` gives it).
        every: updates between two evaluations.
        episodes: episodes per evaluation.
    """

    env: Env
    every: int
    episodes: int = 10

    def check(self) -> None:
        """Raises `ValueError` naming the field that is not valid."""
        for name in ("every", "episodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"eval_{name}: expected a positive int, got {value!r}")
        if getattr(getattr(self.env, "spec", None), "max_episode_steps", None) is None:
            raise ValueError("eval_env: expected an environment with a time limit (as "
                             "jaxil.envs.make gives it)")

    def __call__(self, policy: Policy, key: PRNGKey) -> dict[str, Array]:
        """`{"eval/return": mean, "eval/return_std": std}` over `episodes` episodes."""
        returns = rollout_episodes(self.env, policy, key, self.episodes).returns
        return {"eval/return": jnp.mean(returns), "eval/return_std": jnp.std(returns)}
