"""InfoGAIL (Li, Song & Ermon 2017): GAIL with a latent code that separates the modes of
unlabelled demonstrations.

Each episode draws a code `c ~ Uniform{0..K-1}`, kept for the whole episode (the policy
acts in `LatentCode(env, K)`, which appends `one_hot(c)` to the observations and draws a
new code at every reset). The policy is `pi(a | s, c)`; a posterior network `Q(c | s, a)`
is trained by maximum likelihood on the policy's own samples; and the policy's reward is
GAIL's plus `info_coef * (log Q(c | s, a) + log K)`, a variational lower bound of the
mutual information between the code and the behaviour (shifted by the constant `log K` so
that a posterior that knows nothing adds nothing). The discriminator sees `(s, a)` only,
as in GAIL, so each code is free to imitate one mode. Evaluate a code's behaviour with
`LatentCode(env, K, code=c)`.

Built on the shared adversarial loop through an `Extension` (the acting env, what the
discriminator sees, the posterior's step): nothing in `jaxil.adversarial` knows InfoGAIL.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxil.adversarial.steps import flatten_leading
from jaxil.adversarial.trainer import AdversarialConfig, Extension, adversarial
from jaxil.algorithms.gail import gail_method
from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.envs.wrappers import LatentCode, strip_code
from jaxil.networks.mlp import MLP
from jaxil.rl.ppo import PPOConfig
from jaxil.types import Array, EnvSpec, Metrics, PRNGKey, Transition

POSTERIOR_METRICS = ("posterior_loss", "posterior_accuracy", "info_reward")
"""The metrics InfoGAIL adds to GAIL's."""


class InfoGAILConfig(eqx.Module):
    """InfoGAIL settings.

    Attributes:
        num_codes: (static) `K`, the number of latent codes (categorical).
        reward: (static) GAIL's reward of the discriminator (`jaxil.adversarial.GAIL_REWARDS`);
            `"logit"` (both signs) by default, for tasks whose episodes end early.
        posterior_hidden_sizes: (static) widths of `Q(c | s, a)`.
        posterior_steps: (static) gradient steps of `Q` per update, each on the whole
            rollout.
        info_coef: `lambda`, the weight of the information reward.
        posterior_learning_rate: Adam's learning rate for `Q`.
        adversarial: the shared discriminator settings (`AdversarialConfig`).
        ppo: the policy optimiser's settings (`PPOConfig`).
    """

    num_codes: int = eqx.field(static=True, default=2)
    reward: str = eqx.field(static=True, default="logit")
    posterior_hidden_sizes: tuple[int, ...] = eqx.field(static=True, default=(64, 64))
    posterior_steps: int = eqx.field(static=True, default=1)
    info_coef: float | Array = 0.5
    posterior_learning_rate: float | Array = 1e-3
    adversarial: AdversarialConfig = eqx.field(default_factory=AdversarialConfig)
    ppo: PPOConfig = eqx.field(default_factory=PPOConfig)

    def __check_init__(self):
        if isinstance(self.num_codes, bool) or not isinstance(self.num_codes, int) or \
                self.num_codes < 2:
            raise ValueError(f"num_codes: expected an int >= 2, got {self.num_codes!r}")
        if self.posterior_steps < 1:
            raise ValueError(f"posterior_steps: expected >= 1, got {self.posterior_steps}")


class Posterior(eqx.Module):
    """`Q(c | s, a)`: logits `[K]` of the code from an observation and an action."""

    net: MLP
    discrete_actions: int = eqx.field(static=True)  # n for Discrete(n), 0 for Box

    def __init__(self, spec: EnvSpec, num_codes: int, hidden_sizes: tuple[int, ...],
                 key: PRNGKey):
        self.discrete_actions = spec.action_space.n if spec.discrete else 0
        self.net = MLP(spec.observation_size + spec.action_size, num_codes, hidden_sizes, key)

    def __call__(self, obs: Array, action: Array) -> Array:
        if self.discrete_actions:
            action = jax.nn.one_hot(action, self.discrete_actions)
        return self.net(jnp.concatenate([obs, jnp.reshape(action, (-1,))]))


class PosteriorState(NamedTuple):
    posterior: Posterior
    opt_state: optax.OptState


def _posterior_loss(posterior: Posterior, obs: Array, action: Array, code: Array
                    ) -> tuple[Array, tuple[Array, Array]]:
    """Negative log-likelihood of the codes `[N]`, with the accuracy of `argmax Q` and the
    per-sample `log Q(code | obs, action)` `[N]`."""
    logits = jax.vmap(posterior)(obs, action)
    log_q = jnp.take_along_axis(jax.nn.log_softmax(logits), code[:, None], axis=1)[:, 0]
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == code)
    return -jnp.mean(log_q), (accuracy, log_q)


def acting_env(env: Env, config: InfoGAILConfig) -> LatentCode:
    """The environment InfoGAIL's policy acts in: `env` with a code of
    `config.num_codes` per episode."""
    return LatentCode(env, config.num_codes)


def info_extension(spec: EnvSpec, config: InfoGAILConfig) -> Extension:
    """InfoGAIL's `Extension` of the adversarial loop (see the module docstring)."""
    k = config.num_codes
    optimizer = optax.adam(config.posterior_learning_rate)

    def disc_view(tr: Transition) -> Transition:
        return tr._replace(obs=strip_code(tr.obs, k)[0], next_obs=strip_code(tr.next_obs, k)[0])

    def init(key: PRNGKey) -> PosteriorState:
        posterior = Posterior(spec, k, config.posterior_hidden_sizes, key)
        return PosteriorState(posterior, optimizer.init(eqx.filter(posterior, eqx.is_array)))

    def step(state: PosteriorState, tr: Transition, key: PRNGKey
             ) -> tuple[PosteriorState, Array, Metrics]:
        del key
        obs, code = strip_code(tr.obs, k)
        samples = flatten_leading((obs, tr.action, code), code.ndim)

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
        info = config.info_coef * (jnp.reshape(log_q[0], code.shape) + jnp.log(k))
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
