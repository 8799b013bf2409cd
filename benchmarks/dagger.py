"""DAgger and DART against BC: expert-normalised return against the demonstration budget.

Prints one JSON object per measurement (with the setting and the machine) and writes a
PNG (`--plot`). For each env of `--envs` a PPO expert is trained (`jaxil.experts`
recipe) and `max(--demos)` episodes are collected once; every policy is scored on the
same `--eval-episodes` start states as the expert and the random policy (0 = random,
1 = expert), `--seeds` seeds per setting in one vmapped run.

- `dagger_vs_demos` (per env, `method` in `bc`, `dagger`, per number of demonstration
  episodes in `--demos`): BC on the episodes, `--bc-steps` steps; DAgger seeded with the
  same episodes, `--rounds` rounds of `--num-envs` complete episodes of the learner
  (`first_round` schedule: the first round is the expert's) and as many BC steps in all
  (the warm start on the demonstrations in `init` included); each policy is scored at
  every test-time noise level of `--demo-eval-noise` (continuous actions: as below;
  discrete actions: each executed action replaced by a uniformly random one with that
  probability), which shows how each copes with states off the expert's path.
- `dart_perturbed` (`--dart-env`, pendulum by default): at the same budget of expert
  episodes, BC on `1 + rounds * --dart-envs` clean episodes against DART with one clean
  episode and `rounds` rounds of `--dart-envs` noisy-expert episodes (for each `rounds`
  in `--dart-rounds`; DART's prior on the learner's error `--dart-error-prior`, none by
  default), both `--bc-steps` steps, evaluated with Gaussian noise of standard deviation
  `sigma * (high - low) / 2` added to every executed action (clipped to the bounds), for
  each `sigma` in `--eval-noise`. The two are paired: each seed draws its own first
  episode, and BC's other episodes are the clean expert's from the very start states
  that DART's noisy episodes start from (`paired_clean_episodes`). With one to five
  pendulum episodes, which start states (and swing directions) the demonstrations
  happen to cover moves a score by up to 1.3, more than anything else; pairing takes
  that out of the difference between the two methods.

Every run takes `--bc-steps` gradient steps; DAgger and DART split them evenly between
the warm start on the demonstrations and their rounds. Every method trains the same
learner: BC's default network, or `--hidden-sizes` (`''` for a linear learner).

Usage:
    python benchmarks/dagger.py                      # cartpole and pendulum
    python benchmarks/dagger.py --envs brax/inverted_pendulum
    python benchmarks/dagger.py --envs cartpole --demos 1,2,5 --demo-eval-noise 0,0.2
    python benchmarks/dagger.py --smoke              # tiny settings, pendulum only
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import jaxil
from jaxil.algorithms import (
    AggregationConfig,
    BCConfig,
    DAggerConfig,
    DARTConfig,
    bc,
    dagger,
    dart,
)
from jaxil.algorithms.aggregation import labelled_pairs
from jaxil.types import Array, Box, Discrete, Policy, PRNGKey

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import emit, machine, save_figure  # noqa: E402  (run as a file or with -m)


class PerturbedPolicy(eqx.Module):
    """`policy`'s action plus `N(0, std^2)` noise per dimension, clipped to the bounds."""

    policy: Policy
    std: Array
    space: Box = eqx.field(static=True)

    def __call__(self, obs: Array, key: PRNGKey) -> Array:
        act_key, noise_key, _ = jax.random.split(key, 3)  # 3: the keys the figures used
        action = self.policy(obs, act_key)
        noisy = action + self.std * jax.random.normal(noise_key, action.shape)
        return jnp.clip(noisy, jnp.asarray(self.space.low), jnp.asarray(self.space.high))


def perturbed(policy: Policy, space: Box | Discrete, sigma: float) -> Policy:
    """`policy` perturbed at test time with noise level `sigma`: on a `Box`, Gaussian noise
    of standard deviation `sigma` times the half-range (`PerturbedPolicy`); on a `Discrete`
    space, a uniformly random action with probability `sigma` (`jaxil.EpsilonRandom`)."""
    if isinstance(space, Discrete):
        return jaxil.EpsilonRandom(policy, jnp.asarray(sigma, jnp.float32), space)
    half_range = (np.asarray(space.high) - np.asarray(space.low)) / 2
    return PerturbedPolicy(policy, jnp.asarray(sigma * half_range, jnp.float32), space)


