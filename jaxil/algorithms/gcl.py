"""Guided cost learning (Finn, Levine & Abbeel 2016): sample-based MaxEnt IRL with a
neural cost, for continuous (or discrete) environments.

The expert's trajectories are modelled as `p(tau) ~ p_dyn(tau) exp(-C(tau))` with
`C(tau) = sum_t c_theta(s_t[, a_t])`. The partition function is estimated by importance
sampling with trajectories `tau_j` of the current policy `pi` (the dynamics cancel):

    L(theta) = mean_demos C(tau_i) + log( (1/M) sum_j exp(-C(tau_j)) / pi(tau_j) ),
    grad L   = mean_demos grad C(tau_i) - sum_j w_j grad C(tau_j),
    w_j      = softmax_j( -C(tau_j) - log pi(tau_j) )

(self-normalised weights, computed in log space with `logsumexp`). Each `update`

1. rolls the policy out (`jaxil.rl.ppo.collect`: `B` envs x `T` steps, with the behaviour
   log-probabilities `log pi(a_t | s_t)`), and cuts the rollout into trajectories at
   episode ends;
2. takes `cost_steps` Adam steps on `L`: the update's batch of expert transitions
   (drawn uniformly from the demos by `jaxil.train`, like every method's) against the
   sampled trajectories; the mean demonstration episode cost is the demos' mean episode
   length times the batch's mean step cost (`gcl_loss`);
3. improves the policy against the new cost: one `jaxil.rl.ppo.learn` call on the
   rewards `-c_theta(s_t, a_t)`.

The cost is `cost_scale * sigmoid(mlp(normalised inputs))`, bounded in `[0, cost_scale]`:
a bounded cost keeps `L` bounded below (the role of the regularisers in the paper) and
gives PPO bounded rewards. Trajectories are exact when `ppo.rollout_length` equals the
env's (fixed) episode length, as on `pointmass` and `pendulum`; otherwise the pieces of
episodes inside a rollout are weighted as trajectories.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxil.core import Algorithm
from jaxil.envs.base import Env, EnvState
from jaxil.envs.wrappers import vectorize
from jaxil.networks.mlp import MLP
from jaxil.networks.normalizer import NormalizerState, normalize, normalizer_from_data
from jaxil.networks.policy import ActorPolicy
from jaxil.rl.episodes import EpisodeStats, init_episode_stats, track_transitions
from jaxil.rl.ppo import (
    PPOConfig,
    PPOLearner,
    check_config,
    init_learner,
    online_round,
    ppo_steps,
)
from jaxil.types import Array, Metrics, PRNGKey, Transition

METRIC_NAMES = ("cost_loss", "demo_cost", "sample_cost", "effective_sample_size",
                "policy_loss", "entropy", "episode_return", "mean_true_reward")


def default_ppo_config() -> PPOConfig:
    """The PPO settings GCL uses by default (rollouts of one 50-step `pointmass` episode)."""
    return PPOConfig(num_envs=32, rollout_length=50, num_epochs=4, num_minibatches=4,
                     learning_rate=1e-3, gamma=0.95, entropy_coef=0.0, reward_scale=1.0)


class GCLConfig(eqx.Module):
    """Guided-cost-learning settings.

    Static: `ppo` (a `PPOConfig`; its own static/float split applies), `hidden_sizes`,
    `activation` (cost MLP), `state_only` (cost of the observation only, else of
    observation and action), `cost_steps` (cost gradient steps per update),
    `normalize_inputs` (standardise the cost's inputs with the demonstrations'
    statistics), `deterministic_policy` (`policy(state)` acts with the mode).
    Floats: `learning_rate` (cost Adam), `cost_scale` (the cost's upper bound per step),
    `l2_coef` (weight decay of the cost network).
    """

    ppo: PPOConfig = eqx.field(default_factory=default_ppo_config)
    hidden_sizes: tuple[int, ...] = eqx.field(static=True, default=(64, 64))
    activation: str = eqx.field(static=True, default="tanh")
    state_only: bool = eqx.field(static=True, default=True)
    cost_steps: int = eqx.field(static=True, default=4)
    normalize_inputs: bool = eqx.field(static=True, default=True)
    deterministic_policy: bool = eqx.field(static=True, default=True)
    learning_rate: float | Array = 3e-3
    cost_scale: float | Array = 1.0
    l2_coef: float | Array = 0.0


class CostNetwork(eqx.Module):
    """`c(obs[obs_dim], action) = scale * sigmoid(mlp(x))`, `x` the normalised observation
    (with the action appended unless `state_only`: one-hot when `num_actions > 0`, i.e.
    for discrete actions, else the flat continuous action)."""

    mlp: MLP
    normalizer: NormalizerState
    state_only: bool = eqx.field(static=True)
    num_actions: int = eqx.field(static=True, default=0)

    def logits(self, obs: Array, action: Array) -> Array:
        x = normalize(self.normalizer, obs)
        if not self.state_only:
            a = (jax.nn.one_hot(action, self.num_actions) if self.num_actions
                 else jnp.reshape(action, (-1,)).astype(jnp.float32))
            x = jnp.concatenate([x, a])
        return self.mlp(x)[0]

    def __call__(self, obs: Array, action: Array, scale: float | Array = 1.0) -> Array:
        return scale * jax.nn.sigmoid(self.logits(obs, action))


class GCLState(NamedTuple):
    """GCL state.

    Attributes:
        learner: the `PPOLearner` (policy, value, optimiser).
        cost: the `CostNetwork`.
        cost_opt_state: Adam state of the cost.
        env_state: `EnvState` of the vectorised env, `[B]` leading axis.
        demo_length: `[]` float32, the demonstrations' mean episode length (steps per
            episode), fixed at `init`: the expert term of the objective is
            `demo_length * mean c` over each update's expert batch.
        episodes: statistics of the true environment returns.
        key: PRNG key for the next update.
        step: `[]` int32.
        metrics: `cost_loss` (the IOC objective `L`), `demo_cost` / `sample_cost` (mean
            trajectory costs), `effective_sample_size` (`1 / sum w_j^2`), `policy_loss`,
            `entropy`, `episode_return` (true return of finished episodes),
            `mean_true_reward`.
    """

    learner: PPOLearner
    cost: CostNetwork
    cost_opt_state: optax.OptState
    env_state: EnvState
    demo_length: Array
    episodes: EpisodeStats
    key: PRNGKey
    step: Array
    metrics: Metrics


def trajectory_ids(done: Array) -> Array:
    """Trajectory index `[T, B]` of each step of a `[T, B]` rollout, cut after `done`
    steps: column `b`'s `k`-th piece gets `b * T + k` (so at most `T * B` ids)."""
    t = done.shape[0]
    d = done.astype(jnp.int32)
    within = jnp.cumsum(d, axis=0) - d
    return within + t * jnp.arange(done.shape[1], dtype=jnp.int32)[None, :]


