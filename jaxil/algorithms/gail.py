"""GAIL, generative adversarial imitation learning (Ho & Ermon 2016).

A discriminator `D(s, a) = sigmoid(g(s, a))` separates expert (label 1) from policy
transitions; PPO maximises a reward of `D`: `-log(1 - D)` by default (always positive:
it favours long episodes when episodes can end early), `log D` (always negative) or the
logit `log D - log(1 - D)` (both signs). Everything else is the shared loop of
`jaxil.adversarial`.
"""

from __future__ import annotations

import equinox as eqx

from jaxil.adversarial.inputs import DiscInputs
from jaxil.adversarial.networks import DiscriminatorNet
from jaxil.adversarial.rewards import LearnedReward, gail_reward
from jaxil.adversarial.trainer import (
    AdversarialConfig,
    AdversarialMethod,
    AdversarialState,
    adversarial,
)
from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.rl.ppo import PPOConfig
from jaxil.types import Array


class GAILConfig(eqx.Module):
    """GAIL settings.

    Attributes:
        reward: (static) `"neg_log_one_minus_d"` (`-log(1 - D)`, default), `"log_d"` or
            `"logit"`; see `jaxil.adversarial.GAIL_REWARDS`.
        adversarial: the shared discriminator settings (`AdversarialConfig`).
        ppo: the policy optimiser's settings (`PPOConfig`).
    """

    reward: str = eqx.field(static=True, default="neg_log_one_minus_d")
    adversarial: AdversarialConfig = eqx.field(default_factory=AdversarialConfig)
    ppo: PPOConfig = eqx.field(default_factory=PPOConfig)


def gail_logits(net: DiscriminatorNet, x: DiscInputs, log_prob: Array, gamma: Array) -> Array:
    """GAIL's logit `g(s, a)` for one sample (`log_prob` and `gamma` unused)."""
    del log_prob, gamma
    return net.reward(x)


def gail_method(config: GAILConfig) -> AdversarialMethod:
    """GAIL as an `AdversarialMethod`: `g(s, a)`, cross-entropy loss, `config.reward`."""
    return AdversarialMethod("GAIL", "sa", gail_logits, gail_reward(config.reward),
                             config_path="GAILConfig.adversarial", per_terminal_default=True)


def gail(env: Env, config: GAILConfig | None = None) -> Algorithm:
    """GAIL on `env` as an `Algorithm` (see `jaxil.adversarial.adversarial`).

    Args:
        env: one environment with a time limit (`jaxil.envs.make(...)`).
        config: the `GAILConfig` (`None`: defaults).
    """
    config = GAILConfig() if config is None else config
    return adversarial(env, gail_method(config), config.adversarial, config.ppo)


def gail_rewards(state: AdversarialState, config: GAILConfig | None = None
                 ) -> dict[str, LearnedReward]:
    """GAIL's learned rewards as standalone `RewardFn`s, with the `imitation` library's
    split: `"train"`, the reward the policy was trained on (`config.reward` of the
    logit: `-log(1 - D)` by default), and `"test"`, the logit `log D - log(1 - D)`.

    Args:
        state: a GAIL `AdversarialState`.
        config: the `GAILConfig` it was trained with (`None`: defaults).
    """
    config = GAILConfig() if config is None else config
    return {"train": LearnedReward(state.discriminator, mapping=gail_reward(config.reward)),
            "test": LearnedReward(state.discriminator)}
