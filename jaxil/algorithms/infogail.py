"""InfoGAIL (Li, Song & Ermon 2017): GAIL with a latent code that separates the modes of
unlabelled demonstrations.

Each episode draws a code `c ~ Uniform{0..K-1}`, kept for the whole episode (the policy
acts in `LatentCode(env, K)`, which appends `one_hot(c)` to the observations and draws a
new code at every reset). The policy is `pi(a | s, c)`; a posterior network `Q(c | s, a)`
is trained by maximum likelihood on the policy's own samples; and the policy's reward is
GAIL's plus `info_coef * (log Q(c | s, a) + H(c))`, a variational lower bound of the
mutual information between the code and the behaviour, `H(c) = log K` (shifted by the
code's entropy so that a posterior that knows nothing adds about nothing).

The information reward is weighted more at first (`info_warmup_coef`, 3 by default, held for
`info_warmup_updates` and then brought linearly to `info_coef` over `info_decay_updates`):
the codes must come to act differently before the discriminator has drawn every code to
the same mode, or they stay on one mode and differ only in details that the posterior can
still tell apart (on `obstacle_nav`, with a constant 0.5, both codes passed on the same side
in 2 of 3 seeds; see `benchmarks/RESULTS.md`, "InfoGAIL with an absorbing state").

Episode ends: one absorbing state per terminal observation (`AdversarialConfig`'s
`absorbing_state=True, absorbing_per_terminal=True`), so that an imitator of demos that end
at a goal also ends there, and neither dawdles nor ends in a failure.

With `code_distribution="uniform"` the code is continuous, `c ~ Uniform([-1, 1]^K)`
(appended as it is), `Q(c | s, a)` is a diagonal Gaussian with a state-dependent mean and
a learned state-independent standard deviation, and `H(c) = K log 2`. The warm-up and the
absorbing state were measured with a categorical code; a continuous one does better
without the absorbing state (`adversarial=tanh_fixed_stats_config()`, the warm-up kept;
`benchmarks/RESULTS.md`, "A continuous code").

The discriminator sees `(s, a)` only, as in GAIL, so each code is free to imitate one
mode: GAIL's (`discriminator="js"`) or WAIL's Wasserstein critic (`"wasserstein"`, the
paper's choice). `adversarial.bc_steps > 0` warm-starts the policy by behavioural cloning
on the demos, each sample with a code drawn at random (the demos have none). Evaluate a
code's behaviour with `LatentCode(env, K, code=c)`.

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
from jaxil.algorithms.wail import wail_method
from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.envs.wrappers import (
    CODE_DISTRIBUTIONS,
    LatentCode,
    append_code,
    draw_codes,
    strip_code,
)
from jaxil.networks.mlp import MLP
from jaxil.rl.ppo import PPOConfig
from jaxil.types import Array, EnvSpec, Metrics, PRNGKey, Transition

DISCRIMINATORS = ("js", "wasserstein")
"""InfoGAIL's discriminators: GAIL's (`"js"`) or WAIL's Wasserstein critic."""

POSTERIOR_METRICS = ("posterior_loss", "posterior_accuracy", "info_reward", "info_weight")
"""The metrics InfoGAIL adds to GAIL's (`posterior_accuracy`: the share of codes `argmax Q`
gets right for a categorical code; the explained variance `1 - MSE / Var(c)` of `Q`'s mean
for a uniform one, `Var(c) = 1/3`; `info_weight`: the information reward's weight this
update)."""