def importance_log_weights(costs: Array, log_probs: Array, ids: Array,
                           num_segments: int) -> tuple[Array, Array]:
    """Log importance weights of sampled trajectories.

    Args:
        costs: `[...]` per-step costs `c(s_t, a_t)`.
        log_probs: `[...]` per-step behaviour log-probabilities `log pi(a_t | s_t)`.
        ids: `[...]` int trajectory id of each step, in `[0, num_segments)`.
        num_segments: static bound on the number of trajectories.

    Returns:
        `(log_w[num_segments], valid[num_segments])`: `-C(tau_j) - log pi(tau_j)` (`-inf`
        for ids without steps) and which ids have steps.
    """
    flat = lambda x: jnp.reshape(x, (-1,))
    seg = lambda x: jax.ops.segment_sum(flat(x), flat(ids), num_segments)
    valid = seg(jnp.ones_like(costs)) > 0
    log_w = jnp.where(valid, -seg(costs) - seg(log_probs), -jnp.inf)
    return log_w, valid


def gcl_loss(cost: CostNetwork, samples: Transition, log_probs: Array, ids: Array,
             demos: Transition, demo_length: Array | float,
             cost_scale: float | Array = 1.0, l2_coef: float | Array = 0.0
             ) -> tuple[Array, Metrics]:
    """The sample-based MaxEnt IRL (IOC) objective of guided cost learning.

    The expert term, the mean cost of a demonstration episode `mean_i C(tau_i)`, is
    estimated from a batch of expert transitions drawn uniformly from all the demos'
    steps: the sum of every demo step's cost over `M` episodes is `M * L` times the mean
    step cost, `L` the mean episode length, so `mean_i C(tau_i) = L * E[c]`, unbiased
    for any batch size (exact when the batch is every step once).

    Args:
        cost: the `CostNetwork`.
        samples: policy transitions `[T, B, ...]`.
        log_probs: `[T, B]` behaviour log-probabilities of `samples.action`.
        ids: `[T, B]` trajectory ids (`trajectory_ids`).
        demos: expert transitions `[N, ...]` (a batch drawn uniformly from the demos).
        demo_length: `[]` the demos' mean episode length `L`.
        cost_scale: the cost's upper bound.
        l2_coef: weight decay of the cost network's weights.

    Returns:
        `(loss[], metrics)`: `L * mean_n c(demo_n) + log mean_j exp(-C(tau_j)) / pi(tau_j)`.
    """
    c = lambda o, a: cost(o, a, cost_scale)
    t, b = log_probs.shape
    sample_costs = jax.vmap(jax.vmap(c))(samples.obs, samples.action)
    log_w, valid = importance_log_weights(sample_costs, log_probs, ids, t * b)
    num_valid = jnp.sum(valid)
    log_z = jax.nn.logsumexp(log_w) - jnp.log(num_valid)
    demo_term = demo_length * jnp.mean(jax.vmap(c)(demos.obs, demos.action))
    weights = jax.lax.stop_gradient(jax.nn.softmax(log_w))
    l2 = sum(jnp.sum(layer.weight**2) for layer in cost.mlp.layers)
    loss = demo_term + log_z + l2_coef * l2
    metrics = {
        "cost_loss": demo_term + log_z,
        "demo_cost": demo_term,
        "sample_cost": jnp.sum(sample_costs) / num_valid,
        "effective_sample_size": 1.0 / jnp.sum(weights**2),
    }
    return loss, metrics


