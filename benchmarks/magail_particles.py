"""MAGAIL on the cooperative particle tasks, after the MAGAIL paper's protocol: the
expert-normalised team return (a uniformly random policy = 0, the demonstrator = 1) of
each method against the number of demonstrated episodes.

Methods: multi-agent BC (`multiagent_bc`), independent GAIL (`independent_gail`), and
MAGAIL with the centralised and the decentralised prior (`magail`), all with the library's
defaults except the budgets below. `--methods ...,mappo` adds the ceiling of the policy
optimiser: MAPPO with the adversarial methods' settings and budget, learning from the
env's own reward instead of demonstrations (one record, `demo_episodes` null; a dotted
line on the plot). Tasks: cooperative navigation (`mpe/simple_spread`)
and cooperative communication (`mpe/simple_speaker_listener`).

The demonstrator is a MAPPO expert that jaxil trains first with its recipe
(`jaxil.experts.train_ppo`, seed 0), acting with its mode (`--expert mappo`, the paper's
protocol), or on simple_spread the scripted `SpreadGreedyPolicy` (`--expert scripted`).
Every method is trained on the first `n` of the same demonstrations, seeds vmapped in one
program, and its policy is scored over 64 episodes per seed as it acts (`normalised`: the
adversarial methods sample, BC takes its mode) and with its mode (`normalised_mode`).

    python benchmarks/magail_particles.py [--envs mpe/simple_spread,...] [--demos 25,50,...]
        [--methods bc,independent,centralized,decentralized,mappo] [--seeds 3]
        [--updates 1000] [--bc-updates 2000] [--bc-steps 0] [--expert mappo|scripted]
        [--learner small|expert] [--epochs 4]
        [--gradient-penalty expert|interpolate] [--gp-weight 0.1] [--plot PATH]

One JSON record per (env, method, demo count); a PNG of the curves goes to `--plot`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import jaxil
from jaxil.algorithms import MAGAILConfig, independent_gail, magail, multiagent_bc
from jaxil.envs.mpe import SpreadGreedyPolicy
from jaxil.networks.multiagent import MultiAgentPolicy
from jaxil.networks.policy import RandomPolicy
from jaxil.rl import PPOConfig
from jaxil.rl.mappo import MAPPOConfig, mappo

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import emit, save_figure  # noqa: E402  (run as a file or with -m)

EPISODES = 64
MAX_DEMOS = 200


BATCH_SIZE = 400
"""Expert env steps per update, every method."""


def magail_config(updates: int, num_envs: int = 16, learner: str = "small",
                  env_name: str | None = None, epochs: int = 4) -> MAGAILConfig:
    """The settings of every adversarial method: MAGAIL's defaults with a PPO of `num_envs`
    envs x 25 steps per update and `epochs` epochs, its learning rate decayed over
    `updates`, and the centralised critic.

    `learner="expert"` takes the learner of `env_name`'s expert recipe as it is instead
    (on the MPE tasks 64 envs x 25 steps, widths 128, a constant learning rate), with
    `epochs` epochs.
    """
    if learner == "expert":
        recipe = jaxil.experts.DEFAULTS[env_name].config
        return MAGAILConfig(mappo=dataclasses.replace(
            recipe, ppo=dataclasses.replace(recipe.ppo, num_epochs=epochs)))
    return MAGAILConfig(mappo=MAPPOConfig(
        PPOConfig(num_envs=num_envs, rollout_length=25, num_epochs=epochs, num_minibatches=4,
                  learning_rate=3e-3, entropy_coef=0.01, lr_decay_updates=updates),
        centralized_critic=True))


def method(name: str, env, updates: int, bc_steps: int = 0, learner: str = "small",
           epochs: int = 4, **discriminator):
    """The method called `name`: `bc`, `independent`, or a MAGAIL prior (the adversarial
    ones BC-warm-started for `bc_steps` steps, their learner as `magail_config`'s, and
    `discriminator` fields replacing MAGAIL's `adversarial` defaults)."""
    if name == "bc":
        return multiagent_bc(env)
    config = magail_config(updates, learner=learner, env_name=env.spec.name, epochs=epochs)
    if name == "mappo":
        return mappo(env, config.mappo)
    config = dataclasses.replace(config, adversarial=dataclasses.replace(
        config.adversarial, bc_steps=bc_steps, **discriminator))
    if name == "independent":
        return independent_gail(env, config)
    return magail(env, dataclasses.replace(config, prior=name))


def random_policy(env) -> MultiAgentPolicy:
    """Uniformly random actions for every agent (each within its own action space)."""
    spaces = [s.action_space for s in env.spec.agent_specs]
    if len(set(spaces)) == 1:
        return MultiAgentPolicy(RandomPolicy(spaces[0]), env.spec.num_agents, agent_ids=False)
    return _MixedRandom(tuple(s.n for s in spaces))


class _MixedRandom(eqx.Module):
    """Uniform discrete actions, agent `i` in `[0, n_i)` (agents with different spaces)."""

    sizes: tuple[int, ...] = eqx.field(static=True)

    def __call__(self, obs, key):
        return jax.random.randint(key, (len(self.sizes),), 0, jnp.asarray(self.sizes))


def demonstrator(env, kind: str, key):
    """`(policy, info)`: the expert that makes the demonstrations."""
    if kind == "scripted":
        if env.spec.name != "mpe/simple_spread":
            raise SystemExit(f"--expert scripted: only mpe/simple_spread has one, not "
                             f"{env.spec.name}")
        return SpreadGreedyPolicy(), {"expert": "SpreadGreedyPolicy"}
    start = time.perf_counter()
    policy, info = jaxil.experts.train_ppo(env, key)
    return policy, {"expert": "mappo recipe", "expert_train_return": float(info["eval_return"]),
                    "expert_seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default="mpe/simple_spread,mpe/simple_speaker_listener")
    parser.add_argument("--demos", default="25,50,100,200")
    parser.add_argument("--methods", default="bc,independent,centralized,decentralized")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--updates", type=int, default=1_000)
    parser.add_argument("--bc-updates", type=int, default=2_000)
    parser.add_argument("--bc-steps", type=int, default=0,
                        help="the adversarial methods' BC warm start (adversarial.bc_steps)")
    parser.add_argument("--expert", default="mappo", choices=("mappo", "scripted"))
    parser.add_argument("--learner", default="small", choices=("small", "expert"),
                        help="the adversarial methods' (and mappo's) PPO: 16 envs and widths "
                        "64, or the expert recipe's")
    parser.add_argument("--epochs", type=int, default=4, help="their PPO epochs per update")
    parser.add_argument("--gradient-penalty", choices=("expert", "interpolate"),
                        help="the discriminators' penalty (default: MAGAIL's, expert)")
    parser.add_argument("--gp-weight", type=float,
                        help="its weight (default: MAGAIL's, 0.1)")
    parser.add_argument("--bc-steps-per-update", type=int,
                        help="BC steps on each update's expert batch (adversarial."
                        "bc_steps_per_update; default: MAGAIL's, 0)")
    parser.add_argument("--plot", default="runs/magail_particles.png")
    args = parser.parse_args()
    discriminator = {field: value for field, value in (
        ("gradient_penalty", args.gradient_penalty), ("gp_weight", args.gp_weight),
        ("bc_steps_per_update", args.bc_steps_per_update)) if value is not None}
    counts = [int(c) for c in args.demos.split(",")]
    if max(counts) > MAX_DEMOS:
        raise SystemExit(f"--demos: at most {MAX_DEMOS} episodes")
    curves: dict = {}
    for env_name in args.envs.split(","):
        env = jaxil.envs.make(env_name)
        expert, info = demonstrator(env, args.expert, jax.random.key(0))
        demos = jaxil.data.collect(env, expert, jax.random.key(1), MAX_DEMOS)
        eval_key = jax.random.key(2)
        expert_return = float(jnp.mean(jaxil.rollout_episodes(env, expert, eval_key,
                                                              EPISODES).returns))
        random_return = float(jnp.mean(jaxil.rollout_episodes(env, random_policy(env),
                                                              eval_key, EPISODES).returns))
        steps_per_update = magail_config(args.updates, learner=args.learner, env_name=env_name,
                                         epochs=args.epochs).mappo.batch_size
        for name in args.methods.split(","):
            for count in [None] if name == "mappo" else counts:
                data = None if count is None else jaxil.data.as_transitions(
                    jax.tree.map(lambda a, c=count: a[:c], demos))
                algo = method(name, env, args.updates, args.bc_steps, args.learner,
                              args.epochs, **discriminator)
                updates = args.bc_updates if name == "bc" else args.updates

                def run(key, env=env, algo=algo, data=data, updates=updates):
                    train_key, k = jax.random.split(key)
                    state, _ = jaxil.train(algo, train_key, data, updates,
                                           batch_size=BATCH_SIZE)
                    policy = algo.policy(state)
                    return jnp.stack([
                        jnp.mean(jaxil.rollout_episodes(env, p, k, EPISODES).returns)
                        for p in (policy, policy.with_deterministic(True))])

                start = time.perf_counter()
                both = np.asarray(jax.jit(jax.vmap(run))(
                    jax.random.split(jax.random.key(3), args.seeds)))  # [seeds, 2]
                seconds = time.perf_counter() - start
                returns, modes = both[:, 0], both[:, 1]
                scores = (returns - random_return) / (expert_return - random_return)
                mode_scores = (modes - random_return) / (expert_return - random_return)
                curves.setdefault(env_name, {}).setdefault(name, []).append(
                    (count, float(scores.mean()), float(scores.min()), float(scores.max())))
                emit({"benchmark": "magail_particles", "env": env_name, "method": name,
                      "demo_episodes": count, "updates": updates,
                      "bc_steps": 0 if name in ("bc", "mappo") else args.bc_steps,
                      "learner": None if name == "bc" else args.learner,
                      "epochs": None if name == "bc" else args.epochs,
                      "discriminator": None if name in ("bc", "mappo") else discriminator,
                      "env_steps": 0 if name == "bc" else updates * steps_per_update,
                      "seeds": args.seeds, "returns": [round(float(r), 2) for r in returns],
                      "normalised": [round(float(v), 3) for v in scores],
                      "normalised_mean": round(float(scores.mean()), 3),
                      "normalised_mode": [round(float(v), 3) for v in mode_scores],
                      "expert_return": round(expert_return, 2),
                      "random_return": round(random_return, 2), "seconds": round(seconds, 1),
                      **info})
    _plot(curves, args.plot)


def _plot(curves: dict, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 4.2), squeeze=False)
    for ax, (env_name, methods) in zip(axes[0], curves.items(), strict=True):
        for name, points in methods.items():
            if points[0][0] is None:  # the env-reward ceiling: no demos
                ax.axhline(points[0][1], color="black", lw=1.0, ls=":",
                           label=f"{name} (env reward)")
                continue
            x, mean, low, high = (np.asarray(v) for v in zip(*points, strict=True))
            ax.plot(x, mean, marker="o", label=name)
            ax.fill_between(x, low, high, alpha=0.2)
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set(xscale="log", xlabel="demonstrated episodes",
               ylabel="expert-normalised team return", title=env_name)
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


if __name__ == "__main__":
    main()
