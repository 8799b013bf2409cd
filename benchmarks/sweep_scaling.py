"""How `jaxil.sweep` scales: the same sweep on 1 and on several devices, and many seeds in
one program against one seed.

    python benchmarks/sweep_scaling.py devices [--devices 1 4] [--seeds 64] [--updates 2000]
        a BC sweep of `--seeds` seeds on cartpole, in one subprocess per device count (CPU
        devices forced with XLA_FLAGS=--xla_force_host_platform_device_count=N; on a machine
        with accelerators, the real ones are used when N is 0);
    python benchmarks/sweep_scaling.py seeds [--algo gail] [--seeds 1 256] [--updates 200]
        the wall time of one program of S seeds for each S (GAIL on cartpole by default;
        the issue's target on a GPU: 256 seeds within 2x the time of one).

Prints one JSON record per measurement (run seconds exclude compiling, reported apart),
then one with the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _problem(algo_name: str):
    import jax

    import jaxil

    env = jaxil.envs.make("cartpole")
    expert, _ = jaxil.experts.train_ppo(env, jax.random.key(0), num_eval_episodes=0)
    demos = jaxil.data.as_transitions(jaxil.data.collect(env, expert, jax.random.key(1), 10))
    entry = jaxil.algorithms.ALGORITHMS[algo_name]
    return env, demos, jaxil.sweeps.configured(entry.factory, env, entry.config())


def child(args: argparse.Namespace) -> None:
    """One measurement in this process: a sweep of `args.seeds` seeds on all devices."""
    import jax

    import jaxil
    from benchmarks.common import emit

    env, demos, make_algo = _problem(args.algo)
    result = jaxil.sweep(make_algo, jax.random.key(0), demos, seeds=args.seeds,
                         num_updates=args.updates, batch_size=args.batch_size,
                         keep_states=False)
    emit({"benchmark": "sweep_scaling", "algo": args.algo, "seeds": args.seeds,
          "updates": args.updates, "devices": result.devices,
          "run_seconds": result.run_seconds, "compile_seconds": result.compile_seconds,
          "runs_per_second": args.seeds / result.run_seconds})


def _spawn(args: argparse.Namespace, seeds: int, devices: int) -> dict:
    env = dict(os.environ)
    if devices:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                            f" --xla_force_host_platform_device_count={devices}").strip()
    command = [sys.executable, os.path.abspath(__file__), "child", "--algo", args.algo,
               "--seeds", str(seeds), "--updates", str(args.updates),
               "--batch-size", str(args.batch_size)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    record = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(record), flush=True)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("devices", "seeds", "child"))
    parser.add_argument("--algo", default=None)
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--updates", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    if args.mode == "child":
        args.seeds = args.seeds[0]
        return child(args)
    from benchmarks.common import emit

    if args.mode == "devices":
        args.algo = args.algo or "bc"
        args.updates = args.updates or 2_000
        seeds = (args.seeds or [64])[0]
        records = [_spawn(args, seeds, n) for n in args.devices]
        base = records[0]["run_seconds"]
        emit({"benchmark": "sweep_scaling_summary", "mode": "devices", "algo": args.algo,
              "seeds": seeds, "devices": [r["devices"] for r in records],
              "speedup_vs_first": [base / r["run_seconds"] for r in records]})
    else:
        args.algo = args.algo or "gail"
        args.updates = args.updates or 200
        counts = args.seeds or [1, 256]
        records = [_spawn(args, s, 0) for s in counts]
        base = records[0]["run_seconds"]
        emit({"benchmark": "sweep_scaling_summary", "mode": "seeds", "algo": args.algo,
              "seeds": counts, "time_ratio_vs_first": [r["run_seconds"] / base
                                                       for r in records]})


if __name__ == "__main__":
    main()
