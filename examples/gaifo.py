"""GAIfO on cartpole from state-only demonstrations (the actions are dropped).

    python examples/gaifo.py [--updates 100]
"""

import argparse

import jax

import jaxil
from jaxil.adversarial import AdversarialConfig
from jaxil.algorithms import GAIfOConfig, gaifo
from jaxil.rl import PPOConfig


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--updates", type=int, default=100)
    args = p.parse_args()
    env = jaxil.envs.make("cartpole")
    expert, _ = jaxil.experts.train_ppo(env, jax.random.key(0))
    full = jaxil.data.collect(env, expert, jax.random.key(1), num_episodes=10)
    demos = jaxil.data.make_demos(full.obs, None, full.rewards, full.terminated,
                                  full.truncated, full.lengths, spec=env.spec)
    print(f"{demos.num_transitions} state-only transitions (actions: {demos.actions})")
    config = GAIfOConfig(
        adversarial=AdversarialConfig(gradient_penalty="expert", gp_weight=3.0),
        ppo=PPOConfig(num_envs=16, rollout_length=64, learning_rate=3e-3, entropy_coef=0.01,
                      normalize_obs=False, deterministic_policy=True),
    )
    algo = gaifo(env, config)
    run = jax.jit(lambda k, d: jaxil.train(algo, k, d, num_updates=args.updates,
                                           batch_size=256))
    state, _ = run(jax.random.key(2), jaxil.data.as_transitions(demos))
    returns = jaxil.evaluate(env, algo.policy(state), jax.random.key(3), num_episodes=20)
    print(f"GAIfO policy: mean return {float(returns.mean()):.1f} over 20 episodes")


if __name__ == "__main__":
    main()
