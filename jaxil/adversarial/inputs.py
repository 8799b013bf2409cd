"""Discriminator inputs: features of `(s, a, s')`, the absorbing state, the horizon check.

`make_inputs` turns a `Transition` batch into `DiscInputs`: normalised observations, action
features (one-hot for discrete actions), the next observation, and `continuing =
1 - terminated`. With the absorbing-state option (Kostrikov et al. 2019, "DAC") every
observation gets one extra feature, 0 for real states; the absorbing state is all zeros
with that feature 1. A terminal transition then leads into the absorbing state (its
`next_obs` is the absorbing state and it continues), and the absorbing state loops on
itself forever: its reward is learned like any other, so the reward no longer carries a
built-in bonus (positive rewards) or penalty (negative ones) for ending an episode.

The indicator is a discrete feature: `without_indicator_gradient` hides it from gradient
penalties, which would otherwise shrink the discriminator's weight on it (the penalty is
taken on expert samples, where the indicator is 0) until the absorbing state scores like
the demos' mean state, whose normalised features are the same zeros.

One absorbing state for every termination has one price whatever ended the episode: a
task that ends in two ways (a goal the demos reach, an obstacle they never touch) prices
both alike. With `per_terminal=True` the absorbing state remembers where the episode
ended: its features are the terminal observation's with the indicator set (`[s_T, 1]`), so
the discriminator can tell an ending the demos have from one they never show
(`absorbing_inputs` gives each sample's absorbing self-transition).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxil.networks.normalizer import NormalizerState, normalize
from jaxil.types import Array, EnvSpec, Transition


class DiscInputs(NamedTuple):
    """Features of a batch of transitions (or of one, without the leading axes).

    Attributes:
        obs: `[..., F]` features of `s` (`F = obs_dim`, `+ 1` with an absorbing state).
        action: `[..., A]` features of `a` (one-hot for discrete actions; `A = 0` when the
            method ignores actions or the demos have none).
        next_obs: `[..., F]` features of `s'` (the absorbing state after a terminal step
            when the absorbing option is on).
        continuing: `[...]` float32, `1 - terminated` (always 1 with an absorbing state).
        extras: what else a method's discriminator sees (`AdversarialMethod.extras` of the
            transitions: a latent code, an agent index, ...), any pytree with the same
            leading axes, or `None` (the default: nothing).
    """

    obs: Array
    action: Array
    next_obs: Array
    continuing: Array
    extras: Any = None


def action_features(action: Array | None, spec: EnvSpec, use_actions: bool,
                    batch_shape: tuple[int, ...]) -> Array:
    """`[..., A]` float action features: one-hot (discrete), flat (continuous), or `A = 0`."""
    if not use_actions or action is None:
        return jnp.zeros(batch_shape + (0,), jnp.float32)
    if spec.discrete:
        return jax.nn.one_hot(action, spec.action_size, dtype=jnp.float32)
    return jnp.reshape(action, batch_shape + (spec.action_size,)).astype(jnp.float32)


def obs_features(normalizer: NormalizerState | None, obs: Array, absorbing: bool) -> Array:
    """`[..., F]`: normalised observations, plus a 0 absorbing indicator when `absorbing`."""
    x = obs.astype(jnp.float32) if normalizer is None else normalize(normalizer, obs)
    if absorbing:
        x = jnp.concatenate([x, jnp.zeros(x.shape[:-1] + (1,), x.dtype)], axis=-1)
    return x


def absorbing_obs(batch_shape: tuple[int, ...], obs_dim: int) -> Array:
    """`[..., obs_dim + 1]` features of the absorbing state: zeros and a final 1."""
    return jnp.zeros(batch_shape + (obs_dim + 1,), jnp.float32).at[..., -1].set(1.0)


def without_indicator_gradient(x: DiscInputs) -> DiscInputs:
    """`x` with `stop_gradient` on the absorbing indicator (the last feature of `obs` and
    `next_obs`) and on `continuing`: the inputs a gradient penalty differentiates.

    For one sample or a batch; use only on features built with the absorbing option.
    """
    def hide(o: Array) -> Array:
        return jnp.concatenate([o[..., :-1], jax.lax.stop_gradient(o[..., -1:])], axis=-1)

    return x._replace(obs=hide(x.obs), next_obs=hide(x.next_obs),
                      continuing=jax.lax.stop_gradient(x.continuing))


def absorbing_inputs(x: DiscInputs) -> DiscInputs:
    """The absorbing state's self-transition after each sample of `x[...]` (meaningful
    where the sample is terminal): `(s', 0, s')` with `s'` the sample's next-observation
    features, zero action features, `continuing = 1` and the sample's `extras`. Built with
    the absorbing option, `s'` is then the absorbing state: the shared one, or the terminal
    observation with the indicator set (`per_terminal`)."""
    return DiscInputs(x.next_obs, jnp.zeros_like(x.action), x.next_obs,
                      jnp.ones_like(x.continuing), x.extras)


def make_inputs(tr: Transition, spec: EnvSpec, normalizer: NormalizerState | None,
                use_actions: bool, absorbing: bool, per_terminal: bool = False
                ) -> DiscInputs:
    """`DiscInputs` of a batch of transitions `tr[..., ...]`.

    Args:
        tr: transitions; `tr.next_obs` must be the true next observation.
        spec: the environment's spec (action features).
        normalizer: observation statistics applied to `obs` and `next_obs` (or `None`).
        use_actions: whether the discriminator sees actions.
        absorbing: the absorbing-state option: a terminal step leads to the absorbing state.
        per_terminal: with `absorbing`, the absorbing state after a terminal step is the
            terminal observation's features with the indicator set, instead of the one
            shared absorbing state.

    Returns:
        `DiscInputs` with the batch shape of `tr.terminated`.
    """
    batch_shape = tuple(tr.terminated.shape)
    obs = obs_features(normalizer, tr.obs, absorbing)
    next_obs = obs_features(normalizer, tr.next_obs, absorbing)
    terminated = tr.terminated.astype(bool)
    if absorbing:
        if per_terminal:
            absorb = next_obs.at[..., -1].set(1.0)
        else:
            absorb = absorbing_obs(batch_shape, spec.observation_size)
        next_obs = jnp.where(terminated[..., None], absorb, next_obs)
        continuing = jnp.ones(batch_shape, jnp.float32)
    else:
        continuing = 1.0 - terminated.astype(jnp.float32)
    act = action_features(tr.action, spec, use_actions, batch_shape)
    return DiscInputs(obs, act, next_obs, continuing)


def _horizon_matters(demos: Transition | None, reward_sign: int, absorbing: bool,
                     allow_variable_horizon: bool) -> bool:
    """Whether demos that end early bias the reward: there are demos, the reward has one
    sign, and neither the absorbing state nor the user's consent handles it."""
    return not (demos is None or reward_sign == 0 or absorbing or allow_variable_horizon)


