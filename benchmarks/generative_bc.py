"""Diffusion and flow BC against Gaussian BC: training throughput and inference latency.

Measures, on synthetic demonstrations of the same observation / action sizes (17 / 6, a
HalfCheetah-sized problem, by default) and the same torso (256x256 ReLU by default):

- `train`: BC training samples/s (`jaxil.train` of `jaxil.algorithms.bc`, one compiled
  `lax.scan` of `--updates` updates at batch 256) for the `tanh_gaussian`, `diffusion` and
  `flow` heads, with the ratio to the Gaussian head. A diffusion / flow update evaluates the
  network once per sample (one random time each), like the Gaussian's one forward pass.
- `inference`: time per jitted call of `jax.vmap(policy)` on a batch of 1 and of 256
  observations, and per action, by number of denoising / integration steps (`--steps`):
  `diffusion` with DDIM (`num_diffusion_steps` = the largest step count) and with DDPM
  ancestral sampling (`num_diffusion_steps` = the step count), and `flow` with Euler
  steps, each with its ratio to a Gaussian head's sample at the same batch size. A call
  is timed with `block_until_ready`, as a control loop acting one step at a time would.
- `obstacle_nav`: success rate of BC on 64 two-sided demonstrations of `obstacle_nav`
  (`jaxil.envs.navigation.multimodal_demos`; the demonstrated action at the start is
  bimodal) for each head and `--nav-seeds` seeds (one vmapped program per head), over 100
  episodes, acting with the mode (BC's default) and by sampling. It uses BC's default
  network (64x64 tanh; a 256x256 ReLU one also lets the Gaussian succeed, by memorising
  which side goes with the start's tiny lateral jitter) and `--nav-updates` updates
  (default 6,000, the generative heads' budget in `benchmarks/multimodal_bc.py`; 2,000 are
  too few for them at this width).

Prints one JSON object per measurement (with `machine()`, which records the 1-minute load
average: the figures are only comparable on a quiet machine). Usage:

    python benchmarks/generative_bc.py            # about 15 minutes on a 2-core CPU
    python benchmarks/generative_bc.py --smoke    # tiny settings (mostly compilation)
    python benchmarks/generative_bc.py --only nav # one part: train, inference or nav
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types

import jax
import jax.numpy as jnp

import jaxil
from jaxil.algorithms import BCConfig, bc
from jaxil.types import Box, EnvSpec, Transition

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import emit, timed  # noqa: E402  (run as a file or with -m)

HEADS = ("tanh_gaussian", "diffusion", "flow")


def synthetic(obs_dim: int, act_dim: int, size: int = 10_000):
    """A stand-in env (BC reads only its spec) and `size` random transitions."""
    env = types.SimpleNamespace(spec=EnvSpec("synthetic", obs_dim, Box((act_dim,), -1.0, 1.0),
                                             1000))
    k1, k2 = jax.random.split(jax.random.key(0))
    obs = jax.random.normal(k1, (size, obs_dim))
    actions = jax.random.uniform(k2, (size, act_dim), minval=-1.0, maxval=1.0)
    z = jnp.zeros(size)
    return env, Transition(obs, actions, z, obs, z.astype(bool), z.astype(bool))


def config(head: str, hidden: tuple[int, ...], options=()) -> BCConfig:
    return BCConfig(head=head, hidden_sizes=hidden, activation="relu",
                    head_options=tuple(options))


def train_throughput(env, data, head: str, hidden, batch_size: int, updates: int,
                     repeats: int) -> dict:
    algo = bc(env, config(head, hidden))
    # the data is an argument, not a closed-over constant that XLA would fold
    run = jax.jit(lambda k, d: jaxil.train(algo, k, d, updates, batch_size)[0])
    _, first_s = timed(lambda: run(jax.random.key(0), data))
    best = min(timed(lambda i=i: run(jax.random.key(i + 1), data))[1] for i in range(repeats))
    return {"samples_per_s": batch_size * updates / best, "first_call_s": first_s}


def call_time(policy, obs, calls: int, repeats: int, budget_s: float = 0.5) -> float:
    """Seconds per call of the jitted batched `policy` (min over repeats of the mean of
    up to `calls` calls, fewer when they would take more than `budget_s`)."""
    act = jax.jit(jax.vmap(policy))
    keys = jax.random.split(jax.random.key(0), obs.shape[0])
    jax.block_until_ready(act(obs, keys))  # compile
    _, once = timed(lambda: act(obs, keys))
    calls = max(3, min(calls, int(budget_s / max(once, 1e-6))))
    means = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            jax.block_until_ready(act(obs, keys))
        means.append((time.perf_counter() - start) / calls)
    return min(means)


def inference_settings(steps: list[int]) -> list[tuple[str, str, int, tuple]]:
    """`(head, sampler, steps, head_options)` for every measured setting."""
    top = max(steps)
    out = []
    for s in steps:
        out.append(("diffusion", "ddim", s, (("num_diffusion_steps", top), ("sampler", "ddim"),
                                              ("num_inference_steps", s))))
        out.append(("diffusion", "ddpm", s, (("num_diffusion_steps", s), ("sampler", "ddpm"))))
        out.append(("flow", "euler", s, (("num_inference_steps", s),)))
    return out


def nav_success(head: str, seeds: int, updates: int, episodes: int) -> dict:
    """BC (default network) success rates on `obstacle_nav` from 64 multimodal
    demonstrations, per seed."""
    from jaxil.envs import navigation as nav

    env = jaxil.envs.make("obstacle_nav")
    data = jaxil.data.as_transitions(nav.multimodal_demos(jax.random.key(0), 64, env))
    algo = bc(env, BCConfig(head=head))

    def run(key, data):
        policy = algo.policy(jaxil.train(algo, key, data, updates, 256)[0])
        rates = []
        for i, p in enumerate((policy.with_deterministic(True),
                               policy.with_deterministic(False))):
            eps = jaxil.rollout_episodes(env, p, jax.random.fold_in(key, 100 + i), episodes)
            rates.append(jnp.mean(nav.success(eps)))
        return rates

    start = time.perf_counter()
    det, sampled = jax.block_until_ready(jax.jit(jax.vmap(run, (0, None)))(
        jax.random.split(jax.random.key(1), seeds), data))
    return {"seeds": seeds, "updates": updates, "episodes": episodes,
            "success_mode": [round(float(x), 3) for x in det],
            "success_sampled": [round(float(x), 3) for x in sampled],
            "min_success_mode": float(det.min()), "min_success_sampled": float(sampled.min()),
            "wall_s": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--obs-dim", type=int, default=17)
    parser.add_argument("--act-dim", type=int, default=6)
    parser.add_argument("--hidden", default="256,256")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--updates", type=int, default=2_000)
    parser.add_argument("--steps", default="1,5,10,20,50")
    parser.add_argument("--inference-batches", default="1,256")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nav-seeds", type=int, default=4)
    parser.add_argument("--nav-updates", type=int, default=6_000)
    parser.add_argument("--only", choices=("train", "inference", "nav"), default=None)
    parser.add_argument("--smoke", action="store_true", help="tiny settings")
    args = parser.parse_args()
    nav_episodes = 100
    if args.smoke:
        args.updates, args.steps, args.calls, args.repeats = 20, "1,5", 5, 1
        args.hidden, args.nav_seeds, args.nav_updates, nav_episodes = "32,32", 1, 20, 4
    hidden = tuple(int(h) for h in args.hidden.split(","))
    steps = [int(s) for s in args.steps.split(",")]
    batches = [int(b) for b in args.inference_batches.split(",")]
    env, data = synthetic(args.obs_dim, args.act_dim)
    setting = {"benchmark": "generative_bc", "obs_dim": args.obs_dim, "act_dim": args.act_dim,
               "hidden_sizes": list(hidden), "smoke": args.smoke}

    run = lambda part: args.only in (None, part)

    if run("train"):
        gaussian_rate = None
        for head in HEADS:
            result = train_throughput(env, data, head, hidden, args.batch_size, args.updates,
                                      args.repeats)
            gaussian_rate = gaussian_rate or result["samples_per_s"]
            emit({**setting, "measure": "train", "head": head, "batch_size": args.batch_size,
                  "updates": args.updates, **result,
                  "ratio_vs_gaussian": result["samples_per_s"] / gaussian_rate})

    if run("inference"):
        arch = lambda head, options: jaxil.networks.PolicyArch(
            args.obs_dim, env.spec.action_space, hidden_sizes=hidden, head=head,
            activation="relu", head_options=options)
        gaussian = jaxil.networks.make_actor_policy(arch("tanh_gaussian", ()),
                                                    jax.random.key(0))
        for batch in batches:
            obs = jax.random.normal(jax.random.key(1), (batch, args.obs_dim))
            base = call_time(gaussian, obs, args.calls, args.repeats)
            emit({**setting, "measure": "inference", "head": "tanh_gaussian", "sampler": None,
                  "steps": None, "batch_size": batch, "us_per_call": 1e6 * base,
                  "us_per_action": 1e6 * base / batch, "ratio_vs_gaussian": 1.0})
            for head, sampler, s, options in inference_settings(steps):
                policy = jaxil.networks.make_actor_policy(arch(head, options),
                                                          jax.random.key(0))
                t = call_time(policy, obs, args.calls, args.repeats)
                emit({**setting, "measure": "inference", "head": head, "sampler": sampler,
                      "steps": s, "batch_size": batch, "us_per_call": 1e6 * t,
                      "us_per_action": 1e6 * t / batch, "ratio_vs_gaussian": t / base})

    if run("nav"):
        for head in HEADS:
            emit({"benchmark": "generative_bc", "hidden_sizes": [64, 64], "smoke": args.smoke,
                  "measure": "obstacle_nav", "head": head,
                  **nav_success(head, args.nav_seeds, args.nav_updates, nav_episodes)})


if __name__ == "__main__":
    main()
