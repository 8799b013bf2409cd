"""InfoGAIL (Li, Song & Ermon 2017): GAIL with a latent code that separates the modes of
unlabelled demonstrations.

Each episode draws a code `c ~ Uniform{0..K-1}`, kept for the whole episode (the policy
acts in `LatentCode(env, K)`, which appends `one_hot(c)` to the observations and draws a
new code at every reset). The policy is `pi(a | s, c)`; a posterior network `Q(c | s, a)`
is trained by maximum likelihood on the policy's own samples; and the policy's reward is
GAIL's plus `info_coef * (log Q(c | s, a) + H(c))`, a variational lower bound of the
mutual information between the code and the behaviour, `H(c) = log K` (shifted by the
code's entropy so that a posterior that knows nothing adds about nothing).

With `code_distribution="uniform"` the code is continuous, `c ~ Uniform([-1, 1]^K)`
(appended as it is), `Q(c | s, a)` is a diagonal Gaussian with a state-dependent mean and
a learned state-independent standard deviation, and `H(c) = K log 2`.

The discriminator sees `(s, a)` only, as in GAIL, so each code is free to imitate one
mode. Evaluate a code's behaviour with `LatentCode(env, K, code=c)`.

Built on the shared adversarial loop through an `Extension` (the acting env, what the
discriminator sees, the posterior's step): nothing in `jaxil.adversarial` knows InfoGAIL.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxil.adversarial.method import tanh_fixed_stats_config
from jaxil.adversarial.steps import flatten_leading
from jaxil.adversarial.trainer import AdversarialConfig, Extension, adversarial
from jaxil.algorithms.gail import gail_method
from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.envs.wrappers import CODE_DISTRIBUTIONS, LatentCode, strip_code
from jaxil.networks.mlp import MLP
from jaxil.rl.ppo import PPOConfig
from jaxil.types import Array, EnvSpec, Metrics, PRNGKey, Transition

POSTERIOR_METRICS = ("posterior_loss", "posterior_accuracy", "info_reward")
"""The metrics InfoGAIL adds to GAIL's (`posterior_accuracy`: the share of codes `argmax Q`
gets right for a categorical code; the explained variance `1 - MSE / Var(c)` of `Q`'s mean
for a uniform one, `Var(c) = 1/3`)."""


class InfoGAILConfig(eqx.Module):
    """InfoGAIL settings.

    Attributes:
        num_codes: (static) `K`, the number of latent codes (categorical, `>= 2`) or the
            continuous code's dimension (uniform, `>= 1`).
        code_distribution: (static) `"categorical"` (default) or `"uniform"` (see the
            module docstring).
        reward: (static) GAIL's reward of the discriminator (`jaxil.adversarial.GAIL_REWARDS`);
            `"logit"` (both signs) by default, for tasks whose episodes end early.
        posterior_hidden_sizes: (static) widths of `Q(c | s, a)`.
        posterior_steps: (static) gradient steps of `Q` per update, each on the whole
            rollout.
        info_coef: `lambda`, the weight of the information reward.
        posterior_learning_rate: Adam's learning rate for `Q`.
        adversarial: the shared discriminator settings (`AdversarialConfig`; by default
            the tanh discriminator with fixed input statistics it was measured with,
            `tanh_fixed_stats_config`).
        ppo: the policy optimiser's settings (`PPOConfig`).
    """

    num_codes: int = eqx.field(static=True, default=2)
    code_distribution: str = eqx.field(static=True, default="categorical")
    reward: str = eqx.field(static=True, default="logit")
    posterior_hidden_sizes: tuple[int, ...] = eqx.field(static=True, default=(64, 64))
    posterior_steps: int = eqx.field(static=True, default=1)
    info_coef: float | Array = 0.5
    posterior_learning_rate: float | Array = 1e-3
    adversarial: AdversarialConfig = eqx.field(default_factory=tanh_fixed_stats_config)
    ppo: PPOConfig = eqx.field(default_factory=PPOConfig)

    def __check_init__(self):
        if self.code_distribution not in CODE_DISTRIBUTIONS:
            raise ValueError(f"code_distribution: expected one of {CODE_DISTRIBUTIONS}, got "
                             f"{self.code_distribution!r}")
        least = 2 if self.code_distribution == "categorical" else 1
        if isinstance(self.num_codes, bool) or not isinstance(self.num_codes, int) or \
                self.num_codes < least:
            raise ValueError(f"num_codes: expected an int >= {least} for a "
                             f"{self.code_distribution} code, got {self.num_codes!r}")
        if self.posterior_steps < 1:
            raise ValueError(f"posterior_steps: expected >= 1, got {self.posterior_steps}")


class Posterior(eqx.Module):
    """`Q(c | s, a)` from an observation and an action: logits `[K]` of a categorical code,
    or the mean `[K]` of a Gaussian over a uniform code (its `log_std[K]` is learned)."""

    net: MLP
    log_std: Array | None
    discrete_actions: int = eqx.field(static=True)  # n for Discrete(n), 0 for Box

    def __init__(self, spec: EnvSpec, num_codes: int, hidden_sizes: tuple[int, ...],
                 key: PRNGKey, continuous: bool = False):
        self.discrete_actions = spec.action_space.n if spec.discrete else 0
        self.net = MLP(spec.observation_size + spec.action_size, num_codes, hidden_sizes, key)
        # std 1/sqrt(3) to start: the uniform code's own, so log Q starts near -H(c)
        self.log_std = (jnp.full((num_codes,), -0.5 * jnp.log(3.0), jnp.float32)
                        if continuous else None)

    def __call__(self, obs: Array, action: Array) -> Array:
        if self.discrete_actions:
            action = jax.nn.one_hot(action, self.discrete_actions)
        return self.net(jnp.concatenate([obs, jnp.reshape(action, (-1,))]))


class PosteriorState(NamedTuple):
    posterior: Posterior
    opt_state: optax.OptState


def _posterior_loss(posterior: Posterior, obs: Array, action: Array, code: Array
                    ) -> tuple[Array, tuple[Array, Array]]:
    """Negative log-likelihood of the codes (`[N]` int32, or `[N, K]` for a uniform code),
    with the accuracy (see `POSTERIOR_METRICS`) and the per-sample `log Q(code | obs,
    action)` `[N]`."""
    out = jax.vmap(posterior)(obs, action)
    if posterior.log_std is None:
        log_q = jnp.take_along_axis(jax.nn.log_softmax(out), code[:, None], axis=1)[:, 0]
        accuracy = jnp.mean(jnp.argmax(out, axis=-1) == code)
    else:
        std = jnp.exp(posterior.log_std)
        log_q = jnp.sum(-0.5 * ((code - out) / std) ** 2 - posterior.log_std
                        - 0.5 * jnp.log(2 * jnp.pi), axis=-1)
        accuracy = 1.0 - jnp.mean((code - out) ** 2) * 3.0
    return -jnp.mean(log_q), (accuracy, log_q)


def code_entropy(config: InfoGAILConfig) -> float:
    """`H(c)`: `log K` (categorical) or `K log 2` (uniform on `[-1, 1]^K`)."""
    if config.code_distribution == "categorical":
        return math.log(config.num_codes)
    return config.num_codes * math.log(2.0)


def acting_env(env: Env, config: InfoGAILConfig) -> LatentCode:
    """The environment InfoGAIL's policy acts in: `env` with a code of
    `config.num_codes` (per episode, of `config.code_distribution`)."""
    return LatentCode(env, config.num_codes, distribution=config.code_distribution)


def info_extension(spec: EnvSpec, config: InfoGAILConfig) -> Extension:
    """InfoGAIL's `Extension` of the adversarial loop (see the module docstring)."""
    k, kind = config.num_codes, config.code_distribution
    optimizer = optax.adam(config.posterior_learning_rate)

    def disc_view(tr: Transition) -> Transition:
        return tr._replace(obs=strip_code(tr.obs, k, kind)[0],
                           next_obs=strip_code(tr.next_obs, k, kind)[0])

    def init(key: PRNGKey) -> PosteriorState:
        posterior = Posterior(spec, k, config.posterior_hidden_sizes, key,
                              continuous=kind == "uniform")
        return PosteriorState(posterior, optimizer.init(eqx.filter(posterior, eqx.is_array)))

    def step(state: PosteriorState, tr: Transition, key: PRNGKey
             ) -> tuple[PosteriorState, Array, Metrics]:
        del key
        obs, code = strip_code(tr.obs, k, kind)
        lead = tr.terminated.ndim
        samples = flatten_leading((obs, tr.action, code), lead)

        def one_step(carry, _):
            posterior, opt_state = carry
            (loss, (accuracy, log_q)), grads = eqx.filter_value_and_grad(
                _posterior_loss, has_aux=True)(posterior, *samples)
            updates, opt_state = optimizer.update(grads, opt_state,
                                                  eqx.filter(posterior, eqx.is_array))
            return (eqx.apply_updates(posterior, updates), opt_state), (loss, accuracy, log_q)

        (posterior, opt_state), (loss, accuracy, log_q) = jax.lax.scan(
            one_step, (state.posterior, state.opt_state), None, config.posterior_steps)
        # the reward uses Q before this update's steps (as the discriminator's reward does)
        info = config.info_coef * (jnp.reshape(log_q[0], tr.terminated.shape)
                                   + code_entropy(config))
        metrics = {"posterior_loss": loss[0], "posterior_accuracy": accuracy[0],
                   "info_reward": jnp.mean(info)}
        return PosteriorState(posterior, opt_state), info, metrics

    return Extension(lambda env: acting_env(env, config), disc_view, init, step,
                     POSTERIOR_METRICS)


def infogail(env: Env, config: InfoGAILConfig | None = None) -> Algorithm:
    """InfoGAIL on `env` as an `Algorithm` (see the module docstring).

    The demonstrations are `env`'s (no codes); the policy (`algo.policy(state)`) acts in
    `LatentCode(env, config.num_codes)`: evaluate it with a fixed code there.

    Args:
        env: one environment with a time limit (`jaxil.envs.make(...)`).
        config: the `InfoGAILConfig` (`None`: defaults).
    """
    config = InfoGAILConfig() if config is None else config
    method = gail_method(config)._replace(name="InfoGAIL",
                                          config_path="InfoGAILConfig.adversarial")
    return adversarial(env, method, config.adversarial, config.ppo,
                       info_extension(env.spec, config))
