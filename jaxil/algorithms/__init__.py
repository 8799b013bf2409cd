"""Imitation and IRL algorithms: `jaxil.algorithms.<name>(env, <Name>Config()) -> Algorithm`.

- Behavioural cloning: `bc`.
- Interactive imitation by dataset aggregation (on `aggregation`, querying the expert in
  the loop): `dagger`, `dart`.
- Adversarial imitation (on `jaxil.adversarial`): `gail`, `airl`, `gaifo`, `fgail`,
  `lsgail`, `wail`, `infogail`.
- Multi-agent imitation (on `jaxil.rl.mappo`): `magail` (centralised, decentralised and
  zero-sum priors), `independent_gail`, `multiagent_bc`.
- Classical IRL on tabular MDPs (on `jaxil.tabular`): `maxent_irl`, `apprenticeship`, `mwal`.
- Sample-based IRL: `gcl` (guided cost learning).
- Reinforcement learning: `ppo` (experts, and the RL inside adversarial methods and GCL);
  `mappo` (multi-agent PPO, `jaxil.rl.mappo`; not in `ALGORITHMS`: it needs no
  demonstrations, which `jaxil train` requires).

`ALGORITHMS` (from `registry`) names every imitation algorithm with its factory, config
class and needs (an expert to query, a tabular env); `jaxil train` reads it.
"""

from jaxil.algorithms.aggregation import AggregationConfig, AggregationState
from jaxil.algorithms.airl import AIRLConfig, airl, airl_reward, airl_rewards
from jaxil.algorithms.apprenticeship import (
    ApprenticeshipConfig,
    ApprenticeshipState,
    apprenticeship,
)
from jaxil.algorithms.bc import BCConfig, BCState, bc, bc_loss
from jaxil.algorithms.dagger import BETA_SCHEDULES, DAggerConfig, beta_at, dagger
from jaxil.algorithms.dart import DARTConfig, dart, error_covariance
from jaxil.algorithms.fgail import FGAILConfig, fgail
from jaxil.algorithms.gaifo import GAIfOConfig, gaifo
from jaxil.algorithms.gail import GAILConfig, gail, gail_rewards
from jaxil.algorithms.gcl import GCLConfig, GCLState, gcl, gcl_reward
from jaxil.algorithms.infogail import InfoGAILConfig, infogail
from jaxil.algorithms.lsgail import LSGAILConfig, lsgail
from jaxil.algorithms.magail import MAGAILConfig, independent_gail, magail
from jaxil.algorithms.maxent_irl import (
    MaxEntIRLConfig,
    MaxEntIRLState,
    maxent_irl,
    maxent_irl_step,
)
from jaxil.algorithms.multiagent_bc import multiagent_bc
from jaxil.algorithms.mwal import MWALConfig, MWALState, mwal
from jaxil.algorithms.wail import WAILConfig, wail
from jaxil.rl.mappo import MAPPOConfig, mappo
from jaxil.rl.ppo import PPOConfig, PPOState, ppo

__all__ = [
    "BETA_SCHEDULES", "AIRLConfig", "AggregationConfig", "AggregationState",
    "ApprenticeshipConfig", "ApprenticeshipState", "BCConfig", "BCState", "DARTConfig",
    "DAggerConfig", "FGAILConfig", "GAILConfig", "GAIfOConfig", "GCLConfig", "GCLState",
    "InfoGAILConfig", "LSGAILConfig", "MAGAILConfig", "MWALConfig", "MWALState",
    "MaxEntIRLConfig", "MaxEntIRLState", "MAPPOConfig", "PPOConfig", "PPOState", "WAILConfig",
    "airl", "airl_reward", "airl_rewards", "apprenticeship", "bc", "bc_loss", "beta_at",
    "dagger", "dart", "error_covariance", "fgail", "gaifo", "gail", "gail_rewards", "gcl",
    "gcl_reward", "independent_gail", "infogail", "lsgail", "magail", "mappo", "maxent_irl",
    "maxent_irl_step", "multiagent_bc", "mwal", "ppo", "wail",
]

from jaxil.algorithms import registry  # noqa: E402  (ALGORITHMS: name -> factory, config)
from jaxil.algorithms.registry import ALGORITHMS, AlgorithmEntry  # noqa: E402

__all__ += ["ALGORITHMS", "AlgorithmEntry", "registry"]
