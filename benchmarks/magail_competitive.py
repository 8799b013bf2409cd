"""MAGAIL on the competitive particle tasks, after the MAGAIL paper's protocol: the learned
agents of each team play against the expert's agents of the other team, and the return
of each side is compared with the experts' own (expert against expert).

Tasks: keep-away (`mpe/simple_push`: an adversary, team 0, and a good agent, team 1) and
predator-prey (`mpe/simple_tag`: 3 adversaries, 1 good agent). The expert is a MAPPO
self-play policy that jaxil trains first with its recipe (`jaxil.experts`: shared actor
with agent ids, centralised critic, seed 0); demonstrations are its episodes (its mode).
Methods: MAGAIL with the zero-sum prior, decentralised MAGAIL, multi-agent BC.

For each method and seed, two matches of 64 episodes each (`--episodes`): learned team 0
against the expert's team 1, and the expert's team 0 against learned team 1. Reported per
side: the mean return of that side's agents, and its ratio to the same side's return in
expert against expert (the paper's "within 10%" target is a ratio near 1 for both sides; returns
can be negative, so the ratio's direction is noted in the record): once against the
expert's reference episodes (`team*_ratio`), and once against the expert playing itself
on the seed's own episodes, the same starts and keys (`team*_ratio_same_episodes`).
The learned policies sample their actions; they are also scored acting with their modes
(`mode_*`), as the expert does.

    python benchmarks/magail_competitive.py [--envs mpe/simple_push,mpe/simple_tag]
        [--methods zero_sum,decentralized,bc] [--demos 100] [--seeds 3] [--updates 1000]
        [--expert-steps 1000000] [--bc-steps-per-update 0] [--episodes 64]

Every side came within 10% of the experts (acting with the modes) with `--demos 1000
--bc-steps-per-update 16 --episodes 1024` (`benchmarks/RESULTS.md`, "Session 20").
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import emit  # noqa: E402  (run as a file or with -m)
from benchmarks.magail_particles import BATCH_SIZE, method  # noqa: E402

EPISODES = 64  # scoring episodes per match, by default (`--episodes`)


class Match(eqx.Module):
    """Team 0 acts with `first`, team 1 with `second` (each a multi-agent policy acting
    for every agent; only its team's actions are used)."""

    first: eqx.Module
    second: eqx.Module
    team0: tuple[bool, ...] = eqx.field(static=True)

    def __call__(self, obs, key):
        k1, k2 = jax.random.split(key)
        mask = jnp.asarray(self.team0)
        return jnp.where(mask, self.first(obs, k1), self.second(obs, k2))


def side_returns(env, policy, key, team0, episodes: int = EPISODES) -> tuple[float, float]:
    """Mean return of team 0's agents and of team 1's agents over `episodes` episodes."""
    returns = jaxil.rollout_episodes(env, policy, key, episodes).agent_returns  # [E, N]
    mask = jnp.asarray(team0)
    return (jnp.sum(returns * mask) / (episodes * jnp.sum(mask)),
            jnp.sum(returns * ~mask) / (episodes * jnp.sum(~mask)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default="mpe/simple_push,mpe/simple_tag")
    parser.add_argument("--methods", default="zero_sum,decentralized,bc")
    parser.add_argument("--demos", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--updates", type=int, default=1_000)
    parser.add_argument("--bc-updates", type=int, default=2_000)
    parser.add_argument("--expert-steps", type=int, default=1_000_000)
    parser.add_argument("--episodes", type=int, default=EPISODES,
                        help="scoring episodes per match (the expert's reference too)")
    parser.add_argument("--bc-steps-per-update", type=int, default=0,
                        help="the MAGAIL methods' BC steps on each update's expert batch "
                        "(adversarial.bc_steps_per_update)")
    args = parser.parse_args()
    for env_name in args.envs.split(","):
        env = jaxil.envs.make(env_name)
        team0 = tuple(t == 0 for t in env.unwrapped.teams)
        start = time.perf_counter()
        expert, _ = jaxil.experts.train_ppo(env, jax.random.key(0), args.expert_steps)
        expert_seconds = time.perf_counter() - start
        demos = jaxil.data.collect(env, expert, jax.random.key(1), args.demos)
        data = jaxil.data.as_transitions(demos)
        eval_key = jax.random.key(2)
        reference = [float(v) for v in side_returns(env, expert, eval_key, team0,
                                                    args.episodes)]
        for name in args.methods.split(","):
            extra = {} if name == "bc" else {"bc_steps_per_update": args.bc_steps_per_update}
            algo = method(name, env, args.updates, **extra)
            updates = args.bc_updates if name == "bc" else args.updates

            def run(key, data, algo=algo, updates=updates, env=env, team0=team0,
                    expert=expert, episodes=args.episodes):
                train_key, k = jax.random.split(key)
                state, _ = jaxil.train(algo, train_key, data, updates,
                                       batch_size=BATCH_SIZE)
                sampling = algo.policy(state)
                sides = []
                for learned in (sampling, sampling.with_deterministic(True)):
                    ours0, _ = side_returns(env, Match(learned, expert, team0), k, team0,
                                            episodes)
                    _, ours1 = side_returns(env, Match(expert, learned, team0), k, team0,
                                            episodes)
                    sides += [ours0, ours1]
                # the expert against itself on the same episodes (same starts and keys)
                return jnp.stack([*sides, *side_returns(env, expert, k, team0, episodes)])

            start = time.perf_counter()
            # the demos an argument, not a constant XLA would fold
            sides = np.asarray(jax.jit(jax.vmap(run, in_axes=(0, None)))(
                jax.random.split(jax.random.key(3), args.seeds), data))  # [seeds, 6]
            modes, same = sides[:, 2:4], sides[:, 4:]  # the learned modes; expert v expert
            emit({"benchmark": "magail_competitive", "env": env_name, "method": name,
                  "demo_episodes": args.demos, "updates": updates, "seeds": args.seeds,
                  "scoring_episodes": args.episodes,
                  "bc_steps_per_update": extra.get("bc_steps_per_update"),
                  "team0_return": [round(float(v), 2) for v in sides[:, 0]],
                  "team1_return": [round(float(v), 2) for v in sides[:, 1]],
                  "expert_team0_return": round(reference[0], 2),
                  "expert_team1_return": round(reference[1], 2),
                  "team0_ratio": [round(float(v / reference[0]), 3) for v in sides[:, 0]],
                  "team1_ratio": [round(float(v / reference[1]), 3) for v in sides[:, 1]],
                  "expert_same_episodes": [[round(float(v), 2) for v in row] for row in same],
                  "team0_ratio_same_episodes": [round(float(v), 3)
                                                for v in sides[:, 0] / same[:, 0]],
                  "team1_ratio_same_episodes": [round(float(v), 3)
                                                for v in sides[:, 1] / same[:, 1]],
                  "mode_team0_return": [round(float(v), 2) for v in modes[:, 0]],
                  "mode_team1_return": [round(float(v), 2) for v in modes[:, 1]],
                  "mode_team0_ratio_same_episodes": [round(float(v), 3)
                                                     for v in modes[:, 0] / same[:, 0]],
                  "mode_team1_ratio_same_episodes": [round(float(v), 3)
                                                     for v in modes[:, 1] / same[:, 1]],
                  "demo_return_per_agent": [round(float(v), 2) for v in
                                            np.asarray(demos.agent_returns).mean(0)],
                  "expert_seconds": round(expert_seconds, 1),
                  "seconds": round(time.perf_counter() - start, 1)})


if __name__ == "__main__":
    main()
