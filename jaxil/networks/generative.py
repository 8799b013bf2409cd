"""Generative policies for behavioural cloning: diffusion (DDPM / DDIM) and flow matching.

Importing this module registers two policy kinds with `register_policy_network`, so that
`PolicyArch(head="diffusion")` and `PolicyArch(head="flow")` (and `BCConfig(head=...)`)
build them, and `save_policy` / `load_policy` rebuild them from the architecture alone:

- `"diffusion"` (`DiffusionPolicy`): a denoiser of the noisy action `a_t` (by default
  predicting the velocity `v` of Salimans & Ho 2022, or the noise `eps` of Ho et al.
  2020, or `a_0`) trained with the DDPM objective and sampled by DDPM ancestral sampling
  or DDIM (Song et al. 2021) in a `lax.scan`.
- `"flow"` (`FlowPolicy`): a velocity field `v_theta(obs, a_tau, tau)` trained by
  (rectified) flow matching (Lipman et al. 2023; Liu et al. 2023) and integrated with
  Euler steps in a `lax.scan`.

Both model the expert's action distribution given the observation, so unlike a Gaussian
head they can represent several modes (go left *or* right around an obstacle) instead
of averaging them. Both work on actions scaled from the `Box` bounds to `[-1, 1]` and
scale their samples back, clipped to the bounds.

Settings come from `PolicyArch.head_options` (saved with the policy); unknown names raise
`ValueError`. The network is an MLP with the torso's `hidden_sizes` and `activation` on
the concatenation `[obs, noisy action, sinusoidal time embedding]`.

Deterministic actions (`mode`, used by `ActorPolicy(deterministic=True)` and so by BC's
default `deterministic_policy=True`): the deterministic sampler (DDIM with `eta = 0`, i.e.
the probability-flow ODE, for diffusion; the Euler ODE for flow) started from a *fixed*
noise vector `normal(key(mode_seed))`, the same for every observation. Starting from the
prior's centre (zero noise) would be the other natural choice, but the ODE maps the
centre of the prior to the per-dimension median of the action distribution, which for a
bimodal expert lies between the modes, the very average that generative policies avoid;
a fixed noise vector maps to one fixed quantile, so the policy commits to one mode
consistently across states. For a unimodal expert that quantile is off the centre by
about `|noise|` standard deviations of the learned action distribution (small when the
expert is near-deterministic); sample with `deterministic=False` otherwise.

Action chunking (`chunk_size` k > 1): the network predicts k consecutive actions
`[k, *action_shape]` (`sample_chunk`), and because a jaxil `Policy` is stateless
(`policy(obs, key) -> action`) the policy executes only the first one and re-plans at the
next step (receding horizon). Executing the whole chunk open-loop would need the chunk
and a step counter in the policy's state. Training needs action sequences:
`bc_loss` then takes `actions[B, k, *action_shape]`, which
`jaxil.data.sample_action_chunks(demos, key, batch_size, k)` provides (see its docstring
for a BC loop); `jaxil.train`'s single-transition batches only fit `chunk_size = 1`.

Training budget: these heads regress a noise / velocity field over all noise levels and
need more updates (or a larger learning rate, or a ReLU network) than a Gaussian head:
with BC's default 64x64 tanh network at learning rate 1e-3, train them for 6,000 updates
(of 256) where a Gaussian, mixture or discretised head needs 2,000. Measured on
`obstacle_nav` (`benchmarks/multimodal_bc.py`, 5 seeds, acting with the mode), 2,000
updates leave diffusion at 0.13 success (0 to 0.37) and flow at 0 (both commit to one side
but swing too wide and time out); 6,000 reach 1.0 on every seed (diffusion: also 10,000).
Sampling instead (`deterministic=False`) re-draws the side at every step near the
obstacle and collides more often: 0.43 to 0.70 success per seed at 6,000 updates
(`benchmarks/generative_bc.py --only nav`, where the mode scores 1.0 on 4 more seeds).
"""

from __future__ import annotations

import abc
import functools
import math
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxil.networks.heads import action_bounds
from jaxil.networks.mlp import MLP
from jaxil.networks.policy import PolicyArch, register_policy_network
from jaxil.types import Array, Box, PRNGKey

