"""DART, disturbances for augmenting robot trajectories (Laskey et al. 2017).

The expert drives every rollout, with noise injected into the executed action, and the
learner is trained by behavioural cloning on the visited (perturbed) states labelled with
the expert's clean actions: it sees how the expert recovers from the errors it will make
itself, without ever handing control to the learner. The round is the one DAgger uses
(`jaxil.algorithms.aggregation`; one `update` is one round).

The noise is fitted to the learner's own errors, re-estimated at the end of every round
on held-out states: the states the round visited (the noisy expert's), labelled by the
expert, and the learner as it was before the round's training steps, which has not seen
them. (The learner's error on the states it has just been trained on is a training
error: on pendulum with one or two demonstrations it is 10 to 30 times smaller than on
new expert states, and a noise fitted to it is no noise at all.)

- continuous actions: Gaussian, `a = clip(a* + e, low, high)` with `e ~ N(0, Sigma)` and
  `Sigma = noise_scale * E[(pi(s) - a*(s)) (pi(s) - a*(s))^T]` (`error_covariance`),
  scaled down, if needed, until no dimension's standard deviation exceeds
  `max_noise_std`;
- discrete actions: epsilon-random, a uniformly random action with probability
  `epsilon = min(noise_scale * P[pi(s) != a*(s)], max_epsilon)` (`disagreement_rate`).

As in the paper, the first noise is fitted to a learner trained on clean expert data:
with demonstrations, the BC learner warm-started on them in `init`, on the
demonstrations themselves (no states are held out yet, so this first estimate is a
training error and the first round is close to the clean expert, as the paper's first
iteration is); without, the first round runs the expert without noise. `noise_scale`
scales every estimate up (even the held-out error on the expert's states underestimates
the error on the learner's own states). `error_prior` is the paper's prior on the final
learner's error: it sets the size of every round's noise, the estimate only its shape.
Round 0's estimate is a training error, so without a prior DART's first noisy round is
close to the clean expert: on pendulum with one demonstration the warm-started learner's
error on it has an RMS of about 0.02, while the held-out estimates of the rounds after
are 0.3-0.6 (`benchmarks/RESULTS.md`, "DAgger and DART").
"""

from __future__ import annotations

import math

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
from jaxil.types import Array, Box, Discrete, EnvSpec, Policy


class DARTConfig(eqx.Module):
    """DART settings.

    Attributes:
        noise_scale: multiplies the estimated covariance (continuous) or disagreement rate
            (discrete).
        max_noise_std: continuous actions: the largest standard deviation of the noise in
            any action dimension (in action units; the covariance is scaled down as a
            whole to respect it). `inf`: no bound.
        max_epsilon: discrete actions: the largest probability of a random action.
        error_prior: the expected error of the final learner, the paper's prior `alpha`
            (`None`: none, the estimate's own size). Continuous actions: the mean squared
            error per step summed over the action dimensions, `E|pi(s) - a*(s)|^2`; each
            round's covariance is then the estimate rescaled to this trace (`alpha I / d`
            where the estimate is 0) before `noise_scale` and `max_noise_std` apply.
            Discrete actions: the disagreement probability, so `epsilon = min(noise_scale
            * alpha, max_epsilon)` every round.
        aggregation: the rollout, dataset and training-loop settings
            (`AggregationConfig`).
        bc: the learner's settings (`BCConfig`).

    The floats may be arrays, so a config can be vmapped for a sweep.
    """

    noise_scale: float | Array = 1.0
    max_noise_std: float | Array = float("inf")
    max_epsilon: float | Array = 1.0
    error_prior: float | Array | None = None
    aggregation: AggregationConfig = eqx.field(default_factory=AggregationConfig)
    bc: BCConfig = eqx.field(default_factory=BCConfig)


def error_covariance(learner_actions: Array, expert_actions: Array) -> Array:
    """DART's noise covariance `E[(pi(s) - a*(s)) (pi(s) - a*(s))^T]` (not centred).

    Args:
        learner_actions: `[N, act_dim]` the learner's actions on `N` states.
        expert_actions: `[N, act_dim]` the expert's actions on the same states.

    Returns:
        `[act_dim, act_dim]` the mean outer product of the errors.
    """
    errors = (learner_actions - expert_actions).astype(jnp.float32)
    return errors.T @ errors / errors.shape[0]


def disagreement_rate(learner_actions: Array, expert_actions: Array) -> Array:
    """`[]` the fraction of the `N` states where `learner_actions[N] != expert_actions[N]`."""
    return jnp.mean((learner_actions != expert_actions).astype(jnp.float32))


def with_trace(cov: Array, total: Array | float) -> Array:
    """`cov[d, d]` rescaled to the trace `total` (its shape kept); `total * I / d` where
    `cov` is 0 (no shape to keep)."""
    trace = jnp.trace(cov)
    shape = jnp.where(trace > 1e-12, cov / jnp.maximum(trace, 1e-12),
                      jnp.eye(cov.shape[0]) / cov.shape[0])
    return (total * shape).astype(jnp.float32)


