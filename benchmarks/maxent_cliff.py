"""MaxEnt (MCE) IRL speed: jaxil against the `imitation` library, and batched MDPs.

Measurements (one JSON object per line, each with the machine):

1. `maxent_cliff`: 1,000 MaxEnt IRL iterations on seals' 7x4 cliff world, horizon 8, from
   the exact expert occupancy, Adam with learning rate 0.01, for three reward models:
   `linear` (one-hot state features), `mlp32x32` and `mlp256` (ReLU MLPs on the (x, y)
   features). jaxil runs in-process: the whole run is one jitted `jaxil.train`, timed after
   compilation (best of `--repeats`). When `--peer-python` has `imitation` installed, the
   same runs of its `MCEIRL` (linf/grad stopping disabled, no logging, torch on
   `--peer-threads` threads) are timed in a subprocess, and the ratio is printed.
2. `maxent_vmap`: `--batch` random MDPs learned in one vmapped call against one MDP (the
   time ratio, and the throughput against learning them one at a time).

Usage:
    python benchmarks/maxent_cliff.py [--peer-python /tmp/venv-imitation/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import emit, machine  # noqa: E402  (run as a file or with -m)

DEFAULT_PEER = "/tmp/venv-imitation/bin/python"
SETTINGS = {  # name: (features, hidden sizes or None for linear)
    "linear": ("onehot", None),
    "mlp32x32": ("xy", (32, 32)),
    "mlp256": ("xy", (256,)),
}
WIDTH, HEIGHT, HORIZON, LR = 7, 4, 8, 0.01


# --- peer: runs under the imitation venv's python, imports nothing from jaxil -----------

def peer_main(iterations: int, repeats: int, threads: int) -> None:
    import imitation
    import numpy as np
    import torch as th
    from imitation.algorithms.mce_irl import MCEIRL, mce_occupancy_measures, mce_partition_fh
    from imitation.rewards import reward_nets
    from seals.diagnostics.cliff_world import CliffWorldEnv

    th.set_num_threads(threads)
    for name, (features, hidden) in SETTINGS.items():
        env = CliffWorldEnv(width=WIDTH, height=HEIGHT, horizon=HORIZON,
                            use_xy_obs=features == "xy")
        _, _, pi = mce_partition_fh(env)
        _, expert_om = mce_occupancy_measures(env, pi=pi)
        times = []
        for r in range(repeats):
            th.manual_seed(r)
            net = reward_nets.BasicRewardNet(
                env.observation_space, env.action_space, hid_sizes=list(hidden or []),
                use_action=False, use_done=False, use_next_state=False)
            algo = MCEIRL(expert_om, env, net, rng=np.random.default_rng(r),
                          optimizer_kwargs={"lr": LR}, linf_eps=-1.0, grad_l2_eps=-1.0,
                          log_interval=None)
            start = time.perf_counter()
            algo.train(max_iter=iterations)
            times.append(time.perf_counter() - start)
        print(json.dumps({"setting": name, "seconds": min(times), "all_seconds": times,
                          "version": imitation.__version__, "torch": th.__version__,
                          "torch_threads": threads}), flush=True)


# --- jaxil -----------------------------------------------------------------------------

def time_jitted(fn, repeats: int) -> tuple[float, float, list[float]]:
    """(compile + first run seconds, best run seconds, all run seconds) of `fn(i)`."""
    import jax

    start = time.perf_counter()
    jax.block_until_ready(fn(0))
    first = time.perf_counter() - start
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(i + 1))
        times.append(time.perf_counter() - start)
    return first, min(times), times


def jaxil_cliff(iterations: int, repeats: int) -> dict[str, dict]:
    import jax

    import jaxil
    from jaxil.algorithms import MaxEntIRLConfig, maxent_irl

    out = {}
    for name, (features, hidden) in SETTINGS.items():
        mdp = jaxil.tabular.cliff_world(WIDTH, HEIGHT, horizon=HORIZON, features=features)
        expert = jaxil.tabular.occupancy(mdp, jaxil.tabular.soft_value_iteration(mdp).policy)
        config = (MaxEntIRLConfig(learning_rate=LR) if hidden is None else
                  MaxEntIRLConfig(reward="mlp", hidden_sizes=hidden, learning_rate=LR))
        algo = maxent_irl(mdp, config)
        run = jax.jit(lambda key, algo=algo, expert=expert: jaxil.train(algo, key, expert,
                                                                        iterations))
        first, best, times = time_jitted(lambda i, run=run: run(jax.random.key(i)), repeats)
        _, metrics = run(jax.random.key(0))
        out[name] = {"seconds": best, "all_seconds": times, "compile_and_first_s": first,
                     "final_occupancy_tv": float(metrics["occupancy_tv"][-1])}
    return out


def jaxil_vmap(iterations: int, repeats: int, batch: int, num_states: int, num_actions: int,
               num_features: int, horizon: int) -> tuple[dict, dict]:
    import jax

    import jaxil
    from jaxil.algorithms import MaxEntIRLConfig, maxent_irl

    tab = jaxil.tabular
    config = MaxEntIRLConfig(learning_rate=0.05)

    def learn(key):
        k_mdp, k_train = jax.random.split(key)
        mdp = tab.random_mdp(k_mdp, num_states, num_actions, num_features, horizon=horizon,
                             discount=1.0)
        expert = tab.occupancy(mdp, tab.soft_value_iteration(mdp).policy)
        state, metrics = jaxil.train(maxent_irl(mdp, config),
                                     k_train, expert, iterations)
        return metrics["occupancy_tv"][-1]

    one = jax.jit(learn)
    many = jax.jit(jax.vmap(learn))
    _, t_one, all_one = time_jitted(lambda i: one(jax.random.key(i)), repeats)
    _, t_many, all_many = time_jitted(
        lambda i: many(jax.random.split(jax.random.key(i), batch)), repeats)
    tv = float(jax.numpy.max(many(jax.random.split(jax.random.key(0), batch))))
    return ({"seconds": t_one, "all_seconds": all_one},
            {"seconds": t_many, "all_seconds": all_many, "max_final_occupancy_tv": tv})


def run_peer(python: str, iterations: int, repeats: int, threads: int) -> dict[str, dict]:
    cmd = [python, os.path.abspath(__file__), "--peer-mode", "--iterations", str(iterations),
           "--repeats", str(repeats), "--peer-threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {row.pop("setting"): row for row in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peer-python", default=DEFAULT_PEER,
                        help="python with `imitation` installed ('' to skip the peer)")
    parser.add_argument("--peer-threads", type=int, default=1,
                        help="torch threads of the peer (1 is fastest for this size)")
    parser.add_argument("--peer-repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--num-states", type=int, default=32)
    parser.add_argument("--num-actions", type=int, default=4)
    parser.add_argument("--num-features", type=int, default=8)
    parser.add_argument("--horizon", type=int, default=HORIZON)
    parser.add_argument("--skip-vmap", action="store_true")
    parser.add_argument("--peer-mode", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer_mode:
        peer_main(args.iterations, args.repeats, args.peer_threads)
        return

    import jax

    mach = {**machine(), "jax": jax.__version__, "backend": jax.default_backend(),
            "device": str(jax.devices()[0].device_kind)}
    setting = {"env": f"cliff_world {WIDTH}x{HEIGHT}", "horizon": HORIZON,
               "iterations": args.iterations, "optimizer": f"adam lr={LR}",
               "expert": "exact occupancy of the soft-optimal policy"}
    ours = jaxil_cliff(args.iterations, args.repeats)
    peer = {}
    if args.peer_python and os.path.exists(args.peer_python):
        try:
            peer = run_peer(args.peer_python, args.iterations, args.peer_repeats,
                            args.peer_threads)
        except RuntimeError as err:
            emit({"benchmark": "maxent_cliff", "library": "imitation",
                  "error": str(err)[-500:], "machine": mach})
    for name, result in ours.items():
        emit({"benchmark": "maxent_cliff", "library": "jaxil", "reward": name, **setting,
              **result, "machine": mach})
        if name in peer:
            emit({"benchmark": "maxent_cliff", "library": "imitation", "reward": name,
                  **setting, **peer[name], "machine": mach})
            emit({"benchmark": "maxent_cliff", "reward": name, **setting,
                  "speedup_vs_imitation": peer[name]["seconds"] / result["seconds"],
                  "target": ">= 30", "machine": mach})
    if not args.skip_vmap:
        one, many = jaxil_vmap(args.iterations, args.repeats, args.batch, args.num_states,
                               args.num_actions, args.num_features, args.horizon)
        vsetting = {"mdp": f"random S={args.num_states} A={args.num_actions} "
                           f"K={args.num_features} H={args.horizon}",
                    "iterations": args.iterations}
        emit({"benchmark": "maxent_vmap", "library": "jaxil", "batch": 1, **vsetting, **one,
              "machine": mach})
        emit({"benchmark": "maxent_vmap", "library": "jaxil", "batch": args.batch, **vsetting,
              **many, "machine": mach})
        emit({"benchmark": "maxent_vmap", "batch": args.batch, **vsetting,
              "time_ratio_batch_vs_one": many["seconds"] / one["seconds"], "target": "<= 2",
              "throughput_vs_one_at_a_time": args.batch * one["seconds"] / many["seconds"],
              "machine": mach})


if __name__ == "__main__":
    sys.exit(main())
