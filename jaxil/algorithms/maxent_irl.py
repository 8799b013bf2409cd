"""Maximum (causal) entropy IRL on tabular MDPs (Ziebart et al. 2008; Ziebart 2010).

The expert is modelled as the maximum-causal-entropy policy of a reward `r_theta` (linear in
the MDP's features, or an MLP of them; on states or state-actions, following the features'
shape). Each update runs the backward messages (`soft_value_iteration`: the MCE policy of
the current reward) and the forward messages (`occupancy`), and takes one optimiser step on
the exact gradient of the dual objective (the expert's causal negative log-likelihood)

    L(theta) = E_{s_0}[V_0(s_0)] - <d_E, r_theta>,
    grad L = sum_x (d_pi(x) - d_E(x)) grad r_theta(x)    (x = s or (s, a)),

i.e. the learner's feature expectations minus the expert's for a linear reward. The
expert's occupancy `d_E` is computed once, in `init`, from the demonstrations, or given
exactly as an `Occupancy` in their place (`jaxil.train(algo, key, occupancy, ...)`); the
per-update `batch` is ignored.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.networks.policy import ActorPolicy
from jaxil.tabular.env import occupancy_from_demos, tabular_env
from jaxil.tabular.mdp import TabularMDP
from jaxil.tabular.occupancy import Occupancy, feature_expectations, occupancy, total_variation
from jaxil.tabular.policies import to_actor_policy
from jaxil.tabular.rewards import REWARD_KINDS, RewardModel, make_reward_model
from jaxil.tabular.solvers import soft_value_iteration, value_iteration
from jaxil.types import Array, Metrics, PRNGKey, Transition

OPTIMIZERS = ("adam", "sgd")
METRIC_NAMES = ("loss", "grad_norm", "feature_gap", "occupancy_tv", "occupancy_linf")


class MaxEntIRLConfig(eqx.Module):
    """MaxEnt IRL settings.

    Static: `reward` (`"linear"` or `"mlp"`), `hidden_sizes`, `activation` (MLP reward),
    `optimizer` (`"adam"` or `"sgd"`), `policy` (`"soft"`: `policy(state)` is the MCE
    policy of the learned reward; `"optimal"`: its greedy optimal policy),
    `deterministic_policy` (act with the most likely action), `max_iters` (sweeps of soft
    value iteration, infinite horizon).
    Floats (arrays allowed, so configs vmap): `learning_rate`, `l2_coef` (weight decay on
    the reward parameters), `temperature` (soft value iteration), `tol` (its stopping
    tolerance, infinite horizon).
    """

    reward: str = eqx.field(static=True, default="linear")
    hidden_sizes: tuple[int, ...] = eqx.field(static=True, default=(32, 32))
    activation: str = eqx.field(static=True, default="relu")
    optimizer: str = eqx.field(static=True, default="adam")
    policy: str = eqx.field(static=True, default="soft")
    deterministic_policy: bool = eqx.field(static=True, default=False)
    max_iters: int = eqx.field(static=True, default=1_000)
    learning_rate: float | Array = 0.05
    l2_coef: float | Array = 0.0
    temperature: float | Array = 1.0
    tol: float | Array = 1e-6


class MaxEntIRLState(NamedTuple):
    """MaxEnt IRL state.

    Attributes:
        reward: the learned `RewardModel`; `state.reward(mdp.features)` is the reward table
            `r[S]` or `r[S, A]`.
        opt_state: optimiser state.
        expert: the expert's `Occupancy` (the target).
        values: soft values of the last update (`V[H + 1, S]` or `V[S]`; warm start).
        step: `[]` int32 number of updates.
        metrics: `loss` (dual objective), `grad_norm`, `feature_gap` (`||mu_pi - mu_E||`),
            `occupancy_tv` (total variation of the state-action occupancies),
            `occupancy_linf` (largest difference of the occupancies the reward is on), of
            the policy before the step.
    """

    reward: RewardModel
    opt_state: optax.OptState
    expert: Occupancy
    values: Array
    step: Array
    metrics: Metrics


def make_optimizer(name: str, learning_rate: float | Array) -> optax.GradientTransformation:
    """`optax.adam` or `optax.sgd` with `learning_rate`."""
    if name == "adam":
        return optax.adam(learning_rate)
    if name == "sgd":
        return optax.sgd(learning_rate)
    raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {name!r}")


def expert_occupancy_for(env: Env | TabularMDP, data: Transition | Occupancy | None
                         ) -> Occupancy:
    """The expert occupancy: `data` itself when it is an `Occupancy` (exact), else estimated
    from the flat demonstrations `data` (`jaxil.tabular.occupancy_from_demos`)."""
    if isinstance(data, Occupancy):
        return Occupancy(jnp.asarray(data.state, jnp.float32),
                         jnp.asarray(data.state_action, jnp.float32))
    if data is None:
        raise ValueError("demos: tabular IRL needs demonstrations or the expert's exact "
                         "Occupancy, as jaxil.train's data argument")
    demos = data
    # Demonstrations closed over by a jitted `jaxil.train` are constants: keep XLA from
    # constant-folding the index conversion (slow at compile time).
    if isinstance(demos, Transition):
        demos = jax.lax.optimization_barrier(demos)
    return occupancy_from_demos(env, demos)


def _reward_occupancy(mdp: TabularMDP, occ: Occupancy) -> Array:
    """The occupancy over the reward's domain: `[S]` (state features) or `[S, A]`."""
    return occ.state if mdp.state_features else occ.state_action