def bound_covariance(cov: Array, noise_scale: Array | float, max_std: Array | float) -> Array:
    """`noise_scale * cov`, scaled down as a whole so no variance exceeds `max_std ** 2`.

    Args:
        cov: `[d, d]` positive semi-definite covariance.
        noise_scale: non-negative multiplier.
        max_std: largest standard deviation allowed in any dimension (`inf`: no bound).

    Returns:
        `[d, d]` float32.
    """
    cov = noise_scale * cov
    largest = jnp.maximum(jnp.max(jnp.diag(cov)), 1e-12)
    return (cov * jnp.minimum(1.0, max_std**2 / largest)).astype(jnp.float32)


def psd_sqrt(cov: Array) -> Array:
    """The symmetric square root `S` of a `[d, d]` PSD matrix (`S @ S = cov`), via `eigh`."""
    values, vectors = jnp.linalg.eigh(cov)
    return (vectors * jnp.sqrt(jnp.maximum(values, 0.0))) @ vectors.T


class GaussianNoise(eqx.Module):
    """DART's continuous noise: `cov[d, d]` and its square root `scale[d, d]`."""

    cov: Array
    scale: Array

    @classmethod
    def from_cov(cls, cov: Array) -> GaussianNoise:
        """The noise with covariance `cov[d, d]` (positive semi-definite)."""
        return cls(cov, psd_sqrt(cov))


def gaussian_behaviour(space: Box, config: DARTConfig) -> Behaviour:
    """DART's `Behaviour` for continuous actions: the expert plus fitted Gaussian noise."""
    low = jnp.asarray(space.low, jnp.float32)
    high = jnp.asarray(space.high, jnp.float32)
    size = math.prod(space.shape)

    def act(noise: GaussianNoise, obs, expert_actions, learner, key):
        del obs, learner
        z = jax.random.normal(key, (expert_actions.shape[0], size))
        e = jnp.reshape(z @ noise.scale, expert_actions.shape)
        return jnp.clip(expert_actions + e, low, high)

    def next_noise(noise, round_index, learner, obs, labels, key):
        del noise, round_index
        learner_actions = policy_actions(learner, obs, key)
        flat = lambda a: jnp.reshape(a, (a.shape[0], size))
        cov = error_covariance(flat(learner_actions), flat(labels))
        if config.error_prior is not None:
            cov = with_trace(cov, config.error_prior)
        return GaussianNoise.from_cov(bound_covariance(cov, config.noise_scale,
                                                       config.max_noise_std))

    def metrics(noise: GaussianNoise):
        return {"noise_std": jnp.sqrt(jnp.mean(jnp.diag(noise.cov)))}

    return Behaviour("DART", lambda: GaussianNoise.from_cov(jnp.zeros((size, size))), act,
                     next_noise, metrics)


def epsilon_behaviour(space: Discrete, config: DARTConfig) -> Behaviour:
    """DART's `Behaviour` for discrete actions: the expert, epsilon-random."""

    def act(epsilon, obs, expert_actions, learner, key):
        del obs, learner
        coin_key, action_key = jax.random.split(key)
        n = expert_actions.shape[0]
        random = jax.random.randint(action_key, (n,), 0, space.n, expert_actions.dtype)
        return select_actions(jax.random.uniform(coin_key, (n,)) < epsilon, random,
                              expert_actions)

    def next_epsilon(epsilon, round_index, learner, obs, labels, key):
        del epsilon, round_index
        rate = (disagreement_rate(policy_actions(learner, obs, key), labels)
                if config.error_prior is None else config.error_prior)
        return jnp.clip(config.noise_scale * rate, 0.0, config.max_epsilon).astype(jnp.float32)

    return Behaviour("DART", lambda: jnp.zeros((), jnp.float32), act, next_epsilon,
                     lambda epsilon: {"epsilon": epsilon})


def dart_behaviour(spec: EnvSpec, config: DARTConfig) -> Behaviour:
    """DART's `Behaviour` for `spec`'s action space (Gaussian or epsilon-random noise)."""
    space = spec.action_space
    if isinstance(space, Discrete):
        return epsilon_behaviour(space, config)
    return gaussian_behaviour(space, config)


def dart(env: Env, config: DARTConfig | None = None, *, expert: Policy) -> Algorithm:
    """DART on `env` as an `Algorithm` (one `update` is one round).

    `init(key, demos=None)` builds the learner (BC's, its normaliser fitted to the demos
    when given), the `num_envs` auto-resetting environments and the aggregated dataset
    seeded with the demos, and with demos warm-starts the learner on them (`sgd_steps` BC
    steps) and fits the first noise to its errors; `update(state, batch)` rolls out the
    noisy expert, labels the
    visited states with its clean actions, aggregates them, takes `sgd_steps` BC steps on
    the whole dataset and re-estimates the noise; `policy(state)` is the learner's
    `ActorPolicy`. `state.metrics` holds `noise_std` (continuous: root mean variance of the
    round's noise) or `epsilon` (discrete), the BC metrics, `buffer_size` and
    `episode_return` of the noisy expert's rollouts. The noise of the round after is
    fitted to the errors, on the round's states, of the learner from before the round's
    BC steps (held-out states; see the module docstring).

    Args:
        env: one environment with a time limit (e.g. from `jaxil.envs.make`).
        config: the `DARTConfig` (`None`: the defaults).
        expert: the `Policy` that drives the rollouts and labels the states.
    """
    config = DARTConfig() if config is None else config
    return aggregation(env, dart_behaviour(env.spec, config), config.aggregation, config.bc,
                       expert=expert)
