"""Interactive imitation by dataset aggregation: the round that DAgger and DART share.

Both methods query the expert on the states that a behaviour policy visits and train the
learner by behavioural cloning on everything gathered so far. They differ only in their
`Behaviour`: how each executed action is chosen (DAgger: the expert's action with
probability beta, else the learner's; DART: the expert's action plus noise) and how its
parameters change from round to round. `aggregation(env, behaviour, config, bc_config,
expert=...)` turns a `Behaviour` into an `Algorithm` whose `update(state, batch)` is one
round, as one pure function:

1. roll out `rollout_length` steps in `num_envs` auto-resetting environments, continuing
   from the previous round's environment state, executing the behaviour's action and
   labelling every visited state with the expert's action (queried inside the compiled
   program);
2. add the `(state, expert action)` pairs to the aggregated dataset, a fixed-capacity
   `jaxil.data` buffer seeded with the demonstrations at `init` (once full, the oldest
   pairs are overwritten);
3. refit the learner's observation normaliser to the aggregated dataset
   (`refit_normalizer`), then take `sgd_steps` behavioural-cloning steps (BC's own
   `update`, so every `BCConfig` option applies) on minibatches drawn uniformly from the
   aggregated dataset;
4. compute the behaviour's parameters for the next round from the round's index, the
   learner as it was before step 3 and the states just visited: states it was not
   trained on, so that an error measured there is a held-out one (a learner's error on
   its own training states is far smaller than on new ones).

With demonstrations, `init` warm-starts: `sgd_steps` behavioural-cloning steps on them,
and round 0's behaviour parameters computed from that learner on the demonstrations'
states (DART's first noise is fitted to the errors of BC on the clean demonstrations, as
in the paper). Without, round 0 uses `Behaviour.init()`.

So `jaxil.train(algo, key, demos, num_updates=R)` runs `R` rounds: `R * num_envs *
rollout_length` expert labels and `R * sgd_steps` gradient steps. The driver's `batch`
is not used: the demonstrations are part of the aggregated dataset from the start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.algorithms.bc import BCConfig, BCState, bc
from jaxil.core import Algorithm
from jaxil.data.buffer import BufferState, buffer_add, buffer_init, buffer_sample
from jaxil.envs.base import Env, EnvState
from jaxil.envs.wrappers import vectorize
from jaxil.networks.normalizer import normalizer_for
from jaxil.networks.policy import ActorPolicy
from jaxil.rl.episodes import EpisodeStats, init_episode_stats, track_transitions
from jaxil.rl.ppo import EPISODE_METRICS
from jaxil.rollout import batch_act, unroll_with
from jaxil.types import Array, Discrete, EnvSpec, Metrics, Policy, PRNGKey, PyTree, Transition

Params = PyTree
"""A behaviour's parameters for one round (a pytree of arrays: DAgger's `beta[]`, ...)."""


class Behaviour(NamedTuple):
    """How an aggregation method acts in its rollouts: what DAgger and DART differ in.

    Attributes:
        name: the method's name (for messages).
        init: `init() -> params`, the parameters of round 0 without demonstrations.
        act: `act(params, obs[B, obs_dim], expert_actions[B, ...], learner, key) ->
            actions[B, ...]`, the executed actions, given the expert's actions for the
            same states and the learner `Policy` (the current `Algorithm.policy`).
        next: `next(params, round, learner, obs[N, obs_dim], expert_actions[N, ...], key)
            -> params`, the parameters of round `round` (`[]` int32), given a learner and
            `N` states with their expert labels: the `T * B` states of the round before
            and the learner from before that round's training steps (the states are held
            out from its training data), or for round 0 the learner warm-started on the
            demonstrations and the demonstrations (its own training data).
        metrics: `metrics(params) -> {name: []}`, diagnostics of the round's parameters.
    """

    name: str
    init: Callable[[], Params]
    act: Callable[[Params, Array, Array, Policy, PRNGKey], Array]
    next: Callable[[Params, Array, Policy, Array, Array, PRNGKey], Params]
    metrics: Callable[[Params], Metrics]


class AggregationConfig(eqx.Module):
    """Settings of the aggregation round (all static: they fix shapes and loop counts).

    Attributes:
        num_envs: parallel environments `B` of each round's rollout.
        rollout_length: steps `T` per environment per round (episodes run on across
            rounds; the environments reset themselves when an episode ends).
        sgd_steps: behavioural-cloning steps per round.
        batch_size: pairs per behavioural-cloning step, drawn from the aggregated dataset.
        buffer_size: capacity of the aggregated dataset (demonstrations included); when
            it is full the oldest pairs are overwritten.
        refit_normalizer: refit the learner's observation normaliser (its
            `BCConfig.obs_normalization`) to the whole aggregated dataset each round,
            before the round's BC steps. Fitted to a single demonstration only, the range
            normaliser put the states the rollouts reach later (a swing-up) far outside
            `[-1, 1]`, where the tanh network saturates: DART from one pendulum episode
            plus four noisy ones then failed to swing up on 2 of 16 seeds (min -0.05;
            with refitting min 0.61, mean 0.93 against 0.82).
    """

    num_envs: int = eqx.field(static=True, default=8)
    rollout_length: int = eqx.field(static=True, default=64)
    sgd_steps: int = eqx.field(static=True, default=50)
    batch_size: int = eqx.field(static=True, default=256)
    buffer_size: int = eqx.field(static=True, default=100_000)
    refit_normalizer: bool = eqx.field(static=True, default=True)

    @property
    def labels_per_round(self) -> int:
        """Expert labels added to the dataset per round, `num_envs * rollout_length`."""
        return self.num_envs * self.rollout_length


class AggregationState(NamedTuple):
    """State of an aggregation `Algorithm` (DAgger, DART).

    Attributes:
        learner: the `BCState` of the learner (policy, optimiser state, key, metrics).
        dataset: `BufferState` of `Transition`s holding only `obs[capacity, obs_dim]` and
            the expert's `action[capacity, ...]` (the other fields are `None`).
        env_state: state of the `B` vectorised environments.
        episodes: `EpisodeStats` of the rollouts' environment returns.
        behaviour: the behaviour's parameters for the next round.
        key: PRNG key for the next round.
        step: `[]` int32, rounds done.
        metrics: the round's `[]` float32 diagnostics: the BC metrics (`loss`, ...: means
            over the round's steps), the behaviour's (`beta`, ...), `buffer_size` and
            `episode_return`, `episode_length`, `episodes` of the rollouts (of the
            behaviour policy, not the learner alone).
    """

    learner: BCState
    dataset: BufferState
    env_state: EnvState
    episodes: EpisodeStats
    behaviour: Params
    key: PRNGKey
    step: Array
    metrics: Metrics


def labelled_pairs(obs: Array, actions: Array) -> Transition:
    """The dataset's `Transition` of `obs[..., obs_dim]` and expert `actions[..., ...]`."""
    return Transition(obs, actions, None, None, None, None)