class Task:
    """An env with its expert, demonstrations and reference returns."""

    def __init__(self, name: str, args: argparse.Namespace, num_demos: int):
        recipe = jaxil.experts.defaults(name)
        self.name = name
        self.env = jaxil.envs.make(name, **recipe.env_kwargs)
        start = time.perf_counter()
        self.expert, info = jaxil.experts.train_ppo(self.env, jax.random.key(args.seed),
                                                    num_timesteps=args.expert_steps)
        self.demos = jaxil.data.collect(self.env, self.expert, jax.random.key(args.seed + 1),
                                        num_demos)
        self.eval_key = jax.random.key(args.seed + 2)
        self.eval_episodes = args.eval_episodes
        self.random_return = self.mean_return(jaxil.RandomPolicy(self.env.spec.action_space))
        self.expert_return = self.mean_return(self.expert)
        emit({"benchmark": "dagger_expert", "env": name, "expert_return": self.expert_return,
              "random_return": self.random_return, "ppo_eval_return": info["mean_return"],
              "eval_episodes": self.eval_episodes,
              "seconds": time.perf_counter() - start})

    def mean_return(self, policy: Policy) -> float:
        """Mean return over the evaluation episodes (the same start states every time)."""
        return float(jaxil.evaluate(self.env, policy, self.eval_key, self.eval_episodes).mean())

    def score(self, policy: Policy) -> float:
        return float(jaxil.normalized_score(self.mean_return(policy), self.random_return,
                                            self.expert_return))

    def first(self, num_episodes: int) -> jaxil.Transition:
        """The first `num_episodes` demonstrations as flat transitions."""
        return jaxil.data.as_transitions(jax.tree.map(lambda x: x[:num_episodes], self.demos))

    def per_seed(self, num_seeds: int, stride: int, num_episodes: int) -> jaxil.Transition:
        """`[num_seeds, ...]` flat transitions: seed `i`'s are the `num_episodes`
        demonstrations from episode `i * stride` on (disjoint when `num_episodes <= stride`)."""
        seeds = [jaxil.data.as_transitions(jax.tree.map(
            lambda x, i=i: x[i * stride:i * stride + num_episodes], self.demos))
            for i in range(num_seeds)]
        return jax.tree.map(lambda *x: jnp.stack(x), *seeds)


def train_seeds(algo: jaxil.Algorithm, data: jaxil.Transition, num_updates: int,
                args: argparse.Namespace, per_seed: bool = False):
    """`args.seeds` runs of `algo` in one vmapped, compiled call; the stacked states
    (`per_seed`: `data` has a leading seed axis, one dataset per run)."""
    run = jax.jit(jax.vmap(lambda k, d: jaxil.train(algo, k, d, num_updates,
                                                    args.batch_size)[0],
                           in_axes=(0, 0 if per_seed else None)))
    return jax.block_until_ready(run(jax.random.split(jax.random.key(args.seed + 3),
                                                      args.seeds), data))


def seed_policies(algo: jaxil.Algorithm, states, num_seeds: int) -> list[Policy]:
    return [algo.policy(jax.tree.map(lambda x, i=i: x[i], states)) for i in range(num_seeds)]


def aggregation_config(task: Task, num_envs: int, sgd_steps: int,
                       args: argparse.Namespace) -> AggregationConfig:
    """Rounds of `num_envs` complete episodes (fixed-horizon envs) and `sgd_steps` steps."""
    return AggregationConfig(num_envs=num_envs, rollout_length=task.env.spec.max_episode_steps,
                             sgd_steps=sgd_steps, batch_size=args.batch_size)


def record(benchmark: str, task: Task, method: str, scores: list[float], seconds: float,
           **setting) -> dict:
    rec = {"benchmark": benchmark, "env": task.name, "method": method, **setting,
           "score_mean": float(np.mean(scores)), "score_min": float(np.min(scores)),
           "scores": [round(s, 4) for s in scores], "seeds": len(scores),
           "seconds": seconds, "machine": MACHINE}
    emit(rec)
    return rec


def learner_config(args: argparse.Namespace) -> BCConfig:
    """The learner every method trains: BC's default network, or `--hidden-sizes`
    (`''`: linear) with `--learning-rate`."""
    if args.hidden_sizes is None:
        return BCConfig()
    return BCConfig(hidden_sizes=args.hidden_sizes, learning_rate=args.learning_rate)


