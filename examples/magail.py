"""Multi-agent imitation on cooperative navigation (`mpe/simple_spread`): decentralised
MAGAIL, independent GAIL and multi-agent BC from the same 50 demonstrated episodes, each
over 4 seeds in one compiled program. The adversarial methods run 600 updates of 16 envs x
25 steps (240k env steps, the CI learning test's budget): with MAGAIL's gradient penalty
of 0.1 they learn more slowly at first (400 updates: decentralised MAGAIL 0.70 against
0.84 with the earlier 3) and end higher (600 updates: 0.89, independent GAIL 0.92, BC
0.82; `benchmarks/RESULTS.md`, "MAGAIL's gradient penalty").

    python examples/magail.py [--demos demos.npz] [--updates 600] [--prior decentralized]

Without `--demos`, the scripted `SpreadGreedyPolicy` (agent i heads for landmark i)
demonstrates; with it, multi-agent demonstrations are loaded (e.g. from `jaxil expert
mpe/simple_spread --out spread.eqx --demos spread.npz --episodes 50`).
"""

import argparse
import dataclasses

import jax
import jax.numpy as jnp

import jaxil
from jaxil.algorithms import MAGAILConfig, independent_gail, magail, multiagent_bc
from jaxil.envs.mpe import SpreadGreedyPolicy
from jaxil.networks.multiagent import MultiAgentPolicy
from jaxil.networks.policy import RandomPolicy
from jaxil.rl import PPOConfig
from jaxil.rl.mappo import MAPPOConfig


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--demos", default=None)
    p.add_argument("--updates", type=int, default=600)
    p.add_argument("--prior", default="decentralized",
                   choices=("centralized", "decentralized"))
    args = p.parse_args()
    env = jaxil.envs.make("mpe/simple_spread")
    if args.demos:
        demos = jaxil.data.load(args.demos, spec=env.spec)
    else:
        demos = jaxil.data.collect(env, SpreadGreedyPolicy(), jax.random.key(0), 50)
    data = jaxil.data.as_transitions(demos)
    eval_key = jax.random.key(2)
    random = MultiAgentPolicy(RandomPolicy(env.spec.action_space), 3, agent_ids=False)
    low = float(jnp.mean(jaxil.rollout_episodes(env, random, eval_key, 64).returns))
    high = float(demos.returns.mean())
    print(f"demonstrations: {demos.num_episodes} episodes, team return {high:.1f} "
          f"(random {low:.1f})")

    config = MAGAILConfig(prior=args.prior, mappo=MAPPOConfig(
        PPOConfig(num_envs=16, rollout_length=25, num_epochs=4, num_minibatches=4,
                  learning_rate=3e-3, entropy_coef=0.01, lr_decay_updates=args.updates),
        centralized_critic=True))
    methods = {
        f"MAGAIL ({args.prior})": (magail(env, config), args.updates),
        "independent GAIL": (independent_gail(env, dataclasses.replace(config)),
                             args.updates),
        "multi-agent BC": (multiagent_bc(env), 1_000),
    }
    for name, (algo, updates) in methods.items():
        def run(key, algo=algo, updates=updates):
            train_key, k = jax.random.split(key)
            state, _ = jaxil.train(algo, train_key, data, updates, batch_size=400)
            return jnp.mean(jaxil.rollout_episodes(env, algo.policy(state), k, 64).returns)

        returns = jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(1), 4))
        scores = (returns - low) / (high - low)
        print(f"{name:>26}: team return {float(jnp.mean(returns)):7.1f}, expert-normalised "
              f"{float(jnp.mean(scores)):.2f} (seeds {float(jnp.min(scores)):.2f} to "
              f"{float(jnp.max(scores)):.2f})")


if __name__ == "__main__":
    main()
