"""Apprenticeship learning (Abbeel & Ng 2004): projection and max-margin on a gridworld.

The true reward (+1 at the goal, -1 on obstacles) is linear in one-hot state features.
Both methods stop once the mixture's feature expectations are within `epsilon` of the
expert's; the max-margin QP is solved in JAX (interior point, `jaxil.tabular.hull_projection`).

    python examples/apprenticeship.py
"""

import jax
import jax.numpy as jnp
import numpy as np

import jaxil
from jaxil.algorithms import ApprenticeshipConfig, apprenticeship

tab = jaxil.tabular


def main() -> None:
    env = jaxil.envs.make("gridworld", features="onehot", max_episode_steps=60)
    mdp = env.unwrapped.mdp  # discounted (0.9), infinite horizon
    expert_pi = tab.value_iteration(mdp).policy
    demos = jaxil.data.collect(env, tab.tabular_policy(env, expert_pi), jax.random.key(0),
                               num_episodes=200)
    expert_return = float(tab.policy_return(mdp, expert_pi))
    random_return = float(tab.policy_return(mdp, jnp.full_like(expert_pi, 0.2)))
    print(f"expert discounted return {expert_return:.3f} (random {random_return:.3f})")
    for method in ("projection", "max_margin"):
        algo = apprenticeship(env, ApprenticeshipConfig(method=method, epsilon=0.05,
                                                        num_iterations=40))
        state, metrics = jax.jit(lambda k, algo=algo: jaxil.train(algo, k, demos, 40))(
            jax.random.key(1))
        n = int(state.num_policies)
        policy = algo.policy(state)  # the mixture, as one policy with its occupancy
        ours = float(tab.policy_return(mdp, tab.policy_table(env, policy)))
        print(f"{method}: {n} policies, converged={bool(state.converged)}, "
              f"gap {float(metrics['gap'][-1]):.4f}, return {ours:.3f}")
        print("  margins t_i:", np.round(np.asarray(state.margins[1:n]), 3))
        print("  mixture weights:", np.round(np.asarray(state.mixture[:n]), 3))


if __name__ == "__main__":
    main()
