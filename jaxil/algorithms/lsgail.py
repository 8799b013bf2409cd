"""Least-squares GAIL: GAIL's discriminator trained with the least-squares loss of LSGAN
(Mao et al. 2017) instead of the cross-entropy.

The discriminator's output `v(s, a)` regresses to `+1` on expert samples and `-1` on the
policy's, `loss = mean_E[(v - 1)^2] / 2 + mean_pi[(v + 1)^2] / 2`, whose optimum is
`v* = (rho_E - rho_pi) / (rho_E + rho_pi)`; the policy's reward is the policy term,
`(v + 1)^2 / 2` (`= 2 D^2` at the optimum, with `D = rho_E / (rho_E + rho_pi)`; positive,
so early-ending demos need the absorbing state, as GAIL's default reward does). The loss
has no log or sigmoid to saturate: its gradient grows with the error.
"""

from __future__ import annotations

import equinox as eqx

from jaxil.adversarial.divergences import FDivergence
from jaxil.adversarial.rewards import divergence_reward
from jaxil.adversarial.trainer import AdversarialConfig, AdversarialMethod, adversarial
from jaxil.algorithms.gail import gail_logits
from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.rl.ppo import PPOConfig

LEAST_SQUARES = FDivergence("least_squares", lambda v: -0.5 * (v - 1.0) ** 2,
                            lambda v: 0.5 * (v + 1.0) ** 2, +1)
"""The LSGAN loss in the f-GAN form `mean_pi[f*(g(v))] - mean_E[g(v)]` of
`jaxil.adversarial.discriminator_loss` (not an f-divergence: a least-squares fit)."""


class LSGAILConfig(eqx.Module):
    """Least-squares GAIL settings: the shared `adversarial` and `ppo` configs."""

    adversarial: AdversarialConfig = eqx.field(default_factory=AdversarialConfig)
    ppo: PPOConfig = eqx.field(default_factory=PPOConfig)


def lsgail(env: Env, config: LSGAILConfig | None = None) -> Algorithm:
    """Least-squares GAIL on `env` as an `Algorithm` (see `jaxil.adversarial.adversarial`)."""
    config = LSGAILConfig() if config is None else config
    method = AdversarialMethod("LS-GAIL", "sa", gail_logits, divergence_reward(LEAST_SQUARES),
                               LEAST_SQUARES, config_path="LSGAILConfig.adversarial")
    return adversarial(env, method, config.adversarial, config.ppo)
