"""Throughput of the particle environments and of MAGAIL, with `jaxmarl` side by side where
it installs (in its own Python: it pins jax and prints on import).

Records (env steps per second, the fastest of 3 timed runs after a warm-up; one env
step is a step of all agents):
  - `bare`: jaxil's env step alone, `--envs` vectorised environments (time limit and
    auto-reset included), uniformly random actions, a `lax.scan` of `--steps` steps;
  - `jaxmarl`: the same for jaxmarl's env of the same scenario (its own auto-reset), from
    `benchmarks/peers/jaxmarl_mpe.py` run with `--peer-python`; the ratio jaxil / jaxmarl;
  - `rollout`: MAPPO's `collect` (the shared policy acting for every agent) with
    `--loop-envs` environments;
  - `magail`: whole decentralised-MAGAIL updates (collect, relabel, 4 discriminator steps
    per agent, PPO's `--epochs` epochs) with the same environments, and its ratio to `rollout`;
  - `mappo`: MAPPO's own updates (the same PPO settings, the env's reward), the learner
    MAGAIL runs inside; `magail_over_mappo` is what the discriminators cost;
  - `magail_seeds`: `--seeds` MAGAIL runs vmapped in one program (total env steps/s).

With `--peer-python`, also a dynamics check on simple_spread (`check`): 256 random states
and actions stepped by jaxmarl and by jaxil's `particle_step`; the largest differences in
the next velocities and positions, and in the positions jaxil would reach by moving with
the velocity before the update (jaxmarl's order; the original MPE moves with the updated
velocity, as jaxil does).

    python benchmarks/mpe_throughput.py [--scenarios simple_spread,simple_push]
        [--envs 1024] [--steps 100] [--loop-envs 64] [--updates 20] [--seeds 8] [--epochs 4]
        [--peer-python /path/to/python-with-jaxmarl]
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

import jaxil
from jaxil.algorithms import MAGAILConfig, magail
from jaxil.envs import mpe
from jaxil.envs.mpe import SpreadGreedyPolicy
from jaxil.envs.wrappers import vectorize
from jaxil.rl.mappo import collect, init_mappo_learner, mappo

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import emit, run_peer, timed  # noqa: E402  (run as a file or with -m)
from benchmarks.magail_particles import BATCH_SIZE, magail_config  # noqa: E402

PEER_SCRIPT = os.path.join(os.path.dirname(__file__), "peers", "jaxmarl_mpe.py")
REPEATS = 3


def best_seconds(compiled, *args) -> float:
    """The fastest of `REPEATS` runs of `compiled(*args)`, after one warm-up run."""
    timed(lambda: compiled(*args))
    return min(timed(lambda: compiled(*args))[1] for _ in range(REPEATS))


def bare_rate(env, num_envs: int, steps: int) -> float:
    """Env steps/s of `num_envs` vectorised copies of `env` under random actions."""
    venv = vectorize(env, num_envs)
    sizes = jnp.asarray(env.spec.action_sizes)

    def run(key):
        def body(state, k):
            actions = jax.random.randint(k, (num_envs, sizes.shape[0]), 0, sizes)
            state = venv.step(state, actions)
            return state, jnp.sum(state.reward)

        state = venv.reset(key)
        _, rewards = jax.lax.scan(body, state, jax.random.split(key, steps))
        return rewards

    compiled = jax.jit(run).lower(jax.random.key(0)).compile()
    return num_envs * steps / best_seconds(compiled, jax.random.key(1))


def rollout_rate(env, config: MAGAILConfig, repeats: int) -> float:
    """Env steps/s of MAPPO's `collect` with the shared policy in the loop."""
    mappo_config = config.mappo
    venv = vectorize(env, mappo_config.ppo.num_envs)

    def run(key):
        learner = init_mappo_learner(env, mappo_config, key)

        def body(state, k):
            state, batch = collect(venv, state, learner, k, mappo_config)
            return state, jnp.sum(batch.transitions.reward)

        return jax.lax.scan(body, venv.reset(key), jax.random.split(key, repeats))[1]

    compiled = jax.jit(run).lower(jax.random.key(0)).compile()
    return mappo_config.ppo.batch_size * repeats / best_seconds(compiled, jax.random.key(1))


