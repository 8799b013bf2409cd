"""f-GAIL: every divergence builds, keeps the state structure, and one learns cartpole."""

import jax
import pytest
from adversarial_setup import CARTPOLE_ADV, CARTPOLE_PPO, all_finite, expert_normalised

import jaxil
from jaxil.adversarial import DIVERGENCES, AdversarialConfig
from jaxil.algorithms import FGAILConfig, fgail
from jaxil.rl import PPOConfig

TINY = PPOConfig(num_envs=4, rollout_length=8, num_epochs=1, num_minibatches=1)


@pytest.fixture(scope="module")
def demos(cartpole_expert):
    env, expert, _ = cartpole_expert
    return jaxil.data.as_transitions(jaxil.data.collect(env, expert, jax.random.key(7), 10))


@pytest.mark.parametrize("divergence", sorted(DIVERGENCES))
def test_every_divergence_builds_and_keeps_the_state(divergence, demos):
    env = jaxil.envs.make("cartpole")
    config = FGAILConfig(divergence=divergence, ppo=TINY,
                         adversarial=AdversarialConfig(hidden_sizes=(8,)))
    algo = fgail(env, config)
    state = jax.eval_shape(algo.init, jax.random.key(0), demos)
    batch = jaxil.sample_batch(demos, jax.random.key(0), 16)
    new = jax.eval_shape(algo.update, state, batch)
    assert jax.tree.structure(new) == jax.tree.structure(state)
    assert all(a.shape == b.shape and a.dtype == b.dtype
               for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(state), strict=True))


def test_unknown_divergence_is_refused():
    with pytest.raises(ValueError, match="divergence"):
        fgail(jaxil.envs.make("cartpole"), FGAILConfig(divergence="wasserstein"))


def test_forward_kl_refuses_variable_horizon_demos(demos):
    env = jaxil.envs.make("cartpole")
    early = demos._replace(terminated=demos.terminated.at[3].set(True))
    algo = fgail(env, FGAILConfig(divergence="forward_kl", ppo=TINY))
    with pytest.raises(ValueError, match="FGAILConfig.adversarial.absorbing_state"):
        algo.init(jax.random.key(0), early)


@pytest.mark.slow
@pytest.mark.parametrize("divergence", ["pearson"])
def test_fgail_learns_cartpole(divergence, cartpole_expert, demos):
    env, _, expert_return = cartpole_expert
    algo = fgail(env, FGAILConfig(divergence=divergence, adversarial=CARTPOLE_ADV,
                                  ppo=CARTPOLE_PPO))
    state, metrics = jax.jit(lambda k, d: jaxil.train(algo, k, d, num_updates=100,
                                                      batch_size=256))(jax.random.key(0),
                                                                       demos)
    assert all_finite(metrics)
    assert expert_normalised(env, algo.policy(state), expert_return) >= 0.9
