"""GAIL on CartPole: jaxil's throughput and wall-clock to 0.95 expert, against `imitation`.

Prints one JSON object per measurement (with the setting and the machine), then the
ratios. Two tasks (`--envs`):

- `fixed_horizon_cartpole`: `seals/CartPole-v0` written in jaxil (CartPole-v1 dynamics,
  no termination, reward 1 while the pole is up, 500 steps), the task imitation's GAIL is
  documented on; the ratios compare on it.
- `cartpole`: jaxil's built-in CartPole-v1 (terminates when the pole falls). GAIL's usual
  reward `-log(1 - D) > 0` then also rewards surviving, which makes it much easier.

Measurements:

- `expert`: the PPO expert (trained on `cartpole`; it never drops the pole, so its episodes
  are the same in both tasks) and 60 demonstration episodes, as imitation's docs use.
- `jaxil_gail_time_to_target` (per task): wall-clock until the deterministic policy's mean
  return over 16 episodes reaches `--target` expert-normalised, with and without compile;
  the run is compiled in chunks of `--chunk` updates and evaluation time is excluded.
- `jaxil_gail_throughput`: env steps/s of the whole GAIL loop (`jaxil.train`, one compiled
  program: rollouts, discriminator, PPO), compile apart; the gradient penalty is on and
  every metric is checked for NaN/inf over the `--throughput-steps` steps (1M).
- `jaxil_gail_nan_check`: 1M steps with the interpolate gradient penalty (a norm, the
  NaN-prone kind) and an absorbing state; every metric checked for NaN/inf.
- `jaxil_gail_seeds`: `--seeds` vmapped seeds against one seed, same number of updates.
- `imitation_gail` (with `--peer-python`, a Python with `imitation` installed):
  imitation's GAIL on `seals/CartPole-v0` with the settings of its documentation (8 envs,
  PPO batch 64, lr 4e-4, gamma 0.95, 5 epochs; demo batch 1024, replay 512, 8
  discriminator updates per round, `BasicRewardNet` with `RunningNorm`, 800k steps) on the
  same demonstrations (imitation's docs download a HuggingFace expert; this machine has no
  access to it), evaluated after every round (`evaluate_policy`, 10 episodes, excluded
  from the time).

Usage:
    python benchmarks/gail_cartpole.py [--peer-python /tmp/venv-imitation/bin/python]
    python benchmarks/gail_cartpole.py --smoke          # tiny settings, about a minute
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import emit, machine  # noqa: E402  (run as a file or with -m)

TARGET = 0.95


# --------------------------------------------------------------------------- imitation


def peer_worker(demos_path: str, total_steps: int, expert_return: float,
                random_return: float, target: float) -> None:
    """Runs imitation's GAIL (documented settings); only numpy, torch and imitation."""
    import imitation
    import torch
    from imitation.algorithms.adversarial.gail import GAIL
    from imitation.data import types
    from imitation.rewards.reward_nets import BasicRewardNet
    from imitation.util.networks import RunningNorm
    from imitation.util.util import make_vec_env
    from stable_baselines3 import PPO
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.ppo import MlpPolicy

    seed = 42
    data = np.load(demos_path)
    trajectories = [
        types.Trajectory(obs=data["obs"][i, : data["lengths"][i] + 1],
                         acts=data["actions"][i, : data["lengths"][i]], infos=None,
                         terminal=True)
        for i in range(data["obs"].shape[0])
    ]
    env = make_vec_env("seals:seals/CartPole-v0", rng=np.random.default_rng(seed), n_envs=8)
    eval_env = make_vec_env("seals:seals/CartPole-v0", rng=np.random.default_rng(seed + 1),
                            n_envs=8)
    learner = PPO(env=env, policy=MlpPolicy, batch_size=64, ent_coef=0.0,
                  learning_rate=0.0004, gamma=0.95, n_epochs=5, seed=seed)
    reward_net = BasicRewardNet(observation_space=env.observation_space,
                                action_space=env.action_space,
                                normalize_input_layer=RunningNorm)
    trainer = GAIL(demonstrations=trajectories, demo_batch_size=1024,
                   gen_replay_buffer_capacity=512, n_disc_updates_per_round=8, venv=env,
                   gen_algo=learner, reward_net=reward_net)
    steps_per_round = trainer.gen_train_timesteps
    clock = {"train": 0.0, "last": time.perf_counter(), "reached": None, "curve": []}

    def callback(round_num: int) -> None:
        now = time.perf_counter()
        clock["train"] += now - clock["last"]
        mean, _ = evaluate_policy(learner, eval_env, 10)
        score = (mean - random_return) / (expert_return - random_return)
        steps = (round_num + 1) * steps_per_round
        clock["curve"].append([steps, round(float(mean), 1)])
        if clock["reached"] is None and score >= target:
            clock["reached"] = {"env_steps": steps, "seconds": round(clock["train"], 2)}
        clock["last"] = time.perf_counter()

    trainer.train(total_steps, callback=callback)
    final, _ = evaluate_policy(learner, eval_env, 20)
    emit({"name": "imitation_gail", "env": "seals/CartPole-v0",
          "env_steps": (total_steps // steps_per_round) * steps_per_round,
          "train_seconds": round(clock["train"], 2),
          "env_steps_per_s": round((total_steps // steps_per_round) * steps_per_round
                                   / clock["train"], 1),
          "time_to_target": clock["reached"], "target": target,
          "final_mean_return": float(final), "curve": clock["curve"],
          "setting": {"n_envs": 8, "ppo": {"batch_size": 64, "ent_coef": 0.0,
                                           "learning_rate": 4e-4, "gamma": 0.95,
                                           "n_epochs": 5},
                      "demo_batch_size": 1024, "gen_replay_buffer_capacity": 512,
                      "n_disc_updates_per_round": 8, "reward_net": "BasicRewardNet+RunningNorm",
                      "demo_episodes": len(trajectories)},
          "versions": {"imitation": imitation.__version__, "torch": torch.__version__,
                       "torch_threads": torch.get_num_threads()},
          "machine": machine()})


def run_peer(python: str, demos_path: str, steps: int, expert_return: float,
             random_return: float, target: float) -> dict | None:
    cmd = [python, os.path.abspath(__file__), "--peer-worker", demos_path, str(steps),
           str(expert_return), str(random_return), str(target)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not records:
        emit({"name": "imitation_gail", "error": proc.stderr[-2000:]})
        return None
    emit(records[-1])
    return records[-1]


# --------------------------------------------------------------------------- jaxil


def fixed_horizon_cartpole():
    """`seals/CartPole-v0` in jaxil: CartPole-v1's dynamics, no termination, reward 1 while
    the pole is up and the cart on the track, 0 otherwise; 500 steps.

    Without termination a GAIL reward that is always positive cannot win by merely
    keeping episodes long, so this is the task imitation's GAIL is documented on.
    """
    import math

    import jax.numpy as jnp

    from jaxil.envs import CartPole, TimeLimit
    from jaxil.envs.cartpole import THETA_LIMIT, X_LIMIT
    from jaxil.types import Discrete, EnvSpec

    class FixedHorizonCartPole(CartPole):
        def __init__(self):
            self.spec = EnvSpec("seals_cartpole", 4, Discrete(2), max_episode_steps=500)

        def step(self, state, action):
            nxt = super().step(state, action)
            x, x_dot, theta, theta_dot = nxt.inner
            theta = (theta + math.pi) % (2 * math.pi) - math.pi
            obs = jnp.stack([x, x_dot, theta, theta_dot])
            ok = (jnp.abs(x) < X_LIMIT) & (jnp.abs(theta) < THETA_LIMIT)
            return nxt._replace(inner=obs, obs=obs, reward=ok.astype(jnp.float32),
                                terminated=jnp.zeros((), bool))

    return TimeLimit(FixedHorizonCartPole(), 500)


def jaxil_config(args):
    from jaxil.adversarial import AdversarialConfig
    from jaxil.algorithms import GAILConfig
    from jaxil.rl import PPOConfig

    # Observations are not normalised for the policy: in the fixed-horizon task a fallen
    # pole's cart drifts far, and running statistics of those states swamp the rest.
    ppo = PPOConfig(num_envs=args.num_envs, rollout_length=args.rollout_length,
                    num_epochs=args.epochs, num_minibatches=args.minibatches,
                    hidden_sizes=(args.hidden,) * 2, learning_rate=args.lr,
                    entropy_coef=args.entropy, gamma=0.99, normalize_obs=False,
                    deterministic_policy=True)
    adv = AdversarialConfig(hidden_sizes=(args.hidden,) * 2, disc_steps=args.disc_steps,
                            disc_learning_rate=args.disc_lr, gradient_penalty="expert",
                            gp_weight=args.gp_weight, bc_steps=args.bc_steps)
    return GAILConfig(adversarial=adv, ppo=ppo)


def setting(args, env_name: str) -> dict:
    return {"env": env_name, "num_envs": args.num_envs, "rollout_length": args.rollout_length,
            "ppo_epochs": args.epochs, "ppo_minibatches": args.minibatches,
            "hidden": [args.hidden] * 2, "ppo_lr": args.lr, "entropy": args.entropy,
            "disc_steps": args.disc_steps, "disc_lr": args.disc_lr,
            "expert_batch": args.batch_size, "gradient_penalty": "expert",
            "gp_weight": args.gp_weight, "bc_steps": args.bc_steps,
            "demo_episodes": args.demo_episodes, "policy": "deterministic (mode)"}


def timed_compile(fn, *example):
    start = time.perf_counter()
    compiled = fn.lower(*example).compile()
    return compiled, time.perf_counter() - start


def block(x):
    import jax

    return jax.block_until_ready(x)


def make_env(name: str):
    import jaxil

    return fixed_horizon_cartpole() if name == "fixed_horizon_cartpole" else jaxil.envs.make(name)


def time_to_target(args, env, env_name, data, expert_return, random_return) -> dict:
    """Trains in compiled chunks of `args.chunk` updates until the target is reached."""
    import jax
    import jax.numpy as jnp

    import jaxil
    from jaxil.algorithms import gail

    key = jax.random.key(args.seed)
    algo = gail(env, jaxil_config(args))
    steps_per_update = algo_steps(args)
    init = jax.jit(lambda k, d: algo.init(k, d))

    def chunk(state, k, d):
        def body(s, kk):
            return algo.update(s, jaxil.sample_batch(d, kk, args.batch_size)), None

        state, _ = jax.lax.scan(body, state, jax.random.split(k, args.chunk))
        return state

    evaluate = jax.jit(lambda s, k: jaxil.rollout_episodes(env, algo.policy(s), k, 16).returns)
    init_c, init_compile = timed_compile(init, key, data)
    t0 = time.perf_counter()
    state = block(init_c(key, data))
    train_s = time.perf_counter() - t0
    chunk_c, chunk_compile = timed_compile(jax.jit(chunk), state, key, data)
    eval_c, _ = timed_compile(evaluate, state, key)
    compile_s = init_compile + chunk_compile
    reached, curve = None, []
    for i in range(args.max_updates // args.chunk):
        k = jax.random.fold_in(key, i)
        t0 = time.perf_counter()
        state = block(chunk_c(state, k, data))
        train_s += time.perf_counter() - t0
        ret = float(jnp.mean(eval_c(state, jax.random.fold_in(k, 1))))
        steps = (i + 1) * args.chunk * steps_per_update
        curve.append([steps, round(ret, 1)])
        if (ret - random_return) / (expert_return - random_return) >= args.target:
            reached = {"env_steps": steps, "seconds_without_compile": round(train_s, 3),
                       "seconds_with_compile": round(train_s + compile_s, 3),
                       "compile_seconds": round(compile_s, 2)}
            break
    record = {"name": "jaxil_gail_time_to_target", "env": env_name, "target": args.target,
              "reached": reached, "updates_run": len(curve) * args.chunk, "curve": curve,
              "expert_return": expert_return, "random_return": random_return,
              "setting": setting(args, env_name), "machine": machine()}
    emit(record)
    return record


def algo_steps(args) -> int:
    return args.num_envs * args.rollout_length


def main(args) -> None:
    import jax
    import jax.numpy as jnp

    import jaxil
    from jaxil import experts
    from jaxil.algorithms import GAILConfig, gail

    key = jax.random.key(args.seed)
    start = time.perf_counter()
    # The expert is trained on the built-in (terminating) cartpole; it never drops the
    # pole, so its episodes are the same in the fixed-horizon task.
    expert, _ = experts.train_ppo(jaxil.envs.make("cartpole"), key)
    expert_s = time.perf_counter() - start
    tasks = {}
    for env_name in args.envs.split(","):
        env = make_env(env_name)
        demos = jaxil.data.collect(env, expert, jax.random.key(1), args.demo_episodes)
        random_return = float(jnp.mean(jaxil.evaluate(
            env, jaxil.RandomPolicy(env.spec.action_space), jax.random.key(2), 100)))
        expert_return = float(np.mean(demos.returns))
        emit({"name": "expert", "env": env_name, "expert_return": expert_return,
              "random_return": random_return, "demo_episodes": args.demo_episodes,
              "expert_train_seconds": round(expert_s, 2)})
        tasks[env_name] = (env, demos, expert_return, random_return)

    reached = {}
    for env_name, (env, demos, expert_return, random_return) in tasks.items():
        data = jaxil.data.as_transitions(demos)
        reached[env_name] = time_to_target(args, env, env_name, data, expert_return,
                                           random_return)["reached"]

    # Throughput, and the NaN check of a long run with the gradient penalty on.
    env_name = args.envs.split(",")[0]
    env, demos, expert_return, random_return = tasks[env_name]
    data = jaxil.data.as_transitions(demos)
    config = jaxil_config(args)

    def train(k, d, updates):
        return jaxil.train(gail(env, config), k, d, num_updates=updates,
                           batch_size=args.batch_size)

    updates = max(1, args.throughput_steps // algo_steps(args))
    compiled, compile_s = timed_compile(jax.jit(lambda k, d: train(k, d, updates)), key, data)
    t0 = time.perf_counter()
    _, metrics = block(compiled(key, data))
    run_s = time.perf_counter() - t0
    finite = all(bool(jnp.all(jnp.isfinite(v))) for v in metrics.values())
    throughput = updates * algo_steps(args) / run_s
    emit({"name": "jaxil_gail_throughput", "env": env_name,
          "env_steps": updates * algo_steps(args), "env_steps_per_s": round(throughput, 1),
          "run_seconds": round(run_s, 3), "compile_seconds": round(compile_s, 2),
          "all_metrics_finite": finite,
          "final_train_return": float(metrics["episode_return"][-1]),
          "setting": setting(args, env_name), "machine": machine()})

    # NaN check of the interpolate penalty (a norm, so NaN-prone at a zero gradient).
    if args.nan_check_steps > 0:
        from jaxil.adversarial import AdversarialConfig

        gp_config = GAILConfig(
            ppo=config.ppo,
            adversarial=AdversarialConfig(disc_learning_rate=args.disc_lr,
                                          gradient_penalty="interpolate", gp_weight=10.0,
                                          gp_target=1.0, absorbing_state=True))
        nan_updates = max(1, args.nan_check_steps // algo_steps(args))
        run = jax.jit(lambda k, d: jaxil.train(gail(env, gp_config), k, d,
                                               num_updates=nan_updates,
                                               batch_size=args.batch_size))
        _, nan_metrics = block(run(key, data))
        emit({"name": "jaxil_gail_nan_check", "env": env_name,
              "env_steps": nan_updates * algo_steps(args),
              "gradient_penalty": "interpolate (weight 10, target 1), absorbing state",
              "all_metrics_finite": all(bool(jnp.all(jnp.isfinite(v)))
                                        for v in nan_metrics.values()),
              "max_grad_penalty": float(jnp.max(nan_metrics["disc_grad_penalty"])),
              "machine": machine()})

    # Seeds: vmapped against one, the same number of updates.
    one = jax.jit(lambda k, d: train(k, d, args.seed_updates))
    many = jax.jit(jax.vmap(lambda k, d: train(k, d, args.seed_updates), in_axes=(0, None)))
    keys = jax.random.split(key, args.seeds)
    one_c, _ = timed_compile(one, key, data)
    many_c, _ = timed_compile(many, keys, data)
    block(one_c(key, data))
    t0 = time.perf_counter()
    block(one_c(jax.random.key(args.seed + 1), data))
    one_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    block(many_c(keys, data))
    many_s = time.perf_counter() - t0
    emit({"name": "jaxil_gail_seeds", "env": env_name, "seeds": args.seeds,
          "updates": args.seed_updates, "one_seed_seconds": round(one_s, 3),
          "vmapped_seconds": round(many_s, 3), "ratio": round(many_s / one_s, 2),
          "setting": setting(args, env_name), "machine": machine()})

    peer = None
    if args.peer_python:
        env, demos, expert_return, random_return = tasks.get(
            "fixed_horizon_cartpole", tasks[env_name])
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "demos.npz")
            np.savez(path, obs=np.asarray(demos.obs), actions=np.asarray(demos.actions),
                     lengths=np.asarray(demos.lengths))
            peer = run_peer(args.peer_python, path, args.peer_steps, expert_return,
                            random_return, args.target)
    if peer is not None:
        ratios = {"name": "ratios", "note": "jaxil / imitation on the same task "
                  "(fixed-horizon CartPole = seals/CartPole-v0)",
                  "env_steps_per_s": round(throughput / peer["env_steps_per_s"], 1)}
        mine = reached.get("fixed_horizon_cartpole")
        if mine and peer.get("time_to_target"):
            peer_s = peer["time_to_target"]["seconds"]
            ratios["time_to_target_with_compile"] = round(
                peer_s / mine["seconds_with_compile"], 1)
            ratios["time_to_target_without_compile"] = round(
                peer_s / mine["seconds_without_compile"], 1)
            ratios["env_steps_to_target"] = round(
                peer["time_to_target"]["env_steps"] / mine["env_steps"], 2)
        emit(ratios)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--peer-python", default=None,
                   help="a Python with imitation installed (e.g. /tmp/venv-imitation/bin/python)")
    p.add_argument("--peer-steps", type=int, default=800_000)
    p.add_argument("--target", type=float, default=TARGET)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--demo-episodes", type=int, default=60)
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--rollout-length", type=int, default=64)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--minibatches", type=int, default=4)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--entropy", type=float, default=0.01)
    p.add_argument("--disc-steps", type=int, default=1)
    p.add_argument("--disc-lr", type=float, default=1e-3)
    p.add_argument("--gp-weight", type=float, default=3.0)
    p.add_argument("--bc-steps", type=int, default=0, help="BC warm start (0: none)")
    p.add_argument("--envs", default="fixed_horizon_cartpole,cartpole",
                   help="comma-separated: fixed_horizon_cartpole (= seals/CartPole-v0, "
                        "imitation's task) and/or cartpole (jaxil's, terminating)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--chunk", type=int, default=10)
    p.add_argument("--max-updates", type=int, default=1000)
    p.add_argument("--throughput-steps", type=int, default=1_000_000)
    p.add_argument("--nan-check-steps", type=int, default=1_000_000)
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--seed-updates", type=int, default=50)
    p.add_argument("--smoke", action="store_true", help="tiny settings: a quick check")
    args = p.parse_args(argv)
    if args.smoke:
        args.throughput_steps, args.max_updates, args.chunk = 20_000, 20, 10
        args.nan_check_steps = 10_000
        args.seed_updates, args.seeds, args.peer_steps = 5, 2, 16_384
        args.demo_episodes = 5
    return args


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--peer-worker":
        demos_path, steps, expert_ret, random_ret, target = sys.argv[2:7]
        peer_worker(demos_path, int(steps), float(expert_ret), float(random_ret),
                    float(target))
    else:
        main(parse())
