"""`MultiAgentPolicy`: one single-agent policy acting for every agent of a multi-agent env.

It lives with the networks (below `jaxil.rl`) so that saving and loading
(`jaxil.networks.serialization`), evaluation and data collection can use it without
depending on MAPPO; `jaxil.rl.MultiAgentPolicy` and `jaxil.rl.mappo.MultiAgentPolicy`
are the same class.

`AgentActionMask` lets one categorical network act for agents whose `Discrete` action
spaces differ in size (e.g. MPE's speaker, 3 messages, and listener, 5 moves): the head is
as wide as the largest, and each agent's logits beyond its own size are masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import distrax
import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.types import Array, PRNGKey

MASKED_LOGIT = -1e9
"""The logit of an action an agent does not have: finite (so log-softmax, entropies and
their gradients stay finite) yet far enough below any real logit that its probability is
exactly 0 in float32 and a Gumbel-max sample or an argmax never picks it."""


class MultiAgentPolicy(eqx.Module):
    """A multi-agent `Policy`: `policy(obs[N, D], key) -> action[N]` (`[N, act_dim]` for
    continuous actions), each agent acting with `policy` on its own row, with its one-hot
    id appended when `agent_ids`.

    Attributes:
        policy: a single-agent policy (`ActorPolicy` for MAPPO, or e.g. a `RandomPolicy`
            with `agent_ids=False` for a random baseline) of `[D (+ N)]` observations.
            For agents whose `Discrete` action spaces differ in size, its network is an
            `AgentActionMask` (`mask_actions`), so each agent only takes its own actions.
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




class AgentActionMask(eqx.Module):
    """A categorical policy network shared by agents with `Discrete(n_i)` action spaces of
    different sizes: agent `i`'s logits beyond its own `n_i` are set to `MASKED_LOGIT`.

    It stands where an `ActorPolicy`'s `network` stands (`obs -> distrax.Categorical`,
    `mode`, `sample`, `arch`), so sampling, the mode and PPO's log-probabilities, ratios
    and entropies are all those of the masked distribution (an agent's entropy is over its
    own actions only; masked logits get no gradient). Its array leaves are exactly the
    wrapped network's, so optimiser states and saved weights do not change shape.

    The agent is read from its input: the one-hot id that `agent_inputs` appends, the last
    `N` entries of the (normalised) observation. Normalising keeps that id's argmax: each
    id column is shifted by the fraction of agent-steps of that agent (in `(0, 1)`, or 0
    for the identity normaliser) and scaled by a positive factor, so the agent's own column
    is the only positive one.

    Attributes:
        network: the categorical `PolicyNetwork`, `max(n_i)` logits wide.
        action_sizes: `(n_0, ..., n_{N-1})`, one per agent.
    """

    network: Any
    action_sizes: tuple[int, ...] = eqx.field(static=True)

    @property
    def arch(self):
        return self.network.arch

    def logits(self, obs: Array) -> Array:
        """`[max(n_i)]`: the network's logits with the agent's invalid actions masked."""
        sizes = self.action_sizes
        agent = jnp.argmax(obs[-len(sizes):])
        logits = self.network.torso(obs)
        valid = jnp.arange(logits.shape[-1]) < jnp.asarray(sizes)[agent]
        return jnp.where(valid, logits, jnp.asarray(MASKED_LOGIT, logits.dtype))

    def __call__(self, obs: Array) -> distrax.Distribution:
        return self.network.head.distribution(self.logits(obs))

    def mode(self, obs: Array) -> Array:
        return self.network.head.mode(self.logits(obs))

    def sample(self, obs: Array, key: PRNGKey) -> Array:
        return self(obs).sample(seed=key)


def mask_actions(policy: Any, action_sizes: Sequence[int] | None) -> Any:
    """`policy` (an `ActorPolicy` of `[D + N]` inputs with one-hot ids) with its network
    wrapped in an `AgentActionMask` of `action_sizes`; `policy` itself for `None`."""
    if action_sizes is None:
        return policy
    network = AgentActionMask(policy.network, tuple(int(n) for n in action_sizes))
    return eqx.tree_at(lambda p: p.network, policy, network)


def action_sizes(policy: Any) -> tuple[int, ...] | None:
    """The per-agent action sizes of a masked policy (`mask_actions`), else `None`."""
    network = getattr(policy, "network", None)
    return network.action_sizes if isinstance(network, AgentActionMask) else None