def dagger_vs_demos(task: Task, args: argparse.Namespace) -> list[dict]:
    """BC and DAgger scores for each number of demonstration episodes."""
    learner = learner_config(args)
    sgd_steps = args.bc_steps // (args.rounds + 1)  # the warm start, then every round
    config = DAggerConfig(aggregation=aggregation_config(task, args.num_envs, sgd_steps, args),
                          bc=learner)
    methods = {"bc": (bc(task.env, learner), args.bc_steps, args.bc_steps),
               "dagger": (dagger(task.env, config, expert=task.expert), args.rounds,
                          sgd_steps * (args.rounds + 1))}
    out = []
    for n in args.demos:
        data = task.first(n)
        for method, (algo, updates, grad_steps) in methods.items():
            start = time.perf_counter()
            states = train_seeds(algo, data, updates, args)
            seconds = time.perf_counter() - start
            queried = 0 if method == "bc" else updates * config.aggregation.labels_per_round
            for sigma in args.demo_eval_noise:
                scores = [task.score(perturbed(p, task.env.spec.action_space, sigma))
                          for p in seed_policies(algo, states, args.seeds)]
                out.append(record("dagger_vs_demos", task, method, scores, seconds,
                                  hidden_sizes=list(learner.hidden_sizes), demo_episodes=n,
                                  demo_transitions=int(data.obs.shape[0]),
                                  expert_labels=int(data.obs.shape[0]) + queried,
                                  grad_steps=grad_steps, eval_noise=sigma))
    return out


def dart_budget(args: argparse.Namespace) -> int:
    """The largest budget of expert episodes in the DART comparison."""
    return 1 + max(args.dart_rounds) * args.dart_envs


def paired_clean_episodes(task: Task, first: jaxil.Transition,
                          args: argparse.Namespace) -> jaxil.Transition:
    """`[seeds, ...]` flat transitions: each seed's first episode (`first`), then the
    clean expert's episodes from the start states of DART's `max(--dart-rounds)` rounds for
    that seed (a run of fewer rounds starts from the first of them).

    They are the dataset of DART run with no noise on the same keys: the start states
    depend on the keys only (a fixed-horizon env resets on schedule, and the noise draws
    do not touch the environments' keys), which `dart_perturbed` checks."""
    collect = DARTConfig(noise_scale=0.0,
                         aggregation=aggregation_config(task, args.dart_envs, 1, args))
    states = train_seeds(dart(task.env, collect, expert=task.expert), first,
                         max(args.dart_rounds), args, per_seed=True)
    n = int(states.dataset.size[0])
    return labelled_pairs(states.dataset.data.obs[:, :n], states.dataset.data.action[:, :n])


def dart_perturbed(task: Task, args: argparse.Namespace) -> list[dict]:
    """BC and DART at the same budget of expert episodes, with noisy actions at test time."""
    learner = learner_config(args)
    space = task.env.spec.action_space
    if not isinstance(space, Box):
        raise ValueError(f"--dart-env: expected continuous actions, {task.name} has {space}")
    stride = dart_budget(args)  # episodes per seed
    first = task.per_seed(args.seeds, stride, 1)
    pool = paired_clean_episodes(task, first, args)
    steps = task.env.spec.max_episode_steps
    out = []
    for rounds in args.dart_rounds:
        budget = 1 + rounds * args.dart_envs
        sgd_steps = args.bc_steps // (rounds + 1)  # the warm start, then every round
        config = DARTConfig(noise_scale=args.dart_noise_scale, bc=learner,
                            error_prior=args.dart_error_prior,
                            aggregation=aggregation_config(task, args.dart_envs, sgd_steps,
                                                           args))
        clean = jax.tree.map(lambda x, budget=budget: x[:, :budget * steps], pool)
        methods = {"bc": (bc(task.env, learner), clean, args.bc_steps, args.bc_steps),
                   "dart": (dart(task.env, config, expert=task.expert), first, rounds,
                            sgd_steps * (rounds + 1))}
        for method, (algo, data, updates, grad_steps) in methods.items():
            start = time.perf_counter()
            states = train_seeds(algo, data, updates, args, per_seed=True)
            seconds = time.perf_counter() - start
            noise = 0.0
            if method == "dart":
                noise = float(jnp.mean(states.behaviour.cov[:, 0, 0]) ** 0.5)
                starts = np.arange(budget) * steps
                if not np.array_equal(states.dataset.data.obs[:, starts], clean.obs[:, starts]):
                    raise RuntimeError("DART's episodes and BC's start from different states")
            for sigma in args.eval_noise:
                scores = [task.score(perturbed(p, space, sigma))
                          for p in seed_policies(algo, states, args.seeds)]
                out.append(record("dart_perturbed", task, method, scores, seconds,
                                  expert_episodes=budget, eval_noise=sigma,
                                  final_dart_noise_std=noise, grad_steps=grad_steps,
                                  dart_error_prior=args.dart_error_prior, paired=True))
    return out