BETA_SCHEDULES = ("cosine", "linear")
SAMPLERS = ("ddpm", "ddim")
PREDICTIONS = ("epsilon", "v", "sample")
MAX_BETA = 0.999  # caps the last betas of a schedule (cosine: Nichol & Dhariwal 2021)


class NoiseSchedule(NamedTuple):
    """A DDPM noise schedule of `T` steps as numpy constants (static under `jit`).

    Attributes:
        betas: `[T]` per-step noise variances `beta_t`, `t = 0 .. T - 1`.
        alphas: `[T]` `1 - beta_t`.
        alpha_bars: `[T]` `prod_{s <= t} alpha_s`, so `a_t = sqrt(abar_t) a_0 +
            sqrt(1 - abar_t) eps`.
    """

    betas: np.ndarray
    alphas: np.ndarray
    alpha_bars: np.ndarray


@functools.lru_cache(maxsize=64)
def noise_schedule(num_steps: int, kind: str = "cosine") -> NoiseSchedule:
    """The `kind` beta schedule of `num_steps` steps.

    - `"cosine"` (Nichol & Dhariwal 2021): `abar(t) = f(t) / f(0)` with
      `f(t) = cos((t / T + s) / (1 + s) * pi / 2)^2`, `s = 0.008`, and
      `beta_t = min(1 - f((t + 1) / T) / f(t / T), 0.999)`.
    - `"linear"` (Ho et al. 2020): `beta_t` evenly spaced from `1e-4 * 1000 / T` to
      `0.02 * 1000 / T` (Ho's range at `T = 1000`, rescaled for other `T` as in Nichol &
      Dhariwal 2021), capped at `0.999` (which the last steps reach for `T <= 20`).

    Args:
        num_steps: `T >= 1`.
        kind: one of `BETA_SCHEDULES`.

    Returns:
        A `NoiseSchedule` of float32 numpy arrays `[T]` (read-only; cached).
    """
    if kind not in BETA_SCHEDULES:
        raise ValueError(f"beta_schedule: expected one of {BETA_SCHEDULES}, got {kind!r}")
    if num_steps < 1:
        raise ValueError(f"num_diffusion_steps: expected >= 1, got {num_steps}")
    t = np.arange(num_steps, dtype=np.float64)
    if kind == "cosine":
        s = 0.008
        f = lambda u: np.cos((u / num_steps + s) / (1 + s) * math.pi / 2) ** 2
        betas = 1.0 - f(t + 1) / f(t)
    else:
        scale = 1000.0 / num_steps
        betas = np.linspace(1e-4 * scale, 0.02 * scale, num_steps)
    betas = np.minimum(betas, MAX_BETA)
    alphas = 1.0 - betas
    out = NoiseSchedule(betas, alphas, np.cumprod(alphas))
    out = NoiseSchedule(*(x.astype(np.float32) for x in out))
    for x in out:
        x.flags.writeable = False
    return out


def sinusoidal_embedding(time: Array, dim: int) -> Array:
    """`[sin(w_i time), cos(w_i time)]` with `dim // 2` frequencies `w_i` from 1 to 100.

    Args:
        time: `[]` float, in `[0, 1]` for the policies here.
        dim: embedding size (even).

    Returns:
        `[dim]` float32.
    """
    freqs = np.geomspace(1.0, 100.0, dim // 2).astype(np.float32)
    angles = jnp.asarray(time, jnp.float32) * freqs
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)])


class ConditionalMLP(eqx.Module):
    """`(obs[obs_dim], x[dim], time[]) -> [dim]`: an MLP on `[obs, x, embed(time)]`.

    The denoiser of `DiffusionPolicy` and the velocity field of `FlowPolicy`.

    Args:
        observation_size: `obs_dim`.
        size: `dim`, the flattened (chunk of) action(s).
        hidden_sizes: MLP widths.
        key: PRNG key for the initial weights.
        activation: name in `jaxil.networks.mlp.ACTIVATIONS`.
        time_embed_dim: size of the sinusoidal time embedding (even, >= 2).
    """

    mlp: MLP
    time_embed_dim: int = eqx.field(static=True)

    def __init__(self, observation_size: int, size: int, hidden_sizes: tuple[int, ...],
                 key: PRNGKey, activation: str = "relu", time_embed_dim: int = 16):
        self.time_embed_dim = time_embed_dim
        self.mlp = MLP(observation_size + size + time_embed_dim, size, hidden_sizes, key,
                       activation=activation)

    def __call__(self, obs: Array, x: Array, time: Array) -> Array:
        return self.mlp(jnp.concatenate([obs, x, sinusoidal_embedding(time,
                                                                       self.time_embed_dim)]))


