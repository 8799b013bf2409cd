"""MAGAIL on Brax cooperative control, the MAGAIL paper's multi-walker-style case: a PPO
expert of the whole body demonstrates, its episodes are split by actuator
(`jaxil.data.split_demos`) onto `coop/<env>`, and the agents (one per leg or leg group,
`jaxil.envs.cooperative`) learn from them.

Methods: multi-agent BC, and MAGAIL with the centralised and the decentralised prior, each
on a PPO of the Brax recipe's settings (`jaxil.experts.GENERIC`: 64 envs x 64 steps,
reward scale 0.1) with MAPPO's centralised critic; seeds vmapped in one program. Score:
the expert-normalised team return (uniform random actions 0, the body's expert 1) of each
policy's mode over `--episodes` episodes.

The full-size run is for an accelerator:

    python benchmarks/magail_brax_split.py [--env brax/halfcheetah] [--backend positional]
        [--expert-steps 5000000] [--demos 16] [--methods bc,centralized,decentralized]
        [--updates 1000] [--bc-updates 2000] [--seeds 3] [--episodes 16]

On 2 CPU cores Brax's halfcheetah steps about 2,000 times a second (`benchmarks/RESULTS.md`,
"PPO"), so a CPU run is a check that the pieces fit: `--expert-steps 8192 --demos 2
--updates 2 --bc-updates 2 --seeds 1 --episodes 1`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxil
from jaxil.algorithms import MAGAILConfig, magail, multiagent_bc
from jaxil.rl.mappo import MAPPOConfig

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import emit  # noqa: E402  (run as a file or with -m)
from benchmarks.magail_particles import random_policy  # noqa: E402

BATCH_SIZE = 1024
"""Expert env steps per update, the adversarial methods and BC."""


def method(name: str, env, updates: int):
    """`bc`, or MAGAIL with prior `name` on the Brax recipe's PPO (learning rate decayed
    over `updates`) with the centralised critic."""
    if name == "bc":
        return multiagent_bc(env)
    ppo = dataclasses.replace(jaxil.experts.GENERIC.config, lr_decay_updates=updates)
    return magail(env, MAGAILConfig(prior=name, mappo=MAPPOConfig(ppo,
                                                                  centralized_critic=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="brax/halfcheetah",
                        help="an inner env with a ready-made split (coop/<env>)")
    parser.add_argument("--backend", default="positional")
    parser.add_argument("--expert-steps", type=int, default=5_000_000)
    parser.add_argument("--demos", type=int, default=16)
    parser.add_argument("--methods", default="bc,centralized,decentralized")
    parser.add_argument("--updates", type=int, default=1_000)
    parser.add_argument("--bc-updates", type=int, default=2_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=16)
    args = parser.parse_args()
    body = jaxil.envs.make(args.env, backend=args.backend)
    env = jaxil.envs.make(f"coop/{args.env}", backend=args.backend)
    start = time.perf_counter()
    expert, _ = jaxil.experts.train_ppo(body, jax.random.key(0), args.expert_steps)
    expert_seconds = time.perf_counter() - start
    demos = jaxil.data.split_demos(env, jaxil.data.collect(body, expert, jax.random.key(1),
                                                           args.demos))
    data = jaxil.data.as_transitions(demos)
    eval_key = jax.random.key(2)
    expert_return, random_return = (
        float(jnp.mean(jaxil.rollout_episodes(e, p, eval_key, args.episodes).returns))
        for e, p in ((body, expert), (env, random_policy(env))))
    for name in args.methods.split(","):
        algo = method(name, env, args.updates)
        updates = args.bc_updates if name == "bc" else args.updates

        def run(key, algo=algo, updates=updates):
            train_key, k = jax.random.split(key)
            state, _ = jaxil.train(algo, train_key, data, updates, batch_size=BATCH_SIZE)
            policy = algo.policy(state).with_deterministic(True)
            return jnp.mean(jaxil.rollout_episodes(env, policy, k, args.episodes).returns)

        start = time.perf_counter()
        returns = np.asarray(jax.jit(jax.vmap(run))(
            jax.random.split(jax.random.key(3), args.seeds)))
        seconds = time.perf_counter() - start
        scores = (returns - random_return) / (expert_return - random_return)
        emit({"benchmark": "magail_brax_split", "env": env.spec.name, "method": name,
              "backend": args.backend, "demo_episodes": args.demos, "updates": updates,
              "env_steps": 0 if name == "bc" else updates * jaxil.experts.GENERIC.config.batch_size,
              "seeds": args.seeds, "returns": [round(float(r), 1) for r in returns],
              "normalised_mode": [round(float(v), 3) for v in scores],
              "expert_return": round(expert_return, 1),
              "random_return": round(random_return, 1),
              "expert_steps": args.expert_steps, "expert_seconds": round(expert_seconds, 1),
              "seconds": round(seconds, 1)})


if __name__ == "__main__":
    main()
