"""Behavioural cloning on cartpole: expert, demonstrations, BC with 4 seeds in one vmap.

    python examples/bc.py
"""

import jax
import jax.numpy as jnp

import jaxil


def main() -> None:
    key = jax.random.key(0)
    env = jaxil.envs.make("cartpole")
    expert, info = jaxil.experts.train_ppo(env, key)
    demos = jaxil.data.collect(env, expert, jax.random.key(1), num_episodes=10)
    print(f"expert return {info['eval_return']:.1f}; {demos.num_transitions} demo transitions")

    algo = jaxil.algorithms.bc(env, jaxil.algorithms.BCConfig(learning_rate=1e-3))
    train_seed = lambda k: jaxil.train(algo, k, demos, num_updates=2_000, batch_size=256)
    states, metrics = jax.jit(jax.vmap(train_seed))(jax.random.split(key, 4))
    print("final BC loss per seed:", metrics["loss"][:, -1])

    random_return = jnp.mean(jaxil.evaluate(env, jaxil.RandomPolicy(env.spec.action_space),
                                            key, 20))
    for seed in range(4):
        policy = algo.policy(jax.tree.map(lambda x, s=seed: x[s], states))
        returns = jaxil.evaluate(env, policy, jax.random.key(seed), num_episodes=20)
        score = jaxil.normalized_score(returns.mean(), random_return, info["eval_return"])
        print(f"seed {seed}: BC return {float(returns.mean()):.1f} (normalised {float(score):.2f})")


if __name__ == "__main__":
    main()
