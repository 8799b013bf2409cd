"""DAgger, dataset aggregation (Ross, Gordon & Bagnell 2011).

Each round rolls out the beta-mixture of the expert and the learner: at every step and in
every environment, independently, the expert's action is executed with probability
`beta_k` and the learner's otherwise. Every visited state is labelled with the expert's
action, added to the aggregated dataset, and the learner is trained by behavioural
cloning on all of it (the shared round of `jaxil.algorithms.aggregation`; one `update` is
one round).

The mixing probability of round `k = 0, 1, ...` follows `DAggerConfig.beta_schedule`:

| schedule        | `beta_k`                                                    |
|-----------------|-------------------------------------------------------------|
| `"first_round"` | 1 for `k = 0`, then 0 (the paper's parameter-free choice)   |
| `"constant"`    | `beta`                                                      |
| `"linear"`      | `max(beta - beta_decay * k, 0)`                             |
| `"exponential"` | `beta * (1 - beta_decay) ** k` (the paper's `p ** k`)       |
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.algorithms.aggregation import (
    AggregationConfig,
    Behaviour,
    aggregation,
    policy_actions,
    select_actions,
)
from jaxil.algorithms.bc import BCConfig
from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.types import Array, Policy, PRNGKey

BETA_SCHEDULES = ("first_round", "constant", "linear", "exponential")
"""The names `DAggerConfig.beta_schedule` accepts."""


class DAggerConfig(eqx.Module):
    """DAgger settings.

    Attributes:
        beta_schedule: (static) one of `BETA_SCHEDULES` (see the module docstring).
        beta: initial (`"linear"`, `"exponential"`) or constant (`"constant"`) probability
            of executing the expert's action; unused by `"first_round"`.
        beta_decay: per-round decay: subtracted from beta (`"linear"`) or the fraction of
            beta lost (`"exponential"`); unused by the other schedules.
        aggregation: the rollout, dataset and training-loop settings
            (`AggregationConfig`).
        bc: the learner's settings (`BCConfig`).

    `beta` and `beta_decay` may be arrays, so a config can be vmapped for a sweep.
    """

    beta_schedule: str = eqx.field(static=True, default="first_round")
    beta: float | Array = 1.0
    beta_decay: float | Array = 0.1
    aggregation: AggregationConfig = eqx.field(default_factory=AggregationConfig)
    bc: BCConfig = eqx.field(default_factory=BCConfig)


def beta_at(schedule: str, round_index: Array | int, beta: Array | float = 1.0,
            beta_decay: Array | float = 0.1) -> Array:
    """The mixing probability of round `round_index` (`[]`, 0-based) under `schedule`.

    Args:
        schedule: one of `BETA_SCHEDULES` (a static string).
        round_index: `[]` int, the round `k`.
        beta: the schedule's initial or constant beta.
        beta_decay: the linear or exponential decay per round.

    Returns:
        `[]` float32 in `[0, 1]`.
    """
    k = jnp.asarray(round_index, jnp.float32)
    beta = jnp.asarray(beta, jnp.float32)
    if schedule == "first_round":
        value = jnp.where(k == 0, 1.0, 0.0)
    elif schedule == "constant":
        value = beta * jnp.ones_like(k)
    elif schedule == "linear":
        value = beta - beta_decay * k
    elif schedule == "exponential":
        value = beta * (1.0 - beta_decay) ** k
    else:
        raise ValueError(f"beta_schedule: expected one of {BETA_SCHEDULES}, got {schedule!r}")
    return jnp.clip(value, 0.0, 1.0).astype(jnp.float32)


def mixture_actions(beta: Array, obs: Array, expert_actions: Array, learner: Policy,
                    key: PRNGKey) -> Array:
    """The beta-mixture's actions: per row, the expert's with probability `beta`.

    Args:
        beta: `[]` probability of executing the expert's action.
        obs: `[B, obs_dim]` observations.
        expert_actions: `[B, ...]` the expert's actions for `obs`.
        learner: the learner `Policy`, queried for the other actions.
        key: PRNG key.

    Returns:
        `[B, ...]` the executed actions.
    """
    learner_key, coin_key = jax.random.split(key)
    learner_actions = policy_actions(learner, obs, learner_key).astype(expert_actions.dtype)
    use_expert = jax.random.uniform(coin_key, (obs.shape[0],)) < beta
    return select_actions(use_expert, expert_actions, learner_actions)


def dagger_behaviour(config: DAggerConfig) -> Behaviour:
    """DAgger's `Behaviour`: the beta-mixture, with `beta` following the schedule."""
    if config.beta_schedule not in BETA_SCHEDULES:
        raise ValueError(f"beta_schedule: expected one of {BETA_SCHEDULES}, "
                         f"got {config.beta_schedule!r}")
    beta = lambda k: beta_at(config.beta_schedule, k, config.beta, config.beta_decay)
    return Behaviour(
        name="DAgger",
        init=lambda: beta(0),
        act=mixture_actions,
        next=lambda params, k, learner, obs, labels, key: beta(k),
        metrics=lambda b: {"beta": b},
    )


def dagger(env: Env, config: DAggerConfig | None = None, *, expert: Policy) -> Algorithm:
    """DAgger on `env` as an `Algorithm` (one `update` is one round).

    `init(key, demos=None)` builds the learner (BC's, its normaliser fitted to the demos
    when given), the `num_envs` auto-resetting environments and the aggregated dataset
    seeded with the demos, and with demos warm-starts the learner on them (`sgd_steps` BC
    steps); `update(state, batch)` rolls out the beta-mixture, labels the
    visited states with the expert's actions, aggregates them and takes `sgd_steps` BC
    steps on the whole dataset; `policy(state)` is the learner's `ActorPolicy`.
    `state.metrics` holds `beta` (of the round's rollout), the BC metrics (`loss`, ...),
    `buffer_size` and `episode_return` of the mixture's rollouts.

    Args:
        env: one environment with a time limit (e.g. from `jaxil.envs.make`).
        config: the `DAggerConfig` (`None`: the defaults).
        expert: the `Policy` that labels the states, e.g. from `jaxil.experts.train_ppo`.
    """
    config = DAggerConfig() if config is None else config
    return aggregation(env, dagger_behaviour(config), config.aggregation, config.bc,
                       expert=expert)
