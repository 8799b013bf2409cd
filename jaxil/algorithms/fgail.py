"""f-GAIL: adversarial imitation that minimises a chosen f-divergence (f-GAN family).

The discriminator maximises the variational bound `E_expert[g_f(v)] - E_policy[f*(g_f(v))]`
of `D_f(expert || policy)`, and the policy maximises `f*(g_f(v))` (Nowozin et al. 2016;
Ghasemipour et al. 2019; Zhang et al. 2020). Divergences (`jaxil.adversarial.DIVERGENCES`):
`"js"` (Jensen-Shannon, GAIL's objective), `"gan"` (GAIL exactly), `"forward_kl"`
(KL(expert || policy)), `"reverse_kl"` (KL(policy || expert), AIRL-like), `"pearson"`
(Pearson chi-squared), `"total_variation"` and `"squared_hellinger"`.
"""

from __future__ import annotations

import equinox as eqx

from jaxil.adversarial.divergences import get_divergence
from jaxil.adversarial.rewards import divergence_reward
from jaxil.adversarial.trainer import AdversarialConfig, AdversarialMethod, adversarial
from jaxil.algorithms.gail import gail_logits
from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.rl.ppo import PPOConfig


class FGAILConfig(eqx.Module):
    """f-GAIL settings.

    Attributes:
        divergence: (static) a name in `jaxil.adversarial.DIVERGENCES` (default `"js"`).
        inputs: (static) what the discriminator sees: `"sa"` (default), `"ss"` (state-only,
            GAIfO-style), `"s"` or `"sas"`.
        adversarial: the shared discriminator settings (`AdversarialConfig`).
        ppo: the policy optimiser's settings (`PPOConfig`).
    """

    divergence: str = eqx.field(static=True, default="js")
    inputs: str = eqx.field(static=True, default="sa")
    adversarial: AdversarialConfig = eqx.field(default_factory=AdversarialConfig)
    ppo: PPOConfig = eqx.field(default_factory=PPOConfig)


def fgail_method(config: FGAILConfig) -> AdversarialMethod:
    """f-GAIL as an `AdversarialMethod`: the divergence's loss and reward `f*(g_f(v))`."""
    div = get_divergence(config.divergence)
    return AdversarialMethod(f"f-GAIL ({div.name})", config.inputs, gail_logits,
                             divergence_reward(div), divergence=div,
                             config_path="FGAILConfig.adversarial",
                             per_terminal_default=True)


def fgail(env: Env, config: FGAILConfig | None = None) -> Algorithm:
    """f-GAIL on `env` as an `Algorithm`.

    Args:
        env: one environment with a time limit.
        config: the `FGAILConfig` (`None`: defaults).
    """
    config = FGAILConfig() if config is None else config
    return adversarial(env, fgail_method(config), config.adversarial, config.ppo)
