"""What an adversarial method is made of: `AdversarialMethod` (what differs between GAIL,
AIRL, GAIfO and f-GAIL) and `AdversarialConfig` (the discriminator settings they share)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx

from jaxil.adversarial.divergences import DIVERGENCES, FDivergence
from jaxil.adversarial.inputs import DiscInputs
from jaxil.adversarial.losses import GP_KINDS
from jaxil.adversarial.networks import INPUT_KINDS, DiscriminatorModule, NetworkFactory
from jaxil.adversarial.rewards import RewardMapping, absorbing_bootstrap
from jaxil.types import Array, Transition

LogitsFn = Callable[[DiscriminatorModule, DiscInputs, Array, Array], Array]
"""`logits(net, x, log_prob, gamma) -> []` for one sample `x` (see `AdversarialMethod`)."""


class AdversarialMethod(NamedTuple):
    """What makes one adversarial method differ from another.

    Attributes:
        name: the method's name (for messages).
        inputs: what `g` sees, one of `INPUT_KINDS` (`"sa"` GAIL, `"ss"` GAIfO, ...).
        logits: `logits(net, x, log_prob, gamma) -> []` for one sample: `x` the
            `DiscInputs`, `log_prob` the policy's `log pi(a | s)` (0 unless
            `uses_log_prob`), `gamma` the discount. The discriminator is
            `D = sigmoid(logits)` and the expert is labelled 1.
        reward: the `RewardMapping` from logits to the policy's reward.
        divergence: the `FDivergence` the discriminator's loss estimates (`"gan"` is the
            binary cross-entropy).
        shaping: build AIRL's state potential `h`.
        uses_log_prob: the logits need `log pi(a | s)` of the current policy.
        config_path: where the shared options live in the method's config, for messages.
        network: the method's own `NetworkFactory`, `network(sizes, key) ->
            DiscriminatorModule` (`None`: `DiscriminatorNet` on `inputs`, built from the
            `AdversarialConfig`'s widths and activation).
        extras: `extras(transitions[...]) -> pytree[...]`, what else the discriminator sees
            of a batch of transitions (expert and policy alike; `DiscInputs.extras`), or
            `None`. Not with the absorbing state (the absorbing sample has no extras).
        absorbing_default: whether the absorbing state is on when the config leaves
            `absorbing_state` unset (`None`); a method with `extras` or an `Extension` is
            always off then.
        per_terminal_default: whether, with the absorbing state on, there is one per
            terminal observation when the config leaves `absorbing_per_terminal` unset
            (`None`).
    """

    name: str
    inputs: str
    logits: LogitsFn
    reward: RewardMapping
    divergence: FDivergence = DIVERGENCES["gan"]
    shaping: bool = False
    uses_log_prob: bool = False
    config_path: str = "config.adversarial"
    network: NetworkFactory | None = None
    extras: Callable[[Transition], Any] | None = None
    absorbing_default: bool = True
    per_terminal_default: bool = False


class AdversarialConfig(eqx.Module):
    """Settings shared by every adversarial method (the discriminator side).

    Static (fix shapes and loop counts):
        hidden_sizes: discriminator widths.
        activation: discriminator hidden activation (`"relu"` by default: its units do not
            saturate on states far outside the demos', where a tanh discriminator's
            reward goes flat; see `running_input_stats`).
        disc_steps: discriminator steps per update `k`; each uses `batch_size // k` expert
            samples of the update's expert batch against as many policy samples.
        gradient_penalty: `"expert"` (default: zero-centred on expert samples, R1),
            `"interpolate"` (on expert-policy interpolates, centred on `gp_target`) or
            `"none"`.
        absorbing_state: DAC-style absorbing state after terminal steps, never after
            time-outs (see `jaxil.adversarial.inputs`; one shared by every termination
            unless `absorbing_per_terminal`): its reward `r_abs` is learned and
            every relabelled reward is centred on it (`r - r_abs`), so a termination pays
            what the discriminator says the absorbing state is worth against the states it
            cuts off, but never more than a state it cannot tell from the expert's (its
            logit is capped at the divergence's `neutral_logit`). `None` (the default)
            follows the method (`AdversarialMethod.absorbing_default`, see
            `resolve_absorbing`): on for GAIL, AIRL, GAIfO, f-GAIL and LS-GAIL, so their
            default configs learn from demos whose episodes end early; off for WAIL
            and MAGAIL, and for methods with an `Extension` unless their config sets it
            (`InfoGAILConfig` does, one state per terminal observation). Measured in
            `benchmarks/RESULTS.md`, "Adversarial imitation at episode ends".
        absorbing_per_terminal: with the absorbing state, one absorbing state per terminal
            observation (its features are the terminal observation's, indicator set)
            instead of one for every termination, so the discriminator can price an ending
            the demos show (a goal) apart from one they never do (an obstacle). Rewards
            are then centred on the divergence's neutral reward, and a terminal step adds
            `gamma / (1 - gamma)` times its absorbing state's reward (capped at the neutral
            one) less that centre: the value of staying absorbed. `None` (the default)
            follows the method (`AdversarialMethod.per_terminal_default`, see
            `resolve_absorbing`): on for GAIL, f-GAIL and GAIfO (when the absorbing state
            is on), off for AIRL and LS-GAIL, which were measured worse with it or not
            yet. Measured in `benchmarks/RESULTS.md`, "Two kinds of ending".
        allow_variable_horizon: accept demos with early terminations for a signed reward
            without an absorbing state (the bias is then the user's choice).
        replay_rollouts: if `> 0`, policy samples for the discriminator come from a replay
            of the last this-many rollouts instead of the current one only.
        bc_steps: if `> 0`, behavioural-cloning steps on the demos warm-start the policy in
            `init`.
        bc_steps_per_update: if `> 0`, every update ends with this many Adam steps (at
            `bc_learning_rate`) of behavioural cloning on the update's whole expert batch,
            after the policy's own step: the adversarial reward and the demos' actions
            train the policy together (a BC term added to GAIL, as in Jena et al. 2020,
            taken here as separate steps rather than one summed loss); the BC Adam state is
            kept from one update to the next. 0 (the default): off. On cooperative
            navigation (`mpe/simple_spread`, 200 episodes) MAGAIL's decentralised prior
            goes from 0.42 to 0.93 of the expert with 16 steps per update, about what BC
            alone reaches given 8 times its usual updates (0.91; `benchmarks/RESULTS.md`,
            "Session 19").
        bc_batch_size: expert transitions per BC step.
        normalize_inputs: standardise the discriminator's observations with the demos'
            statistics (fixed at `init` unless `running_input_stats`).
        running_input_stats: with `normalize_inputs`, merge each update's expert batch and
            policy samples into those statistics before the discriminator's steps, so they
            become running statistics of what it is trained on (as the PyTorch
            `imitation` library's reward nets normalise). On by default: with statistics
            fixed at the demos', a feature along which the demos barely vary is stretched
            to the scale of the others, and discriminator and policy chase each other
            along it (the goal task of `benchmarks/episode_ends.py`: 1 seed of 48 reached
            the goal; with running statistics, a relu discriminator and
            `disc_learning_rate=5e-4`, the defaults since 2026-12-05: most seeds, see
            `benchmarks/RESULTS.md`, "Session 14: the new discriminator defaults"). They
            cost some seeds on pendulum, where the earlier discriminator
            (`tanh_fixed_stats_config`) is the better choice (27 against about 30 of 32
            seeds at 0.8 of the expert). WAIL, InfoGAIL and MAGAIL keep the earlier
            discriminator, with which they were tuned and measured.

    Floats (may be arrays: a config can be vmapped for a sweep):
        disc_learning_rate (Adam's; 5e-4 by default), disc_max_grad_norm, gp_weight,
        gp_target (the norm the interpolate penalty pulls to: 0 zero-centred, 1 WGAN-GP),
        reward_clip (rewards are clipped to `[-reward_clip, reward_clip]`),
        bc_learning_rate, absorbing_weight
        (with an absorbing state: the weight, per terminal step, of the absorbing state's
        self-transition among the discriminator's samples of the same side. `None`, the
        default, is `gamma / (1 - gamma)` (`absorbing_bootstrap`): the discounted number
        of steps spent absorbed after a termination, the weight the absorbing state's
        reward has in the return, so the discriminator prices the absorbing state by that
        occupancy. `1` counts it once, as DAC's replay buffer does).
    """

    hidden_sizes: tuple[int, ...] = eqx.field(static=True, default=(64, 64))
    activation: str = eqx.field(static=True, default="relu")
    disc_steps: int = eqx.field(static=True, default=1)
    gradient_penalty: str = eqx.field(static=True, default="expert")
    absorbing_state: bool | None = eqx.field(static=True, default=None)
    absorbing_per_terminal: bool | None = eqx.field(static=True, default=None)
    allow_variable_horizon: bool = eqx.field(static=True, default=False)
    replay_rollouts: int = eqx.field(static=True, default=0)
    bc_steps: int = eqx.field(static=True, default=0)
    bc_batch_size: int = eqx.field(static=True, default=256)
    bc_steps_per_update: int = eqx.field(static=True, default=0)
    normalize_inputs: bool = eqx.field(static=True, default=True)
    running_input_stats: bool = eqx.field(static=True, default=True)
    disc_learning_rate: float | Array = 5e-4
    disc_max_grad_norm: float | Array = 10.0
    gp_weight: float | Array = 3.0
    gp_target: float | Array = 0.0
    reward_clip: float | Array = 10.0
    bc_learning_rate: float | Array = 1e-3
    absorbing_weight: float | Array | None = None


def tanh_fixed_stats_config(**fields) -> AdversarialConfig:
    """`AdversarialConfig(**fields)` with the discriminator settings that were the defaults
    before 2026-12-05 (a tanh MLP, input statistics fixed at the demos', Adam at 1e-3)
    unless `fields` sets them: the defaults of WAIL, InfoGAIL and MAGAIL, whose tests and
    benchmarks were measured with them."""
    return AdversarialConfig(**{"activation": "tanh", "running_input_stats": False,
                                "disc_learning_rate": 1e-3, **fields})


def absorbing_weight(config: AdversarialConfig, gamma: Array | float) -> Array | float:
    """The absorbing state's weight per terminal step: `config.absorbing_weight`, or
    `gamma / (1 - gamma)` when it is `None`."""
    if config.absorbing_weight is None:
        return absorbing_bootstrap(gamma)
    return config.absorbing_weight


def resolve_absorbing(method: AdversarialMethod, config: AdversarialConfig,
                      extended: bool = False) -> AdversarialConfig:
    """`config` with `absorbing_state` and `absorbing_per_terminal` decided: as the user set
    them, or, where `None`: the absorbing state `method.absorbing_default` for a method
    without extra inputs (`extras`) or an `Extension` (`extended`), off otherwise; one
    absorbing state per terminal observation `method.per_terminal_default` where the
    absorbing state is on, off otherwise."""
    on = config.absorbing_state
    if on is None:
        on = method.absorbing_default and method.extras is None and not extended
    per_terminal = config.absorbing_per_terminal
    if per_terminal is None:
        per_terminal = method.per_terminal_default and on
    return dataclasses.replace(config, absorbing_state=on, absorbing_per_terminal=per_terminal)


def check_method(method: AdversarialMethod, config: AdversarialConfig) -> None:
    """Raises `ValueError` naming the field of a method or config out of range."""
    if method.inputs not in INPUT_KINDS:
        raise ValueError(f"inputs: expected one of {INPUT_KINDS}, got {method.inputs!r}")
    if config.gradient_penalty not in GP_KINDS:
        raise ValueError(f"{method.config_path}.gradient_penalty: expected one of "
                         f"{GP_KINDS}, got {config.gradient_penalty!r}")
    if method.extras is not None and config.absorbing_state and not \
            config.absorbing_per_terminal:
        raise ValueError(f"{method.config_path}.absorbing_state: {method.name}'s "
                         "discriminator takes extra inputs, which the shared absorbing state "
                         "has none of; set absorbing_state=False, or "
                         "absorbing_per_terminal=True (each absorbing state keeps its "
                         "terminal transition's extras)")
    if config.absorbing_per_terminal and not config.absorbing_state:
        raise ValueError(f"{method.config_path}.absorbing_per_terminal: needs the absorbing "
                         f"state, which is off for {method.name} here; set "
                         "absorbing_state=True as well")
    for name in ("disc_steps", "bc_batch_size"):
        if getattr(config, name) < 1:
            raise ValueError(f"{method.config_path}.{name}: expected >= 1, "
                             f"got {getattr(config, name)}")
    for name in ("replay_rollouts", "bc_steps", "bc_steps_per_update"):
        if getattr(config, name) < 0:
            raise ValueError(f"{method.config_path}.{name}: expected >= 0, "
                             f"got {getattr(config, name)}")


def uses_bc(config: AdversarialConfig) -> bool:
    """Whether `config` clones the demos' actions (a warm start, or steps per update)."""
    return config.bc_steps > 0 or config.bc_steps_per_update > 0


def samples_per_step(batch: Transition, config: AdversarialConfig, config_path: str) -> int:
    """How many of the expert batch's `batch[M]` samples each of the `disc_steps`
    discriminator steps takes, `M // disc_steps`.

    Raises:
        ValueError: `M < disc_steps`, naming `batch_size` and the config field.
    """
    n = batch.obs.shape[0] // config.disc_steps
    if n < 1:
        raise ValueError(f"batch_size: expected >= {config_path}.disc_steps = "
                         f"{config.disc_steps}, got {batch.obs.shape[0]}")
    return n
