"""What the adversarial learning tests share: the cartpole recipe and how a run is scored."""

import jax
import jax.numpy as jnp

import jaxil
from jaxil.adversarial import AdversarialConfig
from jaxil.rl import PPOConfig

# The cartpole recipe the adversarial learning tests share (see `benchmarks/`).
CARTPOLE_PPO = PPOConfig(num_envs=16, rollout_length=64, num_epochs=4, num_minibatches=4,
                         learning_rate=3e-3, entropy_coef=0.01, normalize_obs=False,
                         deterministic_policy=True)
CARTPOLE_ADV = AdversarialConfig(disc_learning_rate=1e-3, gradient_penalty="expert",
                                 gp_weight=3.0)


def expert_normalised(env, policy, expert_return, key=jax.random.key(123)) -> float:
    """Mean return of `policy` over 32 episodes, 0 for a random policy and 1 for the expert."""
    random = jaxil.evaluate(env, jaxil.RandomPolicy(env.spec.action_space), key, 32).mean()
    returns = jaxil.evaluate(env, policy, key, 32)
    return float(jaxil.normalized_score(returns.mean(), random, expert_return))


def all_finite(metrics) -> bool:
    """Every value of every metric is finite."""
    return all(bool(jnp.all(jnp.isfinite(v))) for v in metrics.values())