def empty_dataset(spec: EnvSpec, capacity: int) -> BufferState:
    """An empty aggregated dataset for `spec`'s observations and actions."""
    space = spec.action_space
    action = (jnp.zeros((), jnp.int32) if isinstance(space, Discrete)
              else jnp.zeros(space.shape, jnp.float32))
    return buffer_init(labelled_pairs(jnp.zeros(spec.observation_size, jnp.float32), action),
                       capacity)


def policy_actions(policy: Policy, obs: Array, key: PRNGKey) -> Array:
    """`policy`'s actions `[N, ...]` for the observations `obs[N, obs_dim]`."""
    actions, _ = batch_act(policy)(obs, key)
    return actions


def select_actions(use_first: Array, first: Array, second: Array) -> Array:
    """Per row, `first[i]` where `use_first[i]` (`[B]` bool) else `second[i]`."""
    mask = jnp.reshape(use_first, use_first.shape + (1,) * (first.ndim - 1))
    return jnp.where(mask, first, second)


def check_config(config: AggregationConfig) -> None:
    """Raises `ValueError` for an `AggregationConfig` that cannot run (checked on the host)."""
    for name in ("num_envs", "rollout_length", "sgd_steps", "batch_size", "buffer_size"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name}: expected >= 1, got {getattr(config, name)}")


def _mean_metrics(metrics: Metrics) -> Metrics:
    return {k: jnp.mean(v).astype(jnp.float32) for k, v in metrics.items()}


