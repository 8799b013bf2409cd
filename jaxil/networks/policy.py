"""Policy and value networks, and `ActorPolicy`, the `Policy` that algorithms return."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import distrax
import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.networks.heads import (
    HEAD_KINDS,
    HEAD_OPTIONS,
    CategoricalHead,
    DeterministicHead,
    DiscretisedHead,
    GaussianHead,
    Head,
    MixtureHead,
    inside_squashed_bounds,
)
from jaxil.networks.mlp import MLP
from jaxil.networks.normalizer import NormalizerState, init_normalizer, normalize
from jaxil.types import Array, Box, Discrete, EnvSpec, PRNGKey


@dataclasses.dataclass(frozen=True)
class PolicyArch:
    """Everything needed to rebuild a policy network (saved next to its weights).

    Attributes:
        observation_size: length of the observation vector.
        action_space: `Discrete` or `Box`.
        hidden_sizes: torso widths.
        head: one of `HEAD_KINDS`, or `"auto"` (categorical for discrete actions,
            tanh-squashed Gaussian for continuous ones).
        activation: torso activation name.
        state_dependent_std: Gaussian heads only: std is an output of the torso.
        init_std: Gaussian and mixture heads: initial standard deviation (pre-squash).
        head_options: head-specific settings as `(name, value)` pairs of JSON scalars
            (e.g. `(("num_components", 5),)` for a mixture); see each head's docstring.
    """

    observation_size: int
    action_space: Discrete | Box
    hidden_sizes: tuple[int, ...] = (64, 64)
    head: str = "auto"
    activation: str = "tanh"
    state_dependent_std: bool = False
    init_std: float = 1.0
    head_options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str, default: Any) -> Any:
        """The head option `name`, or `default` when it is not set."""
        return dict(self.head_options).get(name, default)

    @property
    def head_kind(self) -> str:
        if self.head == "auto":
            return "categorical" if isinstance(self.action_space, Discrete) else "tanh_gaussian"
        return self.head

    @classmethod
    def for_env(cls, spec: EnvSpec, **kwargs) -> PolicyArch:
        return cls(spec.observation_size, spec.action_space, **kwargs)


def _make_head(arch: PolicyArch) -> Head:
    kind = arch.head_kind
    if kind not in HEAD_KINDS:
        raise ValueError(f"head: expected 'auto' or one of {policy_kinds()}, got {kind!r}")
    discrete = isinstance(arch.action_space, Discrete)
    if (kind == "categorical") != discrete:
        raise ValueError(f"head: {kind!r} does not fit the action space {arch.action_space}")
    unknown = sorted(set(dict(arch.head_options)) - set(HEAD_OPTIONS.get(kind, ())))
    if unknown:
        raise ValueError(f"head_options: unknown option(s) {unknown} for head {kind!r}; "
                         f"expected some of {list(HEAD_OPTIONS.get(kind, ()))}")
    if kind == "categorical":
        return CategoricalHead(arch.action_space.n)
    if kind == "deterministic":
        return DeterministicHead(arch.action_space)
    if kind == "mixture":
        return MixtureHead(arch.action_space, arch.option("num_components", 5),
                           init_std=arch.init_std, min_std=arch.option("min_std", 0.05))
    if kind == "discretised":
        return DiscretisedHead(arch.action_space, arch.option("num_bins", 21),
                               arch.option("within_bin", "centre"))
    return GaussianHead(arch.action_space, squashed=kind == "tanh_gaussian",
                        state_dependent_std=arch.state_dependent_std, init_std=arch.init_std)


class PolicyNetwork(eqx.Module):
    """`obs[obs_dim] -> distrax.Distribution` over one action."""

    torso: MLP
    head: Head
    arch: PolicyArch = eqx.field(static=True)

    def __init__(self, arch: PolicyArch, key: PRNGKey):
        self.arch = arch
        self.head = _make_head(arch)
        self.torso = MLP(arch.observation_size, self.head.param_size, arch.hidden_sizes, key,
                         activation=arch.activation, final_scale=0.01)

    def __call__(self, obs: Array) -> distrax.Distribution:
        return self.head.distribution(self.torso(obs))

    def mode(self, obs: Array) -> Array:
        return self.head.mode(self.torso(obs))

    def sample(self, obs: Array, key: PRNGKey) -> Array:
        return self(obs).sample(seed=key)


NetworkBuilder = Callable[[PolicyArch, PRNGKey], eqx.Module]
"""`builder(arch, key) -> network` for a policy kind that is not a distribution head.

