"""GAIfO: state-only demonstrations and the protocol (its learning test is in
test_episode_ends.py)."""

import jax
import numpy as np
import pytest
from adversarial_setup import (
    TINY_ADV,
    TINY_PPO,
    all_finite,
    compiled_once,
    run_updates,
)

import jaxil
from jaxil.adversarial import AdversarialConfig
from jaxil.algorithms import GAIfOConfig, GAILConfig, gaifo, gail


@pytest.fixture(scope="module")
def state_only_demos(cartpole_expert):
    env, expert, _ = cartpole_expert
    demos = jaxil.data.collect(env, expert, jax.random.key(7), 10)
    demos = jaxil.data.make_demos(demos.obs, None, demos.rewards, demos.terminated,
                                  demos.truncated, demos.lengths, spec=env.spec)
    return jaxil.data.as_transitions(demos)


def test_state_only_demos_are_accepted_and_update_keeps_the_state(state_only_demos):
    env = jaxil.envs.make("cartpole")
    algo = gaifo(env, GAIfOConfig(adversarial=TINY_ADV, ppo=TINY_PPO))
    state = jax.eval_shape(algo.init, jax.random.key(0), state_only_demos)
    batch = jaxil.sample_batch(state_only_demos, jax.random.key(0), 16)
    new = jax.eval_shape(algo.update, state, batch)
    assert jax.tree.structure(new) == jax.tree.structure(state)
    assert all(a.shape == b.shape and a.dtype == b.dtype
               for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(state), strict=True))
    with pytest.raises(ValueError, match="BC warm start|actions"):
        bc = GAIfOConfig(adversarial=AdversarialConfig(bc_steps=10), ppo=TINY_PPO)
        gaifo(env, bc).init(jax.random.key(0), state_only_demos)
    # GAIL, whose discriminator reads actions, refuses the same demos, naming them
    gail_algo = gail(env, GAILConfig(adversarial=TINY_ADV, ppo=TINY_PPO))
    with pytest.raises(ValueError, match="^demos: GAIL needs demonstrations with actions"):
        gail_algo.init(jax.random.key(0), state_only_demos)
    gail_state = jax.eval_shape(gail_algo.init, jax.random.key(0), None)
    with pytest.raises(ValueError, match="^batch: GAIL needs expert actions"):
        jax.eval_shape(gail_algo.update, gail_state, batch)


def test_update_compiles_once_and_ignores_the_expert_actions(cartpole_demos):
    """The same update on expert batches with their actions flipped: GAIfO's discriminator
    sees `(s, s')` only, so every number of the new state is the same."""
    env = jaxil.envs.make("cartpole")
    algo = gaifo(env, GAIfOConfig(adversarial=TINY_ADV, ppo=TINY_PPO))
    state = jax.jit(algo.init)(jax.random.key(0), cartpole_demos)
    batch = jaxil.sample_batch(cartpole_demos, jax.random.key(1), 16)
    flipped = batch._replace(action=1 - batch.action)
    assert np.all(np.asarray(flipped.action) != np.asarray(batch.action))
    update = compiled_once(algo.update)
    a, again = run_updates(update, state, [batch, batch])
    b = update(state, flipped)
    assert int(again.step) == 2 and all_finite(again.metrics)
    assert float(a.metrics["disc_grad_norm"]) > 0.0  # the discriminator did train
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(x, y)


# GAIfO learning cartpole from state-only demos is `test_episode_ends.py`'s
# `test_default_config_learns_from_demos_that_end_early[gaifo]`: the demos there are state
# only and half of them end early (a clean-demo test here ran the same program on easier
# data: 64 of 64 seeds >= 0.9 over keys 0-7).
