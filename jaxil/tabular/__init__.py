"""Tabular MDPs: arrays, built-ins, exact solvers, occupancy measures and an env view.

Everything here is pure and jittable and vmaps over a batch of MDPs:

    mdp = jaxil.tabular.random_mdp(key, 16, 4, 4, horizon=10, discount=1.0)
    sol = jaxil.tabular.soft_value_iteration(mdp)          # V[H+1, S], Q/pi[H, S, A]
    occ = jaxil.tabular.occupancy(mdp, sol.policy)         # state[S], state_action[S, A]
    mu = jaxil.tabular.feature_expectations(mdp, occ)      # [K]

`jaxil.envs.make("gridworld" | "cliff" | "random_mdp")` gives the env view (`TabularEnv`).
"""

import jax as _jax

from jaxil import envs as _envs
from jaxil.tabular.builtins import DEFAULT_LAYOUT, GRID_MOVES, cliff_world, gridworld, random_mdp
from jaxil.tabular.env import (
    DemoIndices,
    TabularEnv,
    TabularEnvState,
    demo_indices,
    occupancy_from_demos,
    tabular_env,
)
from jaxil.tabular.mdp import (
    TabularMDP,
    check_mdp,
    occupancy_total,
    reward_from_weights,
    state_action_features,
    with_reward,
)
from jaxil.tabular.occupancy import (
    Occupancy,
    empirical_occupancy,
    empirical_policy,
    expected_return,
    feature_expectations,
    forward_messages,
    mixture_policy,
    occupancy,
    plugin_occupancy,
    policy_feature_expectations,
    policy_from_occupancy,
    policy_return,
    state_action_messages,
    total_variation,
)
from jaxil.tabular.policies import TabularPolicy, policy_table, tabular_policy, to_actor_policy
from jaxil.tabular.qp import hull_projection, project_simplex
from jaxil.tabular.rewards import LinearReward, MLPReward, RewardModel, make_reward_model
from jaxil.tabular.solvers import (
    Solution,
    policy_evaluation,
    policy_matrix,
    reward_tables,
    soft_value_iteration,
    value_iteration,
)


def _gridworld_env(*, time_in_obs: bool | None = None, **kwargs) -> TabularEnv:
    return TabularEnv(gridworld(**kwargs), time_in_obs=time_in_obs, name="gridworld")


def _cliff_env(*, time_in_obs: bool | None = None, **kwargs) -> TabularEnv:
    return TabularEnv(cliff_world(**kwargs), time_in_obs=time_in_obs, name="cliff")


def _random_mdp_env(*, seed: int = 0, time_in_obs: bool | None = None,
                    **kwargs) -> TabularEnv:
    return TabularEnv(random_mdp(_jax.random.key(seed), **kwargs), time_in_obs=time_in_obs,
                      name="random_mdp")


_envs.register("gridworld", _gridworld_env)
_envs.register("cliff", _cliff_env)
_envs.register("random_mdp", _random_mdp_env)

__all__ = [
    "DEFAULT_LAYOUT", "GRID_MOVES", "DemoIndices", "LinearReward", "MLPReward", "Occupancy",
    "RewardModel", "Solution", "TabularEnv",
    "TabularEnvState", "TabularMDP", "TabularPolicy", "check_mdp", "cliff_world",
    "demo_indices", "empirical_occupancy", "empirical_policy", "expected_return",
    "feature_expectations", "forward_messages", "gridworld", "hull_projection",
    "make_reward_model", "mixture_policy", "occupancy",
    "occupancy_from_demos", "occupancy_total", "plugin_occupancy", "policy_evaluation",
    "policy_feature_expectations", "policy_from_occupancy", "policy_matrix", "policy_return",
    "policy_table", "to_actor_policy",
    "project_simplex", "state_action_messages",
    "random_mdp", "reward_from_weights", "reward_tables", "soft_value_iteration",
    "state_action_features", "tabular_env", "tabular_policy", "total_variation",
    "value_iteration", "with_reward",
]
