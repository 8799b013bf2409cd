"""MWAL (Syed & Schapire 2007) on a gridworld, with a sweep over the number of rounds.

    python examples/mwal.py
"""

import jax
import jax.numpy as jnp

import jaxil
from jaxil.algorithms import MWALConfig, mwal

tab = jaxil.tabular


def main() -> None:
    env = jaxil.envs.make("gridworld", features="onehot", horizon=20, discount=1.0)
    mdp = env.unwrapped.mdp  # finite horizon: time-dependent policies, time in the obs
    expert_pi = tab.value_iteration(mdp).policy
    expert = tab.occupancy(mdp, expert_pi)
    expert_return = float(tab.policy_return(mdp, expert_pi))
    random_return = float(tab.policy_return(mdp, jnp.full_like(expert_pi, 0.2)))
    print(f"expert return {expert_return:.3f} (random {random_return:.3f})")
    for rounds in (10, 50, 200):
        algo = mwal(env, MWALConfig(num_iterations=rounds))
        state, metrics = jax.jit(lambda k, algo=algo, n=rounds: jaxil.train(algo, k, expert, n))(
            jax.random.key(0))
        ours = float(tab.policy_return(mdp, tab.policy_table(env, algo.policy(state))))
        score = (ours - random_return) / (expert_return - random_return)
        print(f"T={rounds:3d}: return {ours:.3f} (normalised {score:.3f}), game value "
              f"{float(metrics['game_value'][-1]):+.4f}, gap {float(metrics['gap'][-1]):.3f}")
    # the same from sampled demonstrations (Monte-Carlo occupancy from the env view)
    demos = jaxil.data.collect(env, tab.tabular_policy(env, expert_pi), jax.random.key(1), 100)
    algo = mwal(env, MWALConfig(num_iterations=50))
    state, _ = jax.jit(lambda k: jaxil.train(algo, k, demos, 50))(jax.random.key(0))
    returns = jaxil.evaluate(env, algo.policy(state), jax.random.key(2), 200)
    print(f"from 100 demos: mean episode return {float(returns.mean()):.2f} "
          f"(expert {float(demos.returns.mean()):.2f})")


if __name__ == "__main__":
    main()
