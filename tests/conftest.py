"""Shared, session-scoped fixtures: PPO experts trained once per test session.

Each expert fixture returns `(env, expert_policy, expert_mean_return)`, trained with the
default recipe of `jaxil.experts` (one compiled PPO run, a few seconds of training) and
evaluated over `EXPERT_EVAL_EPISODES` complete episodes.
"""

from __future__ import annotations

import jax
import pytest

import jaxil
from jaxil import experts

EXPERT_EVAL_EPISODES = 32


def _train_expert(name: str, seed: int = 0):
    env = jaxil.envs.make(name, **experts.defaults(name).env_kwargs)
    policy, info = experts.train_ppo(env, jax.random.key(seed),
                                     num_eval_episodes=EXPERT_EVAL_EPISODES)
    return env, policy, info["mean_return"]


@pytest.fixture(scope="session")
def cartpole_expert():
    """`(env, expert, mean_return)` for `cartpole`; the expert scores 500 (the maximum)."""
    return _train_expert("cartpole")


@pytest.fixture(scope="session")
def pendulum_expert():
    """`(env, expert, mean_return)` for `pendulum`; about -150 (random: about -1200)."""
    return _train_expert("pendulum")