class InfoGAILConfig(eqx.Module):
    """InfoGAIL settings.

    Attributes:
        num_codes: (static) `K`, the number of latent codes (categorical, `>= 2`) or the
            continuous code's dimension (uniform, `>= 1`).
        code_distribution: (static) `"categorical"` (default) or `"uniform"` (see the
            module docstring).
        discriminator: (static) `"js"` (default): GAIL's discriminator, its reward
            `reward`; `"wasserstein"`: WAIL's critic and reward `softplus(v)`
            (`jaxil.algorithms.wail`; give it WGAN-GP's penalty with
            `jaxil.algorithms.wail.wail_adversarial_config()`, as the paper's InfoGAIL
            does, and the absorbing state where episodes end early).
        reward: (static) GAIL's reward of the discriminator (`jaxil.adversarial.GAIL_REWARDS`);
            `"logit"` (both signs) by default, for tasks whose episodes end early. Not
            used by the Wasserstein critic.
        posterior_hidden_sizes: (static) widths of `Q(c | s, a)`.
        posterior_steps: (static) gradient steps of `Q` per update, each on the whole
            rollout.
        info_warmup_updates: (static) updates that weight the information reward by
            `info_warmup_coef` (see the module docstring).
        info_decay_updates: (static) updates after those over which the weight goes
            linearly from `info_warmup_coef` to `info_coef` (`>= 1`).
        info_coef: `lambda`, the weight of the information reward after the warm-up.
        info_warmup_coef: its weight during the warm-up; `None`: `info_coef` throughout.
        posterior_learning_rate: Adam's learning rate for `Q`.
        adversarial: the shared discriminator settings (`AdversarialConfig`; by default
            the tanh discriminator with fixed input statistics it was measured with,
            `tanh_fixed_stats_config`, with one absorbing state per terminal
            observation).
        ppo: the policy optimiser's settings (`PPOConfig`).
    """

    num_codes: int = eqx.field(static=True, default=2)
    code_distribution: str = eqx.field(static=True, default="categorical")
    discriminator: str = eqx.field(static=True, default="js")
    reward: str = eqx.field(static=True, default="logit")
    posterior_hidden_sizes: tuple[int, ...] = eqx.field(static=True, default=(64, 64))
    posterior_steps: int = eqx.field(static=True, default=1)
    info_warmup_updates: int = eqx.field(static=True, default=600)
    info_decay_updates: int = eqx.field(static=True, default=600)
    info_coef: float | Array = 0.5
    info_warmup_coef: float | Array | None = 3.0
    posterior_learning_rate: float | Array = 1e-3
    adversarial: AdversarialConfig = eqx.field(default_factory=lambda: tanh_fixed_stats_config(
        absorbing_state=True, absorbing_per_terminal=True))
    ppo: PPOConfig = eqx.field(default_factory=PPOConfig)

    def __check_init__(self):
        if self.code_distribution not in CODE_DISTRIBUTIONS:
            raise ValueError(f"code_distribution: expected one of {CODE_DISTRIBUTIONS}, got "
                             f"{self.code_distribution!r}")
        if self.discriminator not in DISCRIMINATORS:
            raise ValueError(f"discriminator: expected one of {DISCRIMINATORS}, got "
                             f"{self.discriminator!r}")
        least = 2 if self.code_distribution == "categorical" else 1
        if isinstance(self.num_codes, bool) or not isinstance(self.num_codes, int) or \
                self.num_codes < least:
            raise ValueError(f"num_codes: expected an int >= {least} for a "
                             f"{self.code_distribution} code, got {self.num_codes!r}")
        if self.posterior_steps < 1:
            raise ValueError(f"posterior_steps: expected >= 1, got {self.posterior_steps}")
        if self.info_warmup_updates < 0:
            raise ValueError("info_warmup_updates: expected >= 0, got "
                             f"{self.info_warmup_updates}")
        if self.info_decay_updates < 1:
            raise ValueError("info_decay_updates: expected >= 1, got "
                             f"{self.info_decay_updates}")


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
    updates: Array  # [] int32, updates so far (the information weight's schedule)


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


def info_weight(config: InfoGAILConfig, updates: Array) -> Array:
    """`[]` the information reward's weight after `updates` updates: `info_warmup_coef` for
    `info_warmup_updates`, then linearly to `info_coef` over `info_decay_updates`."""
    if config.info_warmup_coef is None:
        return jnp.asarray(config.info_coef, jnp.float32)
    return optax.linear_schedule(config.info_warmup_coef, config.info_coef,
                                 config.info_decay_updates,
                                 config.info_warmup_updates)(updates)


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
        return PosteriorState(posterior, optimizer.init(eqx.filter(posterior, eqx.is_array)),
                              jnp.zeros((), jnp.int32))

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
        weight = info_weight(config, state.updates)
        info = weight * (jnp.reshape(log_q[0], tr.terminated.shape) + code_entropy(config))
        metrics = {"posterior_loss": loss[0], "posterior_accuracy": accuracy[0],
                   "info_reward": jnp.mean(info), "info_weight": weight}
        return PosteriorState(posterior, opt_state, state.updates + 1), info, metrics

    def acting_demos(demos: Transition, key: PRNGKey) -> Transition:
        # a code drawn per sample: the warm-started policy does what the demos do, whatever
        # its code, and the codes separate the modes afterwards
        code = draw_codes(key, demos.obs.shape[:-1], k, kind)
        return demos._replace(obs=append_code(demos.obs, code, k, kind),
                              next_obs=append_code(demos.next_obs, code, k, kind))

    return Extension(lambda env: acting_env(env, config), disc_view, init, step,
                     POSTERIOR_METRICS, acting_demos)


def infogail(env: Env, config: InfoGAILConfig | None = None) -> Algorithm:
    """InfoGAIL on `env` as an `Algorithm` (see the module docstring).

    The demonstrations are `env`'s (no codes); the policy (`algo.policy(state)`) acts in
    `LatentCode(env, config.num_codes)`: evaluate it with a fixed code there.

    Args:
        env: one environment with a time limit (`jaxil.envs.make(...)`).
        config: the `InfoGAILConfig` (`None`: defaults).
    """
    config = InfoGAILConfig() if config is None else config
    if config.discriminator == "wasserstein":
        method = wail_method("InfoGAIL", "InfoGAILConfig.adversarial")
    else:
        method = gail_method(config)._replace(name="InfoGAIL",
                                              config_path="InfoGAILConfig.adversarial")
    return adversarial(env, method, config.adversarial, config.ppo,
                       info_extension(env.spec, config))
