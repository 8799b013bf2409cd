"""Reward mappings from discriminator logits, and learned rewards as standalone functions.

A `RewardMapping` turns the logit `v = log D - log(1 - D)` into the policy's reward and
records its sign, which decides whether the reward is biased by episode length (see
`jaxil.adversarial.inputs.check_horizon`).

`LearnedReward` exports a trained discriminator as a `RewardFn`, `reward(obs, action,
next_obs) -> []`, that PPO can optimise from scratch in a new run
(`jaxil.adversarial.reward_transfer`): GAIL's test and training rewards, AIRL's unshaped
(`g`) and shaped rewards; `jaxil.algorithms.gail_rewards` and `airl_rewards` give them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.adversarial.divergences import FDivergence
from jaxil.adversarial.inputs import DiscInputs, absorbing_inputs, action_features, obs_features
from jaxil.adversarial.networks import Discriminator
from jaxil.types import Array, Transition


class RewardMapping(NamedTuple):
    """`fn(logits[...]) -> rewards[...]`, named, with `sign` +1 / -1 / 0 (both signs)."""

    name: str
    fn: Callable[[Array], Array]
    sign: int


GAIL_REWARDS: dict[str, RewardMapping] = {
    # -log(1 - D) = softplus(v) > 0: GAIL's usual reward (Ho & Ermon 2016), survival bias.
    "neg_log_one_minus_d": RewardMapping("neg_log_one_minus_d", jax.nn.softplus, +1),
    # log D = -softplus(-v) < 0: early-termination bias.
    "log_d": RewardMapping("log_d", lambda v: -jax.nn.softplus(-v), -1),
    # log D - log(1 - D) = v: both signs (AIRL's reward, the reverse-KL mapping up to -1).
    "logit": RewardMapping("logit", lambda v: v, 0),
}


def gail_reward(name: str) -> RewardMapping:
    """The GAIL-style `RewardMapping` called `name` (one of `GAIL_REWARDS`)."""
    if name not in GAIL_REWARDS:
        raise ValueError(f"reward: expected one of {sorted(GAIL_REWARDS)}, got {name!r}")
    return GAIL_REWARDS[name]


def divergence_reward(div: FDivergence) -> RewardMapping:
    """The f-GAIL reward `f*(g_f(v))` of an f-divergence."""
    return RewardMapping(div.name, div.conjugate_of_activation, div.reward_sign)


def absorbing_bootstrap(gamma: Array | float) -> Array:
    """`gamma / (1 - gamma)`: the discounted weight of staying absorbed forever after."""
    gamma = jnp.asarray(gamma, jnp.float32)
    return gamma / jnp.maximum(1.0 - gamma, 1e-6)


def centre_on_absorbing(rewards: Array, absorbing_reward: Array) -> Array:
    """`rewards - absorbing_reward`: rewards `[...]` centred on the absorbing state's `[]`.

    With an absorbing state (DAC, Kostrikov et al. 2019) every episode goes on forever:
    a termination leads into the absorbing state, which loops on itself with reward
    `r_abs`, and a time-out only cuts the episode short. Subtracting the constant `r_abs`
    from every reward therefore moves every return by the same `r_abs / (1 - gamma)` and
    leaves the optimal policy and every advantage unchanged, while the absorbing state's
    own reward becomes exactly 0. A learner that stops at a termination (PPO's GAE) then
    needs no bootstrap through the absorbing state: instead of a lump of
    `gamma / (1 - gamma) * r_abs` paid at the terminal step (about 99 rewards for
    `gamma = 0.99`, which the value network must track as the discriminator moves), ending
    an episode is worth exactly what the remaining steps' rewards `r - r_abs` say: it pays
    when the discriminator finds the absorbing state more expert-like than the states the
    policy would visit instead, and costs otherwise.
    """
    return rewards - absorbing_reward


def absorbing_lumps(rewards: Array, absorbing_rewards: Array, terminated: Array,
                    centre: Array | float, gamma: Array | float) -> Array:
    """`rewards - centre + terminated * gamma / (1 - gamma) * (absorbing_rewards - centre)`.

    With one absorbing state per terminal observation there is no single absorbing reward
    to centre on (`centre_on_absorbing`): every reward is centred on a constant `centre`
    instead (which moves every return of the never-ending absorbing MDP alike), and a
    terminal step is paid the value of what follows it, `gamma / (1 - gamma)` steps' worth
    of its own absorbing state's reward. Shapes: `rewards`, `absorbing_rewards` and
    `terminated` `[...]` alike (`absorbing_rewards` is used only where `terminated`).
    """
    lump = absorbing_bootstrap(gamma) * (absorbing_rewards - centre)
    return rewards - centre + jnp.where(terminated.astype(bool), lump, 0.0)


class LearnedReward(eqx.Module):
    """A trained discriminator as a reward function (a `RewardFn`).

    `reward(obs[obs_dim], action, next_obs[obs_dim]) -> []` for one non-terminal
    transition; `transition_rewards` handles batches and episode ends. Which reward, in
    the terms of the `imitation` library's train/test split:

    - `g` alone (the default): GAIL's test reward (the logit `log D - log(1 - D)`), AIRL's
      unshaped (disentangled) reward `g(s, a)`;
    - `shaped=True`: AIRL's shaped reward `g(s, a) + gamma h(s') - h(s)` (`h(s') = 0`
      after a termination), its discriminator's logit without `log pi`;
    - `mapping`: that `RewardMapping` applied to the logit `g`: GAIL's training reward
      (`-log(1 - D)` by default).

    Attributes:
        discriminator: the trained `Discriminator`.
        shaped: add AIRL's shaping `gamma h(s') - h(s)` (needs a potential `h`).
        gamma: the discount of the shaping.
        mapping: a `RewardMapping` applied to the logit, or `None`.
    """

    discriminator: Discriminator
    shaped: bool = eqx.field(static=True, default=False)
    gamma: float | Array = 0.99
    mapping: RewardMapping | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if self.shaped and getattr(self.discriminator.net, "h", None) is None:
            raise ValueError("shaped: this discriminator has no potential h (only AIRL's "
                             "has one)")

    def _reward(self, x: DiscInputs) -> Array:
        net = self.discriminator.net
        r = net.reward(x)
        if self.shaped:
            r = r + self.gamma * x.continuing * net.potential(x.next_obs) - net.potential(x.obs)
        return r if self.mapping is None else self.mapping.fn(r)

    def __call__(self, obs: Array, action: Array, next_obs: Array) -> Array:
        d = self.discriminator
        x = DiscInputs(obs_features(d.normalizer, obs, d.absorbing),
                       action_features(action, d.spec, d.use_actions, ()),
                       obs_features(d.normalizer, next_obs, d.absorbing),
                       jnp.ones((), jnp.float32))
        return self._reward(x)

    def transition_rewards(self, tr: Transition, gamma: Array | float) -> Array:
        """Rewards `[...]` of a batch of transitions `tr[...]` (`gamma` is part of PPO's
        `reward_fn` protocol; the shaping uses the reward's own `gamma`).

        With an absorbing state, every reward is centred on the absorbing state's,
        `r(s, a, s') - r(absorbing)` (see `centre_on_absorbing`), so an agent that stops
        at a termination sees the returns, up to a constant, of one that stays absorbed.
        The absorbing state's reward is used as learned: the cap that training puts on its
        logit (`jaxil.adversarial.steps.relabel`) is a choice of the imitation loop, not
        part of the exported reward. With one absorbing state per terminal observation
        (`per_terminal`), rewards are not centred and a terminal step adds
        `gamma / (1 - gamma)` times its absorbing state's reward (`absorbing_lumps`).
        """
        d = self.discriminator
        lead = tr.terminated.ndim
        flat = jax.tree.map(lambda a: jnp.reshape(a, (-1,) + a.shape[lead:]), tr)
        x = d.features(flat)
        rewards = jnp.reshape(jax.vmap(self._reward)(x), tr.terminated.shape)
        if d.absorbing and d.per_terminal:
            absorbed = jnp.reshape(jax.vmap(self._reward)(absorbing_inputs(x)),
                                   tr.terminated.shape)
            rewards = absorbing_lumps(rewards, absorbed, tr.terminated, 0.0, gamma)
        elif d.absorbing:
            rewards = centre_on_absorbing(rewards, self._reward(d.absorbing_features()))
        return rewards
