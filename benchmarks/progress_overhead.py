"""What the progress bar and the metric callback cost: a BC run of 50,000 updates on
cartpole demonstrations, timed without reports, with `progress=True`, and with a
callback every update (the worst case), each compiled once and run `--repeats` times
(alternating, so drift of the machine hits each alike). Also an in-program evaluation
every 5,000 updates, for its cost.

    python benchmarks/progress_overhead.py [--updates 50000] [--repeats 3]

Prints one JSON record per variant, with the median seconds and the ratio to the plain run.
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import numpy as np

import jaxil
from jaxil.algorithms import BCConfig, bc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import emit, timed  # noqa: E402  (run as a file or with -m)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    env = jaxil.envs.make("cartpole")
    expert, _ = jaxil.experts.train_ppo(env, jax.random.key(0), num_eval_episodes=0)
    demos = jaxil.data.as_transitions(jaxil.data.collect(env, expert, jax.random.key(1), 10))
    algo = bc(env, BCConfig())
    calls = []
    variants = {
        "plain": {},
        "progress_bar": {"progress": True},
        "callback_every_update": {"callback": lambda u, m: calls.append(u), "report_every": 1},
        "eval_every_5000_updates": {"eval_env": env, "eval_every": 5_000, "eval_episodes": 10},
    }
    runs = {name: jax.jit(lambda k, d, o=options: jaxil.train(
        algo, k, d, args.updates, args.batch_size, **o)) for name, options in variants.items()}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for run in runs.values():  # compile (and warm) each once
        timed(lambda r=run: r(jax.random.key(0), demos))
    for repeat in range(args.repeats):
        for name, run in runs.items():
            _, s = timed(lambda r=run, i=repeat: r(jax.random.key(i), demos))
            seconds[name].append(s)
    plain = float(np.median(seconds["plain"]))
    for name, values in seconds.items():
        median = float(np.median(values))
        emit({"benchmark": "progress_overhead", "variant": name, "updates": args.updates,
              "batch_size": args.batch_size, "seconds": values, "median_seconds": median,
              "ratio_to_plain": median / plain,
              "updates_per_second": args.updates / median})


if __name__ == "__main__":
    main()
