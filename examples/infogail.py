"""InfoGAIL on unlabelled two-mode demonstrations: the scripted `obstacle_nav` expert passes
the obstacle on the left in half of its episodes and on the right in the other half;
InfoGAIL's latent code learns to pick the side.

    python examples/infogail.py [--updates 2500]

About 2 minutes on a 2-core CPU (benchmarks/infogail_modes.py measures it over seeds).
"""

import argparse

import jax
import numpy as np

import jaxil
from jaxil.algorithms import InfoGAILConfig, infogail
from jaxil.envs import LatentCode
from jaxil.envs import navigation as nav


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--updates", type=int, default=2_500)
    args = p.parse_args()
    env = jaxil.envs.make("obstacle_nav")
    demos = nav.multimodal_demos(jax.random.key(0), 20, env)  # 10 left, 10 right, unlabelled
    algo = infogail(env, InfoGAILConfig(num_codes=2, info_coef=0.5))
    data = jaxil.data.as_transitions(demos)  # an argument of the jitted run, not a constant
    run = jax.jit(lambda k, d: jaxil.train(algo, k, d, num_updates=args.updates,
                                           batch_size=256))
    state, metrics = run(jax.random.key(1), data)
    print(f"posterior accuracy {float(metrics['posterior_accuracy'][-10:].mean()):.3f}")
    policy = algo.policy(state).with_deterministic(True)
    for code in range(2):  # the policy acts in LatentCode(env, 2): fix the code to evaluate
        ep = jaxil.rollout_episodes(LatentCode(env, 2, code=code), policy,
                                    jax.random.key(2), 64)
        ep = ep._replace(obs=ep.obs[..., :4])  # the env's own observation, without the code
        sides = np.asarray(nav.side(ep))
        print(f"code {code}: left {np.mean(sides == nav.LEFT):.2f}, right "
              f"{np.mean(sides == nav.RIGHT):.2f}, reaches the goal "
              f"{float(np.mean(nav.success(ep))):.2f}")


if __name__ == "__main__":
    main()
