"""Proximal policy optimisation (Schulman et al. 2017) as pure functions and an `Algorithm`.

The pieces, usable on their own (GAIL and AIRL build on them with a learned reward):

- `init_learner(spec, config, key) -> PPOLearner`: policy, value network, optimiser state.
- `collect(env, env_state, learner, key, config) -> (env_state, RolloutBatch)`: one
  `[T, B]` rollout of the vectorised env with the behaviour log-probabilities.
- `learn(learner, batch, rewards, key, config) -> (learner, metrics)`: GAE on the given
  rewards, then `num_epochs` passes of clipped-surrogate SGD over shuffled minibatches.
- `online_round(...)`: one round of any on-policy learner, collect / relabel / learn /
  track, with the functions it is given (PPO, MAPPO, the adversarial methods, MAGAIL and
  GCL all run it; `ppo_steps` gives PPO's `collect` and `learn`).
- `ppo(env, config) -> Algorithm`: `collect` then `learn` on the environment's rewards.

Discrete and continuous actions share one code path; only the policy head (a distrax
distribution) differs. For squashed (tanh-Gaussian) heads the rollout stores the raw,
pre-squash sample `u` and log-probabilities are computed in raw space,
`log pi(a) = log p(u) - log|d tanh-affine(u) / du|`, which stays exact near the bounds
where inverting `tanh` would not. The observation normaliser is part of the
`ActorPolicy` (explicit state), shared with the value network and updated by `learn`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import chex
import distrax
import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxil.core import Algorithm
from jaxil.envs.base import Env, EnvState
from jaxil.envs.wrappers import vectorize
from jaxil.networks.heads import entropy, raw_and_bijector
from jaxil.networks.normalizer import normalize, update_normalizer
from jaxil.networks.policy import (
    ActorPolicy,
    PolicyArch,
    PolicyNetwork,
    ValueNetwork,
    make_actor_policy,
)
from jaxil.rl.episodes import EpisodeStats, init_episode_stats, track_transitions
from jaxil.rl.gae import gae, normalize_advantages
from jaxil.rl.losses import (
    approx_kl,
    clip_fraction,
    clipped_surrogate_loss,
    entropy_loss,
    value_loss,
)
from jaxil.rollout import unroll_with
from jaxil.types import Array, EnvSpec, Metrics, PRNGKey, Transition

ADAM_EPS = 1e-5

LEARN_METRICS = ("loss", "policy_loss", "value_loss", "entropy", "approx_kl",
                 "clip_fraction", "explained_variance", "mean_reward", "learning_rate")
"""Names of the `[]` metrics `learn` returns."""

EPISODE_METRICS = ("episode_return", "episode_length", "episodes")
"""Names of the `[]` metrics `jaxil.rl.episodes.track_episodes` returns."""


class PPOConfig(eqx.Module):
    """PPO settings.

    Static (fix shapes and loop counts; changing them recompiles):
        num_envs: parallel environments `B`.
        rollout_length: steps `T` per environment per update.
        num_epochs: passes over each rollout.
        num_minibatches: minibatches per pass (must divide `B * T`).
        hidden_sizes: policy torso widths.
        value_hidden_sizes: value-network widths (`None`: `hidden_sizes`).
        activation: hidden activation name (`jaxil.networks.mlp.ACTIVATIONS`).
        head: policy head (`PolicyArch.head`: `"auto"`, `"categorical"`, `"tanh_gaussian"`,
            `"gaussian"`; a deterministic head cannot be trained by PPO).
        state_dependent_std: Gaussian heads: the std is an output of the torso.
        init_std: Gaussian heads: initial (pre-squash) standard deviation.
        normalize_obs: keep running observation statistics in the policy's normaliser.
        normalize_advantages: standardise advantages in each minibatch.
        clip_value: use the clipped value loss (with `value_clip_eps`).
        lr_decay_updates: if `> 0`, the learning rate decays linearly to 0 over this many
            `learn` calls (set it to the number of updates of the run); `0`: constant.
        deterministic_policy: `Algorithm.policy` acts with the mode of the distribution.

    Floats (may be arrays, so a config can be vmapped for a sweep):
        learning_rate, gamma, gae_lambda, clip_eps (policy ratio clipping),
        value_clip_eps, entropy_coef, value_coef, max_grad_norm, reward_scale (multiplies
        the rewards given to `learn`).
    """

    num_envs: int = eqx.field(static=True, default=32)
    rollout_length: int = eqx.field(static=True, default=128)
    num_epochs: int = eqx.field(static=True, default=4)
    num_minibatches: int = eqx.field(static=True, default=4)
    hidden_sizes: tuple[int, ...] = eqx.field(static=True, default=(64, 64), converter=tuple)
    value_hidden_sizes: tuple[int, ...] | None = eqx.field(
        static=True, default=None, converter=lambda s: None if s is None else tuple(s))
    activation: str = eqx.field(static=True, default="tanh")
    head: str = eqx.field(static=True, default="auto")
    state_dependent_std: bool = eqx.field(static=True, default=False)
    init_std: float = eqx.field(static=True, default=1.0)
    normalize_obs: bool = eqx.field(static=True, default=True)
    normalize_advantages: bool = eqx.field(static=True, default=True)
    clip_value: bool = eqx.field(static=True, default=False)
    lr_decay_updates: int = eqx.field(static=True, default=0)
    deterministic_policy: bool = eqx.field(static=True, default=False)
    learning_rate: float | Array = 3e-4
    gamma: float | Array = 0.99
    gae_lambda: float | Array = 0.95
    clip_eps: float | Array = 0.2
    value_clip_eps: float | Array = 0.2
    entropy_coef: float | Array = 0.0
    value_coef: float | Array = 0.5
    max_grad_norm: float | Array = 0.5
    reward_scale: float | Array = 1.0

    @property
    def batch_size(self) -> int:
        """Transitions per update, `num_envs * rollout_length`."""
        return self.num_envs * self.rollout_length


class PPOLearner(NamedTuple):
    """What PPO learns.

    Attributes:
        policy: the stochastic `ActorPolicy`; its `normalizer` also feeds `value`.
        value: `ValueNetwork` on normalised observations.
        opt_state: optimiser state of the pair `(policy.network, value)`.
    """

    policy: ActorPolicy
    value: ValueNetwork
    opt_state: optax.OptState


class RolloutBatch(NamedTuple):
    """One rollout of `B` environments for `T` steps.

    Attributes:
        transitions: `Transition[T, B, ...]`; `.reward` holds the environment's rewards.
        raw_actions: `[T, B, ...]` the pre-squash samples `u` (`action = squash(u)`); equal
            to `transitions.action` for unsquashed heads (categorical, plain Gaussian).
        log_probs: `[T, B]` behaviour log-probabilities of the actions, in raw space.
    """

    transitions: Transition
    raw_actions: Array
    log_probs: Array


class PPOState(NamedTuple):
    """State of the `ppo` `Algorithm`.

    Attributes:
        learner: the `PPOLearner`.
        env_state: `EnvState` of the vectorised env, `[B]` leading axis.
        episodes: `EpisodeStats` of the environment's episodes.
        key: PRNG key for the next update.
        step: `[]` int32, number of updates done.
        metrics: `LEARN_METRICS + EPISODE_METRICS`, `[]` float32 each.
    """

    learner: PPOLearner
    env_state: EnvState
    episodes: EpisodeStats
    key: PRNGKey
    step: Array
    metrics: Metrics


class _Minibatch(NamedTuple):
    obs: Array  # [N, obs_dim], already normalised
    raw_actions: Array  # [N, ...]
    log_probs: Array  # [N]
    advantages: Array  # [N]
    targets: Array  # [N]
    values: Array  # [N]
    value_obs: Array | None = None  # [N, value_dim] the critic's inputs; None: `obs`


def policy_arch(spec: EnvSpec, config: PPOConfig) -> PolicyArch:
    """The `PolicyArch` PPO builds for `spec` under `config`."""
    arch = PolicyArch.for_env(spec, hidden_sizes=tuple(config.hidden_sizes), head=config.head,
                              activation=config.activation,
                              state_dependent_std=config.state_dependent_std,
                              init_std=config.init_std)
    if arch.head_kind == "deterministic":
        raise ValueError("head: PPO needs a stochastic head, got 'deterministic'")
    return arch


def check_config(spec: EnvSpec, config: PPOConfig) -> None:
    """Raises `ValueError` for a config that cannot run on `spec` (checked on the host)."""
    for name in ("num_envs", "rollout_length", "num_epochs", "num_minibatches"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name}: expected >= 1, got {getattr(config, name)}")
    if config.batch_size % config.num_minibatches:
        raise ValueError(f"num_minibatches: must divide num_envs * rollout_length = "
                         f"{config.batch_size}, got {config.num_minibatches}")
    policy_arch(spec, config)


def learning_rate_schedule(config: PPOConfig) -> Callable[[Array], Array]:
    """`schedule(count) -> []`: the learning rate of optimiser step `count`.

    Constant, or (with `config.lr_decay_updates > 0`) decaying linearly to 0 over
    `lr_decay_updates * num_epochs * num_minibatches` optimiser steps.
    """
    total = config.lr_decay_updates * config.num_epochs * config.num_minibatches

    def schedule(count: Array) -> Array:
        lr = jnp.asarray(config.learning_rate, jnp.float32)
        if total > 0:  # a static int
            return lr * jnp.clip(1.0 - jnp.asarray(count, jnp.float32) / total, 0.0, 1.0)
        return lr * jnp.ones_like(count, jnp.float32)

    return schedule


def make_optimizer(config: PPOConfig) -> optax.GradientTransformation:
    """Global-norm clipping, then Adam with the (optionally decaying) learning rate."""
    return optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.scale_by_adam(eps=ADAM_EPS),
        optax.scale_by_learning_rate(learning_rate_schedule(config)),
    )


def _strongly_typed(tree):
    """Drops weak types from array leaves, so states before and after `learn` match."""
    return jax.tree.map(lambda x: jnp.asarray(x, x.dtype) if eqx.is_array(x) else x, tree)


def init_learner(spec: EnvSpec, config: PPOConfig, key: PRNGKey,
                 value_input_size: int | None = None) -> PPOLearner:
    """A fresh `PPOLearner` for an environment with `spec` (identity normaliser).

    `value_input_size`: the length of the value network's input when it is not the
    observation (`None`: `spec.observation_size`), for a critic fed by `learn`'s
    `value_inputs` (e.g. MAPPO's centralised critic).
    """
    check_config(spec, config)
    policy_key, value_key = jax.random.split(key)
    policy = _strongly_typed(make_actor_policy(policy_arch(spec, config), policy_key))
    value_sizes = config.value_hidden_sizes or config.hidden_sizes
    value_input_size = spec.observation_size if value_input_size is None else value_input_size
    value = ValueNetwork(value_input_size, value_key, tuple(value_sizes),
                         activation=config.activation)
    opt_state = make_optimizer(config).init((policy.network, value))
    return PPOLearner(policy, value, opt_state)


def _log_prob_raw(dist: distrax.Distribution, raw: Array) -> Array:
    """`log pi(squash(raw))` computed from the raw sample (exact near the bounds)."""
    base, bijector = raw_and_bijector(dist)
    log_prob = base.log_prob(raw)
    if bijector is not None:
        log_prob = log_prob - bijector.forward_log_det_jacobian(raw)
    return log_prob


def sample_action(policy: ActorPolicy, obs: Array, key: PRNGKey
                  ) -> tuple[Array, Array, Array]:
    """Samples one action for `obs[obs_dim]`.

    Returns:
        `(action, raw_action, log_prob)`: the environment action, the pre-squash sample
        (the action itself for unsquashed heads) and its log-probability `[]`.
    """
    dist = policy.distribution(obs)
    base, bijector = raw_and_bijector(dist)
    raw = base.sample(seed=key)
    action = raw if bijector is None else bijector.forward(raw)
    return action, raw, _log_prob_raw(dist, raw)


def log_prob_and_entropy(network: PolicyNetwork, obs: Array, raw_action: Array
                         ) -> tuple[Array, Array]:
    """`(log_prob[], entropy[])` of a raw action under `network` for a normalised `obs`."""
    dist = network(obs)
    return _log_prob_raw(dist, raw_action), entropy(dist)


def collect(env: Env, env_state: EnvState, learner: PPOLearner, key: PRNGKey,
            config: PPOConfig) -> tuple[EnvState, RolloutBatch]:
    """Rolls the current policy out for `config.rollout_length` steps.

    Args:
        env: the vectorised env (`jaxil.envs.vectorize(env, config.num_envs)`).
        env_state: its state, `[B]` leading axis.
        learner: the `PPOLearner` whose policy acts.
        key: PRNG key.
        config: the `PPOConfig`.

    Returns:
        `(env_state, batch)` with `batch` a `RolloutBatch` of `[T, B]` arrays.
    """
    policy = learner.policy

    def act(obs: Array, k: PRNGKey) -> tuple[Array, tuple[Array, Array]]:
        keys = jax.random.split(k, obs.shape[0])
        action, raw, log_prob = jax.vmap(sample_action, in_axes=(None, 0, 0))(policy, obs,
                                                                              keys)
        return action, (raw, log_prob)

    env_state, transitions, (raw, log_probs) = unroll_with(env, env_state, act, key,
                                                           config.rollout_length)
    return env_state, RolloutBatch(transitions, raw, log_probs)


def _flat(x: Array) -> Array:
    return jnp.reshape(x, (-1,) + x.shape[2:])


def _minibatch_loss(params: tuple[PolicyNetwork, ValueNetwork], mb: _Minibatch,
                    config: PPOConfig) -> tuple[Array, Metrics]:
    network, value = params
    log_probs, entropies = jax.vmap(log_prob_and_entropy, in_axes=(None, 0, 0))(
        network, mb.obs, mb.raw_actions)
    values = jax.vmap(value)(mb.obs if mb.value_obs is None else mb.value_obs)
    advantages = mb.advantages
    if config.normalize_advantages:
        advantages = normalize_advantages(advantages)
    policy_loss = clipped_surrogate_loss(log_probs, mb.log_probs, advantages, config.clip_eps)
    v_loss = value_loss(values, mb.targets, mb.values,
                        config.value_clip_eps if config.clip_value else None)
    ent_loss = entropy_loss(entropies)
    loss = policy_loss + config.value_coef * v_loss + config.entropy_coef * ent_loss
    metrics = {
        "loss": loss, "policy_loss": policy_loss, "value_loss": v_loss,
        "entropy": -ent_loss,
        "approx_kl": approx_kl(jax.lax.stop_gradient(log_probs), mb.log_probs),
        "clip_fraction": clip_fraction(jax.lax.stop_gradient(log_probs), mb.log_probs,
                                       config.clip_eps),
    }
    return loss, metrics


def learn(learner: PPOLearner, batch: RolloutBatch, rewards: Array, key: PRNGKey,
          config: PPOConfig, value_inputs: Callable[[Array], Array] | None = None
          ) -> tuple[PPOLearner, Metrics]:
    """GAE on `rewards`, then `num_epochs` passes of PPO over shuffled minibatches.

    The observation normaliser is updated with `batch.transitions.obs` *first* (when
    `config.normalize_obs`); values, advantages and the optimised losses all use the
    updated statistics, while the importance ratios use the behaviour log-probabilities
    stored in `batch`.

    Args:
        learner: the `PPOLearner` that collected `batch`.
        batch: a `RolloutBatch` `[T, B]`; its `terminated` / `truncated` flags decide where
            GAE bootstraps.
        rewards: `[T, B]` the rewards to learn from (the environment's `batch.transitions
            .reward`, or a learned reward for adversarial imitation); scaled by
            `config.reward_scale`.
        key: PRNG key for the minibatch shuffles.
        config: the `PPOConfig` (`num_minibatches` must divide `T * B`, which is
            `config.batch_size` for a rollout of `collect`).
        value_inputs: `None`: the value network sees the (normalised) observation, as the
            policy does; or `value_inputs(obs[T, B, obs_dim]) -> [T, B, value_dim]`, the
            value network's inputs from the normalised observations, applied to
            `obs` and `next_obs` alike (MAPPO's centralised critic gathers the other
            agents' observations of the same env step this way).

    Returns:
        `(learner, metrics)` with `LEARN_METRICS`, `[]` float32 each (means over all
        minibatches of all epochs; `mean_reward` is the mean unscaled `rewards`).
    """
    tr = batch.transitions
    chex.assert_rank(rewards, 2)
    chex.assert_equal_shape([rewards, tr.reward, batch.log_probs])
    normalizer = learner.policy.normalizer
    if config.normalize_obs:
        normalizer = update_normalizer(normalizer, tr.obs)
    policy = ActorPolicy(learner.policy.network, normalizer, learner.policy.deterministic)

    shape = rewards.shape
    obs = normalize(normalizer, _flat(tr.obs))
    next_obs = normalize(normalizer, _flat(tr.next_obs))
    value_obs = value_next_obs = None
    if value_inputs is not None:
        unflat = lambda x: jnp.reshape(x, shape + x.shape[1:])
        value_obs = _flat(value_inputs(unflat(obs)))
        value_next_obs = _flat(value_inputs(unflat(next_obs)))
    value_fn = jax.vmap(learner.value)
    values = value_fn(obs if value_obs is None else value_obs)
    next_values = jnp.reshape(value_fn(next_obs if value_next_obs is None else value_next_obs),
                              shape)
    advantages, targets = gae(rewards * config.reward_scale, jnp.reshape(values, shape),
                              next_values, tr.terminated, tr.truncated, config.gamma,
                              config.gae_lambda)
    data = _Minibatch(obs, _flat(batch.raw_actions), _flat(batch.log_probs),
                      _flat(advantages), _flat(targets), values, value_obs)

    optimizer = make_optimizer(config)
    grad_fn = eqx.filter_value_and_grad(_minibatch_loss, has_aux=True)
    num_mb = config.num_minibatches
    size = shape[0] * shape[1]  # T * B

    def sgd_step(carry, mb: _Minibatch):
        params, opt_state = carry
        (_, metrics), grads = grad_fn(params, mb, config)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (eqx.apply_updates(params, updates), opt_state), metrics

    def epoch(carry, k: PRNGKey):
        perm = jax.random.permutation(k, size)
        shuffled = jax.tree.map(
            lambda x: jnp.reshape(x[perm], (num_mb, size // num_mb) + x.shape[1:]), data)
        return jax.lax.scan(sgd_step, carry, shuffled)

    params = (policy.network, learner.value)
    (params, opt_state), metrics = jax.lax.scan(
        epoch, (params, learner.opt_state), jax.random.split(key, config.num_epochs))
    network, value = params
    metrics = {k: jnp.mean(v) for k, v in metrics.items()}
    flat_targets = _flat(targets)
    metrics["explained_variance"] = 1.0 - jnp.var(flat_targets - values) / jnp.maximum(
        jnp.var(flat_targets), 1e-8)
    metrics["mean_reward"] = jnp.mean(rewards)
    metrics["learning_rate"] = current_learning_rate(opt_state, config)
    metrics = {k: jnp.asarray(metrics[k], jnp.float32) for k in LEARN_METRICS}
    learner = PPOLearner(ActorPolicy(network, normalizer, learner.policy.deterministic),
                         value, opt_state)
    return learner, metrics


def current_learning_rate(opt_state: optax.OptState, config: PPOConfig) -> Array:
    """`[]` the learning rate the next optimiser step of `opt_state` will use."""
    return learning_rate_schedule(config)(opt_state[-1].count)


def zero_metrics() -> Metrics:
    """The `PPOState.metrics` of a fresh state: every name, `[]` float32 zeros."""
    return {k: jnp.zeros((), jnp.float32) for k in LEARN_METRICS + EPISODE_METRICS}


def transition_rewards(reward_fn: Any, transitions: Transition, gamma: Array | float) -> Array:
    """Rewards `[T, B]` of a rollout `transitions[T, B]` under a learned reward.

    `reward_fn` either has `transition_rewards(transitions, gamma)` (e.g.
    `jaxil.adversarial.LearnedReward`, which handles terminations itself) or is a plain
    `RewardFn`, `reward(obs[obs_dim], action, next_obs[obs_dim]) -> []`, applied to each
    transition (with the true next observation, also at episode ends).
    """
    if hasattr(reward_fn, "transition_rewards"):
        return reward_fn.transition_rewards(transitions, gamma)
    per_step = jax.vmap(jax.vmap(reward_fn))
    return per_step(transitions.obs, transitions.action, transitions.next_obs)


def ppo(env: Env, config: PPOConfig | None = None, reward_fn: Any = None) -> Algorithm:
    """PPO on `env` as an `Algorithm`.

    `init(key, demos=None)` builds the learner and resets `config.num_envs` copies of
    `env` (`jaxil.envs.vectorize`); `update(state, batch)` ignores `batch` (pass `None`),
    collects one rollout and learns from its rewards; `policy(state)` is the
    `ActorPolicy` (its mode when `config.deterministic_policy`).

    Args:
        env: a single environment with a time limit (e.g. from `jaxil.envs.make`).
        config: the `PPOConfig` (`None`: the defaults).
        reward_fn: `None` to learn from the environment's rewards, or a learned reward
            to optimise instead (a fixed part of the program, not trained further): a
            `RewardFn` or an object with `transition_rewards` (see
            `transition_rewards`), e.g. AIRL's `jaxil.algorithms.airl_reward(state)`.
            `metrics["episode_return"]` always tracks the environment's own return, so
            a learned reward's transfer is measured in the environment's units.
    """
    config = PPOConfig() if config is None else config
    check_config(env.spec, config)
    venv = vectorize(env, config.num_envs)

    def learned_rewards(learner: PPOLearner, rollout: RolloutBatch, key: PRNGKey):
        del learner, key
        return transition_rewards(reward_fn, rollout.transitions, config.gamma), None, {}

    def policy(state: PPOState) -> ActorPolicy:
        return state.learner.policy.with_deterministic(config.deterministic_policy)

    return Algorithm(
        online_init(venv, config, lambda key: init_learner(env.spec, config, key)),
        online_update(**ppo_steps(venv, config), track_fn=track_transitions,
                      relabel_fn=env_rewards if reward_fn is None else learned_rewards),
        policy, env.spec)


def online_init(venv: Env, config: PPOConfig, make_learner: Callable[[PRNGKey], PPOLearner]
                ) -> Callable[..., PPOState]:
    """`init(key, demos=None) -> PPOState` of an on-policy learner (PPO, MAPPO): the
    learner `make_learner(key)` and `config.num_envs` freshly reset environments of the
    vectorised `venv`; `demos` are ignored (it learns from rewards)."""

    def init(key: PRNGKey, demos: Transition | None = None) -> PPOState:
        del demos
        learner_key, env_key, key = jax.random.split(key, 3)
        return PPOState(make_learner(learner_key), venv.reset(env_key),
                        init_episode_stats(config.num_envs), key, jnp.zeros((), jnp.int32),
                        zero_metrics())

    return init


class OnlineRound(NamedTuple):
    """What `online_round` returns: the pieces of the next state.

    Attributes:
        key: the PRNG key of the next round.
        env_state: the environments after the rollout.
        learner: the learner after its update.
        episodes: the episode statistics with the rollout's episodes added.
        extra: what `relabel_fn` returned beside the rewards (e.g. a trained
            discriminator), or `None`.
        metrics: `relabel_fn`'s, then `learn_fn`'s, then `track_fn`'s metrics, merged.
    """

    key: PRNGKey
    env_state: EnvState
    learner: Any
    episodes: Any
    extra: Any
    metrics: Metrics


def env_rewards(learner: Any, rollout: RolloutBatch, key: PRNGKey) -> tuple[Array, None, Metrics]:
    """`relabel_fn` of `online_round` that keeps the environment's rewards `[T, B]`."""
    del learner, key
    return rollout.transitions.reward, None, {}


def online_round(key: PRNGKey, env_state: EnvState, learner: Any, episodes: Any, *,
                 collect_fn: Callable, relabel_fn: Callable, learn_fn: Callable,
                 track_fn: Callable, relabel_keys: int = 0) -> OnlineRound:
    """One online round of an on-policy learner: collect a rollout, relabel its rewards,
    learn from them, track its episodes. PPO, MAPPO, the adversarial methods, MAGAIL and
    GCL all run this round and differ only in the functions they pass.

    `key` is split into `2 + relabel_keys + 1` keys: the next round's key, the rollout's,
    `relabel_keys` for `relabel_fn` and the learner's, in that order.

    Args:
        key: the round's PRNG key (the state's).
        env_state, learner, episodes: the state's pieces.
        collect_fn: `collect_fn(env_state, learner, key) -> (env_state, RolloutBatch)`.
        relabel_fn: `relabel_fn(learner, rollout, next_key, *keys) -> (rewards[T, ...],
            extra, metrics)`, with the learner before this round's update, the next
            round's key (for pieces that fold their own keys from it) and `relabel_keys`
            keys of its own; `env_rewards` keeps the environment's rewards.
        learn_fn: `learn_fn(learner, rollout, rewards, key) -> (learner, metrics)`.
        track_fn: `track_fn(episodes, transitions[T, B]) -> (episodes, metrics)`.
        relabel_keys: how many keys `relabel_fn` takes.
    """
    key, collect_key, *own_keys, learn_key = jax.random.split(key, 3 + relabel_keys)
    env_state, rollout = collect_fn(env_state, learner, collect_key)
    rewards, extra, relabel_metrics = relabel_fn(learner, rollout, key, *own_keys)
    episodes, episode_metrics = track_fn(episodes, rollout.transitions)
    learner, learn_metrics = learn_fn(learner, rollout, rewards, learn_key)
    return OnlineRound(key, env_state, learner, episodes, extra,
                       {**relabel_metrics, **learn_metrics, **episode_metrics})


def ppo_steps(venv: Env, config: PPOConfig) -> dict[str, Callable]:
    """PPO's `collect_fn` and `learn_fn` for `online_round` on the vectorised `venv`:
    `collect` a rollout and `learn` from the given rewards, with `config`."""
    return {"collect_fn": lambda env_state, learner, key: collect(venv, env_state, learner,
                                                                  key, config),
            "learn_fn": lambda learner, rollout, rewards, key: learn(learner, rollout,
                                                                     rewards, key, config)}


def online_update(collect_fn: Callable, track_fn: Callable, learn_fn: Callable,
                  relabel_fn: Callable = env_rewards) -> Callable[..., PPOState]:
    """`update(state, batch=None) -> PPOState`: one `online_round` of an on-policy learner
    (PPO, MAPPO), `batch` ignored.

    Args:
        collect_fn: `collect_fn(env_state, learner, key) -> (env_state, RolloutBatch)`.
        track_fn: `track_fn(episodes, transitions[T, B]) -> (episodes, episode metrics)`.
        learn_fn: `learn_fn(learner, rollout, rewards, key) -> (learner, learn metrics)`.
        relabel_fn: the rewards to learn from (`env_rewards`: the environment's; see
            `online_round`; it takes no keys of its own).
    """

    def update(state: PPOState, batch: Transition | None = None) -> PPOState:
        del batch
        out = online_round(state.key, state.env_state, state.learner, state.episodes,
                           collect_fn=collect_fn, relabel_fn=relabel_fn, learn_fn=learn_fn,
                           track_fn=track_fn)
        return PPOState(out.learner, out.env_state, out.episodes, out.key, state.step + 1,
                        out.metrics)

    return update
