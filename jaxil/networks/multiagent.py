"""`MultiAgentPolicy`: one single-agent policy acting for every agent of a multi-agent env.

It lives with the networks (below `jaxil.rl`) so that saving and loading
(`jaxil.networks.serialization`), evaluation and data collection can use it without
depending on MAPPO; `jaxil.rl.MultiAgentPolicy` and `jaxil.rl.mappo.MultiAgentPolicy`
are the same class.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.types import Array, PRNGKey


class MultiAgentPolicy(eqx.Module):
    """A multi-agent `Policy`: `policy(obs[N, D], key) -> action[N]` (`[N, act_dim]` for
    continuous actions), each agent acting with `policy` on its own row, with its one-hot
    id appended when `agent_ids`.

    Attributes:
        policy: a single-agent policy (`ActorPolicy` for MAPPO, or e.g. a `RandomPolicy`
            with `agent_ids=False` for a random baseline) of `[D (+ N)]` observations.
        num_agents: `N`.
        agent_ids: append `onehot(i)` to agent `i`'s observation.
    """

    policy: Any
    num_agents: int = eqx.field(static=True)
    agent_ids: bool = eqx.field(static=True, default=True)

    def inputs(self, obs: Array) -> Array:
        """`obs[..., N, D] -> [..., N, D (+ N)]`, each agent's input row."""
        return agent_inputs(obs, self.agent_ids)

    def __call__(self, obs: Array, key: PRNGKey) -> Array:
        if obs.ndim != 2 or obs.shape[0] != self.num_agents:
            raise ValueError(f"obs: expected [num_agents={self.num_agents}, obs_dim], got "
                             f"shape {obs.shape}")
        keys = jax.random.split(key, self.num_agents)
        return jax.vmap(self.policy)(self.inputs(obs), keys)

    def with_deterministic(self, deterministic: bool = True) -> MultiAgentPolicy:
        """The same agents acting with their distribution's mode (`True`) or sampling."""
        if not hasattr(self.policy, "with_deterministic"):
            return self
        return MultiAgentPolicy(self.policy.with_deterministic(deterministic),
                                self.num_agents, self.agent_ids)


def agent_inputs(obs: Array, agent_ids: bool = True) -> Array:
    """Per-agent inputs: `obs[..., N, D] -> [..., N, D + N]` with agent `i`'s one-hot id
    appended to row `i` (`agent_ids`), or `obs` itself."""
    if not agent_ids:
        return obs
    n = obs.shape[-2]
    ids = jnp.broadcast_to(jnp.eye(n, dtype=obs.dtype), obs.shape[:-2] + (n, n))
    return jnp.concatenate([obs, ids], axis=-1)


