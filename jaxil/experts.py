"""Training expert policies with jaxil's own PPO.

`train_ppo(env, key)` trains a PPO expert in one compiled `lax.scan` (`jaxil.train`) and
evaluates it; `DEFAULTS` holds a tuned recipe (config, timesteps, acting mode, env
arguments) per environment, looked up by `env.spec.name`:

| env                             | timesteps | evaluated return      | notes                  |
|---------------------------------|-----------|-----------------------|------------------------|
| `cartpole`                      | 98k       | 500 (the maximum)     | random: about 20       |
| `pendulum`                      | 99k       | -150 to -175          | random: about -1200    |
| `pointmass`                     | 99k       | about -5.0            | greedy controller -4.7 |
| `brax/inverted_pendulum`        | 98k       | 1000 (the maximum)    | `backend="positional"` |
| `brax/inverted_double_pendulum` | 1M        | about 9355            | `backend="positional"` |
| `mpe/simple_spread` (MAPPO)     | 1M        | about -140 (team)     | random: about -235     |
| `mpe/simple_speaker_listener`   | 1M        | about -13 (team)      | random: about -88      |
| (MAPPO, centralised critic)     |           |                       |                        |
| `mpe/simple_push` (self-play)   | 1M        | -1.3 / -6.7 per side  | vs random: 13.2 / -6.4 |
| `mpe/simple_tag` (self-play)    | 1M        | 23.0 / -33.5 per side | vs random: 33.0 / -8.1 |

For the competitive tasks the return is the mean per agent of the adversaries / the good
agents, expert against expert; "vs random" is each expert side against a uniformly random
other side (random against random: push 1.2 / -28.3, tag 2.5 / -10.6).

Training itself takes a few seconds on a 2-core CPU for the built-in envs (compiling the
run takes longer than running it); the Brax recipes are dominated by compiling the
physics. Brax locomotion tasks (`brax/hopper`, `brax/halfcheetah`, ...) fall back to
`GENERIC`, a Brax-style recipe (many environments, reward scaling) that is a starting
point rather than a tuned one.

Multi-agent environments (`jaxil.envs.multiagent`, e.g. `mpe/simple_spread`) get a MAPPO
expert (`jaxil.rl.mappo`: one actor shared by all agents, with their one-hot ids), trained
and evaluated the same way; its returns are team returns (the mean over agents of each
agent's return, which is the shared reward's return in simple_spread). In
`mpe/simple_speaker_listener` the speaker (`Discrete(3)`) and the listener (`Discrete(5)`)
share one masked categorical head, and the recipe uses MAPPO's centralised critic; its
-13 is that of following the message (a scripted listener that greedily moves to the
landmark the speaker names scores about -13.4; one that ignores the message and goes to
the landmarks' centroid about -30.6).

Experts act with the mode of their distribution (`deterministic=True`): on these tasks it
scores as well as sampling or better once trained (pendulum: about -152 against -170 for
sampling), and gives cleaner demonstrations. Stopped early, a policy can still lean on
its noise: the double pendulum after 500k steps scores 9290 sampling but 6245 with its
mode, hence its 1M-step recipe (9355 with the mode). One exception: the
`mpe/simple_speaker_listener` expert samples better than its mode (about -9.5 against -13
team return), perhaps because the listener's discrete moves overshoot near the goal; it
still acts with its mode, as `jaxil expert --demos` records.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxil.envs.base import Env
from jaxil.envs.multiagent import is_multiagent
from jaxil.evaluation import evaluate
from jaxil.networks.policy import ActorPolicy
from jaxil.progress import MetricsCallback, ProgressBar
from jaxil.rl.mappo import MAPPOConfig, MultiAgentPolicy, mappo
from jaxil.rl.ppo import PPOConfig, ppo
from jaxil.training import train
from jaxil.types import PRNGKey

ProgressFn = MetricsCallback
"""`progress(update, metrics)`: called on the host during training with Python floats."""


class ExpertDefaults(NamedTuple):
    """A training recipe for one environment.

    Attributes:
        config: the `PPOConfig` (a `MAPPOConfig` for a multi-agent environment).
        num_timesteps: environment steps to train for (multi-agent: steps of all agents
            together).
        deterministic: the expert acts with the mode of its distribution.
        env_kwargs: recommended arguments of `jaxil.envs.make` (e.g. a cheap Brax backend).
    """

    config: PPOConfig | MAPPOConfig
    num_timesteps: int
    deterministic: bool = True
    env_kwargs: dict[str, Any] = {}


_BRAX_FAST = {"backend": "positional"}

GENERIC = ExpertDefaults(
    PPOConfig(num_envs=64, rollout_length=64, num_epochs=4, num_minibatches=8,
              hidden_sizes=(64, 64), value_hidden_sizes=(128, 128), learning_rate=3e-4,
              gamma=0.99, gae_lambda=0.95, entropy_coef=1e-3, reward_scale=0.1),
    num_timesteps=2_000_000,
    env_kwargs=_BRAX_FAST,
)
"""The recipe for environments without their own entry (Brax locomotion etc.)."""

_MPE_PPO = PPOConfig(num_envs=64, rollout_length=25, num_epochs=4, num_minibatches=4,
                     hidden_sizes=(128, 128), learning_rate=3e-3, entropy_coef=0.01,
                     reward_scale=0.1)
"""The shared learner of the MPE (MAPPO) recipes: 25-step episodes, one per rollout."""

DEFAULTS: dict[str, ExpertDefaults] = {
    "cartpole": ExpertDefaults(
        PPOConfig(num_envs=16, rollout_length=128, num_epochs=4, num_minibatches=8,
                  learning_rate=1e-3, entropy_coef=0.01, reward_scale=0.1),
        num_timesteps=100_000),
    "pendulum": ExpertDefaults(
        PPOConfig(num_envs=16, rollout_length=64, num_epochs=10, num_minibatches=4,
                  learning_rate=1e-3, gamma=0.95, reward_scale=0.1),
        num_timesteps=100_000),
    "pointmass": ExpertDefaults(
        PPOConfig(num_envs=16, rollout_length=64, num_epochs=10, num_minibatches=4,
                  learning_rate=3e-3, gamma=0.9),
        num_timesteps=100_000),
    "brax/inverted_pendulum": ExpertDefaults(
        PPOConfig(num_envs=32, rollout_length=64, num_epochs=4, num_minibatches=4,
                  learning_rate=1e-3, reward_scale=0.1),
        num_timesteps=100_000, env_kwargs=_BRAX_FAST),
    "brax/inverted_double_pendulum": ExpertDefaults(
        PPOConfig(num_envs=64, rollout_length=64, num_epochs=4, num_minibatches=8,
                  learning_rate=1e-3, reward_scale=0.1),
        num_timesteps=1_000_000, env_kwargs=_BRAX_FAST),
    # MAPPO (shared actor with agent ids, decentralised critic). Team return of the mode
    # over 64 episodes, 8 seeds (jax.random.split(key(0), 8)), 2-core CPU: mean -140.2,
    # seeds -126.7 to -181.3 (one of 8 lags; the rest -126.7 to -140.2); sampling -144.3.
    # A uniformly random policy scores -234.6, the greedy "agent i to landmark i" -135.0.
    # About 50 s a seed on 2 CPU cores.
    "mpe/simple_spread": ExpertDefaults(MAPPOConfig(_MPE_PPO), num_timesteps=1_000_000),
    # MAPPO, the simple_spread recipe with the centralised critic (the speaker cannot see
    # the listener, so its own-observation value is poor: decentralised, 1 of 2 seeds
    # stalled at -24.4). Team return over 64 episodes, 8 seeds (jax.random.split(key(0),
    # 8)), 2-core CPU: the mode -11.1 to -14.8, mean -13.1 (all 8 follow the message);
    # sampling -9.4 to -9.6, mean -9.5. Uniformly random actions: -88.3 (256 episodes).
    # 500k steps are not enough: 3 of 8 seeds at -21.6 to -24.3 (mode). About 40-65 s a
    # seed on 2 CPU cores (compiling about 10 s).
    "mpe/simple_speaker_listener": ExpertDefaults(
        MAPPOConfig(_MPE_PPO, centralized_critic=True), num_timesteps=1_000_000),
    # Competitive tasks: MAPPO self-play (one shared actor, each agent its own reward), the
    # speaker_listener recipe. Mean return per agent of each side over 64 episodes, seeds
    # key(0) and key(1), 2-core CPU (the mode):
    # simple_push, (adversary, good agent): expert against expert -1.33, -6.65 (seed 1:
    # -1.34, -6.69); the expert's adversary against a random good agent 13.2 (random
    # against random: 1.2); the expert's good agent against a random adversary -6.4
    # (random: -28.3). About 30 s a seed.
    "mpe/simple_push": ExpertDefaults(
        MAPPOConfig(_MPE_PPO, centralized_critic=True), num_timesteps=1_000_000),
    # simple_tag, (predators, prey): expert against expert 22.97, -33.52 (seed 1: 22.66,
    # -32.95); the expert's predators against a random prey 33.0 and 31.6 (random against
    # random: 2.5); the expert's prey against random predators -8.1 and -7.8 (random prey:
    # -10.6). About 55 s a seed.
    "mpe/simple_tag": ExpertDefaults(
        MAPPOConfig(_MPE_PPO, centralized_critic=True), num_timesteps=1_000_000),
}
"""Tuned recipes by environment name (`env.spec.name`)."""


def defaults(env_name: str) -> ExpertDefaults:
    """The recipe for `env_name` (`GENERIC` when it has none of its own)."""
    return DEFAULTS.get(env_name, GENERIC)


def default_config(env_name: str) -> PPOConfig | MAPPOConfig:
    """The default `PPOConfig` for `env_name` (a `MAPPOConfig` for a multi-agent one)."""
    return defaults(env_name).config


def default_timesteps(env_name: str) -> int:
    """The default training length (environment steps) for `env_name`."""
    return defaults(env_name).num_timesteps


def train_ppo(env: Env, key: PRNGKey, num_timesteps: int | None = None,
              config: PPOConfig | MAPPOConfig | None = None, *,
              deterministic: bool | None = None, anneal_lr: bool = True,
              num_eval_episodes: int = 20, progress: ProgressFn | None = None,
              progress_every: int | None = 10
              ) -> tuple[ActorPolicy | MultiAgentPolicy, dict[str, Any]]:
    """Trains a PPO expert on `env` (MAPPO, `jaxil.rl.mappo`, on a multi-agent env) and
    evaluates it.

    The run is one compiled `jaxil.train` call of `num_timesteps // (num_envs *
    rollout_length)` updates; the same key gives the same expert.

    Args:
        env: the environment (with its time limit, e.g. from `jaxil.envs.make`).
        key: PRNG key.
        num_timesteps: environment steps (`None`: the recipe's, see `DEFAULTS`).
        config: a `PPOConfig` (`None`: the recipe's for `env.spec.name`). For a
            multi-agent env, a `MAPPOConfig`, or a `PPOConfig` used as its `ppo` part
            with MAPPO's default options.
        deterministic: the returned expert acts with its distribution's mode (`None`: the
            recipe's choice, `True` for all built-in recipes).
        anneal_lr: decay the learning rate linearly to 0 over the run (when the config's
            `lr_decay_updates` is 0).
        num_eval_episodes: episodes of the final evaluation (`jaxil.evaluate`); `0` skips
            it (`mean_return` is then NaN).
        progress: optional `progress(update, metrics)`, called on the host every
            `progress_every` updates and after the last (metrics as Python floats, e.g.
            `episode_return`): `jaxil.train`'s `callback`.
        progress_every: updates between two `progress` calls (`None`: a hundredth of the
            run, as `jaxil.train`'s default).

    Returns:
        `(expert, info)`: the `ActorPolicy` (multi-agent: a `MultiAgentPolicy`,
        `expert(obs[N, D], key) -> action[N]`, with team returns in `info`), and a dict
        with `metrics` (name -> numpy `[num_updates]` history), `eval_returns`
        (`[num_eval_episodes]`), `mean_return`, `std_return`, `timesteps`, `num_updates`,
        `compile_seconds`, `train_seconds`, `eval_seconds`, `wall_seconds`, `deterministic`
        and `config`; `eval_return` and `seconds` are aliases of `mean_return` and
        `wall_seconds`.
    """
    start = time.perf_counter()
    recipe = defaults(env.spec.name)
    config = recipe.config if config is None else config
    num_timesteps = recipe.num_timesteps if num_timesteps is None else int(num_timesteps)
    deterministic = recipe.deterministic if deterministic is None else deterministic
    num_updates = num_timesteps // config.batch_size
    if num_updates < 1:
        raise ValueError(f"num_timesteps: expected >= num_envs * rollout_length = "
                         f"{config.batch_size}, got {num_timesteps}")
    multi = is_multiagent(env)
    if multi and isinstance(config, PPOConfig):
        config = MAPPOConfig(config)
    if not multi and isinstance(config, MAPPOConfig):
        raise ValueError(f"config: a MAPPOConfig is for multi-agent environments; "
                         f"{env.spec.name!r} has one agent, give a PPOConfig")
    ppo_config = config.ppo if multi else config
    if anneal_lr and ppo_config.lr_decay_updates == 0:
        ppo_config = dataclasses.replace(ppo_config, lr_decay_updates=num_updates)
        config = dataclasses.replace(config, ppo=ppo_config) if multi else ppo_config
    algo = mappo(env, config) if multi else ppo(env, config)

    train_key, eval_key = jax.random.split(key)
    run = jax.jit(lambda k: train(algo, k, None, num_updates, callback=progress,
                                  report_every=progress_every)).lower(train_key).compile()
    compiled = time.perf_counter()
    state, metrics = jax.block_until_ready(run(train_key))
    trained = time.perf_counter()

    expert = algo.policy(state).with_deterministic(deterministic)
    returns = np.zeros(0, np.float32)
    if num_eval_episodes > 0:
        returns = np.asarray(evaluate(env, expert, eval_key, num_eval_episodes))
    mean_return = float(np.mean(returns)) if returns.size else float("nan")
    done = time.perf_counter()
    info = {
        "metrics": {k: np.asarray(v) for k, v in metrics.items()},
        "eval_returns": returns,
        "mean_return": mean_return,
        "eval_return": mean_return,
        "std_return": float(np.std(returns)) if returns.size else float("nan"),
        "timesteps": num_updates * config.batch_size,
        "num_updates": num_updates,
        "compile_seconds": compiled - start,
        "train_seconds": trained - compiled,
        "eval_seconds": done - trained,
        "wall_seconds": done - start,
        "seconds": done - start,
        "deterministic": deterministic,
        "config": config,
    }
    return expert, info


def progress_bar(env: Env, num_timesteps: int | None = None,
                 config: PPOConfig | MAPPOConfig | None = None,
                 description: str | None = None
                 ) -> ProgressBar:
    """A `ProgressBar` for `train_ppo(env, ..., progress=bar, progress_every=None)`: the
    run's updates, with the episode return beside the bar."""
    recipe = defaults(env.spec.name)
    config = recipe.config if config is None else config
    num_timesteps = recipe.num_timesteps if num_timesteps is None else int(num_timesteps)
    return ProgressBar(max(1, num_timesteps // config.batch_size), "episode_return",
                       description or f"PPO expert on {env.spec.name}")


def print_progress(update: int, metrics: dict[str, float]) -> None:
    """A ready-made `progress`: one line per report with the episode return."""
    print(f"update {update:5d}  return {metrics.get('episode_return', float('nan')):10.2f}  "
          f"entropy {metrics.get('entropy', float('nan')):7.3f}", flush=True)
