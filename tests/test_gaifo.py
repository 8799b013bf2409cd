"""GAIfO: state-only demonstrations, the protocol, and learning cartpole."""

import jax
import pytest
from adversarial_setup import CARTPOLE_ADV, CARTPOLE_PPO, all_finite, expert_normalised

import jaxil
from jaxil.adversarial import AdversarialConfig
from jaxil.algorithms import GAIfOConfig, gaifo
from jaxil.rl import PPOConfig


@pytest.fixture(scope="module")
def state_only_demos(cartpole_expert):
    env, expert, _ = cartpole_expert
    demos = jaxil.data.collect(env, expert, jax.random.key(7), 10)
    demos = jaxil.data.make_demos(demos.obs, None, demos.rewards, demos.terminated,
                                  demos.truncated, demos.lengths, spec=env.spec)
    assert demos.actions is None
    return jaxil.data.as_transitions(demos)


def test_state_only_demos_are_accepted_and_update_keeps_the_state(state_only_demos):
    env = jaxil.envs.make("cartpole")
    tiny = PPOConfig(num_envs=4, rollout_length=8, num_epochs=1, num_minibatches=1)
    algo = gaifo(env, GAIfOConfig(adversarial=AdversarialConfig(hidden_sizes=(8,)), ppo=tiny))
    state = jax.eval_shape(algo.init, jax.random.key(0), state_only_demos)
    batch = jaxil.sample_batch(state_only_demos, jax.random.key(0), 16)
    new = jax.eval_shape(algo.update, state, batch)
    assert jax.tree.structure(new) == jax.tree.structure(state)
    assert all(a.shape == b.shape and a.dtype == b.dtype
               for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(state), strict=True))
    with pytest.raises(ValueError, match="BC warm start|actions"):
        bc = GAIfOConfig(adversarial=AdversarialConfig(bc_steps=10), ppo=tiny)
        gaifo(env, bc).init(jax.random.key(0), state_only_demos)


@pytest.mark.slow
def test_gaifo_learns_cartpole_from_states_only(cartpole_expert, state_only_demos):
    env, _, expert_return = cartpole_expert
    algo = gaifo(env, GAIfOConfig(adversarial=CARTPOLE_ADV, ppo=CARTPOLE_PPO))
    state, metrics = jax.jit(lambda k, d: jaxil.train(algo, k, d, num_updates=100,
                                                      batch_size=256))(jax.random.key(0),
                                                                       state_only_demos)
    assert all_finite(metrics)
    assert expert_normalised(env, algo.policy(state), expert_return) >= 0.9
