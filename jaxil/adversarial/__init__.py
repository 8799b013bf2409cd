"""The shared adversarial-imitation core that GAIL, AIRL, GAIfO and f-GAIL are built from.

- `inputs`: features of `(s, a, s')` for the discriminator, the absorbing state, the
  variable-horizon check.
- `networks`: `DiscriminatorNet` (`g` on `s`, `sa`, `ss` or `sas`, and AIRL's potential
  `h`) and `Discriminator` (the net with its input normaliser).
- `divergences`: the f-divergence table (`DIVERGENCES`): output activation and conjugate.
- `losses`: `discriminator_loss` (expert labelled 1), `gradient_penalty` (NaN-safe).
- `rewards`: reward mappings from logits (`GAIL_REWARDS`, `divergence_reward`) and
  `LearnedReward`, a trained `g` as a standalone reward function.
- `method`: `AdversarialMethod` (what differs between methods) and `AdversarialConfig`
  (the discriminator settings they share).
- `steps`: the pure pieces of a round: `relabel`, `discriminator_objective`,
  `train_discriminator`, `policy_samples`.
- `trainer`: `adversarial(env, method, config, ppo_config, extension=None) -> Algorithm`
  (the one update loop that orchestrates them; an `Extension` adds an acting env, a
  discriminator view and networks of its own, as InfoGAIL's latent code and posterior)
  and `reward_transfer`.

A new adversarial method is an `AdversarialMethod`: a logits function and a reward mapping.
"""

from jaxil.adversarial.divergences import DIVERGENCES, FDivergence
from jaxil.adversarial.inputs import DiscInputs
from jaxil.adversarial.losses import discriminator_loss, gradient_penalty
from jaxil.adversarial.method import tanh_fixed_stats_config
from jaxil.adversarial.networks import Discriminator, DiscriminatorNet
from jaxil.adversarial.rewards import GAIL_REWARDS, LearnedReward, RewardMapping
from jaxil.adversarial.trainer import (
    AdversarialConfig,
    AdversarialMethod,
    AdversarialState,
    Extension,
    adversarial,
    reward_transfer,
)

# What a user composes or extends; the pieces behind them (input builders, the horizon
# check, option tables, metric names, numerically safe helpers) stay importable from
# their modules.
__all__ = [
    "DIVERGENCES", "GAIL_REWARDS", "AdversarialConfig", "AdversarialMethod",
    "AdversarialState", "DiscInputs", "Discriminator", "DiscriminatorNet", "Extension",
    "FDivergence", "LearnedReward", "RewardMapping", "adversarial", "discriminator_loss",
    "gradient_penalty", "reward_transfer", "tanh_fixed_stats_config",
]
