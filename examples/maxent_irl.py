"""MaxEnt (MCE) IRL on tabular MDPs.

1. The cliff world (seals' 7x4, horizon 8): demonstrations of the soft-optimal expert are
   collected in the env view; a linear reward on one-hot features and an MLP reward on
   (x, y) features are learned from them.
2. Learning from an exact expert occupancy: 64 random MDPs in one vmapped call.

    python examples/maxent_irl.py
"""

import time

import jax
import jax.numpy as jnp

import jaxil
from jaxil.algorithms import MaxEntIRLConfig, maxent_irl

tab = jaxil.tabular


def cliff_from_demos() -> None:
    for features, name, config in [
            ("onehot", "linear, one-hot", MaxEntIRLConfig(learning_rate=0.05)),
            ("xy", "MLP on (x, y)", MaxEntIRLConfig(reward="mlp", hidden_sizes=(32,),
                                                    learning_rate=0.03))]:
        env = jaxil.envs.make("cliff", features=features)  # obs: one-hot state + time
        mdp = env.unwrapped.mdp
        expert_pi = tab.soft_value_iteration(mdp).policy  # [H, S, A]
        demos = jaxil.data.collect(env, tab.tabular_policy(env, expert_pi),
                                   jax.random.key(0), num_episodes=500)
        algo = maxent_irl(env, config)
        run = jax.jit(lambda k, algo=algo, demos=demos: jaxil.train(algo, k, demos, 1_000))
        state, metrics = run(jax.random.key(1))
        start = time.perf_counter()
        jax.block_until_ready(run(jax.random.key(1)))
        seconds = time.perf_counter() - start
        policy = algo.policy(state)  # the MCE policy of the learned reward
        print(f"cliff, {name:15s}: occupancy TV {float(metrics['occupancy_tv'][-1]):.3f}, "
              f"return {float(tab.policy_return(mdp, tab.policy_table(env, policy))):.2f} "
              f"(expert "
              f"{float(tab.policy_return(mdp, expert_pi)):.2f}; 500 demos with mean "
              f"{demos.returns.mean():.2f}), 1000 iterations in {seconds * 1e3:.0f} ms")


def batch_of_random_mdps(batch: int = 64) -> None:
    config = MaxEntIRLConfig(learning_rate=0.05)

    def learn(key):
        k_mdp, k_train = jax.random.split(key)
        mdp = tab.random_mdp(k_mdp, 16, 4, 4, horizon=10, discount=1.0)
        expert = tab.occupancy(mdp, tab.soft_value_iteration(mdp).policy)
        algo = maxent_irl(mdp, config)
        state, _ = jaxil.train(algo, k_train, expert, num_updates=1_000)
        learned = tab.occupancy(mdp, tab.policy_table(mdp, algo.policy(state)))
        return tab.total_variation(learned.state_action, expert.state_action)

    tv = jax.jit(jax.vmap(learn))(jax.random.split(jax.random.key(2), batch))
    print(f"{batch} random MDPs (S=16, A=4, K=4, H=10), one vmapped call: "
          f"max occupancy TV {float(jnp.max(tv)):.1e}")


if __name__ == "__main__":
    cliff_from_demos()
    batch_of_random_mdps()