def _regression_loss(net: eqx.Module, obs: Array, x: Array, time: Array,
                     target: Array) -> Array:
    """`mean_b ||net(obs_b, x_b, time_b) - target_b||^2` over a batch `[B, ...]`."""
    pred = jax.vmap(net)(obs, x, time)
    return jnp.mean(jnp.sum((pred - target) ** 2, axis=-1))


class GenerativePolicy(eqx.Module):
    """Abstract: a conditional generative model of (chunks of) `Box` actions.

    Subclasses (final: `DiffusionPolicy`, `FlowPolicy`) give `kind`, `defaults` (every
    option they read, with its default), `generate` (noise to a unit-space action) and
    `loss` (the training objective on unit-space actions). This class does the rest:
    option checks, scaling between the bounds and `[-1, 1]`, chunk shapes, and the
    `mode` / `sample` / `bc_loss` interface of `register_policy_network`.

    Attributes:
        net: `net(obs[obs_dim], x[D], time[]) -> [D]` with `D = chunk_size * act_dim`
            (a `ConditionalMLP` unless replaced, e.g. by a hand-made module in tests).
        arch: the `PolicyArch` (static; saved with the policy).
    """

    net: eqx.Module
    arch: PolicyArch = eqx.field(static=True)

    kind: ClassVar[str]
    defaults: ClassVar[dict[str, Any]]
    common_defaults: ClassVar[dict[str, Any]] = {
        "time_embed_dim": 16, "chunk_size": 1, "mode_seed": 0,
    }

    def __init__(self, arch: PolicyArch, key: PRNGKey):
        space = arch.action_space
        if not isinstance(space, Box):
            raise ValueError(f"head: {self.kind!r} needs a continuous (Box) action space, "
                             f"got {space}")
        low, high = (np.broadcast_to(np.asarray(b, np.float64), space.shape)
                     for b in (space.low, space.high))
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low < high)):
            raise ValueError(f"action_space: head {self.kind!r} needs finite bounds "
                             f"low < high, got {space}")
        known = {**self.common_defaults, **self.defaults}
        unknown = sorted(set(dict(arch.head_options)) - set(known))
        if unknown:
            raise ValueError(f"head_options: unknown option(s) {unknown} for head "
                             f"{self.kind!r}; expected some of {sorted(known)}")
        self.arch = arch
        embed = self.option("time_embed_dim")
        _check_int("time_embed_dim", embed, 2)
        if embed % 2:
            raise ValueError(f"time_embed_dim: expected an even number, got {embed}")
        _check_int("chunk_size", self.option("chunk_size"), 1)
        _check_int("mode_seed", self.option("mode_seed"), 0)
        self.net = ConditionalMLP(arch.observation_size, self.size, arch.hidden_sizes, key,
                                  activation=arch.activation, time_embed_dim=embed)

    def option(self, name: str) -> Any:
        """The head option `name` from `arch.head_options`, or its default."""
        return self.arch.option(name, {**self.common_defaults, **self.defaults}[name])

    @property
    def chunk_size(self) -> int:
        return int(self.option("chunk_size"))

    @property
    def action_shape(self) -> tuple[int, ...]:
        return tuple(self.arch.action_space.shape)

    @property
    def size(self) -> int:
        """`D`: the flattened size of one chunk of actions."""
        return self.chunk_size * math.prod(self.action_shape)

    def _bounds(self) -> tuple[Array, Array]:
        low, high = action_bounds(self.arch.action_space)
        return low.ravel(), high.ravel()

    def to_unit(self, actions: Array) -> Array:
        """`[..., act_dim]` actions in the bounds -> `[-1, 1]` per dimension."""
        low, high = self._bounds()
        return 2.0 * (actions - low) / (high - low) - 1.0

    def from_unit(self, x: Array) -> Array:
        """`[..., act_dim]` unit-space values -> actions, clipped to the bounds."""
        low, high = self._bounds()
        return jnp.clip(low + (x + 1.0) * (high - low) / 2.0, low, high)

    @abc.abstractmethod
    def generate(self, obs: Array, noise: Array, key: PRNGKey,
                 deterministic: bool = False) -> Array:
        """Unit-space `x[D]` (not clipped) generated from `noise[D]` given `obs[obs_dim]`."""

    @abc.abstractmethod
    def loss(self, obs: Array, x0: Array, key: PRNGKey) -> Array:
        """Training objective `[]` for unit-space `x0[B, D]` given `obs[B, obs_dim]`."""

    def sample_chunk(self, obs: Array, key: PRNGKey | None,
                     deterministic: bool = False) -> Array:
        """A chunk of actions `[chunk_size, *action_shape]` for one normalised `obs`.

        `deterministic` uses the fixed noise `normal(key(mode_seed))` and the deterministic
        sampler (see the module docstring); `key` is then unused (may be `None`).
        """
        if deterministic:
            noise_key = jax.random.key(int(self.option("mode_seed")))
            key = None
        else:
            noise_key, key = jax.random.split(key)
        noise = jax.random.normal(noise_key, (self.size,))
        x = self.generate(obs, noise, key, deterministic)
        actions = self.from_unit(x.reshape(self.chunk_size, -1))
        return actions.reshape(self.chunk_size, *self.action_shape)

    def sample(self, obs: Array, key: PRNGKey) -> Array:
        """A sampled action `[*action_shape]` (the chunk's first) for one normalised `obs`."""
        return self.sample_chunk(obs, key)[0]

    def mode(self, obs: Array) -> Array:
        """The deterministic action `[*action_shape]` for one normalised `obs`."""
        return self.sample_chunk(obs, None, deterministic=True)[0]

    def flatten_actions(self, actions: Array) -> Array:
        """Expert actions `[B, *action_shape]` (or `[B, k, *action_shape]` with chunks of
        `k = chunk_size > 1`) as unit-space `x0[B, D]`."""
        lead = (self.chunk_size,) if self.chunk_size > 1 else ()
        if actions.shape[1:] != lead + self.action_shape:
            hint = (" (chunks need action sequences: see jaxil.data.sample_action_chunks)"
                    if self.chunk_size > 1 else "")
            expected = ", ".join(map(str, ("B", *lead, *self.action_shape)))
            raise ValueError(f"actions: expected [{expected}] for head {self.kind!r}, "
                             f"got {tuple(actions.shape)}{hint}")
        b = actions.shape[0]
        return self.to_unit(actions.reshape(b, self.chunk_size, -1)).reshape(b, self.size)

    def bc_loss(self, obs: Array, actions: Array, key: PRNGKey) -> tuple[Array, Array]:
        """Behavioural-cloning loss on a batch.

        Args:
            obs: `[B, obs_dim]` normalised observations.
            actions: `[B, *action_shape]` expert actions (`[B, chunk_size, ...]` with
                chunks), in the bounds.
            key: PRNG key for the noise and time draws.

        Returns:
            `(loss[], entropy[])`; the entropy is not available and is zero.
        """
        if key is None:
            raise ValueError(f"key: head {self.kind!r} needs a PRNG key for its loss")
        return self.loss(obs, self.flatten_actions(actions), key), jnp.zeros(())


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")


