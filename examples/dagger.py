"""DAgger and DART against BC from one expert episode: a PPO expert, one demonstration,
then BC, DAgger and DART (4 seeds each, one vmapped run per method) and a table.

    python examples/dagger.py [--env pendulum] [--rounds 10]

BC only ever sees the expert's own states; DAgger rolls out (a mixture with) the learner
and DART the noisy expert, and both ask the expert for the right action in every state
they visit. All three take the same number of gradient steps.
"""

import argparse

import jax
import jax.numpy as jnp

import jaxil
from jaxil.algorithms import (
    AggregationConfig,
    BCConfig,
    DAggerConfig,
    DARTConfig,
    bc,
    dagger,
    dart,
)

SEEDS = 4
EVAL_EPISODES = 100  # pendulum returns depend on the start state


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--env", default="pendulum")
    p.add_argument("--rounds", type=int, default=10)
    args = p.parse_args()
    env = jaxil.envs.make(args.env)
    expert, info = jaxil.experts.train_ppo(env, jax.random.key(0))
    demos = jaxil.data.collect(env, expert, jax.random.key(1), num_episodes=1)
    print(f"expert return {info['mean_return']:.1f}; 1 demonstration of "
          f"{demos.num_transitions} steps")

    rounds = AggregationConfig(num_envs=8, rollout_length=env.spec.max_episode_steps,
                               sgd_steps=100, batch_size=256)
    learner = BCConfig()  # 64x64 tanh, the same learner for all three
    methods = {
        # DAgger and DART warm-start on the demonstration in `init` (one round's steps)
        "BC": (bc(env, learner), rounds.sgd_steps * (args.rounds + 1)),
        "DAgger": (dagger(env, DAggerConfig(aggregation=rounds, bc=learner), expert=expert),
                   args.rounds),
        "DART": (dart(env, DARTConfig(aggregation=rounds, bc=learner), expert=expert),
                 args.rounds),
    }

    key = jax.random.key(3)  # the same evaluation episodes for every policy
    random_return = jaxil.evaluate(env, jaxil.RandomPolicy(env.spec.action_space), key,
                                   EVAL_EPISODES).mean()
    expert_return = jaxil.evaluate(env, expert, key, EVAL_EPISODES).mean()
    data = jaxil.data.as_transitions(demos)  # an argument of the jitted run, not a constant
    print(f"\n{'method':8s} {'expert labels':>14s} {'return':>9s} {'score mean':>11s} "
          f"{'score min':>10s}")
    for name, (algo, updates) in methods.items():
        run = jax.jit(jax.vmap(lambda k, d, algo=algo, updates=updates: jaxil.train(
            algo, k, d, num_updates=updates, batch_size=rounds.batch_size)[0],
            in_axes=(0, None)))
        states = run(jax.random.split(jax.random.key(2), SEEDS), data)
        returns = jnp.stack([
            jaxil.evaluate(env, algo.policy(jax.tree.map(lambda x, i=i: x[i], states)), key,
                           EVAL_EPISODES).mean() for i in range(SEEDS)])
        scores = jaxil.normalized_score(returns, random_return, expert_return)
        labels = demos.num_transitions + (0 if name == "BC" else
                                          updates * rounds.labels_per_round)
        print(f"{name:8s} {labels:14d} {float(returns.mean()):9.1f} "
              f"{float(scores.mean()):11.3f} {float(scores.min()):10.3f}")


if __name__ == "__main__":
    main()
