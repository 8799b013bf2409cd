"""Reinforcement learning used by experts and adversarial imitation: GAE and PPO.

- `gae`: generalised advantages over `[T, B]` rollouts (bootstraps through truncation,
  not through termination).
- `losses`: PPO's pure losses (`clipped_surrogate_loss`, `value_loss`, `entropy_loss`).
- `ppo`: `PPOConfig`, the reusable pieces (`init_learner`, `collect`, `learn`) and the
  `ppo(env, config) -> Algorithm` factory.
- `mappo`: multi-agent PPO on PPO's pieces (`MAPPOConfig`, `MultiAgentPolicy`,
  `mappo(env, config) -> Algorithm`), agents folded into the batch.
- `episodes`: episode-return tracking inside training rollouts (learning curves).
"""

from jaxil.rl import losses
from jaxil.rl.episodes import EpisodeStats, init_episode_stats, track_episodes, track_transitions
from jaxil.rl.gae import gae, normalize_advantages
from jaxil.rl.losses import (
    approx_kl,
    clip_fraction,
    clipped_surrogate_loss,
    entropy_loss,
    value_loss,
)
from jaxil.rl.mappo import MAPPOConfig, MultiAgentPolicy, mappo
from jaxil.rl.ppo import (
    EPISODE_METRICS,
    LEARN_METRICS,
    PPOConfig,
    PPOLearner,
    PPOState,
    RolloutBatch,
    check_config,
    collect,
    init_learner,
    learn,
    learning_rate_schedule,
    log_prob_and_entropy,
    make_optimizer,
    policy_arch,
    ppo,
    sample_action,
    zero_metrics,
)

__all__ = [
    "EPISODE_METRICS", "EpisodeStats", "LEARN_METRICS", "MAPPOConfig", "MultiAgentPolicy",
    "PPOConfig", "PPOLearner", "PPOState",
    "RolloutBatch", "approx_kl", "check_config", "clip_fraction", "clipped_surrogate_loss",
    "collect", "entropy_loss", "gae", "init_episode_stats", "init_learner", "learn",
    "learning_rate_schedule", "log_prob_and_entropy", "losses", "make_optimizer", "mappo",
    "normalize_advantages", "policy_arch", "ppo", "sample_action", "track_episodes",
    "track_transitions", "value_loss", "zero_metrics",
]
