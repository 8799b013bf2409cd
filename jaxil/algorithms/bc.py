"""Behavioural cloning: maximum likelihood of the expert's actions under the policy.

The loss is the negative log-likelihood for any policy head: cross-entropy for a
categorical head, Gaussian NLL with learned std (tanh-squashed or not) for continuous
heads, and the squared error for a deterministic head; plus optional entropy and L2
regularisation. Observations are normalised with the statistics of the demonstrations.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.networks.heads import DeterministicHead, GaussianHead, entropy
from jaxil.networks.normalizer import init_normalizer, normalize, normalizer_from_data
from jaxil.networks.policy import ActorPolicy, PolicyArch, make_actor_policy
from jaxil.types import Array, Box, Metrics, PRNGKey, Transition

ACTION_EPS = 1e-4  # keeps expert actions strictly inside squashed bounds


class BCConfig(eqx.Module):
    """Behavioural-cloning settings.

    Static (fix shapes): `hidden_sizes`, `head` (see `PolicyArch`), `activation`,
    `state_dependent_std`, `normalize_obs`, `deterministic_policy` (act with the mode).
    Floats (may be arrays, so a config can be vmapped): `learning_rate`, `entropy_coef`,
    `l2_coef`, `max_grad_norm`.
    """

    hidden_sizes: tuple[int, ...] = eqx.field(static=True, default=(64, 64))
    head: str = eqx.field(static=True, default="auto")
    activation: str = eqx.field(static=True, default="tanh")
    state_dependent_std: bool = eqx.field(static=True, default=False)
    normalize_obs: bool = eqx.field(static=True, default=True)
    deterministic_policy: bool = eqx.field(static=True, default=True)
    learning_rate: float | Array = 1e-3
    entropy_coef: float | Array = 0.0
    l2_coef: float | Array = 0.0
    max_grad_norm: float | Array = 10.0


class BCState(NamedTuple):
    """`policy`: the `ActorPolicy` being fitted; `opt_state`; `step` `[]`; `metrics`."""

    policy: ActorPolicy
    opt_state: optax.OptState
    step: Array
    metrics: Metrics


def _clip_to_bounds(actions: Array, head) -> Array:
    space: Box = head.space
    low, high = jnp.asarray(space.low, jnp.float32), jnp.asarray(space.high, jnp.float32)
    margin = ACTION_EPS * (high - low)
    return jnp.clip(actions, low + margin, high - margin)


def l2_penalty(module: eqx.Module) -> Array:
    """Sum of squared weights of all `eqx.nn.Linear` layers (biases excluded)."""
    is_linear = lambda x: isinstance(x, eqx.nn.Linear)
    layers = [x for x in jax.tree.leaves(module, is_leaf=is_linear) if is_linear(x)]
    return sum(jnp.sum(layer.weight**2) for layer in layers)


def bc_loss(policy: ActorPolicy, obs: Array, actions: Array, entropy_coef: Array | float = 0.0,
            l2_coef: Array | float = 0.0) -> tuple[Array, Metrics]:
    """Behavioural-cloning loss of `policy` on a batch.

    Args:
        policy: the `ActorPolicy` (its normaliser is applied to `obs`).
        obs: `[B, obs_dim]` observations.
        actions: `[B]` int (discrete) or `[B, act_dim]` float expert actions.
        entropy_coef: weight of the (negative) mean entropy bonus.
        l2_coef: weight of the L2 penalty on the network's weight matrices.

    Returns:
        `(loss, metrics)` with metrics `nll`, `entropy`, `l2` (all `[]`).
    """
    head = policy.network.head
    if isinstance(head, DeterministicHead):
        pred = jax.vmap(policy.network.mode)(normalize(policy.normalizer, obs))
        nll = jnp.mean(jnp.sum((pred - actions) ** 2, axis=-1))
        ent = jnp.zeros(())
    else:
        if isinstance(head, GaussianHead) and head.squashed:
            actions = _clip_to_bounds(actions, head)

        def log_prob_and_entropy(o, a):  # distributions never leave the vmap
            dist = policy.distribution(o)
            return dist.log_prob(a), entropy(dist)

        log_probs, entropies = jax.vmap(log_prob_and_entropy)(obs, actions)
        nll = -jnp.mean(log_probs)
        ent = jnp.mean(entropies)
    l2 = l2_penalty(policy.network)
    loss = nll - entropy_coef * ent + l2_coef * l2
    return loss, {"loss": loss, "nll": nll, "entropy": ent, "l2": l2}


def bc(env: Env, config: BCConfig = BCConfig()) -> Algorithm:
    """Behavioural cloning as an `Algorithm`.

    `init(key, demos)` builds the policy and, with `normalize_obs`, takes the normaliser's
    statistics from `demos.obs`; `update(state, batch)` takes one optimiser step on the
    `bc_loss` of an expert `Transition` batch `[B, ...]`.
    """
    arch = PolicyArch.for_env(env.spec, hidden_sizes=config.hidden_sizes, head=config.head,
                              activation=config.activation,
                              state_dependent_std=config.state_dependent_std)
    optimizer = optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.adam(config.learning_rate),
    )

    def init(key: PRNGKey, demos: Transition | None = None) -> BCState:
        if config.normalize_obs and demos is not None:
            normalizer = normalizer_from_data(demos.obs)
        else:
            normalizer = init_normalizer(env.spec.observation_size)
        policy = make_actor_policy(arch, key, normalizer)
        params = eqx.filter(policy, eqx.is_array)
        zero = jnp.zeros((), jnp.float32)
        metrics = {"loss": zero, "nll": zero, "entropy": zero, "l2": zero}
        return BCState(policy, optimizer.init(params), jnp.zeros((), jnp.int32), metrics)

    def update(state: BCState, batch: Transition) -> BCState:
        if batch is None or batch.action is None:
            raise ValueError("batch: behavioural cloning needs demonstrations with actions")

        def loss_fn(network):
            p = ActorPolicy(network, state.policy.normalizer)
            return bc_loss(p, batch.obs, batch.action, config.entropy_coef, config.l2_coef)

        (_, metrics), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(
            state.policy.network)
        grads = ActorPolicy(grads, jax.tree.map(jnp.zeros_like, state.policy.normalizer))
        params = eqx.filter(state.policy, eqx.is_array)
        updates, opt_state = optimizer.update(grads, state.opt_state, params)
        policy = eqx.apply_updates(state.policy, updates)
        return BCState(policy, opt_state, state.step + 1, metrics)

    def policy(state: BCState) -> ActorPolicy:
        return state.policy.with_deterministic(config.deterministic_policy)

    return Algorithm(init, update, policy)
