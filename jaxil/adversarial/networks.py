"""The discriminator / reward network on `(s)`, `(s, a)`, `(s, s')` or `(s, a, s')`.

`DiscriminatorNet` holds `g`, an MLP on the chosen inputs, and optionally `h`, a
potential on states used for AIRL's shaping term. Its methods act on one sample (vmap for
batches). What the logit is made of is the method's choice (see `AdversarialMethod`).
`Discriminator` bundles the net with its fixed input normaliser and the static choices that
turn transitions into features.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.adversarial.inputs import DiscInputs, absorbing_obs, make_inputs
from jaxil.networks.mlp import MLP
from jaxil.networks.normalizer import NormalizerState, init_normalizer
from jaxil.types import Array, EnvSpec, PRNGKey, Transition

INPUT_KINDS = ("s", "sa", "ss", "sas")


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
    """A `DiscriminatorNet` with the fixed input normaliser and how features are built.

    Only `net` is trained; `normalizer` holds fixed observation statistics (those of the
    demonstrations, or the identity).

    Attributes:
        net: the `DiscriminatorNet`.
        normalizer: observation statistics applied to `s` and `s'`.
        spec: the environment's spec (static).
        use_actions: whether `g` sees actions (static).
        absorbing: the absorbing-state option (static).
    """

    net: DiscriminatorNet
    normalizer: NormalizerState
    spec: EnvSpec = eqx.field(static=True)
    use_actions: bool = eqx.field(static=True)
    absorbing: bool = eqx.field(static=True)

    def features(self, tr: Transition) -> DiscInputs:
        """`DiscInputs` of a batch of transitions (see `make_inputs`)."""
        return make_inputs(tr, self.spec, self.normalizer, self.use_actions, self.absorbing)

    def absorbing_features(self) -> DiscInputs:
        """The absorbing state's self-transition (one sample, zero action features)."""
        x = absorbing_obs((), self.spec.observation_size)
        width = self.spec.action_size if self.use_actions else 0
        return DiscInputs(x, jnp.zeros((width,), jnp.float32), x, jnp.ones((), jnp.float32))


def make_discriminator(spec: EnvSpec, inputs: str, key: PRNGKey,
                       hidden_sizes: Sequence[int] = (64, 64), activation: str = "tanh",
                       shaping: bool = False, normalizer: NormalizerState | None = None,
                       absorbing: bool = False) -> Discriminator:
    """A freshly initialised `Discriminator` for `spec`.

    Args:
        spec: the environment's spec.
        inputs: one of `INPUT_KINDS`.
        key: PRNG key.
        hidden_sizes: hidden widths.
        activation: hidden activation.
        shaping: build AIRL's potential `h`.
        normalizer: observation statistics (`None`: identity).
        absorbing: the absorbing-state option (one extra observation feature).
    """
    use_actions = "a" in inputs
    obs_feats = spec.observation_size + (1 if absorbing else 0)
    act_feats = spec.action_size if use_actions else 0
    net = DiscriminatorNet(inputs, obs_feats, act_feats, key, hidden_sizes, activation, shaping,
                           absorbing)
    norm = init_normalizer(spec.observation_size) if normalizer is None else normalizer
    return Discriminator(net, norm, spec, use_actions, absorbing)
