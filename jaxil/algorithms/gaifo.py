"""GAIfO, generative adversarial imitation from observation (Torabi et al. 2018).

GAIL with a state-only discriminator `D(s, s')`: demonstrations without actions are
accepted (`Demos.actions = None`). Rewards as GAIL's (`-log(1 - D)` by default).
"""

from __future__ import annotations

import equinox as eqx

from jaxil.adversarial.rewards import gail_reward
from jaxil.adversarial.trainer import AdversarialConfig, AdversarialMethod, adversarial
from jaxil.algorithms.gail import gail_logits
from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.rl.ppo import PPOConfig


class GAIfOConfig(eqx.Module):
    """GAIfO settings.

    Attributes:
        reward: (static) as `GAILConfig.reward`.
        adversarial: the shared discriminator settings (`AdversarialConfig`; a BC warm
            start needs demos with actions).
        ppo: the policy optimiser's settings (`PPOConfig`).
    """

    reward: str = eqx.field(static=True, default="neg_log_one_minus_d")
    adversarial: AdversarialConfig = eqx.field(default_factory=AdversarialConfig)
    ppo: PPOConfig = eqx.field(default_factory=PPOConfig)


def gaifo_method(config: GAIfOConfig) -> AdversarialMethod:
    """GAIfO as an `AdversarialMethod`: `g(s, s')`, cross-entropy loss, `config.reward`."""
    return AdversarialMethod("GAIfO", "ss", gail_logits, gail_reward(config.reward),
                             config_path="GAIfOConfig.adversarial", per_terminal_default=True)


def gaifo(env: Env, config: GAIfOConfig | None = None) -> Algorithm:
    """GAIfO on `env` as an `Algorithm`; demos may be state-only.

    Args:
        env: one environment with a time limit.
        config: the `GAIfOConfig` (`None`: defaults).
    """
    config = GAIfOConfig() if config is None else config
    return adversarial(env, gaifo_method(config), config.adversarial, config.ppo)
