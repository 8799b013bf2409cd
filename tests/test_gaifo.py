"""GAIfO: state-only demonstrations, the protocol, and learning cartpole."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxil
from jaxil.adversarial import AdversarialConfig
from jaxil.algorithms import GAIfOConfig, gaifo
from jaxil.rl import PPOConfig

CARTPOLE_PPO = PPOConfig(num_envs=16, rollout_length=64, num_epochs=4, num_minibatches=4,
                         learning_rate=3e-3, entropy_coef=0.01, normalize_obs=False,
                         deterministic_policy=True)
CARTPOLE_ADV = AdversarialConfig(disc_learning_rate=1e-3, gradient_penalty="expert",
                                 gp_weight=3.0)


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
    assert all(bool(jnp.all(jnp.isfinite(v))) for v in metrics.values())
    key = jax.random.key(123)
    random = jaxil.evaluate(env, jaxil.RandomPolicy(env.spec.action_space), key, 32).mean()
    returns = jaxil.evaluate(env, algo.policy(state), key, 32)
    assert float((np.mean(returns) - random) / (expert_return - random)) >= 0.9
