"""jaxil: functional, pure-JAX imitation learning.

Every method is an `Algorithm(init, update, policy)` of pure functions; `jaxil.train` runs
one as a single `lax.scan`, under `jax.jit` and `jax.vmap`.
"""

from jaxil import algorithms, checkpoint, data, envs, experts, networks, rl
from jaxil.core import Algorithm
from jaxil.evaluation import evaluate, normalized_score
from jaxil.networks import ActorPolicy, EpsilonRandom, RandomPolicy, load_policy, save_policy
from jaxil.rollout import Episodes, rollout_episodes, unroll, unroll_with
from jaxil.sweeps import SweepResult, sweep
from jaxil.training import sample_batch, train
from jaxil.types import Box, Discrete, EnvSpec, Policy, RewardFn, Transition
from jaxil.version import __version__ as __version__

__all__ = [
    "ActorPolicy", "Algorithm", "Box", "Discrete", "EnvSpec", "Episodes", "EpsilonRandom",
    "Policy",
    "RandomPolicy", "RewardFn", "Transition", "algorithms", "checkpoint", "data", "envs",
    "evaluate",
    "experts", "load_policy", "networks", "normalized_score", "rl", "rollout_episodes",
    "sample_batch", "save_policy", "SweepResult", "sweep", "train", "unroll", "unroll_with",
]

from jaxil import tabular  # noqa: E402  (tabular MDPs; registers gridworld/cliff/random_mdp)

__all__ += ["tabular"]

from jaxil import adversarial  # noqa: E402  (the shared GAIL / AIRL / GAIfO / f-GAIL core)

__all__ += ["adversarial"]