def check_horizon(demos: Transition | None, reward_sign: int, absorbing: bool,
                  allow_variable_horizon: bool, method: str, reward_name: str,
                  option_path: str, absorbing_offered: bool = True) -> None:
    """Refuses demos with early terminations for a sign-biased reward.

    A reward that is positive everywhere rewards living longer, one that is negative
    everywhere rewards dying sooner: with episodes of variable length the imitation target
    is then biased. Raises `ValueError` (host-side, when `demos.terminated` is concrete)
    unless the reward takes both signs, the absorbing-state option is on, or the bias is
    explicitly accepted.

    Args:
        demos: flat expert transitions `[M, ...]` (or `None`: nothing to check).
        reward_sign: `+1`, `-1` or `0` (see `RewardMapping`).
        absorbing: whether the absorbing-state option is on.
        allow_variable_horizon: whether the user accepts the bias.
        method: the method's name, for the message.
        reward_name: the reward's name, for the message.
        option_path: where the options live in the config (e.g. `"GAILConfig.adversarial"`).
        absorbing_offered: whether the method has the absorbing-state option (the message
            suggests it only then).
    """
    if not _horizon_matters(demos, reward_sign, absorbing, allow_variable_horizon):
        return
    try:
        terminated = np.asarray(demos.terminated)
    except jax.errors.TracerArrayConversionError:
        return  # traced (init under jit): `guard_horizon` checks it inside the program
    if terminated.any():
        raise ValueError(horizon_message(int(terminated.sum()), reward_sign, method,
                                         reward_name, option_path, absorbing_offered))


def guard_horizon(step: Array, demos: Transition | None, reward_sign: int, absorbing: bool,
                  allow_variable_horizon: bool, method: str, reward_name: str,
                  option_path: str, absorbing_offered: bool = True) -> Array:
    """`check_horizon` on the host, and for demos traced by an `init` under `jit` the same
    check inside the program: `step` (an `[]` array of the state) is returned with an
    `equinox.error_if` that raises the same message when a demo terminates."""
    check_horizon(demos, reward_sign, absorbing, allow_variable_horizon, method, reward_name,
                  option_path, absorbing_offered)
    if not _horizon_matters(demos, reward_sign, absorbing, allow_variable_horizon):
        return step
    message = horizon_message("some", reward_sign, method, reward_name, option_path,
                              absorbing_offered)
    return eqx.error_if(step, jnp.any(demos.terminated), message)


def horizon_message(count: int | str, reward_sign: int, method: str, reward_name: str,
                    option_path: str, absorbing_offered: bool = True) -> str:
    bias = "survival (longer episodes)" if reward_sign > 0 else "early termination"
    absorbing = (f"{option_path}.absorbing_state=True (a DAC-style absorbing state) or "
                 if absorbing_offered else "")
    return (
        f"demos: {method} with reward {reward_name!r} (always "
        f"{'positive' if reward_sign > 0 else 'negative'}) is biased towards {bias} when "
        f"episodes have variable horizons, and {count} demonstration episode(s) terminate "
        f"early. Set {absorbing}{option_path}.allow_variable_horizon=True to accept the "
        "bias, or use a reward that takes both signs (GAIL's, GAIfO's and InfoGAIL's "
        "reward='logit', or AIRL)."
    )