def maxent_irl_step(mdp: TabularMDP, reward: RewardModel, expert: Occupancy,
                    temperature: float | Array = 1.0, tol: float | Array = 1e-6,
                    max_iters: int = 1_000, init_values: Array | None = None
                    ) -> tuple[RewardModel, Array, Metrics]:
    """Backward and forward messages and the exact MaxEnt IRL gradient of `reward`.

    Args:
        mdp: the MDP (its `features` are the reward model's input).
        reward: the current reward model.
        expert: the expert's occupancy.
        temperature, tol, max_iters, init_values: passed to `soft_value_iteration`.

    Returns:
        `(grads, values, metrics)`: the gradient of the dual objective w.r.t. the reward
        model (a pytree like `reward`), the soft values, and the metrics (`grad_norm` not
        included).
    """
    r = reward(mdp.features)
    sol = soft_value_iteration(mdp, jax.lax.stop_gradient(r), temperature=temperature,
                               tol=tol, max_iters=max_iters, init_values=init_values)
    occ = occupancy(mdp, sol.policy)
    d_pi, d_e = _reward_occupancy(mdp, occ), _reward_occupancy(mdp, expert)
    diff = jax.lax.stop_gradient(d_pi - d_e)
    grads = eqx.filter_grad(lambda model: jnp.sum(diff * model(mdp.features)))(reward)
    v0 = sol.values[0] if mdp.horizon is not None else sol.values
    metrics = {
        "loss": mdp.initial @ v0 - jnp.sum(d_e * jax.lax.stop_gradient(r)),
        "feature_gap": jnp.linalg.norm(feature_expectations(mdp, occ)
                                       - feature_expectations(mdp, expert)),
        "occupancy_tv": total_variation(occ.state_action, expert.state_action),
        "occupancy_linf": jnp.max(jnp.abs(d_pi - d_e)),
    }
    return grads, sol.values, metrics


def maxent_irl(env: Env | TabularMDP, config: MaxEntIRLConfig | None = None) -> Algorithm:
    """MaxEnt IRL as an `Algorithm` on a tabular env (or a bare `TabularMDP`).

    Args:
        env: a tabular env (`jaxil.envs.make("gridworld")`, a `TabularEnv`, possibly
            wrapped) or a `TabularMDP` (may be traced: build the algorithm inside `vmap` to
            learn a batch of MDPs at once).
        config: `MaxEntIRLConfig`.

    Returns:
        `Algorithm(init, update, policy)`: `init(key, data)` takes the expert's exact
        `Occupancy`, or estimates it from flat demonstrations
        (`jaxil.tabular.occupancy_from_demos`), and builds the reward model (both come
        through `jaxil.train(algo, key, data, ...)`); `update(state, batch)` is one exact
        gradient step (`batch` is ignored); `policy(state)` is an `ActorPolicy` that acts
        exactly like the table (`jaxil.tabular.to_actor_policy`;
        `jaxil.tabular.policy_table` reads it back).
    """
    config = MaxEntIRLConfig() if config is None else config
    base = tabular_env(env)
    mdp = env if isinstance(env, TabularMDP) else base.mdp
    optimizer = make_optimizer(config.optimizer, config.learning_rate)
    if config.reward not in REWARD_KINDS:
        raise ValueError(f"reward: expected one of {REWARD_KINDS}, got {config.reward!r}")
    if config.policy not in ("soft", "optimal"):
        raise ValueError(f"policy: expected 'soft' or 'optimal', got {config.policy!r}")

    def solve(reward: RewardModel, init_values: Array | None = None):
        return soft_value_iteration(mdp, reward(mdp.features), temperature=config.temperature,
                                    tol=config.tol, max_iters=config.max_iters,
                                    init_values=init_values)

    def init(key: PRNGKey, data: Transition | Occupancy | None = None) -> MaxEntIRLState:
        expert = expert_occupancy_for(base, data)
        reward = make_reward_model(config.reward, mdp.num_features, key, config.hidden_sizes,
                                   config.activation)
        opt_state = optimizer.init(eqx.filter(reward, eqx.is_array))
        values = jnp.zeros_like(solve(reward).values)
        metrics = {name: jnp.zeros((), jnp.float32) for name in METRIC_NAMES}
        return MaxEntIRLState(reward, opt_state, expert, values, jnp.zeros((), jnp.int32),
                              metrics)

    def update(state: MaxEntIRLState, batch: Transition | None = None) -> MaxEntIRLState:
        del batch  # the expert occupancy is exact (or estimated once, in init)
        warm = None if mdp.horizon is not None else state.values
        grads, values, metrics = maxent_irl_step(mdp, state.reward, state.expert,
                                                 config.temperature, config.tol,
                                                 config.max_iters, warm)
        params = eqx.filter(state.reward, eqx.is_array)
        grads = jax.tree.map(lambda g, p: g + config.l2_coef * p, grads, params)
        updates, opt_state = optimizer.update(grads, state.opt_state, params)
        reward = eqx.apply_updates(state.reward, updates)
        metrics = {**metrics, "grad_norm": optax.global_norm(grads)}
        return MaxEntIRLState(reward, opt_state, state.expert, values, state.step + 1,
                              {name: metrics[name] for name in METRIC_NAMES})

    def policy(state: MaxEntIRLState) -> ActorPolicy:
        r = state.reward(mdp.features)
        if config.policy == "optimal":
            probs = value_iteration(mdp, r, tol=config.tol, max_iters=config.max_iters).policy
        else:
            probs = solve(state.reward).policy
        return to_actor_policy(base, probs, config.deterministic_policy)

    return Algorithm(init, update, policy, getattr(env, "spec", None))
