"""Guided cost learning on a continuous env: a PPO expert, demonstrations, then GCL
(neural cost, trajectory importance weights, PPO against the learned cost).

    python examples/gcl.py [pointmass|pendulum]
"""

import sys

import jax

import jaxil
from jaxil.algorithms import GCLConfig, gcl
from jaxil.rl.ppo import PPOConfig

SETTINGS = {  # env -> (GCL config, updates); rollouts hold whole episodes
    "pointmass": (GCLConfig(), 150),
    "pendulum": (GCLConfig(ppo=PPOConfig(num_envs=16, rollout_length=200, num_epochs=10,
                                         num_minibatches=4, learning_rate=1e-3, gamma=0.95)),
                 200),
}


def main(name: str = "pointmass") -> None:
    env = jaxil.envs.make(name)
    expert, info = jaxil.experts.train_ppo(env, jax.random.key(0))
    demos = jaxil.data.collect(env, expert, jax.random.key(1), num_episodes=32)
    config, updates = SETTINGS[name]
    algo = gcl(env, config)
    state, metrics = jax.jit(lambda k: jaxil.train(algo, k, demos, updates))(jax.random.key(2))
    for i in range(0, updates, updates // 5):
        print(f"update {i:4d}: IOC loss {float(metrics['cost_loss'][i]):8.2f}, "
              f"demo cost {float(metrics['demo_cost'][i]):6.2f}, "
              f"sample cost {float(metrics['sample_cost'][i]):6.2f}, "
              f"ESS {float(metrics['effective_sample_size'][i]):5.1f}, "
              f"true return {float(metrics['episode_return'][i]):8.2f}")
    key = jax.random.key(3)
    ours = jaxil.evaluate(env, algo.policy(state), key, 100).mean()
    expert_return = jaxil.evaluate(env, expert, key, 100).mean()
    random_return = jaxil.evaluate(env, jaxil.RandomPolicy(env.spec.action_space), key,
                                   100).mean()
    score = jaxil.normalized_score(ours, random_return, expert_return)
    print(f"{name}: GCL return {float(ours):.2f}, expert {float(expert_return):.2f}, "
          f"random {float(random_return):.2f} -> expert-normalised {float(score):.2f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
