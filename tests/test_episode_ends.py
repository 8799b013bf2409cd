"""Adversarial imitation from demos whose episodes end early, with every adversarial
setting at its default (the absorbing state is on by default for these methods): GAIL,
AIRL, GAIfO and f-GAIL learn cartpole from the fixture expert acting at random 40% of the
time, which drops the pole in half of its 10 demonstrated episodes."""

import jax
import numpy as np
import pytest
from adversarial_setup import CARTPOLE_PPO, all_finite, expert_normalised

import jaxil
from jaxil.algorithms import (
    AIRLConfig,
    FGAILConfig,
    GAIfOConfig,
    GAILConfig,
    airl,
    fgail,
    gaifo,
    gail,
)

METHODS = {"gail": (gail, GAILConfig), "airl": (airl, AIRLConfig),
           "gaifo": (gaifo, GAIfOConfig), "fgail": (fgail, FGAILConfig)}


@pytest.fixture(scope="session")
def demos_that_end_early(cartpole_expert):
    """`Transition[N]` of 10 episodes (key 7) of the cartpole expert taking a uniformly
    random action with probability 0.4: 5 end early (shortest 56 steps, mean 341)."""
    env, expert, _ = cartpole_expert
    noisy = jaxil.EpsilonRandom(expert, 0.4, env.spec.action_space)
    demos = jaxil.data.collect(env, noisy, jax.random.key(7), 10)
    assert int(np.asarray(demos.terminated).any(axis=1).sum()) >= 5  # half end early
    return jaxil.data.as_transitions(demos)


def test_the_absorbing_state_is_on_by_default_where_the_method_takes_it():
    env = jaxil.envs.make("cartpole")
    for name, (make, config) in METHODS.items():
        state = jax.eval_shape(make(env, config()).init, jax.random.key(0))
        assert state.discriminator.absorbing, name
    # WAIL keeps it off unless asked (not robust with its critic yet)
    wail_state = jax.eval_shape(jaxil.algorithms.wail(env).init, jax.random.key(0))
    assert not wail_state.discriminator.absorbing


# The margin: this exact program (one unvmapped run of 100 updates, default adversarial
# settings, `CARTPOLE_PPO`) over keys 0-15, expert-normalised against the clean expert's
# 500 (the demos' own return is 0.68 of it): GAIL, GAIfO and f-GAIL (JS) 1.0 on 16 of 16;
# AIRL 1.0 on 15 of 16 (key 3 drops the pole at once: -0.003). The test runs key 0.
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(METHODS))
def test_default_config_learns_from_demos_that_end_early(name, cartpole_expert,
                                                         demos_that_end_early):
    env, _, expert_return = cartpole_expert
    make, config = METHODS[name]
    algo = make(env, config(ppo=CARTPOLE_PPO))
    state, metrics = jax.jit(lambda k, d: jaxil.train(algo, k, d, num_updates=100,
                                                      batch_size=256))(
        jax.random.key(0), demos_that_end_early)
    assert all_finite(metrics)
    assert expert_normalised(env, algo.policy(state), expert_return) >= 0.9