Such a network (a diffusion or flow policy, say) provides `mode(obs)`,
`sample(obs, key)` and `bc_loss(obs[B], actions[B], key) -> (loss, entropy)` on
normalised observations, and has an `arch` field.
"""

_GENERATIVE: dict[str, NetworkBuilder] = {}


def register_policy_network(kind: str, builder: NetworkBuilder) -> None:
    """Makes `PolicyArch(head=kind)` build `builder(arch, key)` instead of a `PolicyNetwork`."""
    if kind in HEAD_KINDS:
        raise ValueError(f"kind: {kind!r} is a distribution head already")
    _GENERATIVE[kind] = builder


def policy_kinds() -> tuple[str, ...]:
    """Every value `PolicyArch.head` accepts besides `"auto"`."""
    return HEAD_KINDS + tuple(sorted(_GENERATIVE))


def make_policy_network(arch: PolicyArch, key: PRNGKey) -> eqx.Module:
    """The network `arch` describes: a `PolicyNetwork` or a registered generative one."""
    builder = _GENERATIVE.get(arch.head_kind)
    return PolicyNetwork(arch, key) if builder is None else builder(arch, key)


class ValueNetwork(eqx.Module):
    """`obs[obs_dim] -> value[]`."""

    mlp: MLP

    def __init__(self, observation_size: int, key: PRNGKey,
                 hidden_sizes: Sequence[int] = (64, 64), activation: str = "tanh"):
        self.mlp = MLP(observation_size, 1, hidden_sizes, key, activation=activation)

    def __call__(self, obs: Array) -> Array:
        return self.mlp(obs)[0]


class ActorPolicy(eqx.Module):
    """The `Policy` every algorithm returns: normalise the observation, then act.

    `policy(obs[obs_dim], key) -> action` samples from the network's distribution, or takes
    its mode when `deterministic`.
    """

    network: PolicyNetwork | eqx.Module
    normalizer: NormalizerState
    deterministic: bool = eqx.field(static=True, default=False)

    def distribution(self, obs: Array) -> distrax.Distribution:
        return self.network(normalize(self.normalizer, obs))

    def log_prob(self, obs: Array, action: Array) -> Array:
        """`log pi(action | obs)`, `[]`, for one observation `[obs_dim]` and an action the
        environment executed (or an expert gave): with a squashed head, the action is
        first moved `heads.ACTION_EPS` of the range inside the bounds, where the
        log-probability is finite."""
        action = inside_squashed_bounds(getattr(self.network, "head", None), action)
        return self.distribution(obs).log_prob(action)

    def __call__(self, obs: Array, key: PRNGKey) -> Array:
        x = normalize(self.normalizer, obs)
        if self.deterministic:
            return self.network.mode(x)
        return self.network.sample(x, key)

    def with_deterministic(self, deterministic: bool = True) -> ActorPolicy:
        return ActorPolicy(self.network, self.normalizer, deterministic)


def make_actor_policy(arch: PolicyArch, key: PRNGKey,
                      normalizer: NormalizerState | None = None) -> ActorPolicy:
    """A freshly initialised `ActorPolicy` (identity normaliser unless one is given)."""
    norm = init_normalizer(arch.observation_size) if normalizer is None else normalizer
    return ActorPolicy(make_policy_network(arch, key), norm)


class RandomPolicy(eqx.Module):
    """Uniformly random actions: the `0` of expert-normalised scores."""

    action_space: Discrete | Box = eqx.field(static=True)

    def __call__(self, obs: Array, key: PRNGKey) -> Array:
        space = self.action_space
        if isinstance(space, Discrete):
            return jax.random.randint(key, (), 0, space.n)
        return jax.random.uniform(key, space.shape, minval=jnp.asarray(space.low),
                                  maxval=jnp.asarray(space.high))


class EpsilonRandom(eqx.Module):
    """`policy` acting uniformly at random with probability `epsilon` at each step.

    A simple way to make a weaker expert whose episodes end early (e.g. cartpole demos
    where the pole sometimes falls): `jaxil.data.collect(env, EpsilonRandom(expert, 0.3,
    env.spec.action_space), key, n)` records the executed actions, the expert's mode or a
    random action. `with_deterministic` sets the wrapped policy's own acting mode.
    """

    policy: Any
    epsilon: float | Array
    action_space: Discrete | Box = eqx.field(static=True)

    def __call__(self, obs: Array, key: PRNGKey) -> Array:
        coin, random_key, policy_key = jax.random.split(key, 3)
        action = self.policy(obs, policy_key)
        random = RandomPolicy(self.action_space)(obs, random_key).astype(action.dtype)
        return jnp.where(jax.random.uniform(coin) < self.epsilon, random, action)

    def with_deterministic(self, deterministic: bool) -> EpsilonRandom:
        """The same noise around the wrapped policy set to its mode (`True`) or sampling."""
        if not hasattr(self.policy, "with_deterministic"):
            return self
        return EpsilonRandom(self.policy.with_deterministic(deterministic), self.epsilon,
                             self.action_space)
