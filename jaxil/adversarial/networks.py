"""The discriminator / reward network on `(s)`, `(s, a)`, `(s, s')` or `(s, a, s')`.

The network protocol (`DiscriminatorModule`): an equinox module with `reward(x) -> []` for
one sample `x` of `DiscInputs` (observation, action, next observation and `continuing`
features, and a method's optional `extras`) and, for methods with AIRL's shaping,
`potential(obs_features) -> []`. `DiscriminatorNet` is the default one: `g`, an MLP on the
inputs a method names, and optionally `h`, a state potential. A method brings its own
network with a `NetworkFactory` (`AdversarialMethod.network`); what the logit is made of is
the method's choice (see `AdversarialMethod`). `Discriminator` bundles the network with its
input normaliser and the static choices that turn transitions into features.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.adversarial.inputs import DiscInputs, absorbing_obs, make_inputs
from jaxil.networks.mlp import MLP
from jaxil.networks.normalizer import NormalizerState, init_normalizer
from jaxil.types import Array, EnvSpec, PRNGKey, Transition

INPUT_KINDS = ("s", "sa", "ss", "sas")


class DiscriminatorModule(Protocol):
    """What the adversarial core asks of a discriminator network (an `eqx.Module`)."""

    def reward(self, x: DiscInputs) -> Array:
        """The logit-like score `g -> []` of one sample `x` (`DiscInputs` without batch axes)."""

    def potential(self, obs_features: Array) -> Array:
        """`h(s) -> []` of one observation's features `[F]` (only shaping methods call it)."""


class NetworkSizes(NamedTuple):
    """The feature sizes a discriminator network is built for.

    Attributes:
        obs_features: length of `DiscInputs.obs` (and `next_obs`): the observation size,
            `+ 1` with an absorbing state.
        action_features: length of `DiscInputs.action` (0 when the method ignores actions).
        absorbing: whether the last observation feature flags the absorbing state.
    """

    obs_features: int
    action_features: int
    absorbing: bool


NetworkFactory = Callable[[NetworkSizes, PRNGKey], Any]
"""`network(sizes, key) -> DiscriminatorModule`: how a method builds its own network."""


def _check_kind(kind: str) -> None:
    if kind not in INPUT_KINDS:
        raise ValueError(f"inputs: expected one of {INPUT_KINDS}, got {kind!r}")


def input_size(kind: str, obs_features: int, action_features: int) -> int:
    """Length of `g`'s input vector for `kind` in `INPUT_KINDS`."""
    _check_kind(kind)
    return obs_features * (2 if "ss" in kind or kind == "sas" else 1) + (
        action_features if "a" in kind else 0)


def select(kind: str, x: DiscInputs) -> Array:
    """`g`'s input vector for one sample: the concatenation of the parts `kind` names."""
    _check_kind(kind)
    parts = {"s": [x.obs], "sa": [x.obs, x.action], "ss": [x.obs, x.next_obs],
             "sas": [x.obs, x.action, x.next_obs]}[kind]
    return jnp.concatenate(parts, axis=-1)


class DiscriminatorNet(eqx.Module):
    """`g(inputs) -> []`, and with `shaping` a state potential `h(s) -> []`.

    Args:
        inputs: which parts of a transition `g` sees, one of `INPUT_KINDS`.
        obs_features: length of the observation features (`DiscInputs.obs`).
        action_features: length of the action features (`DiscInputs.action`).
        key: PRNG key.
        hidden_sizes: hidden widths of `g` (and `h`).
        activation: hidden activation name (see `jaxil.networks.mlp.ACTIVATIONS`).
        shaping: also build the potential `h` (AIRL).
        absorbing: the last observation feature flags the absorbing state.
    """

    g: MLP
    h: MLP | None
    inputs: str = eqx.field(static=True)
    absorbing: bool = eqx.field(static=True)

    def __init__(self, inputs: str, obs_features: int, action_features: int, key: PRNGKey,
                 hidden_sizes: Sequence[int] = (64, 64), activation: str = "tanh",
                 shaping: bool = False, absorbing: bool = False):
        size = input_size(inputs, obs_features, action_features)
        g_key, h_key = jax.random.split(key)
        self.inputs = inputs
        self.absorbing = absorbing
        self.g = MLP(size, 1, tuple(hidden_sizes), g_key, activation=activation)
        self.h = (MLP(obs_features, 1, tuple(hidden_sizes), h_key, activation=activation)
                  if shaping else None)

    def reward(self, x: DiscInputs) -> Array:
        """`g(x) -> []` for one sample."""
        return self.g(select(self.inputs, x))[0]

    def potential(self, obs_features: Array) -> Array:
        """`h(s) -> []` for one observation's features (needs `shaping`).

        With `absorbing`, the absorbing state's potential is 0: potential-based shaping
        leaves optimal policies unchanged only if terminal states have potential 0 (Ng et
        al. 1999), and it keeps `g` identified on the absorbing state.
        """
        if self.h is None:
            raise ValueError("potential: this DiscriminatorNet was built without shaping")
        h = self.h(obs_features)[0]
        return h * (1.0 - obs_features[-1]) if self.absorbing else h


