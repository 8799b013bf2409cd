"""GAIL on cartpole: a PPO expert, 10 demonstrations, GAIL as one compiled run.

    python examples/gail.py [--demos demos.npz] [--updates 100] [--noise 0.4]

With `--demos`, demonstrations are loaded (`jaxil.data.load`) instead of collected. With
`--noise P` the expert takes a random action with probability `P` (`jaxil.EpsilonRandom`),
so some demonstrated episodes drop the pole early: GAIL's default absorbing state takes
them as they are (no option to set).
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
    p.add_argument("--noise", type=float, default=0.0,
                   help="probability of a random expert action in the demos")
    args = p.parse_args()
    env = jaxil.envs.make("cartpole")
    if args.demos:
        demos = jaxil.data.load(args.demos)
    else:
        expert, info = jaxil.experts.train_ppo(env, jax.random.key(0))
        print(f"expert return {info['mean_return']:.1f}")
        if args.noise > 0:
            expert = jaxil.EpsilonRandom(expert, args.noise, env.spec.action_space)
        demos = jaxil.data.collect(env, expert, jax.random.key(1), num_episodes=10)
        ended = int(demos.terminated.any(axis=1).sum())
        print(f"demos: {ended} of 10 episodes end early, mean length "
              f"{float(demos.lengths.mean()):.0f}")
    config = GAILConfig(
        reward="neg_log_one_minus_d",  # or "log_d", "logit"
        adversarial=AdversarialConfig(gradient_penalty="expert", gp_weight=3.0),
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
