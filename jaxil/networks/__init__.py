"""Networks: MLP, policy heads returning distrax distributions, value nets, normalisers."""

from jaxil.networks.heads import (
    HEAD_KINDS,
    CategoricalHead,
    DeterministicHead,
    GaussianHead,
    entropy,
    raw_and_bijector,
)
from jaxil.networks.mlp import MLP
from jaxil.networks.normalizer import (
    NormalizerState,
    init_normalizer,
    normalize,
    normalizer_from_data,
    update_normalizer,
)
from jaxil.networks.policy import (
    ActorPolicy,
    PolicyArch,
    PolicyNetwork,
    RandomPolicy,
    ValueNetwork,
    make_actor_policy,
)
from jaxil.networks.serialization import load_policy, save_policy

__all__ = [
    "HEAD_KINDS", "MLP", "ActorPolicy", "CategoricalHead", "DeterministicHead", "GaussianHead",
    "NormalizerState", "PolicyArch", "PolicyNetwork", "RandomPolicy", "ValueNetwork",
    "entropy", "init_normalizer", "load_policy", "make_actor_policy", "normalize",
    "normalizer_from_data", "raw_and_bijector", "save_policy", "update_normalizer",
]
