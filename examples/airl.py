"""AIRL on cartpole, then reward transfer: PPO from scratch on AIRL's learned reward `g(s)`.

    python examples/airl.py [--updates 100]

The absorbing state (DAC) lets `g` price the end of an episode, so a new agent that
optimises `g` alone learns to keep the pole up.
"""

import argparse

import jax

import jaxil
from jaxil.adversarial import AdversarialConfig, reward_transfer
from jaxil.algorithms import AIRLConfig, airl, airl_reward
from jaxil.rl import PPOConfig


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--updates", type=int, default=100)
    args = p.parse_args()
    env = jaxil.envs.make("cartpole")
    expert, _ = jaxil.experts.train_ppo(env, jax.random.key(0))
    demos = jaxil.data.as_transitions(
        jaxil.data.collect(env, expert, jax.random.key(1), num_episodes=10))
    ppo = PPOConfig(num_envs=16, rollout_length=64, learning_rate=3e-3, entropy_coef=0.01,
                    normalize_obs=False, deterministic_policy=True)
    config = AIRLConfig(
        reward_inputs="s",  # a state-only g transfers; "sa" is the other option
        adversarial=AdversarialConfig(disc_learning_rate=1e-3, disc_steps=4,
                                      gradient_penalty="expert", gp_weight=3.0,
                                      replay_rollouts=10, absorbing_state=True,
                                      absorbing_weight=1000.0),
        ppo=ppo,
    )
    algo = airl(env, config)
    run = jax.jit(lambda k, d: jaxil.train(algo, k, d, num_updates=args.updates,
                                           batch_size=1024))
    state, _ = run(jax.random.key(2), demos)
    returns = jaxil.evaluate(env, algo.policy(state), jax.random.key(3), num_episodes=20)
    print(f"AIRL policy: mean return {float(returns.mean()):.1f}")

    reward = airl_reward(state)  # a RewardFn: reward(obs, action, next_obs) -> []
    fresh = reward_transfer(env, reward, PPOConfig(num_envs=16, rollout_length=64,
                                                   learning_rate=3e-3, normalize_obs=False,
                                                   deterministic_policy=True))
    new_state, _ = jax.jit(lambda k: jaxil.train(fresh, k, None, num_updates=100))(
        jax.random.key(4))
    returns = jaxil.evaluate(env, fresh.policy(new_state), jax.random.key(5), num_episodes=20)
    print(f"PPO from scratch on the learned reward: mean return {float(returns.mean()):.1f}")


if __name__ == "__main__":
    main()
