"""PPO throughput: environment steps per second for 1, 4 and 16 vmapped seeds.

Each measurement compiles one `jax.vmap` over seeds of a whole PPO run (`jaxil.train`, a
`lax.scan` of `num_updates` updates with the env's default recipe from
`jaxil.experts`), then times a second, compiled call. Compile and run time are reported
apart; `steps_per_s` counts the environment steps of all seeds together, and
`ratio_vs_1_seed` is the run time relative to a single seed and `wall_ratio_vs_1_seed` the
same for compile + run (the goal: 16 vmapped seeds in at most 3x the wall time of one).
`time_to_475` trains the default cartpole expert with `jaxil.experts.train_ppo` and
reports the wall-clock time, compile included, until the training return first reaches
475, and the final evaluated return.

Reading the seed scaling: vmapping seeds turns `S` small programs into one wide one, so
the per-step overhead (op dispatch, loop control, small-kernel latency) is paid once.
Where one seed leaves the hardware idle (a GPU, or many CPU cores) `S` seeds cost little
more than one; on a small CPU one seed's batch of environments and minibatches already
keeps the cores busy, the work is compute-bound and the run time grows about linearly
with `S` (measured on a shared 2-core CPU: about 11-14x for 16 seeds), and only the
compile time is shared. Cartpole runs the full default expert recipe (48 updates), so its
wall ratio is that of training 16 experts instead of one.

Prints one JSON object per measurement. Usage:

    python benchmarks/ppo_throughput.py                       # everything, a few minutes
    python benchmarks/ppo_throughput.py --envs cartpole --seeds 1,16
    python benchmarks/ppo_throughput.py --no-time-to-475 --backend spring
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import jax
import numpy as np

import jaxil
from jaxil import experts
from jaxil.rl import ppo

try:
    from benchmarks.common import machine
except ImportError:  # run as a script, `python benchmarks/ppo_throughput.py`
    from common import machine

DEFAULT_ENVS = "cartpole,brax/inverted_pendulum,brax/halfcheetah"
DEFAULT_UPDATES = {"cartpole": 48, "brax/inverted_pendulum": 10, "brax/halfcheetah": 1}


def make_env(name: str, backend: str | None):
    kwargs = dict(experts.defaults(name).env_kwargs)
    if backend is not None and name.startswith("brax/"):
        kwargs["backend"] = backend
    return jaxil.envs.make(name, **kwargs), kwargs


def throughput(name: str, seeds: int, num_updates: int, backend: str | None,
               num_envs: int | None) -> dict:
    """Compiles and times `seeds` vmapped PPO runs of `num_updates` updates on `name`."""
    env, env_kwargs = make_env(name, backend)
    config = experts.default_config(name)
    if num_envs is not None:
        config = dataclasses.replace(config, num_envs=num_envs)
    algo = ppo(env, config)
    keys = jax.random.split(jax.random.key(0), seeds)
    run = jax.jit(jax.vmap(lambda k: jaxil.train(algo, k, None, num_updates)[1]))
    start = time.perf_counter()
    compiled = run.lower(keys).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(keys))  # warm-up (first-call allocations)
    start = time.perf_counter()
    metrics = jax.block_until_ready(compiled(keys))
    run_s = time.perf_counter() - start
    steps = seeds * num_updates * config.batch_size
    return {
        "figure": "ppo_env_steps_per_s", "env": name, "seeds": seeds,
        "steps_per_s": steps / run_s, "run_s": run_s, "compile_s": compile_s,
        "wall_s": compile_s + run_s,
        "setting": {"num_updates": num_updates, "num_envs_per_seed": config.num_envs,
                    "rollout_length": config.rollout_length,
                    "num_epochs": config.num_epochs,
                    "num_minibatches": config.num_minibatches,
                    "env_steps": steps, "env_kwargs": env_kwargs},
        "final_episode_return": float(np.mean(np.asarray(metrics["episode_return"])[:, -1])),
        "machine": machine(),
    }


def time_to_475(seed: int) -> dict:
    """Trains the default cartpole expert; wall-clock to a training return of 475."""
    env = jaxil.envs.make("cartpole")
    start = time.perf_counter()
    _, info = experts.train_ppo(env, jax.random.key(seed), num_eval_episodes=32)
    returns = info["metrics"]["episode_return"]
    reached = np.flatnonzero(returns >= 475.0)
    first = int(reached[0]) + 1 if reached.size else None
    batch = info["config"].batch_size
    seconds = None
    if first is not None:  # compile, plus the share of the run up to that update
        seconds = info["compile_seconds"] + info["train_seconds"] * first / info["num_updates"]
    return {
        "figure": "ppo_cartpole_time_to_475_s", "value": seconds,
        "timesteps_to_475": None if first is None else first * batch,
        "compile_s": info["compile_seconds"], "train_s": info["train_seconds"],
        "eval_s": info["eval_seconds"],
        "wall_to_evaluated_expert_s": time.perf_counter() - start,
        "eval_mean_return": info["mean_return"], "eval_episodes": 32,
        "setting": {"num_timesteps": info["timesteps"], "num_envs": info["config"].num_envs,
                    "rollout_length": info["config"].rollout_length, "seed": seed},
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", default=DEFAULT_ENVS, help="comma-separated env names")
    parser.add_argument("--seeds", default="1,4,16", help="comma-separated seed counts")
    parser.add_argument("--updates", type=int, default=None,
                        help="PPO updates per run (default: per env, small)")
    parser.add_argument("--num-envs", type=int, default=None,
                        help="override the recipe's environments per seed")
    parser.add_argument("--backend", default=None,
                        help="Brax backend (default: the recipe's, 'positional')")
    parser.add_argument("--no-time-to-475", action="store_true",
                        help="skip the cartpole time-to-475 measurement")
    args = parser.parse_args()

    if not args.no_time_to_475:
        print(json.dumps(time_to_475(seed=0)), flush=True)
    for name in args.envs.split(","):
        updates = args.updates or DEFAULT_UPDATES.get(name, 1)
        base = None
        for seeds in (int(s) for s in args.seeds.split(",")):
            result = throughput(name, seeds, updates, args.backend, args.num_envs)
            base = result if seeds == 1 else base
            for key, field in (("ratio_vs_1_seed", "run_s"), ("wall_ratio_vs_1_seed", "wall_s")):
                result[key] = None if base is None else result[field] / base[field]
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
