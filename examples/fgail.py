"""f-GAIL on cartpole: one run per f-divergence, chosen by config.

    python examples/fgail.py [--divergences js,reverse_kl,pearson] [--updates 100]
"""

import argparse

import jax

import jaxil
from jaxil.adversarial import DIVERGENCES, AdversarialConfig
from jaxil.algorithms import FGAILConfig, fgail
from jaxil.rl import PPOConfig


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--divergences", default="js,forward_kl,reverse_kl,pearson,total_variation",
                   help=f"comma-separated, from {sorted(DIVERGENCES)}")
    p.add_argument("--updates", type=int, default=100)
    args = p.parse_args()
    env = jaxil.envs.make("cartpole")
    expert, _ = jaxil.experts.train_ppo(env, jax.random.key(0))
    demos = jaxil.data.as_transitions(
        jaxil.data.collect(env, expert, jax.random.key(1), num_episodes=10))
    ppo = PPOConfig(num_envs=16, rollout_length=64, learning_rate=3e-3, entropy_coef=0.01,
                    normalize_obs=False, deterministic_policy=True)
    adv = AdversarialConfig(gradient_penalty="expert", gp_weight=3.0)
    for name in args.divergences.split(","):
        algo = fgail(env, FGAILConfig(divergence=name, adversarial=adv, ppo=ppo))
        run = jax.jit(lambda k, d, algo=algo: jaxil.train(algo, k, d,
                                                          num_updates=args.updates,
                                                          batch_size=256))
        state, _ = run(jax.random.key(2), demos)
        returns = jaxil.evaluate(env, algo.policy(state), jax.random.key(3), num_episodes=20)
        print(f"f-GAIL ({name}): mean return {float(returns.mean()):.1f}")


if __name__ == "__main__":
    main()