def mean_episode_length(demos: Transition) -> Array:
    """`[]` float32: steps per episode of flat demonstrations `demos[M]` (whole episodes,
    each ending in a terminated or truncated step, as `jaxil.data.as_transitions` gives
    them)."""
    episodes = jnp.sum((demos.terminated | demos.truncated).astype(jnp.float32))
    return demos.terminated.shape[0] / jnp.maximum(episodes, 1.0)


def gcl(env: Env, config: GCLConfig | None = None) -> Algorithm:
    """Guided cost learning as an `Algorithm`.

    Args:
        env: a single environment with a time limit (e.g. `jaxil.envs.make("pointmass")`).
        config: `GCLConfig` (`None`: the defaults).

    Returns:
        `Algorithm(init, update, policy)`: `init(key, demos)` needs the flat
        demonstrations (whole episodes, as `jaxil.data.as_transitions` gives them: the
        cost's input statistics and the mean episode length); `update(state, batch)` takes
        a batch of expert transitions `batch[N]` drawn uniformly from them (what
        `jaxil.train` passes) and keeps no demonstrations in its state; `policy(state)` is
        the PPO `ActorPolicy`.
    """
    config = GCLConfig() if config is None else config
    ppo_config = config.ppo
    check_config(env.spec, ppo_config)
    venv = vectorize(env, ppo_config.num_envs)
    optimizer = optax.adam(config.learning_rate)
    action_size = 0 if config.state_only else env.spec.action_size
    num_actions = env.spec.action_size if env.spec.discrete else 0
    num_updates_cost = config.cost_steps

    def init(key: PRNGKey, demos: Transition | None = None) -> GCLState:
        if demos is None or demos.action is None:
            raise ValueError("demos: guided cost learning needs demonstrations with actions")
        k_learner, k_env, k_cost, key = jax.random.split(key, 4)
        demos = jax.lax.optimization_barrier(demos)
        learner = init_learner(env.spec, ppo_config, k_learner)
        if config.normalize_inputs:
            normalizer = normalizer_from_data(demos.obs)
        else:
            normalizer = normalizer_from_data(jnp.zeros((1, env.spec.observation_size)))
            normalizer = normalizer._replace(var=jnp.ones_like(normalizer.var))
        mlp = MLP(env.spec.observation_size + action_size, 1, config.hidden_sizes, k_cost,
                  activation=config.activation)
        cost = CostNetwork(mlp, normalizer, config.state_only, num_actions)
        opt_state = optimizer.init(eqx.filter(mlp, eqx.is_array))
        zero = jnp.zeros((), jnp.float32)
        return GCLState(learner, cost, opt_state, venv.reset(k_env), mean_episode_length(demos),
                        init_episode_stats(ppo_config.num_envs), key,
                        jnp.zeros((), jnp.int32), {name: zero for name in METRIC_NAMES})

    def cost_step(carry, _, samples, log_probs, ids, demos, demo_length):
        cost, opt_state = carry

        def loss_fn(mlp):
            return gcl_loss(eqx.tree_at(lambda c: c.mlp, cost, mlp), samples, log_probs, ids,
                            demos, demo_length, config.cost_scale, config.l2_coef)

        (_, metrics), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(cost.mlp)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(cost.mlp,
                                                                           eqx.is_array))
        cost = eqx.tree_at(lambda c: c.mlp, cost, eqx.apply_updates(cost.mlp, updates))
        return (cost, opt_state), metrics

    def update(state: GCLState, batch: Transition | None = None) -> GCLState:
        if batch is None or batch.action is None:
            raise ValueError("batch: guided cost learning needs a batch of expert "
                             "transitions with actions; pass demos to jaxil.train")

        def fit_cost(learner, rollout, key):
            del learner, key
            tr = rollout.transitions
            ids = trajectory_ids(tr.terminated | tr.truncated)
            step = lambda carry, x: cost_step(carry, x, tr, rollout.log_probs, ids, batch,
                                              state.demo_length)
            (cost, cost_opt_state), cost_metrics = jax.lax.scan(
                step, (state.cost, state.cost_opt_state), None, length=num_updates_cost)
            rewards = -jax.vmap(jax.vmap(lambda o, a: cost(o, a, config.cost_scale)))(
                tr.obs, tr.action)
            metrics = {**{k: v[-1] for k, v in cost_metrics.items()},
                       "mean_true_reward": jnp.mean(tr.reward)}
            return rewards, (cost, cost_opt_state), metrics

        out = online_round(
            state.key, state.env_state, state.learner, state.episodes,
            **ppo_steps(venv, ppo_config),
            relabel_fn=fit_cost,
            track_fn=track_transitions)
        cost, cost_opt_state = out.extra
        return GCLState(out.learner, cost, cost_opt_state, out.env_state, state.demo_length,
                        out.episodes, out.key, state.step + 1,
                        {k: jnp.asarray(out.metrics[k], jnp.float32) for k in METRIC_NAMES})

    def policy(state: GCLState) -> ActorPolicy:
        return state.learner.policy.with_deterministic(config.deterministic_policy)

    return Algorithm(init, update, policy, env.spec)


def gcl_reward(state: GCLState, config: GCLConfig):
    """The learned reward `-c(obs, action)` as a `jaxil.RewardFn` (`next_obs` unused).

    `config` is the `GCLConfig` the state was trained with: the cost's bound
    `cost_scale` is a setting, not part of the state (a default config here would
    silently rescale the reward of a run with another bound)."""
    return lambda obs, action, next_obs: -state.cost(obs, action, config.cost_scale)