class DiffusionPolicy(GenerativePolicy):
    """DDPM policy (`PolicyArch(head="diffusion")`): a denoiser `f_theta(obs, a_t, t)`.

    Training (Ho et al. 2020): `t ~ U{0..T-1}`, `eps ~ N(0, I)`,
    `a_t = sqrt(abar_t) a_0 + sqrt(1 - abar_t) eps`, loss `mean_b ||f_theta - target||^2`
    (summed over action dimensions), where the target is set by `prediction`:

    - `"v"` (the default; Salimans & Ho 2022): `v = sqrt(abar_t) eps - sqrt(1 - abar_t) a_0`,
      so `a_0 = sqrt(abar_t) a_t - sqrt(1 - abar_t) v`;
    - `"epsilon"` (Ho et al. 2020): `eps`, so `a_0 = (a_t - sqrt(1 - abar_t) eps) /
      sqrt(abar_t)`;
    - `"sample"`: `a_0` itself.

    Why `"v"`: the cosine schedule ends at (almost) zero signal (`abar_{T-1} = 6e-6` at
    `T = 20`), where the `eps` parameterisation divides the network's error by
    `sqrt(abar_t)` (400x at `T = 20`) to estimate `a_0`: the first sampling step's `a_0` is
    then a corner of `[-1, 1]^D` (after `clip_sample`) picked by the sign of that error, and
    the rest of the trajectory (the mode above all) depends on such artefacts (without
    `clip_sample` the mode even changes sides); `v` is well conditioned at
    every noise level (Lin et al. 2024 make the same point for zero terminal SNR). On
    `obstacle_nav` (BC's 64x64 tanh network, 6,000 updates, 5 trainings) the mode succeeds on
    every seed with `"v"` (1.0, and the same with 20 DDIM steps or without `clip_sample`),
    0.64 on average (0.15 to 1.0) with `"epsilon"`, 0.96 (0.78 to 1.0) with `"sample"`.
    The network sees the time `(t + 1) / T` in `(0, 1]`.

    Sampling from `a_{T-1} ~ N(0, I)`: `sampler="ddpm"` runs all `T` ancestral steps with
    the posterior variance `beta_t (1 - abar_{t-1}) / (1 - abar_t)`; `sampler="ddim"` runs
    `num_inference_steps` DDIM steps (evenly spaced over `T - 1 .. 0`) with `ddim_eta`
    (0: deterministic). With `clip_sample` the predicted `a_0` is clipped to `[-1, 1]` at
    every step (and DDIM's `eps` recomputed from it), as in most DDPM implementations.
    `mode` uses DDIM with `eta = 0` and `num_inference_steps`.

    Options (`PolicyArch.head_options`) and defaults: `num_diffusion_steps` (20),
    `beta_schedule` (`"cosine"` or `"linear"`, see `noise_schedule`), `sampler`
    (`"ddpm"`), `num_inference_steps` (DDIM steps, at most `num_diffusion_steps`; unset:
    `min(10, num_diffusion_steps)`), `ddim_eta` (0.0), `clip_sample` (True),
    `prediction` (`"v"`, `"epsilon"` or `"sample"`), `time_embed_dim` (16), `chunk_size`
    (1), `mode_seed` (0). (Diffusion policies saved before `prediction` existed were
    trained with `"epsilon"`: load them with that option set.)
    """

    kind: ClassVar[str] = "diffusion"
    defaults: ClassVar[dict[str, Any]] = {
        "num_diffusion_steps": 20, "beta_schedule": "cosine", "sampler": "ddpm",
        "num_inference_steps": None, "ddim_eta": 0.0, "clip_sample": True,
        "prediction": "v",
    }

    def __check_init__(self):
        steps = self.option("num_diffusion_steps")
        _check_int("num_diffusion_steps", steps, 1)
        noise_schedule(steps, self.option("beta_schedule"))  # checks the name
        if self.option("sampler") not in SAMPLERS:
            raise ValueError(f"sampler: expected one of {SAMPLERS}, "
                             f"got {self.option('sampler')!r}")
        inference = self.option("num_inference_steps")
        if inference is not None:
            _check_int("num_inference_steps", inference, 1)
            if inference > steps:
                raise ValueError(f"num_inference_steps: expected at most num_diffusion_steps "
                                 f"({steps}), got {inference}")
        if self.option("prediction") not in PREDICTIONS:
            raise ValueError(f"prediction: expected one of {PREDICTIONS}, "
                             f"got {self.option('prediction')!r}")
        if not 0.0 <= float(self.option("ddim_eta")) <= 1.0:
            raise ValueError(f"ddim_eta: expected a value in [0, 1], "
                             f"got {self.option('ddim_eta')}")

    @property
    def schedule(self) -> NoiseSchedule:
        return noise_schedule(self.option("num_diffusion_steps"), self.option("beta_schedule"))

    @property
    def num_inference_steps(self) -> int:
        """DDIM steps: the option, or `min(10, num_diffusion_steps)` when it is unset."""
        steps = self.option("num_inference_steps")
        return min(10, self.option("num_diffusion_steps")) if steps is None else int(steps)

    def _time(self, t: Array) -> Array:
        return (jnp.asarray(t, jnp.float32) + 1.0) / self.option("num_diffusion_steps")

    def denoising_loss(self, obs: Array, x0: Array, t: Array, noise: Array) -> Array:
        """The DDPM loss for given draws.

        Args:
            obs: `[B, obs_dim]` normalised observations.
            x0: `[B, D]` unit-space actions.
            t: `[B]` int steps in `0 .. T - 1`.
            noise: `[B, D]` standard normal draws `eps`.

        Returns:
            `mean_b ||f_theta(obs_b, a_t, t_b) - target_b||^2`, `[]`, with the `prediction`
            target (`v`, `eps` or `a_0`; see the class docstring).
        """
        abar = jnp.asarray(self.schedule.alpha_bars)[t][:, None]
        x_t = jnp.sqrt(abar) * x0 + jnp.sqrt(1.0 - abar) * noise
        prediction = self.option("prediction")
        if prediction == "epsilon":
            target = noise
        elif prediction == "sample":
            target = x0
        else:
            target = jnp.sqrt(abar) * noise - jnp.sqrt(1.0 - abar) * x0
        return _regression_loss(self.net, obs, x_t, self._time(t), target)

    def loss(self, obs: Array, x0: Array, key: PRNGKey) -> Array:
        t_key, noise_key = jax.random.split(key)
        t = jax.random.randint(t_key, x0.shape[:1], 0, self.option("num_diffusion_steps"))
        return self.denoising_loss(obs, x0, t, jax.random.normal(noise_key, x0.shape))

    def _x0_and_eps(self, obs: Array, x: Array, t: Array, abar: Array) -> tuple[Array, Array]:
        """Predicted `(a_0, eps)` at step `t` from the network's `prediction`, with `a_0`
        clipped under `clip_sample` (and `eps` recomputed from it)."""
        out = self.net(obs, x, self._time(t))
        prediction = self.option("prediction")
        if prediction == "epsilon":
            eps = out
            x0 = (x - jnp.sqrt(1.0 - abar) * eps) / jnp.sqrt(abar)
        elif prediction == "sample":
            x0 = out
            eps = (x - jnp.sqrt(abar) * x0) / jnp.sqrt(1.0 - abar)
        else:
            x0 = jnp.sqrt(abar) * x - jnp.sqrt(1.0 - abar) * out
            eps = jnp.sqrt(1.0 - abar) * x + jnp.sqrt(abar) * out
        if self.option("clip_sample"):
            x0 = jnp.clip(x0, -1.0, 1.0)
            eps = (x - jnp.sqrt(abar) * x0) / jnp.sqrt(1.0 - abar)
        return x0, eps

    def ddpm_sample(self, obs: Array, noise: Array, key: PRNGKey) -> Array:
        """DDPM ancestral sampling over all `T` steps from `a_{T-1} = noise[D]`."""
        s = self.schedule
        abar_prev = np.concatenate([[1.0], s.alpha_bars[:-1]])
        coef_x0 = np.sqrt(abar_prev) * s.betas / (1.0 - s.alpha_bars)
        coef_xt = np.sqrt(s.alphas) * (1.0 - abar_prev) / (1.0 - s.alpha_bars)
        std = np.sqrt(s.betas * (1.0 - abar_prev) / (1.0 - s.alpha_bars))  # 0 at t = 0
        steps = np.arange(len(s.betas))[::-1]
        consts = tuple(np.asarray(c[steps], np.float32)
                       for c in (s.alpha_bars, coef_x0, coef_xt, std))

        def step(x, inputs):
            t, abar, c0, ct, sd, k = inputs
            x0, _ = self._x0_and_eps(obs, x, t, abar)
            return c0 * x0 + ct * x + sd * jax.random.normal(k, x.shape), None

        keys = jax.random.split(key, len(steps))
        x, _ = jax.lax.scan(step, noise, (steps, *consts, keys))
        return x

    def ddim_sample(self, obs: Array, noise: Array, key: PRNGKey | None,
                    eta: float = 0.0) -> Array:
        """DDIM sampling with `num_inference_steps` steps from `a_{T-1} = noise[D]`.

        Steps `tau_i = round(linspace(T - 1, 0, S))`; each step maps `a_t` to
        `sqrt(abar_prev) a0_hat + sqrt(1 - abar_prev - sigma^2) eps_hat + sigma z`, with
        `sigma = eta sqrt((1 - abar_prev) / (1 - abar_t) (1 - abar_t / abar_prev))` and
        `abar_prev = 1` after the last step. `eta = 0` (a Python float: static) draws no
        noise and needs no `key`.
        """
        s = self.schedule
        T, S = len(s.betas), self.num_inference_steps
        steps = np.round(np.linspace(T - 1, 0, S)).astype(np.int32)
        abar = s.alpha_bars[steps].astype(np.float64)
        abar_prev = np.concatenate([abar[1:], [1.0]])
        sigma = eta * np.sqrt((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev))
        dir_coef = np.sqrt(np.maximum(1 - abar_prev - sigma**2, 0.0))
        consts = tuple(np.asarray(c, np.float32)
                       for c in (abar, np.sqrt(abar_prev), dir_coef, sigma))

        def step(x, inputs):
            t, ab, sq_prev, dc, sg, k = inputs
            x0, eps = self._x0_and_eps(obs, x, t, ab)
            x = sq_prev * x0 + dc * eps
            return (x if k is None else x + sg * jax.random.normal(k, x.shape)), None

        keys = None if eta == 0 else jax.random.split(key, S)
        x, _ = jax.lax.scan(step, noise, (steps, *consts, keys))
        return x

    def generate(self, obs: Array, noise: Array, key: PRNGKey,
                 deterministic: bool = False) -> Array:
        """`sampler`'s sample from `noise[D]`; DDIM with `eta = 0` when `deterministic`."""
        if deterministic:
            return self.ddim_sample(obs, noise, key, eta=0.0)
        if self.option("sampler") == "ddim":
            return self.ddim_sample(obs, noise, key, eta=float(self.option("ddim_eta")))
        return self.ddpm_sample(obs, noise, key)


