"""AIRL, adversarial inverse reinforcement learning (Fu et al. 2018).

The discriminator is `D = exp f / (exp f + pi(a | s))`, so its logit is
`f(s, a, s') - log pi(a | s)`, with the shaped reward

    f(s, a, s') = g(s) + gamma * (1 - terminated) * h(s') - h(s)

(`g` on `(s, a)` as an option). The policy's reward is the logit, `f - log pi(a | s)`.
The learned `g` is the disentangled reward: `airl_reward(state)` exports it as a
standalone `RewardFn` that `jaxil.adversarial.reward_transfer` optimises with PPO from
scratch. `gamma` is `config.ppo.gamma`.
"""

from __future__ import annotations

import equinox as eqx

from jaxil.adversarial.inputs import DiscInputs
from jaxil.adversarial.networks import DiscriminatorNet
from jaxil.adversarial.rewards import LearnedReward, RewardMapping
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

AIRL_REWARD = RewardMapping("f_minus_log_pi", lambda v: v, 0)
"""AIRL's policy reward: the logit `f - log pi(a | s)` (takes both signs)."""


class AIRLConfig(eqx.Module):
    """AIRL settings.

    Attributes:
        reward_inputs: (static) what `g` sees: `"s"` (state-only, default: the reward
            that transfers across dynamics) or `"sa"`.
        adversarial: the shared discriminator settings (`AdversarialConfig`; `hidden_sizes`
            is used for both `g` and `h`).
        ppo: the policy optimiser's settings (`PPOConfig`). AIRL's rewards are logits (up
            to `reward_clip` a step, twice that once centred on the absorbing state's): on
            long episodes scale them, e.g.
            `PPOConfig(reward_scale=0.1)`, or the value network lags and learning stalls
            (see `benchmarks/adversarial_brax.py`).
    """

    reward_inputs: str = eqx.field(static=True, default="s")
    adversarial: AdversarialConfig = eqx.field(default_factory=AdversarialConfig)
    ppo: PPOConfig = eqx.field(default_factory=PPOConfig)


def airl_logits(net: DiscriminatorNet, x: DiscInputs, log_prob: Array, gamma: Array
                ) -> Array:
    """AIRL's logit `g + gamma (1 - terminated) h(s') - h(s) - log pi(a | s)`, one sample."""
    f = net.reward(x) + gamma * x.continuing * net.potential(x.next_obs) - net.potential(x.obs)
    return f - log_prob


def airl_method(config: AIRLConfig) -> AdversarialMethod:
    """AIRL as an `AdversarialMethod`."""
    if config.reward_inputs not in ("s", "sa"):
        raise ValueError(f"AIRLConfig.reward_inputs: expected 's' or 'sa', "
                         f"got {config.reward_inputs!r}")
    return AdversarialMethod("AIRL", config.reward_inputs, airl_logits, AIRL_REWARD,
                             shaping=True, uses_log_prob=True,
                             config_path="AIRLConfig.adversarial")


def airl(env: Env, config: AIRLConfig | None = None) -> Algorithm:
    """AIRL on `env` as an `Algorithm`.

    Args:
        env: one environment with a time limit.
        config: the `AIRLConfig` (`None`: defaults).
    """
    config = AIRLConfig() if config is None else config
    return adversarial(env, airl_method(config), config.adversarial, config.ppo)


def airl_rewards(state: AdversarialState, config: AIRLConfig | None = None
                 ) -> dict[str, LearnedReward]:
    """AIRL's learned rewards as standalone `RewardFn`s: `"unshaped"`, the disentangled
    `g` (what transfers to new dynamics; `airl_reward`), and `"shaped"`, `g(s, a) +
    gamma h(s') - h(s)` with the training discount (the `imitation` library's
    `reward_train`).

    Args:
        state: an AIRL `AdversarialState`.
        config: the `AIRLConfig` it was trained with (`None`: defaults), for `gamma`.
    """
    config = AIRLConfig() if config is None else config
    return {"unshaped": LearnedReward(state.discriminator),
            "shaped": LearnedReward(state.discriminator, shaped=True,
                                    gamma=config.ppo.gamma)}


def airl_reward(state: AdversarialState) -> LearnedReward:
    """The learned reward `g` of an AIRL state, as a standalone `RewardFn`.

    `reward(obs, action, next_obs) -> []`; optimise it from scratch with
    `jaxil.adversarial.reward_transfer(env, reward, ppo_config)`.
    """
    return LearnedReward(state.discriminator)
