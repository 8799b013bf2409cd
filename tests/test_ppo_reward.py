"""PPO on a learned reward: `jaxil.rl.ppo(env, config, reward_fn=...)`."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import jaxil
from jaxil.rl import PPOConfig, ppo

TINY = PPOConfig(num_envs=4, rollout_length=8, num_epochs=1, num_minibatches=2,
                 hidden_sizes=(8,))


def _run(algo, updates=3):
    update = jax.jit(eqx.debug.assert_max_traces(algo.update, max_traces=1))
    state = algo.init(jax.random.key(0))
    for _ in range(updates):
        state = update(state, None)
    return state


def test_a_reward_equal_to_the_envs_gives_the_same_run():
    # cartpole pays 1 a step, terminal steps included: a RewardFn returning 1 is the same
    # reward, so the same key must give the same parameters.
    env = jaxil.envs.make("cartpole")
    plain = _run(ppo(env, TINY))
    learned = _run(ppo(env, TINY, reward_fn=lambda obs, action, next_obs: jnp.ones(())))
    for a, b in zip(jax.tree.leaves(plain.learner), jax.tree.leaves(learned.learner),
                    strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_learned_reward_replaces_the_envs_and_the_env_return_is_still_tracked():
    env = jaxil.envs.make("cartpole")
    plain = _run(ppo(env, TINY), updates=6)
    # a reward of -1 a step makes a different run, with returns in the env's units
    other = _run(ppo(env, TINY, reward_fn=lambda obs, action, next_obs: -jnp.ones(())),
                 updates=6)
    differs = [not np.array_equal(a, b) for a, b in
               zip(jax.tree.leaves(plain.learner.policy), jax.tree.leaves(other.learner.policy),
                   strict=True)]
    assert any(differs)
    assert float(other.metrics["episode_return"]) >= 1.0  # cartpole returns, not -1 a step
    assert float(other.metrics["episode_return"]) == float(other.metrics["episode_length"])