class FlowPolicy(GenerativePolicy):
    """Flow-matching policy (`PolicyArch(head="flow")`): a velocity field `v_theta`.

    Training (rectified flow / conditional flow matching with the linear path):
    `tau ~ U[0, 1]`, `noise ~ N(0, I)`, `a_tau = (1 - tau) noise + tau a_0`, loss
    `mean_b ||v_theta(obs, a_tau, tau) - (a_0 - noise)||^2`. Sampling integrates
    `da/dtau = v_theta` from `a_0 = noise` at `tau = 0` to `tau = 1` with
    `num_inference_steps` Euler steps; it is deterministic given the noise, so `mode` is
    the same integration from the fixed noise `normal(key(mode_seed))`.

    Options (`PolicyArch.head_options`) and defaults: `num_inference_steps` (10),
    `time_embed_dim` (16), `chunk_size` (1), `mode_seed` (0).
    """

    kind: ClassVar[str] = "flow"
    defaults: ClassVar[dict[str, Any]] = {"num_inference_steps": 10}

    def __check_init__(self):
        _check_int("num_inference_steps", self.option("num_inference_steps"), 1)

    def flow_matching_loss(self, obs: Array, x0: Array, tau: Array, noise: Array) -> Array:
        """The flow-matching loss for given draws.

        Args:
            obs: `[B, obs_dim]` normalised observations.
            x0: `[B, D]` unit-space actions.
            tau: `[B]` times in `[0, 1]`.
            noise: `[B, D]` standard normal draws.

        Returns:
            `mean_b ||v_theta(obs_b, a_tau, tau_b) - (x0_b - noise_b)||^2`, `[]`.
        """
        x_tau = (1.0 - tau[:, None]) * noise + tau[:, None] * x0
        return _regression_loss(self.net, obs, x_tau, tau, x0 - noise)

    def loss(self, obs: Array, x0: Array, key: PRNGKey) -> Array:
        tau_key, noise_key = jax.random.split(key)
        tau = jax.random.uniform(tau_key, x0.shape[:1])
        return self.flow_matching_loss(obs, x0, tau, jax.random.normal(noise_key, x0.shape))

    def generate(self, obs: Array, noise: Array, key: PRNGKey,
                 deterministic: bool = False) -> Array:
        """Euler integration of `v_theta` from `noise[D]` at `tau = 0` to `tau = 1`."""
        n = int(self.option("num_inference_steps"))
        taus = (np.arange(n) / n).astype(np.float32)

        def step(x, tau):
            return x + self.net(obs, x, tau) / n, None

        x, _ = jax.lax.scan(step, noise, taus)
        return x


register_policy_network(DiffusionPolicy.kind, DiffusionPolicy)
register_policy_network(FlowPolicy.kind, FlowPolicy)
