"""GAIL on cartpole: a PPO expert, 10 demonstrations, GAIL as one compiled run.

    python examples/gail.py [--demos demos.npz] [--updates 100]

With `--demos`, demonstrations are loaded (`jaxil.data.load`) instead of collected.
"""

import argparse

import jax

import jaxil
from jaxil.adversarial import AdversarialConfig
from jaxil.algorithms import GAILConfig, gail
from jaxil.rl import PPOConfig


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--demos", default=None)
    p.add_argument("--updates", type=int, default=100)
    args = p.parse_args()
    env = jaxil.envs.make("cartpole")
    if args.demos:
        demos = jaxil.data.load(args.demos)
    else:
        expert, info = jaxil.experts.train_ppo(env, jax.random.key(0))
        print(f"expert return {info['mean_return']:.1f}")
        demos = jaxil.data.collect(env, expert, jax.random.key(1), num_episodes=10)
    config = GAILConfig(
        reward="neg_log_one_minus_d",  # or "log_d", "logit"
        adversarial=AdversarialConfig(disc_learning_rate=1e-3, gradient_penalty="expert",
                                      gp_weight=3.0),
        ppo=PPOConfig(num_envs=16, rollout_length=64, learning_rate=3e-3, entropy_coef=0.01,
                      normalize_obs=False, deterministic_policy=True),
    )
    algo = gail(env, config)
    data = jaxil.data.as_transitions(demos)  # an argument of the jitted run, not a constant
    run = jax.jit(lambda k, d: jaxil.train(algo, k, d, num_updates=args.updates,
                                           batch_size=256))
    state, metrics = run(jax.random.key(2), data)
    for i in range(0, args.updates, max(1, args.updates // 5)):
        print(f"update {i:4d}: train return {float(metrics['episode_return'][i]):6.1f}, "
              f"disc loss {float(metrics['disc_loss'][i]):.3f}")
    returns = jaxil.evaluate(env, algo.policy(state), jax.random.key(3), num_episodes=20)
    print(f"GAIL policy: mean return {float(returns.mean()):.1f} over 20 episodes")


if __name__ == "__main__":
    main()
