"""Wasserstein adversarial imitation (WAIL; Xiao et al. 2019): GAIL's discriminator
replaced by a Wasserstein critic, trained with WGAN-GP (Gulrajani et al. 2017).

The critic `v(s, a)` maximises the Kantorovich-Rubinstein dual `mean_E[v] - mean_pi[v]`,
kept about 1-Lipschitz by the penalty `(||grad v|| - 1)^2` on expert-policy interpolates
(`gradient_penalty="interpolate"`, `gp_target=1`, `gp_weight=10`: the defaults of
`WAILConfig`). The policy's reward is `softplus(v)`: the dual fixes `v` only up to a
constant, and a reward of `v` itself then has an arbitrary sign, which decides whether
ending an episode pays (on cartpole, 200 updates, 3 of 16 seeds learned to drop the pole
at once; `benchmarks/RESULTS.md`). `softplus` keeps the critic's order of states and is
positive, as GAIL's `-log(1 - D)` is, so early-ending demos need the absorbing state or
`allow_variable_horizon`, as for GAIL.
"""

from __future__ import annotations

import equinox as eqx
import jax

from jaxil.adversarial.divergences import FDivergence
from jaxil.adversarial.method import tanh_fixed_stats_config
from jaxil.adversarial.rewards import RewardMapping
from jaxil.adversarial.trainer import AdversarialConfig, AdversarialMethod, adversarial
from jaxil.algorithms.gail import gail_logits
from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.rl.ppo import PPOConfig

WASSERSTEIN = FDivergence("wasserstein", lambda v: v, lambda v: v, 0)
"""The critic's loss `mean_pi[v] - mean_E[v]` in the f-GAN form of
`jaxil.adversarial.discriminator_loss` (not an f-divergence: the Wasserstein-1 dual)."""

CRITIC_REWARD = RewardMapping("softplus_critic", jax.nn.softplus, +1)
"""The policy's reward `softplus(v)` (positive; see the module docstring)."""


def wail_adversarial_config() -> AdversarialConfig:
    """`AdversarialConfig` with WGAN-GP's penalty: interpolates, target 1, weight 10, and
    the tanh critic with fixed input statistics it was measured with
    (`tanh_fixed_stats_config`)."""
    return tanh_fixed_stats_config(gradient_penalty="interpolate", gp_target=1.0,
                                   gp_weight=10.0)


class WAILConfig(eqx.Module):
    """WAIL settings: the shared `adversarial` (WGAN-GP penalty) and `ppo` configs."""

    adversarial: AdversarialConfig = eqx.field(default_factory=wail_adversarial_config)
    ppo: PPOConfig = eqx.field(default_factory=PPOConfig)


def wail(env: Env, config: WAILConfig | None = None) -> Algorithm:
    """WAIL on `env` as an `Algorithm` (see `jaxil.adversarial.adversarial`)."""
    config = WAILConfig() if config is None else config
    return adversarial(env, wail_method(), config.adversarial, config.ppo)


def wail_method(name: str = "WAIL", config_path: str = "WAILConfig.adversarial"
                ) -> AdversarialMethod:
    """WAIL as an `AdversarialMethod`: the critic `g(s, a)`, its Wasserstein loss and the
    reward `softplus(v)` (also InfoGAIL's Wasserstein discriminator)."""
    return AdversarialMethod(name, "sa", gail_logits, CRITIC_REWARD, WASSERSTEIN,
                             config_path=config_path, absorbing_default=False)
