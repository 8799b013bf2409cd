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
from jaxil.rl.episodes import EpisodeStats, init_episode_stats, track_transitions
from jaxil.rl.gae import gae, normalize_advantages
from jaxil.rl.losses import clipped_surrogate_loss, entropy_loss, value_loss
from jaxil.rl.mappo import MAPPOConfig, MultiAgentPolicy, mappo
from jaxil.rl.ppo import (
    PPOConfig,
    PPOLearner,
    PPOState,
    RolloutBatch,
    collect,
    init_learner,
    learn,
    ppo,
)

# What a user composes; the helpers behind them (metric names, optimiser and schedule
# builders, config checks, sampling) stay importable from their modules.
__all__ = [
    "EpisodeStats", "MAPPOConfig", "MultiAgentPolicy", "PPOConfig", "PPOLearner", "PPOState",
    "RolloutBatch", "clipped_surrogate_loss", "collect", "entropy_loss", "gae",
    "init_episode_stats", "init_learner", "learn", "losses", "mappo", "normalize_advantages",
    "ppo", "track_transitions", "value_loss",
]
