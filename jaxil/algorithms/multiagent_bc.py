"""Multi-agent behavioural cloning, the MAGAIL paper's supervised baseline: one policy
shared by the agents, fitted to every agent's (observation, action) pairs.

Each env step of the demonstrations `Transition[M]` (`obs[M, N, D]`, `action[M, N]`)
gives `N` rows `[obs_i, onehot(i)]` with agent `i`'s action, and `jaxil.algorithms.bc`
fits them as a single agent would its own (same loss, heads, normalisation,
augmentation). The policy acts as `jaxil.rl.mappo`'s does: a `MultiAgentPolicy`, each
agent on its own row with its id, so a cloned policy is used, evaluated and saved like a
MAPPO or MAGAIL one. Agents whose `Discrete` spaces differ in size share one head as wide
as the largest, each masked to its own actions (`jaxil.networks.multiagent.AgentActionMask`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from jaxil.algorithms.bc import BCConfig, BCState, bc
from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.envs.multiagent import is_multiagent
from jaxil.networks.multiagent import (
    MultiAgentPolicy,
    agent_inputs,
    mask_actions,
)
from jaxil.rl.mappo import MAPPOConfig, agent_spec, masked_action_sizes
from jaxil.types import EnvSpec, PRNGKey, Transition


class _AgentRows(NamedTuple):
    """What `bc` needs of an environment: the spec of one agent's input row."""

    spec: EnvSpec


def agent_rows(tr: Transition, agent_ids: bool = True) -> Transition:
    """`Transition[M]` of env steps as `Transition[M * N]` agent rows, agent index
    fastest: `obs [M, N, D] -> [M * N, D + N]` (one-hot id appended when `agent_ids`),
    actions `[M, N, ...] -> [M * N, ...]`; the other fields are dropped (BC needs none)."""
    inputs = agent_inputs(tr.obs, agent_ids)
    action = None if tr.action is None else jnp.reshape(tr.action,
                                                        (-1,) + tr.action.shape[2:])
    return Transition(jnp.reshape(inputs, (-1, inputs.shape[-1])), action, None, None,
                      None, None)


def multiagent_bc(env: Env, config: BCConfig | None = None) -> Algorithm:
    """Behavioural cloning of every agent of a multi-agent `env` with one shared policy.

    `init(key, demos)` fits the normaliser to the agent rows of `demos[M]` (see
    `agent_rows`); `update(state, batch)` is one `bc` step on the rows of `batch[M]`
    (`M * N` rows); `policy(state)` is a `MultiAgentPolicy`,
    `policy(obs[N, D], key) -> action[N]`.

    Args:
        env: a multi-agent environment (e.g. `jaxil.envs.make("mpe/simple_spread")`).
        config: the `BCConfig` (`None`: defaults).

    Raises:
        ValueError: a single-agent `env`.
    """
    if not is_multiagent(env):
        raise ValueError(f"env: multi-agent BC expects a multi-agent environment, got "
                         f"{env.spec.name!r}; use bc for one agent")
    config = BCConfig() if config is None else config
    spec = agent_spec(env.spec, MAPPOConfig(agent_ids=True))
    single = bc(_AgentRows(spec), config)
    num_agents = env.spec.num_agents
    sizes = masked_action_sizes(env.spec)

    def init(key: PRNGKey, demos: Transition | None = None) -> BCState:
        state = single.init(key, None if demos is None else agent_rows(demos))
        if sizes is None:
            return state
        # agents with Discrete spaces of different sizes: each acts (and is fitted) over
        # its own actions only, as MAPPO's actor does; the mask adds no array leaf, so
        # BC's (flat) optimiser state fits the masked network as it is
        return state._replace(policy=mask_actions(state.policy, sizes))

    def update(state: BCState, batch: Transition) -> BCState:
        if batch is None or batch.action is None:
            raise ValueError("batch: behavioural cloning needs demonstrations with actions")
        return single.update(state, agent_rows(batch))

    def policy(state: BCState) -> MultiAgentPolicy:
        return MultiAgentPolicy(single.policy(state), num_agents, True)

    return Algorithm(init, update, policy, env.spec)
