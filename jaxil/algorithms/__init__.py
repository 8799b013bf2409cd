"""Imitation and IRL algorithms: `jaxil.algorithms.<name>(env, <Name>Config()) -> Algorithm`."""

from jaxil.algorithms.bc import BCConfig, BCState, bc, bc_loss

__all__ = ["BCConfig", "BCState", "bc", "bc_loss"]

# Adversarial imitation (built on jaxil.adversarial).
from jaxil.algorithms.airl import AIRLConfig, airl, airl_reward  # noqa: E402
from jaxil.algorithms.fgail import FGAILConfig, fgail  # noqa: E402
from jaxil.algorithms.gaifo import GAIfOConfig, gaifo  # noqa: E402
from jaxil.algorithms.gail import GAILConfig, gail  # noqa: E402

__all__ += ["AIRLConfig", "FGAILConfig", "GAILConfig", "GAIfOConfig", "airl", "airl_reward",
            "fgail", "gaifo", "gail"]

# Classical IRL on tabular MDPs (built on jaxil.tabular).
from jaxil.algorithms.apprenticeship import (  # noqa: E402
    ApprenticeshipConfig,
    ApprenticeshipState,
    apprenticeship,
)
from jaxil.algorithms.maxent_irl import (  # noqa: E402
    MaxEntIRLConfig,
    MaxEntIRLState,
    maxent_irl,
    maxent_irl_step,
)
from jaxil.algorithms.mwal import MWALConfig, MWALState, mwal  # noqa: E402

__all__ += ["ApprenticeshipConfig", "ApprenticeshipState", "MWALConfig", "MWALState",
            "MaxEntIRLConfig", "MaxEntIRLState", "apprenticeship", "maxent_irl",
            "maxent_irl_step", "mwal"]

# Reinforcement learning (built on jaxil.rl): PPO, used for experts and adversarial IL.
from jaxil.rl.ppo import PPOConfig, PPOState, ppo  # noqa: E402

__all__ += ["PPOConfig", "PPOState", "ppo"]

# Guided cost learning (sample-based MaxEnt IRL; policy improvement with jaxil.rl.ppo).
from jaxil.algorithms.gcl import GCLConfig, GCLState, gcl, gcl_reward  # noqa: E402

__all__ += ["GCLConfig", "GCLState", "gcl", "gcl_reward"]