def magail_rate(env, config: MAGAILConfig, data, updates: int, seeds: int | None,
                learner_only: bool = False) -> float:
    """Env steps/s of `updates` MAGAIL updates (`seeds` vmapped runs: their total), or of
    MAPPO's alone with `learner_only`."""
    algo = mappo(env, config.mappo) if learner_only else magail(env, config)
    data = None if learner_only else data

    def run(key):
        return jaxil.train(algo, key, data, updates, batch_size=BATCH_SIZE)[1]["episode_return"]

    fn = run if seeds is None else jax.vmap(run)
    keys = jax.random.key(0) if seeds is None else jax.random.split(jax.random.key(0), seeds)
    compiled = jax.jit(fn).lower(keys).compile()
    return config.mappo.ppo.batch_size * updates * (seeds or 1) / best_seconds(compiled, keys)


def dynamics_check(python: str | None) -> dict | None:
    """jaxmarl's and jaxil's simple_spread step from the same states (see the docstring)."""
    peer = run_peer(python, PEER_SCRIPT, ["check", "simple_spread", "256"])
    if peer is None:
        return None
    n = peer["num_agents"]
    pos, vel = np.asarray(peer["pos"], np.float32), np.asarray(peer["vel"], np.float32)
    actions = np.asarray(peer["actions"], np.int32)

    def step(p, v, a):
        world = mpe.ParticleState(p[:n], v[:n], p[n:])
        nxt = mpe.particle_step(world, mpe.discrete_moves(a), mpe.SENSITIVITY,
                                mpe.SPREAD_AGENT_SIZE)
        return nxt.agent_pos, nxt.agent_vel

    next_pos, next_vel = (np.asarray(x) for x in jax.vmap(step)(pos, vel, actions))
    theirs_pos = np.asarray(peer["next_pos"])[:, :n]
    theirs_vel = np.asarray(peer["next_vel"])[:, :n]
    return {"benchmark": "mpe_dynamics_check", "scenario": "simple_spread", "states": 256,
            "max_vel_diff": float(np.abs(next_vel - theirs_vel).max()),
            "max_pos_diff": float(np.abs(next_pos - theirs_pos).max()),
            "max_pos_diff_old_velocity_order": float(np.abs(
                pos[:, :n] + vel[:, :n] * mpe.DT - theirs_pos).max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="simple_spread,simple_push")
    parser.add_argument("--envs", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--loop-envs", type=int, default=64)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=4, help="PPO epochs per update")
    parser.add_argument("--peer-python", default=os.environ.get("JAXMARL_PYTHON"))
    args = parser.parse_args()
    checked = dynamics_check(args.peer_python)
    if checked is not None:
        emit(checked)
    for scenario in args.scenarios.split(","):
        env = jaxil.envs.make(f"mpe/{scenario}")
        record = {"benchmark": "mpe_throughput", "scenario": scenario, "envs": args.envs,
                  "steps": args.steps, "bare_steps_per_s": round(bare_rate(env, args.envs,
                                                                            args.steps))}
        peer = run_peer(args.peer_python, PEER_SCRIPT, [scenario, str(args.envs),
                                                        str(args.steps)])
        if peer is not None:
            record["jaxmarl_steps_per_s"] = round(peer["steps_per_s"])
            record["jaxil_over_jaxmarl"] = round(record["bare_steps_per_s"]
                                                 / peer["steps_per_s"], 2)
        if scenario == "simple_spread":
            config = magail_config(args.updates, args.loop_envs, epochs=args.epochs)
            demos = jaxil.data.as_transitions(jaxil.data.collect(
                env, SpreadGreedyPolicy(), jax.random.key(5), 50))
            rollout = rollout_rate(env, config, args.updates)
            loop = magail_rate(env, config, demos, args.updates, None)
            learner = magail_rate(env, config, demos, args.updates, None, learner_only=True)
            many = magail_rate(env, config, demos, args.updates, args.seeds)
            record.update(loop_envs=args.loop_envs, epochs=args.epochs,
                          rollout_steps_per_s=round(rollout),
                          magail_steps_per_s=round(loop),
                          magail_over_rollout=round(loop / rollout, 3),
                          mappo_steps_per_s=round(learner),
                          magail_over_mappo=round(loop / learner, 3),
                          seeds=args.seeds, magail_seeds_steps_per_s=round(many))
        emit(record)


if __name__ == "__main__":
    main()