class Discriminator(eqx.Module):
    """A `DiscriminatorNet` with its input normaliser and how features are built.

    Only `net` is trained; `normalizer` holds observation statistics (those of the
    demonstrations, or the identity), fixed unless `AdversarialConfig.running_input_stats`
    merges each update's batches into them (`steps.with_running_stats`).

    Attributes:
        net: the network (a `DiscriminatorModule`: `DiscriminatorNet` by default).
        normalizer: observation statistics applied to `s` and `s'`.
        spec: the environment's spec (static).
        use_actions: whether `g` sees actions (static).
        absorbing: the absorbing-state option (static).
        extras: `extras(transitions[...]) -> pytree[...]`, the method's extra inputs
            (`DiscInputs.extras`), or `None` (static).
        per_terminal: with `absorbing`, one absorbing state per terminal observation
            (`make_inputs`; static).
    """

    net: DiscriminatorModule
    normalizer: NormalizerState
    spec: EnvSpec = eqx.field(static=True)
    use_actions: bool = eqx.field(static=True)
    absorbing: bool = eqx.field(static=True)
    extras: Callable[[Transition], Any] | None = eqx.field(static=True, default=None)
    per_terminal: bool = eqx.field(static=True, default=False)

    def features(self, tr: Transition) -> DiscInputs:
        """`DiscInputs` of a batch of transitions (see `make_inputs`), with
        `extras(tr)` when the method defines them."""
        x = make_inputs(tr, self.spec, self.normalizer, self.use_actions, self.absorbing,
                        self.per_terminal)
        return x if self.extras is None else x._replace(extras=self.extras(tr))

    def absorbing_features(self) -> DiscInputs:
        """The shared absorbing state's self-transition (one sample, zero action features;
        with `per_terminal` each terminal sample has its own: `inputs.absorbing_inputs`)."""
        x = absorbing_obs((), self.spec.observation_size)
        width = self.spec.action_size if self.use_actions else 0
        return DiscInputs(x, jnp.zeros((width,), jnp.float32), x, jnp.ones((), jnp.float32))


def make_discriminator(spec: EnvSpec, inputs: str, key: PRNGKey,
                       hidden_sizes: Sequence[int] = (64, 64), activation: str = "tanh",
                       shaping: bool = False, normalizer: NormalizerState | None = None,
                       absorbing: bool = False, network: NetworkFactory | None = None,
                       extras: Callable[[Transition], Any] | None = None,
                       per_terminal: bool = False) -> Discriminator:
    """A freshly initialised `Discriminator` for `spec`.

    Args:
        spec: the environment's spec.
        inputs: one of `INPUT_KINDS` (whether actions are featurised; what the default
            network's `g` sees).
        key: PRNG key.
        hidden_sizes: hidden widths (default network).
        activation: hidden activation (default network).
        shaping: build AIRL's potential `h` (default network).
        normalizer: observation statistics (`None`: identity).
        absorbing: the absorbing-state option (one extra observation feature).
        network: a method's own `NetworkFactory` (`None`: `DiscriminatorNet`).
        extras: the method's extra inputs of a transition batch (`None`: none).
        per_terminal: with `absorbing`, one absorbing state per terminal observation.
    """
    _check_kind(inputs)
    use_actions = "a" in inputs
    sizes = NetworkSizes(spec.observation_size + (1 if absorbing else 0),
                         spec.action_size if use_actions else 0, absorbing)
    if network is None:
        net = DiscriminatorNet(inputs, sizes.obs_features, sizes.action_features, key,
                               hidden_sizes, activation, shaping, absorbing)
    else:
        net = network(sizes, key)
        for name in ("reward",) + (("potential",) if shaping else ()):
            if not callable(getattr(net, name, None)):
                raise ValueError(f"network: the method's network {type(net).__name__} has "
                                 f"no {name}() (see DiscriminatorModule)")
    norm = init_normalizer(spec.observation_size) if normalizer is None else normalizer
    return Discriminator(net, norm, spec, use_actions, absorbing, extras, per_terminal)