def plot(results: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    demos = [r for r in results if r["benchmark"] == "dagger_vs_demos"]
    perturbed = [r for r in results if r["benchmark"] == "dart_perturbed"]
    panels = sorted({r["env"] for r in demos}) + (["dart"] if perturbed else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "dart":
            rows, x_key, group = perturbed, "eval_noise", ("method", "expert_episodes")
            label = lambda key: f"{key[0]} ({key[1]} episodes)"
            ax.set_xlabel("test-time action noise (fraction of half-range)")
            ax.set_title(f"{perturbed[0]['env']}: BC vs DART, same expert episodes")
        else:
            rows = [r for r in demos if r["env"] == panel]
            x_key, group = "demo_episodes", ("method", "eval_noise")
            noisy = len({r["eval_noise"] for r in rows}) > 1
            label = lambda key, noisy=noisy: (f"{key[0]} (test noise {key[1]:g})" if noisy
                                              else key[0])
            ax.set_xscale("log")
            ticks = sorted({r["demo_episodes"] for r in rows})
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.minorticks_off()
            ax.set_xlabel("demonstration episodes")
            ax.set_title(f"{panel}: BC vs DAgger")
        for key in sorted({tuple(r[g] for g in group) for r in rows}):
            sel = sorted((r for r in rows if tuple(r[g] for g in group) == key),
                         key=lambda r: r[x_key])
            x = [r[x_key] for r in sel]
            line, = ax.plot(x, [r["score_mean"] for r in sel], marker="o", label=label(key))
            ax.fill_between(x, [r["score_min"] for r in sel], [r["score_mean"] for r in sel],
                            color=line.get_color(), alpha=0.15)
        ax.axhline(1.0, color="gray", lw=0.8, ls="--")
        ax.set_ylabel("expert-normalised score (mean; band: min)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ints = lambda s: [int(x) for x in s.split(",")]
    floats = lambda s: [float(x) for x in s.split(",")]
    sizes = lambda s: tuple(int(x) for x in s.split(",") if x)
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", default="cartpole,pendulum",
                   help="comma-separated env names (e.g. brax/inverted_pendulum)")
    p.add_argument("--demos", type=ints, default=[1, 2, 5, 10, 20, 50])
    p.add_argument("--rounds", type=int, default=10, help="DAgger rounds")
    p.add_argument("--num-envs", type=int, default=4, help="DAgger episodes per round")
    p.add_argument("--bc-steps", type=int, default=2000, help="gradient steps of every run")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--hidden-sizes", type=sizes, default=None,
                   help="learner's hidden layers, comma-separated ('' = linear; default: "
                        "BCConfig's)")
    p.add_argument("--learning-rate", type=float, default=3e-3,
                   help="the learner's learning rate, with --hidden-sizes")
    p.add_argument("--dart-env", default="pendulum", help="'' skips the DART comparison")
    p.add_argument("--dart-rounds", type=ints, default=[1, 2, 4])
    p.add_argument("--dart-envs", type=int, default=1, help="DART episodes per round")
    p.add_argument("--dart-noise-scale", type=float, default=1.0)
    p.add_argument("--dart-error-prior", type=float, default=None,
                   help="DART's prior on the final learner's error, the mean squared "
                        "action error per step (DARTConfig.error_prior; default: none)")
    p.add_argument("--eval-noise", type=floats, default=[0.0, 0.5, 1.0],
                   help="DART comparison: test-time Gaussian action noise, as fractions of "
                        "the half-range")
    p.add_argument("--demo-eval-noise", type=floats, default=[0.0],
                   help="BC against DAgger: test-time noise levels (continuous actions: as "
                        "--eval-noise; discrete: the probability of a random action)")
    p.add_argument("--eval-episodes", type=int, default=100)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--expert-steps", type=int, default=None,
                   help="PPO expert timesteps (default: the jaxil.experts recipe)")
    p.add_argument("--plot", default="runs/dagger.png", help="path of the PNG")
    p.add_argument("--smoke", action="store_true", help="tiny settings: checks the script")
    args = p.parse_args(argv)
    if args.smoke:
        args.envs, args.demos, args.rounds, args.num_envs, args.bc_steps = (
            "pendulum", [1, 2], 2, 2, 20)
        args.dart_rounds, args.eval_noise = [1], [0.0, 0.5]
        args.eval_episodes, args.seeds, args.expert_steps = 8, 2, 16_384
    return args


def main(args: argparse.Namespace) -> None:
    results = []
    names = [n for n in args.envs.split(",") if n]
    tasks = {}
    for name in dict.fromkeys(names + ([args.dart_env] if args.dart_env else [])):
        budget = args.seeds * dart_budget(args) if name == args.dart_env else 0
        tasks[name] = Task(name, args, max([*args.demos, budget]))
    for name in names:
        results += dagger_vs_demos(tasks[name], args)
    if args.dart_env:
        results += dart_perturbed(tasks[args.dart_env], args)
    plot(results, args.plot)


MACHINE = machine()

if __name__ == "__main__":
    main(parse())
