"""An explicit registry of the imitation algorithms and the rules their settings follow.

`ALGORITHMS` maps each name that `jaxil train` accepts to an `AlgorithmEntry`: the
factory, its config class, and what the algorithm needs (an expert to query, a tabular
environment, demonstrations with actions). `check_setting` says whether one value fits a
config field: the allowed strings come from the modules that define them (`HEAD_KINDS`
through `policy_kinds()`, `ACTIVATIONS`, `GAIL_REWARDS`, ...), numbers must be finite and
inside the range the field's meaning allows.

Only what a name or a type cannot tell is written down here; every factory still runs its
own checks when it is called.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

from jaxil.adversarial import DIVERGENCES, GAIL_REWARDS
from jaxil.adversarial.losses import GP_KINDS
from jaxil.adversarial.method import uses_bc
from jaxil.adversarial.networks import INPUT_KINDS
from jaxil.adversarial.trainer import AdversarialConfig
from jaxil.algorithms.airl import AIRLConfig, airl
from jaxil.algorithms.apprenticeship import METHODS, ApprenticeshipConfig, apprenticeship
from jaxil.algorithms.bc import BCConfig, bc
from jaxil.algorithms.dagger import BETA_SCHEDULES, DAggerConfig, dagger
from jaxil.algorithms.dart import DARTConfig, dart
from jaxil.algorithms.fgail import FGAILConfig, fgail
from jaxil.algorithms.gaifo import GAIfOConfig, gaifo
from jaxil.algorithms.gail import GAILConfig, gail
from jaxil.algorithms.gcl import GCLConfig, gcl
from jaxil.algorithms.infogail import DISCRIMINATORS as INFOGAIL_DISCRIMINATORS
from jaxil.algorithms.infogail import InfoGAILConfig, infogail
from jaxil.algorithms.infogail import acting_env as infogail_acting_env
from jaxil.algorithms.lsgail import LSGAILConfig, lsgail
from jaxil.algorithms.magail import PRIORS, MAGAILConfig, independent_gail, magail
from jaxil.algorithms.maxent_irl import OPTIMIZERS, MaxEntIRLConfig, maxent_irl
from jaxil.algorithms.multiagent_bc import multiagent_bc
from jaxil.algorithms.mwal import MWALConfig, mwal
from jaxil.algorithms.wail import WAILConfig, wail
from jaxil.envs.wrappers import CODE_DISTRIBUTIONS
from jaxil.networks.mlp import ACTIVATIONS
from jaxil.networks.normalizer import OBS_NORMALIZATIONS
from jaxil.networks.policy import policy_kinds
from jaxil.tabular.rewards import REWARD_KINDS


def _always(config: Any) -> bool:
    del config
    return True


@dataclasses.dataclass(frozen=True)
class AlgorithmEntry:
    """One algorithm as `jaxil train` sees it.

    Attributes:
        name: the name on the command line (`bc`, `gail`, ...).
        factory: `factory(env, config, **extra) -> Algorithm`.
        config: the config class (an `equinox.Module`; `config()` gives the defaults).
        needs_expert: the factory takes `expert=` (a policy it queries while training).
        tabular: needs a tabular environment (`jaxil.tabular.TabularEnv`, e.g. gridworld).
        online: interacts with the environment while training.
        needs_actions: `needs_actions(config)`: the demonstrations must have actions.
        acting_env: `acting_env(env, config) -> Env`, the environment the learned policy
            acts in when it is not `env` (InfoGAIL's policy sees a latent code too);
            `None`: `env`.
        multiagent: learns from multi-agent demonstrations in a multi-agent environment
            (`jaxil.envs.is_multiagent`); the others are single-agent methods.
    """

    name: str
    factory: Callable[..., Any]
    config: type
    needs_expert: bool = False
    tabular: bool = False
    online: bool = False
    needs_actions: Callable[[Any], bool] = _always
    acting_env: Callable[[Any, Any], Any] | None = None
    multiagent: bool = False


def _fgail_needs_actions(config: FGAILConfig) -> bool:
    return "a" in config.inputs or uses_bc(config.adversarial)


def _gaifo_needs_actions(config: GAIfOConfig) -> bool:
    return uses_bc(config.adversarial)


ALGORITHMS: dict[str, AlgorithmEntry] = {e.name: e for e in (
    AlgorithmEntry("bc", bc, BCConfig),
    AlgorithmEntry("dagger", dagger, DAggerConfig, needs_expert=True, online=True),
    AlgorithmEntry("dart", dart, DARTConfig, needs_expert=True, online=True),
    AlgorithmEntry("gail", gail, GAILConfig, online=True),
    AlgorithmEntry("airl", airl, AIRLConfig, online=True),
    AlgorithmEntry("gaifo", gaifo, GAIfOConfig, online=True,
                   needs_actions=_gaifo_needs_actions),
    AlgorithmEntry("fgail", fgail, FGAILConfig, online=True,
                   needs_actions=_fgail_needs_actions),
    AlgorithmEntry("lsgail", lsgail, LSGAILConfig, online=True),
    AlgorithmEntry("wail", wail, WAILConfig, online=True),
    AlgorithmEntry("infogail", infogail, InfoGAILConfig, online=True,
                   acting_env=infogail_acting_env),
    AlgorithmEntry("gcl", gcl, GCLConfig, online=True),
    AlgorithmEntry("maxent_irl", maxent_irl, MaxEntIRLConfig, tabular=True),
    AlgorithmEntry("apprenticeship", apprenticeship, ApprenticeshipConfig, tabular=True),
    AlgorithmEntry("mwal", mwal, MWALConfig, tabular=True),
    AlgorithmEntry("multiagent_bc", multiagent_bc, BCConfig, multiagent=True),
    AlgorithmEntry("magail", magail, MAGAILConfig, online=True, multiagent=True),
    AlgorithmEntry("independent_gail", independent_gail, MAGAILConfig, online=True,
                   multiagent=True),
)}
"""Every algorithm `jaxil train` runs, by name."""


def get_algorithm(name: str) -> AlgorithmEntry:
    """The `AlgorithmEntry` called `name`; `ValueError` listing the known names otherwise."""
    if name not in ALGORITHMS:
        raise ValueError(f"algorithm: expected one of {', '.join(ALGORITHMS)}, got {name!r}")
    return ALGORITHMS[name]


# ----------------------------------------------------------------------------- settings

_CHOICES: dict[tuple[type | None, str], Callable[[], Sequence[str]]] = {
    (None, "activation"): lambda: sorted(ACTIVATIONS),
    (None, "head"): lambda: ("auto", *policy_kinds()),
    (None, "obs_normalization"): lambda: OBS_NORMALIZATIONS,
    (GAILConfig, "reward"): lambda: tuple(GAIL_REWARDS),
    (InfoGAILConfig, "reward"): lambda: tuple(GAIL_REWARDS),
    (InfoGAILConfig, "code_distribution"): lambda: CODE_DISTRIBUTIONS,
    (InfoGAILConfig, "discriminator"): lambda: INFOGAIL_DISCRIMINATORS,
    (MAGAILConfig, "reward"): lambda: tuple(GAIL_REWARDS),
    (MAGAILConfig, "prior"): lambda: PRIORS,
    (GAIfOConfig, "reward"): lambda: tuple(GAIL_REWARDS),
    (MaxEntIRLConfig, "reward"): lambda: REWARD_KINDS,
    (MaxEntIRLConfig, "optimizer"): lambda: OPTIMIZERS,
    (AdversarialConfig, "gradient_penalty"): lambda: GP_KINDS,
    (FGAILConfig, "divergence"): lambda: tuple(DIVERGENCES),
    (FGAILConfig, "inputs"): lambda: INPUT_KINDS,
    (DAggerConfig, "beta_schedule"): lambda: BETA_SCHEDULES,
    (ApprenticeshipConfig, "method"): lambda: METHODS,
}
"""Allowed values of string fields, from the modules that define them; `None`: any config.
(`AIRLConfig.reward_inputs` and `MaxEntIRLConfig.policy` have no exported list: their
factories check them.)"""

POSITIVE_FLOATS = frozenset({
    "learning_rate", "disc_learning_rate", "bc_learning_rate", "max_grad_norm",
    "disc_max_grad_norm", "clip_eps", "value_clip_eps", "reward_clip", "reward_scale",
    "temperature", "init_std", "cost_scale", "max_noise_std", "error_prior",
})
"""Float fields that must be `> 0` (a zero rate, norm or scale trains nothing)."""

UNIT_FLOATS = frozenset({"gamma", "gae_lambda", "beta", "beta_decay", "max_epsilon"})
"""Float fields that are probabilities or discounts, in `[0, 1]`."""

ZERO_INTS = frozenset({"replay_rollouts", "bc_steps", "bc_steps_per_update",
                       "lr_decay_updates", "info_warmup_updates"})
"""Integer fields where 0 means "off"; every other integer field (a size, count or
number of steps) must be `>= 1`."""


def choices(config_cls: type, name: str) -> Sequence[str] | None:
    """The allowed values of the string field `name` of `config_cls`, or `None` (any)."""
    lookup = _CHOICES.get((config_cls, name)) or _CHOICES.get((None, name))
    return None if lookup is None else tuple(lookup())


def _float_rule(name: str, default: Any) -> tuple[str, Callable[[float], bool]]:
    """`(expected, ok)` for the float field `name` whose default is `default`."""
    infinite = isinstance(default, float) and math.isinf(default)
    finite = "a positive float or inf" if infinite else "a finite float"
    if name in POSITIVE_FLOATS:
        return (f"{finite} > 0",
                lambda v: v > 0 and (math.isfinite(v) or (infinite and v == math.inf)))
    if name in UNIT_FLOATS:
        return "a float in [0, 1]", lambda v: 0.0 <= v <= 1.0
    return f"{finite} >= 0", lambda v: v >= 0 and (math.isfinite(v) or
                                                   (infinite and v == math.inf))


def check_setting(config_cls: type, name: str, value: Any, default: Any = None) -> None:
    """Raises `ValueError("expected ...")` when `value` does not fit the field `name`.

    Args:
        config_cls: the config class that has the field.
        name: the field's name.
        value: the new value (already a bool, int, float, str or tuple of ints).
        default: the field's default value (its type says which rule applies when
            `value` is `None`-typed or ambiguous).
    """
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, str):
        allowed = choices(config_cls, name)
        if allowed is not None and value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
    elif isinstance(value, int) and not isinstance(default, float):
        low = 0 if name in ZERO_INTS else 1
        if value < low:
            raise ValueError(f"expected an integer >= {low}")
    elif isinstance(value, int | float):
        expected, ok = _float_rule(name, default)
        if not ok(float(value)):
            raise ValueError(f"expected {expected}")
    elif isinstance(value, tuple) and name == "teams":
        if not value or not all(isinstance(v, int) and v in (0, 1) for v in value):
            raise ValueError("expected one team per agent, 0 or 1, e.g. 0,1")
    elif isinstance(value, tuple):
        if not value or not all(isinstance(v, int) and v >= 1 for v in value):
            raise ValueError("expected comma-separated positive integers, e.g. 64,64")


__all__ = ["ALGORITHMS", "AlgorithmEntry", "check_setting", "choices", "get_algorithm"]
