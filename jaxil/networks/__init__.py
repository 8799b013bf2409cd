"""Networks: MLP, policy heads returning distrax distributions, value nets, normalisers."""

from jaxil.networks.generative import (  # registers the "diffusion" and "flow" kinds
    DiffusionPolicy,
    FlowPolicy,
    GenerativePolicy,
    noise_schedule,
)
from jaxil.networks.heads import (
    HEAD_KINDS,
    CategoricalHead,
    DeterministicHead,
    Discretised,
    DiscretisedHead,
    GaussianHead,
    MixtureHead,
    entropy,
    mixture_entropy_bound,
    raw_and_bijector,
)
from jaxil.networks.mlp import MLP
from jaxil.networks.multiagent import MultiAgentPolicy, agent_inputs
from jaxil.networks.normalizer import (
    OBS_NORMALIZATIONS,
    NormalizerState,
    init_normalizer,
    normalize,
    normalizer_for,
    normalizer_from_data,
    normalizer_from_range,
    update_normalizer,
)
from jaxil.networks.policy import (
    ActorPolicy,
    EpsilonRandom,
    PolicyArch,
    PolicyNetwork,
    RandomPolicy,
    ValueNetwork,
    make_actor_policy,
    make_policy_network,
    policy_kinds,
    register_policy_network,
)
from jaxil.networks.serialization import load_policy, save_policy

__all__ = [
    "HEAD_KINDS", "MLP", "OBS_NORMALIZATIONS", "ActorPolicy", "CategoricalHead",
    "DeterministicHead", "EpsilonRandom", "GaussianHead",
    "NormalizerState", "PolicyArch", "PolicyNetwork", "RandomPolicy", "ValueNetwork",
    "entropy", "init_normalizer", "load_policy", "make_actor_policy", "make_policy_network",
    "normalize", "normalizer_for", "normalizer_from_data", "normalizer_from_range",
    "policy_kinds", "raw_and_bijector",
    "register_policy_network", "save_policy", "update_normalizer",
]

__all__ += ["DiffusionPolicy", "FlowPolicy", "GenerativePolicy", "noise_schedule"]
__all__ += ["Discretised", "DiscretisedHead", "MixtureHead", "mixture_entropy_bound"]
__all__ += ["MultiAgentPolicy", "agent_inputs"]
