"""Adversarial imitation at episode ends: demos that end early, demos that never do, and a
goal that ends the episode on arrival.

For each method (`--methods`: gail, airl, gaifo, fgail) and each demo set, trains from
scratch for `--updates` updates on `--seeds` vmapped seeds (one compiled program per
method and demo set) and prints one JSON object per run: the expert-normalised return of
each seed's deterministic policy over 32 episodes (cartpole) or the goal task's success
rate and episode length. Settings (`--episode-ends`):

- `absorbing` (the default of AIRL; of GAIL and f-GAIL until session 15, of GAIfO until
  session 16): one shared DAC absorbing state, rewards centred on its reward
  (`jaxil.adversarial.rewards.centre_on_absorbing`);
- `absorbing_per_terminal` (the default of GAIL and f-GAIL since session 15, of GAIfO
  since session 16): one absorbing state per terminal observation
  (`AdversarialConfig.absorbing_per_terminal`), rewards centred on the neutral reward and
  a terminal step paid the value of its absorbing state
  (`jaxil.adversarial.rewards.absorbing_lumps`);
- `variable_horizon`: no absorbing state, `allow_variable_horizon=True` (the survival
  bias of a positive reward, kept on purpose).

Demo sets:

- `cartpole_never_ends`: 10 episodes of the PPO expert (500 steps each, none terminated);
- `cartpole_ends_early`: 10 episodes of the same expert acting at random with probability
  `--epsilon` (`jaxil.EpsilonRandom`): most episodes drop the pole before 500 steps; the
  normalised score uses the expert's own return, 500;
- `goal` (a continuous 2-D task): `obstacle_nav` with the obstacle moved out of reach
  (`Layout(obstacle=(0, 1.5), obstacle_radius=0.1)`, positions stay in `[-1, 1]^2`), so
  the goal is the only way to end an episode; 10 episodes of the scripted expert, each
  ending at the goal after about 20 steps of the 50-step limit. An imitator with a
  survival bias dawdles to the time limit; one without it ends at the goal.
- `obstacle` (two kinds of ending): `obstacle_nav`'s default layout, the obstacle in the
  way; 10 episodes of the scripted expert passing it on the left and ending at the goal.
  An episode also ends in the obstacle, which the demos never do; an imitator that finds
  every termination alike ends there. Scored as `goal`, plus the share that collided.

Options that vary the setting: `--epsilon` and `--demo-key` (the early-ending demos),
`--goal-jitter` (goal demos spread across the line), `--no-disc-normalize`,
`--disc-input-stats`, `--disc-learning-rate`, `--gp-weight`, `--disc-activation`,
`--replay-rollouts`, `--bc-steps`.

Usage:
    python benchmarks/episode_ends.py [--seeds 4] [--methods gail,airl,gaifo,fgail]
    python benchmarks/episode_ends.py --smoke
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import jaxil  # noqa: E402
from benchmarks.common import emit, machine  # noqa: E402  (run as a file or with -m)
from jaxil import algorithms  # noqa: E402
from jaxil.adversarial import AdversarialConfig  # noqa: E402
from jaxil.envs.navigation import Layout, collided, scripted_expert, success  # noqa: E402
from jaxil.rl import PPOConfig  # noqa: E402

CARTPOLE_PPO = PPOConfig(num_envs=16, rollout_length=64, num_epochs=4, num_minibatches=4,
                         learning_rate=3e-3, entropy_coef=0.01, normalize_obs=False,
                         deterministic_policy=True)
GOAL_PPO = PPOConfig(num_envs=16, rollout_length=64, num_epochs=4, num_minibatches=4,
                     learning_rate=1e-3, entropy_coef=0.0, deterministic_policy=True)
GOAL_LAYOUT = Layout(obstacle=(0.0, 1.5), obstacle_radius=0.1)
CONFIGS = {"gail": algorithms.GAILConfig, "airl": algorithms.AIRLConfig,
           "gaifo": algorithms.GAIfOConfig, "fgail": algorithms.FGAILConfig}
EPISODE_ENDS = {
    "absorbing": AdversarialConfig(absorbing_state=True, absorbing_per_terminal=False),
    "absorbing_per_terminal": AdversarialConfig(absorbing_state=True,
                                                absorbing_per_terminal=True),
    "variable_horizon": AdversarialConfig(absorbing_state=False, allow_variable_horizon=True),
}


def make_algo(method: str, env, adv: AdversarialConfig, ppo: PPOConfig):
    return getattr(algorithms, method)(env, CONFIGS[method](adversarial=adv, ppo=ppo))


def cartpole_demo_sets(epsilon: float, episodes: int, demo_key: int = 7):
    env = jaxil.envs.make("cartpole")
    expert, info = jaxil.experts.train_ppo(env, jax.random.key(0))
    clean = jaxil.data.collect(env, expert, jax.random.key(demo_key), episodes)
    noisy = jaxil.data.collect(env, jaxil.EpsilonRandom(expert, epsilon, env.spec.action_space),
                               jax.random.key(demo_key), episodes)
    return env, float(info["mean_return"]), {"cartpole_never_ends": clean,
                                             "cartpole_ends_early": noisy}


def describe(demos) -> dict:
    lengths = np.asarray(demos.lengths)
    return {"episodes": int(len(lengths)),
            "terminated": int(np.asarray(demos.terminated).any(axis=1).sum()),
            "mean_length": float(lengths.mean()), "min_length": int(lengths.min()),
            "mean_return": float(np.asarray(demos.rewards).sum(axis=1).mean())}


def train_seeds(algo, demos, seeds: int, updates: int, batch_size: int):
    flat = jaxil.data.as_transitions(demos)
    run = jax.jit(jax.vmap(lambda k, d: jaxil.train(algo, k, d, num_updates=updates,
                                                    batch_size=batch_size),
                           in_axes=(0, None)))
    keys = jax.random.split(jax.random.key(0), seeds)
    start = time.perf_counter()
    states, metrics = run(keys, flat)
    jax.block_until_ready(metrics)
    seconds = time.perf_counter() - start
    return [jax.tree.map(lambda a, i=i: a[i], states) for i in range(seeds)], seconds


def score_cartpole(env, algo, states, *references: float) -> list[list[float]]:
    """Each seed's mean return over 32 episodes, normalised (random 0) against each of
    `references` (e.g. the clean expert's return, the demos'): one list per reference."""
    key = jax.random.key(123)
    random = jaxil.evaluate(env, jaxil.RandomPolicy(env.spec.action_space), key, 32).mean()
    returns = [jaxil.evaluate(env, algo.policy(s), key, 32).mean() for s in states]
    return [[round(float(jaxil.normalized_score(r, random, ref)), 3) for r in returns]
            for ref in references]


def score_goal(env, algo, states) -> dict[str, list[float]]:
    """Per seed, over 32 episodes: the share that end at the goal, that end in the
    obstacle, and the mean episode length."""
    scores = {"success": [], "collided": [], "mean_length": []}
    layout = env.unwrapped.layout
    for s in states:
        ep = jaxil.rollout_episodes(env, algo.policy(s), jax.random.key(123), 32)
        scores["success"].append(round(float(jnp.mean(success(ep, layout))), 3))
        scores["collided"].append(round(float(jnp.mean(collided(ep, layout))), 3))
        scores["mean_length"].append(round(float(jnp.mean(ep.lengths)), 1))
    return scores


def adversarial_overrides(args: argparse.Namespace) -> dict:
    """The `AdversarialConfig` fields the options set (those left at `None` or off keep
    the setting's own), except `bc_steps`, which depends on the method."""
    overrides = {"gp_weight": args.gp_weight, "activation": args.disc_activation,
                 "replay_rollouts": args.replay_rollouts or None,
                 "normalize_inputs": False if args.no_disc_normalize else None,
                 "running_input_stats": None if args.disc_input_stats is None
                 else args.disc_input_stats == "running",
                 "disc_learning_rate": args.disc_learning_rate}
    return {field: value for field, value in overrides.items() if value is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default="gail,airl,gaifo,fgail")
    parser.add_argument("--episode-ends", default="absorbing,variable_horizon")
    parser.add_argument("--demos", default="cartpole_ends_early,cartpole_never_ends,goal")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--updates", type=int, default=100)
    parser.add_argument("--goal-updates", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epsilon", type=float, default=0.4)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--demo-key", type=int, default=7,
                        help="PRNG key of the demo episodes' rollouts")
    parser.add_argument("--bc-steps", type=int, default=0,
                        help="behavioural-cloning warm start (adversarial.bc_steps)")
    parser.add_argument("--no-disc-normalize", action="store_true",
                        help="adversarial.normalize_inputs=False (raw discriminator inputs)")
    parser.add_argument("--disc-input-stats", choices=("running", "fixed"), default=None,
                        help="adversarial.running_input_stats: `running` (the default since "
                             "2026-12-05) merges each update's expert and policy batches "
                             "into the discriminator's input statistics, `fixed` keeps the "
                             "demos' (default: the config's)")
    parser.add_argument("--disc-learning-rate", type=float, default=None,
                        help="adversarial.disc_learning_rate (default: the config's)")
    parser.add_argument("--replay-rollouts", type=int, default=0,
                        help="adversarial.replay_rollouts (policy samples for the "
                             "discriminator from the last this-many rollouts)")
    parser.add_argument("--gp-weight", type=float, default=None,
                        help="adversarial.gp_weight (default: the config's)")
    parser.add_argument("--disc-activation", default=None,
                        help="adversarial.activation, the discriminator's hidden activation "
                             "(default: the config's)")
    parser.add_argument("--goal-jitter", type=float, default=0.0,
                        help="the goal task's start jitter across the line to the goal "
                             "(0: every demo on one straight line)")
    parser.add_argument("--smoke", action="store_true", help="2 seeds, 5 updates")
    args = parser.parse_args()
    if args.smoke:
        args.seeds, args.updates, args.goal_updates = 2, 5, 5
    emit({"machine": machine(), "settings": vars(args)})

    wanted = args.demos.split(",")
    env, expert_return, demo_sets = cartpole_demo_sets(args.epsilon, args.episodes,
                                                    args.demo_key)
    layout = GOAL_LAYOUT._replace(jitter=(GOAL_LAYOUT.jitter[0], args.goal_jitter))
    goal_env = jaxil.envs.make("obstacle_nav", layout=layout)
    if "goal" in wanted:
        demo_sets["goal"] = jaxil.data.collect(goal_env, scripted_expert(layout=layout),
                                               jax.random.key(args.demo_key), args.episodes)
    obstacle_env = jaxil.envs.make("obstacle_nav")
    if "obstacle" in wanted:
        demo_sets["obstacle"] = jaxil.data.collect(obstacle_env, scripted_expert("left"),
                                                   jax.random.key(args.demo_key),
                                                   args.episodes)
    for name in wanted:
        emit({"demos": name, **describe(demo_sets[name])})
    overrides = adversarial_overrides(args)
    for name in wanted:
        demos = demo_sets[name]
        goal = name in ("goal", "obstacle")
        task_env = {"goal": goal_env, "obstacle": obstacle_env}.get(name, env)
        for ends in args.episode_ends.split(","):
            for method in args.methods.split(","):
                adv = dataclasses.replace(EPISODE_ENDS[ends], **overrides)
                if args.bc_steps and method != "gaifo":  # GAIfO's demos are state-only
                    adv = dataclasses.replace(adv, bc_steps=args.bc_steps)
                algo = make_algo(method, task_env, adv, GOAL_PPO if goal else CARTPOLE_PPO)
                updates = args.goal_updates if goal else args.updates
                states, seconds = train_seeds(algo, demos, args.seeds, updates,
                                              args.batch_size)
                record = {"demos": name, "episode_ends": ends, "method": method,
                          "updates": updates, "seconds_with_compile": round(seconds, 1)}
                if goal:
                    record.update(score_goal(task_env, algo, states))
                else:
                    # also against the demonstrator's own return (what occupancy matching
                    # targets)
                    record["normalised"], record["vs_demos"] = score_cartpole(
                        env, algo, states, expert_return, describe(demos)["mean_return"])
                emit(record)


if __name__ == "__main__":
    main()
