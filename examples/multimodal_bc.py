"""Multimodal behavioural cloning: a Gaussian averages two ways round an obstacle.

The demonstrations pass a disc obstacle on the left or on the right, half each, from the
same start states. A tanh-Gaussian policy fitted to them heads between the two, into the
obstacle (in most trainings: a few tip to one side, see `jaxil.envs.navigation`); a
Gaussian mixture, a discretised, a diffusion or a flow policy commits to one side. The
diffusion and flow heads regress a field over all noise levels and are trained for 6,000
updates instead of 2,000 (the budgets of `benchmarks/multimodal_bc.py`).

    python examples/multimodal_bc.py
"""

import jax
import jax.numpy as jnp

import jaxil
from jaxil.envs import navigation as nav


def main() -> None:
    env = jaxil.envs.make("obstacle_nav")
    demos = nav.multimodal_demos(jax.random.key(0), num_episodes=64, env=env)
    print(f"{demos.num_episodes} demos, {float(jnp.mean(nav.side(demos) == nav.LEFT)):.0%} "
          "passing on the left")

    seeds, eval_keys = jax.random.split(jax.random.key(1), 4), jax.random.split(
        jax.random.key(2), 4)
    for head, options, updates in [("tanh_gaussian", (), 2_000),
                                   ("mixture", (("num_components", 5),), 2_000),
                                   ("discretised", (("num_bins", 21),), 2_000),
                                   ("diffusion", (), 6_000), ("flow", (), 6_000)]:
        config = jaxil.algorithms.BCConfig(head=head, head_options=options)
        algo = jaxil.algorithms.bc(env, config)
        train = lambda k, algo=algo, n=updates: jaxil.train(algo, k, demos, num_updates=n)[0]
        states = jax.jit(jax.vmap(train))(seeds)  # 4 seeds in one call

        def success(state, key, algo=algo):
            episodes = jaxil.rollout_episodes(env, algo.policy(state), key, 100)
            return jnp.mean(nav.success(episodes)), jnp.mean(nav.collided(episodes))

        ok, crashed = jax.jit(jax.vmap(success))(states, eval_keys)
        print(f"{head:>13} ({updates} updates): success per seed {ok.round(2).tolist()}, "
              f"collisions {crashed.round(2).tolist()}")


if __name__ == "__main__":
    main()
