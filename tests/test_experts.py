"""Tests of jaxil.experts: PPO experts, their default recipes and `train_ppo`'s report."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxil
from jaxil import experts
from jaxil.rl import PPOConfig
from jaxil.rl.ppo import check_config

REQUIRED = ["cartpole", "pendulum", "pointmass", "brax/inverted_pendulum",
            "brax/inverted_double_pendulum"]


def test_cartpole_expert_is_near_perfect(cartpole_expert):
    env, expert, mean_return = cartpole_expert
    assert env.spec.name == "cartpole"
    assert isinstance(expert, jaxil.ActorPolicy) and expert.deterministic
    assert mean_return >= 475.0


def test_pendulum_expert_swings_up(pendulum_expert):
    env, expert, mean_return = pendulum_expert
    assert env.spec.name == "pendulum"
    assert mean_return >= -250.0  # random: about -1200
    # The expert is a plain Policy: one observation and a key in, one bounded action out.
    action = expert(env.reset(jax.random.key(0)).obs, jax.random.key(1))
    assert action.shape == (1,) and -2.0 <= float(action[0]) <= 2.0


@pytest.mark.parametrize("name", REQUIRED)
def test_every_required_env_has_a_recipe_that_fits_it(name):
    recipe = experts.defaults(name)
    assert recipe is not experts.GENERIC and recipe.deterministic
    # the recipe's env arguments make the env it is looked up by
    env = jaxil.envs.make(name, **recipe.env_kwargs)
    assert env.spec.name == name
    if name.startswith("brax/"):
        assert recipe.env_kwargs["backend"] in ("positional", "spring")
    config = experts.default_config(name)
    check_config(env.spec, config)  # minibatches divide the batch; a head for the actions
    # enough updates for the learning-rate schedule to anneal over (10 at the least)
    assert experts.default_timesteps(name) >= 10 * config.batch_size
    floats = {k: float(getattr(config, k)) for k in ("learning_rate", "gamma", "gae_lambda",
                                                      "clip_eps", "entropy_coef", "value_coef",
                                                      "max_grad_norm", "reward_scale")}
    assert all(np.isfinite(v) and v >= 0.0 for v in floats.values()), floats
    assert 0.0 < floats["learning_rate"] <= 1e-2 and 0.0 < floats["reward_scale"]
    assert 0.5 <= floats["gamma"] <= 1.0 and 0.0 < floats["gae_lambda"] <= 1.0, floats


def test_unknown_env_gets_the_generic_recipe():
    assert experts.defaults("brax/halfcheetah") is experts.GENERIC
    assert experts.GENERIC.env_kwargs["backend"] == "positional"


def test_train_ppo_reports_progress_and_info():
    env = jaxil.envs.make("pointmass")
    config = PPOConfig(num_envs=4, rollout_length=16, num_epochs=1, num_minibatches=2,
                       hidden_sizes=(16,))
    calls = []
    expert, info = experts.train_ppo(env, jax.random.key(0), num_timesteps=4 * 16 * 6,
                                     config=config, num_eval_episodes=5,
                                     progress=lambda i, m: calls.append((i, m)),
                                     progress_every=2)
    assert [i for i, _ in calls] == [2, 4, 6]
    assert "episode_return" in calls[0][1] and isinstance(calls[0][1]["loss"], float)
    assert info["num_updates"] == 6 and info["timesteps"] == 6 * 64
    assert info["metrics"]["loss"].shape == (6,)
    assert info["eval_returns"].shape == (5,)
    np.testing.assert_allclose(info["mean_return"], info["eval_returns"].mean(), rtol=1e-6)
    assert info["config"].lr_decay_updates == 6  # annealed over the run, down to 0
    np.testing.assert_allclose(info["metrics"]["learning_rate"][[0, -1]], [2.5e-4, 0.0],
                               atol=1e-9)
    assert expert.deterministic
    for k in ("compile_seconds", "train_seconds", "eval_seconds", "wall_seconds"):
        assert info[k] > 0.0
    with pytest.raises(ValueError, match="num_timesteps"):
        experts.train_ppo(env, jax.random.key(0), num_timesteps=10, config=config)
