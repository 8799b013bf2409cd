"""The shared adversarial-imitation core that GAIL, AIRL, GAIfO and f-GAIL are built from.

- `inputs`: features of `(s, a, s')` for the discriminator, the absorbing state, the
  variable-horizon check.
- `networks`: `DiscriminatorNet` (`g` on `s`, `sa`, `ss` or `sas`, and AIRL's potential
  `h`) and `Discriminator` (the net with its fixed input normaliser).
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

from jaxil.adversarial.divergences import DIVERGENCES, FDivergence, get_divergence
from jaxil.adversarial.inputs import DiscInputs, check_horizon, make_inputs
from jaxil.adversarial.losses import (
    GP_KINDS,
    discriminator_loss,
    gradient_penalty,
    safe_norm,
    weighted_mean,
)
from jaxil.adversarial.networks import (
    INPUT_KINDS,
    Discriminator,
    DiscriminatorNet,
    make_discriminator,
)
from jaxil.adversarial.rewards import (
    GAIL_REWARDS,
    LearnedReward,
    RewardMapping,
    divergence_reward,
    gail_reward,
)
from jaxil.adversarial.trainer import (
    DISC_METRICS,
    AdversarialConfig,
    AdversarialMethod,
    AdversarialState,
    Extension,
    TransferState,
    action_log_probs,
    adversarial,
    bc_warm_start,
    reward_transfer,
)

__all__ = [
    "DISC_METRICS", "DIVERGENCES", "GAIL_REWARDS", "GP_KINDS", "INPUT_KINDS",
    "AdversarialConfig", "AdversarialMethod", "AdversarialState", "DiscInputs",
    "Discriminator", "DiscriminatorNet", "Extension", "FDivergence", "LearnedReward",
    "RewardMapping",
    "TransferState", "action_log_probs", "adversarial", "bc_warm_start", "check_horizon",
    "discriminator_loss", "divergence_reward", "gail_reward", "get_divergence",
    "gradient_penalty", "make_discriminator", "make_inputs", "reward_transfer", "safe_norm",
    "weighted_mean",
]