def aggregation(env: Env, behaviour: Behaviour, config: AggregationConfig,
                bc_config: BCConfig, *, expert: Policy) -> Algorithm:
    """An interactive, dataset-aggregating imitation method as an `Algorithm`.

    `init(key, demos=None)` builds the learner as `jaxil.algorithms.bc` does (its
    observation normaliser fitted to `demos.obs` when given, then fixed), resets
    `config.num_envs` copies of `env`, and with `demos` seeds the aggregated dataset with
    them, takes `sgd_steps` BC steps on them and computes round 0's behaviour parameters;
    `update(state, batch)` runs one round (see the module docstring; `batch` is not used);
    `policy(state)` is the learner's `ActorPolicy` (its mode with
    `bc_config.deterministic_policy`, the default).

    Args:
        env: one environment with a time limit (e.g. from `jaxil.envs.make`).
        behaviour: the method's `Behaviour`.
        config: the `AggregationConfig`.
        bc_config: the learner's `BCConfig`.
        expert: the `Policy` that labels every visited state, `expert(obs[obs_dim], key)
            -> action`, queried inside the compiled program.
    """
    check_config(config)
    learner_algo = bc(env, bc_config)
    venv = vectorize(env, config.num_envs)

    def round_metrics(learner_metrics: Metrics, params: Params, dataset: BufferState,
                      episode_metrics: Metrics) -> Metrics:
        metrics = {**learner_metrics, **behaviour.metrics(params), **episode_metrics,
                   "buffer_size": dataset.size}
        return {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}

    def train_learner(learner: BCState, dataset: BufferState, key: PRNGKey
                      ) -> tuple[BCState, Metrics]:
        def step(learner: BCState, k: PRNGKey):
            learner = learner_algo.update(learner, buffer_sample(dataset, k, config.batch_size))
            return learner, learner.metrics

        learner, metrics = jax.lax.scan(step, learner, jax.random.split(key, config.sgd_steps))
        return learner, _mean_metrics(metrics)

    def init(key: PRNGKey, demos: Transition | None = None) -> AggregationState:
        learner_key, env_key, train_key, next_key, key = jax.random.split(key, 5)
        learner = learner_algo.init(learner_key, demos)
        dataset = empty_dataset(env.spec, config.buffer_size)
        params = behaviour.init()
        if demos is not None:  # warm start: BC on the demos, round 0's parameters from it
            dataset = buffer_add(dataset, labelled_pairs(demos.obs, demos.action))
            learner, _ = train_learner(learner, dataset, train_key)
            params = behaviour.next(params, jnp.zeros((), jnp.int32),
                                    learner_algo.policy(learner), demos.obs, demos.action,
                                    next_key)
        episodes = init_episode_stats(config.num_envs)
        no_episodes = {k: jnp.zeros((), jnp.float32) for k in EPISODE_METRICS}
        metrics = round_metrics(learner.metrics, params, dataset, no_episodes)
        return AggregationState(learner, dataset, venv.reset(env_key), episodes, params, key,
                                jnp.zeros((), jnp.int32), metrics)

    def rollout(state: AggregationState, key: PRNGKey) -> tuple[EnvState, Transition, Array]:
        learner = learner_algo.policy(state.learner)

        def act(obs: Array, k: PRNGKey) -> tuple[Array, Array]:
            expert_key, behaviour_key = jax.random.split(k)
            labels = policy_actions(expert, obs, expert_key)
            return behaviour.act(state.behaviour, obs, labels, learner, behaviour_key), labels

        return unroll_with(venv, state.env_state, act, key, config.rollout_length)

    def update(state: AggregationState, batch: Transition | None = None) -> AggregationState:
        del batch  # the demonstrations are in the aggregated dataset since `init`
        key, rollout_key, train_key, next_key = jax.random.split(state.key, 4)
        env_state, transitions, labels = rollout(state, rollout_key)
        dataset = buffer_add(state.dataset, labelled_pairs(transitions.obs, labels))
        learner = state.learner
        if config.refit_normalizer:
            valid = jnp.arange(dataset.data.obs.shape[0]) < dataset.size
            normalizer = normalizer_for(bc_config.obs_normalization, dataset.data.obs,
                                        env.spec.observation_size, valid)
            learner = learner._replace(policy=eqx.tree_at(lambda p: p.normalizer,
                                                          learner.policy, normalizer))
        learner, learner_metrics = train_learner(learner, dataset, train_key)
        episodes, episode_metrics = track_transitions(state.episodes, transitions)
        flat = lambda x: jnp.reshape(x, (-1, *x.shape[2:]))
        step = state.step + 1
        # the learner from before this round's steps: the round's states are held out
        params = behaviour.next(state.behaviour, step, learner_algo.policy(state.learner),
                                flat(transitions.obs), flat(labels), next_key)
        metrics = round_metrics(learner_metrics, state.behaviour, dataset, episode_metrics)
        return AggregationState(learner, dataset, env_state, episodes, params, key, step,
                                metrics)

    def policy(state: AggregationState) -> ActorPolicy:
        return learner_algo.policy(state.learner)

    return Algorithm(init, update, policy, env.spec)

