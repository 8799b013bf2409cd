"""Multi-agent PPO (MAPPO; Yu et al. 2022) as an `Algorithm`, built from `jaxil.rl.ppo`.

The agents of each environment become extra batch entries: a rollout of `B`
environments of `N` agents for `T` steps is learned from as `[T, B * N]` agent-steps
(agent index fastest) by PPO's own `learn` (GAE, clipped surrogate, value loss). The
environment's one `terminated` / `truncated` per env `[T, B]` is broadcast over its agents,
and each agent learns from its own reward `[T, B, N]` (in a cooperative env such as
`mpe/simple_spread` every agent gets the same team reward).

- Actor: decentralised, one network whose parameters all (homogeneous) agents share;
  agent `i` sees its own observation with a one-hot agent id appended,
  `[obs_i (D), onehot(i) (N)]` (`MAPPOConfig.agent_ids`, default on), so one network can
  still act differently per agent. The observation normaliser runs over these inputs.
- Critic: decentralised by default (each agent's value sees the same input as its actor);
  with `MAPPOConfig.centralized_critic`, each agent's value sees every agent's
  (normalised) observation of the same env step, concatenated in agent order, then its own
  one-hot id: `[obs_0 .. obs_{N-1} (N D), onehot(i) (N)]` (`critic_input_size`).

One network per agent (no parameter sharing) is not offered: the one-hot id already lets
the shared network specialise, and separate networks would need a vmapped learner and
optimiser per agent rather than PPO's `learn` as it is.

Agents with different observation sizes work (observations are zero-padded, the id tells
whose they are). Agents with different action spaces work when all are `Discrete` (e.g.
`mpe/simple_speaker_listener`: speaker `Discrete(3)`, listener `Discrete(5)`): the shared
categorical head is as wide as the largest `n`, and the actor network is wrapped in a
`jaxil.networks.multiagent.AgentActionMask`, which reads the agent from the one-hot id at
the end of its input and sets the logits of agent `i`'s actions `>= n_i` to a large
negative finite value (`MASKED_LOGIT`, -1e9, not -inf: log-softmax, entropies and
gradients stay finite). Everything that goes through the network then sees the masked
distribution: sampled and deterministic actions are always valid for their agent, and
PPO's log-probabilities, ratios and entropies are those of the masked distribution (an
agent's entropy is over its own actions only). The mask lives in the network rather than
in a head or a policy wrapper because PPO's `learn` calls the network itself; its leaves
are the network's, so the optimiser, `MultiAgentPolicy`, policy files (which record the
sizes, `jaxil.networks.serialization`), `jaxil.evaluate` and `jaxil.data.collect` need
nothing else. The mask needs the ids (`MAPPOConfig.agent_ids=True`). Agents whose spaces
are all equal get no mask (the plain network, as before). Continuous agents with
different `Box` spaces are refused: one squashed head cannot have per-agent bounds.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxil.core import Algorithm
from jaxil.envs.base import Env, EnvState
from jaxil.envs.multiagent import MultiAgentSpec, is_multiagent
from jaxil.envs.wrappers import vectorize
from jaxil.networks.multiagent import MultiAgentPolicy, agent_inputs, mask_actions
from jaxil.rl.episodes import track_episodes
from jaxil.rl.ppo import (
    PPOConfig,
    PPOLearner,
    PPOState,
    RolloutBatch,
    check_config,
    init_learner,
    learn,
    make_optimizer,
    online_init,
    online_update,
    sample_action,
)
from jaxil.rollout import unroll_with
from jaxil.types import ActionSpace, Array, Discrete, EnvSpec, PRNGKey, Transition


class MAPPOConfig(eqx.Module):
    """MAPPO settings.

    Attributes:
        ppo: the `PPOConfig` of the shared learner. `num_envs` counts environments `B`
            (each update learns from `B * N * rollout_length` agent-steps);
            `num_minibatches` splits those agent-steps; `deterministic_policy` sets how
            `Algorithm.policy` acts.
        agent_ids: (static) append a one-hot agent id `[N]` to each agent's observation,
            for the actor and the critic.
        centralized_critic: (static) each agent's value sees every agent's observation
            (see the module docstring); `False`: only its own, as the actor.
    """

    ppo: PPOConfig = eqx.field(default_factory=PPOConfig)
    agent_ids: bool = eqx.field(static=True, default=True)
    centralized_critic: bool = eqx.field(static=True, default=False)

    @property
    def batch_size(self) -> int:
        """Environment steps per update, `num_envs * rollout_length` (each one step of
        all `N` agents)."""
        return self.ppo.batch_size


def agent_spec(spec: MultiAgentSpec, config: MAPPOConfig) -> EnvSpec:
    """The single-agent `EnvSpec` of one agent's actor input, `[D (+ N)]`, and the shared
    head's action space (for `Discrete` spaces of different sizes, the largest: see the
    module docstring)."""
    size = spec.observation_size + (spec.num_agents if config.agent_ids else 0)
    return EnvSpec(spec.name, size, _shared_action_space(spec, config),
                   spec.max_episode_steps)


def _shared_action_space(spec: MultiAgentSpec, config: MAPPOConfig) -> ActionSpace:
    """The action space of the shared head; `ValueError` when the agents' spaces cannot
    share one (continuous spaces that differ, or masks without ids)."""
    spaces = [s.action_space for s in spec.agent_specs]
    if len(set(spaces)) == 1:
        return spaces[0]
    if not all(isinstance(s, Discrete) for s in spaces):
        kinds = {type(s) for s in spaces}
        differs = ("mix Discrete and Box actions" if len(kinds) > 1 else
                   f"have Box actions of different shapes {[s.shape for s in spaces]}"
                   if len({s.shape for s in spaces}) > 1 else
                   f"have Box actions with different bounds {spaces}")
        raise ValueError(f"env: MAPPO shares one policy head across agents and can mask "
                         f"only Discrete spaces of different sizes, but the agents of "
                         f"{spec.name!r} {differs}")
    if not config.agent_ids:
        raise ValueError(f"agent_ids: the agents of {spec.name!r} have different action "
                         f"spaces {spaces}, which the shared head masks by the one-hot "
                         f"agent id; set MAPPOConfig.agent_ids=True")
    return Discrete(max(spec.action_sizes))


def masked_action_sizes(spec: MultiAgentSpec) -> tuple[int, ...] | None:
    """Each agent's `n_i` when the agents' `Discrete` spaces differ in size (the shared
    actor masks the rest, `AgentActionMask`); `None` when they all share one space."""
    spaces = {s.action_space for s in spec.agent_specs}
    if len(spaces) == 1 or not all(isinstance(s, Discrete) for s in spaces):
        return None
    return spec.action_sizes


def critic_input_size(spec: MultiAgentSpec, config: MAPPOConfig) -> int:
    """Length of the value network's input: `D (+ N)` decentralised, `N D (+ N)`
    centralised (`+ N`: with `agent_ids`)."""
    ids = spec.num_agents if config.agent_ids else 0
    if config.centralized_critic:
        return spec.num_agents * spec.observation_size + ids
    return spec.observation_size + ids


def centralized_inputs(obs: Array, num_agents: int, observation_size: int,
                       agent_ids: bool = True) -> Array:
    """The centralised critic's inputs from the agents' (normalised) actor inputs.

    Args:
        obs: `[T, B * N, D (+ N)]` agent-steps, agent index fastest (as `learn` sees them).
        num_agents: `N`.
        observation_size: `D`, the per-agent observation part of each row.
        agent_ids: the rows end with the one-hot ids (kept, one per agent, at the end).

    Returns:
        `[T, B * N, N D (+ N)]`: row `(t, b, i)` holds the observations of all agents of
        env `b` at step `t`, in agent order, then agent `i`'s id.
    """
    t, bn, width = obs.shape
    per_env = jnp.reshape(obs, (t, bn // num_agents, num_agents, width))
    joint = jnp.reshape(per_env[..., :observation_size],
                        (t, bn // num_agents, 1, num_agents * observation_size))
    joint = jnp.broadcast_to(joint, per_env.shape[:-1] + joint.shape[-1:])
    parts = [joint, per_env[..., observation_size:]] if agent_ids else [joint]
    return jnp.reshape(jnp.concatenate(parts, axis=-1), (t, bn, -1))


def check_mappo_config(env: Env, config: MAPPOConfig) -> EnvSpec:
    """Host-side checks of `env` and `config`; returns the agents' `agent_spec`.

    Raises:
        ValueError: `env` is not multi-agent, its agents' action spaces differ other than
            in the sizes of `Discrete` spaces (or do so without `config.agent_ids`), or
            `config.ppo` does not fit (naming the field).
    """
    if not is_multiagent(env):
        raise ValueError(f"env: MAPPO expects a multi-agent environment (a MultiAgentSpec "
                         f"spec, e.g. mpe/simple_spread), got {env.spec.name!r} with a "
                         f"{type(env.spec).__name__}; use jaxil.rl.ppo for one agent")
    if not isinstance(config, MAPPOConfig):
        raise ValueError(f"config: expected a MAPPOConfig, got {type(config).__name__}")
    spec = agent_spec(env.spec, config)
    check_config(spec, config.ppo)
    return spec


def collect(env: Env, env_state: EnvState, learner: PPOLearner, key: PRNGKey,
            config: MAPPOConfig) -> tuple[EnvState, RolloutBatch]:
    """Rolls the shared policy out for `config.ppo.rollout_length` steps, every agent
    sampling from its own input row.

    Args:
        env: the vectorised multi-agent env (`jaxil.envs.vectorize(env, num_envs)`).
        env_state: its state, `[B]` leading axis (`obs[B, N, D]`).
        learner: the shared `PPOLearner` (actor inputs `[D (+ N)]`).
        key: PRNG key.
        config: the `MAPPOConfig`.

    Returns:
        `(env_state, batch)`: a `RolloutBatch` with the env's transitions
        (`obs[T, B, N, D]`, `action[T, B, N, ...]`, `reward[T, B, N]`,
        `terminated[T, B]`), `raw_actions[T, B, N, ...]` and `log_probs[T, B, N]`.
    """
    per_agent = jax.vmap(sample_action, in_axes=(None, 0, 0))
    per_env = jax.vmap(per_agent, in_axes=(None, 0, 0))

    def act(obs: Array, k: PRNGKey) -> tuple[Array, tuple[Array, Array]]:
        b, n = obs.shape[:2]
        keys = jnp.reshape(jax.random.split(k, b * n), (b, n))
        action, raw, log_prob = per_env(learner.policy, agent_inputs(obs, config.agent_ids),
                                        keys)
        return action, (raw, log_prob)

    env_state, transitions, (raw, log_probs) = unroll_with(env, env_state, act, key,
                                                           config.ppo.rollout_length)
    return env_state, RolloutBatch(transitions, raw, log_probs)


def agent_batch(batch: RolloutBatch, agent_ids: bool = True) -> RolloutBatch:
    """A multi-agent rollout `[T, B, N]` as `[T, B * N]` agent-steps for `ppo.learn`.

    Observations become the actors' inputs `[T, B * N, D (+ N)]`; actions, rewards and
    log-probabilities fold the agent axis into the batch axis (agent index fastest);
    `terminated` / `truncated` `[T, B]` are repeated for each agent.
    """
    tr = batch.transitions
    t, b, n = tr.reward.shape

    def fold(x: Array) -> Array:
        return jnp.reshape(x, (t, b * n) + x.shape[3:])

    def per_agent(flag: Array) -> Array:
        return jnp.reshape(jnp.broadcast_to(flag[..., None], (t, b, n)), (t, b * n))

    transitions = Transition(fold(agent_inputs(tr.obs, agent_ids)), fold(tr.action),
                             fold(tr.reward), fold(agent_inputs(tr.next_obs, agent_ids)),
                             per_agent(tr.terminated), per_agent(tr.truncated))
    return RolloutBatch(transitions, fold(batch.raw_actions), fold(batch.log_probs))


def init_mappo_learner(env: Env, config: MAPPOConfig, key: PRNGKey) -> PPOLearner:
    """A fresh shared `PPOLearner` for the agents of `env` (actor on `agent_spec`, critic
    on `critic_input_size`); for agents with `Discrete` spaces of different sizes, its
    actor network is an `AgentActionMask` (the module docstring)."""
    spec = agent_spec(env.spec, config)
    learner = init_learner(spec, config.ppo, key, critic_input_size(env.spec, config))
    sizes = masked_action_sizes(env.spec)
    if sizes is None:
        return learner
    policy = mask_actions(learner.policy, sizes)
    opt_state = make_optimizer(config.ppo).init((policy.network, learner.value))
    return PPOLearner(policy, learner.value, opt_state)


def learn_agents(learner: PPOLearner, rollout: RolloutBatch, rewards: Array, key: PRNGKey,
                 env: Env, config: MAPPOConfig) -> tuple[PPOLearner, dict]:
    """PPO's `learn` on a multi-agent rollout `[T, B, N]` with per-agent `rewards[T, B, N]`
    (the env's own, or an imitation method's), as `[T, B * N]` agent-steps
    (`agent_batch`), the centralised critic's inputs built when `config` asks for it."""
    num_agents, obs_size = env.spec.num_agents, env.spec.observation_size
    value_inputs = None
    if config.centralized_critic:
        def value_inputs(obs: Array) -> Array:
            return centralized_inputs(obs, num_agents, obs_size, config.agent_ids)

    flat = agent_batch(rollout, config.agent_ids)
    t, b, n = rewards.shape
    return learn(learner, flat, jnp.reshape(rewards, (t, b * n)), key, config.ppo,
                 value_inputs)


def team_episodes(episodes, tr: Transition):
    """`track_episodes` of the team return: the mean over agents of `tr.reward[T, B, N]`."""
    return track_episodes(episodes, jnp.mean(tr.reward, axis=-1),
                          tr.terminated | tr.truncated)


def multiagent_policy(learner: PPOLearner, env: Env, config: MAPPOConfig
                      ) -> MultiAgentPolicy:
    """The shared actor of `learner` acting for every agent of `env` (deterministic or
    sampling as `config.ppo.deterministic_policy` says)."""
    actor = learner.policy.with_deterministic(config.ppo.deterministic_policy)
    return MultiAgentPolicy(actor, env.spec.num_agents, config.agent_ids)


def mappo_steps(venv: Env, env: Env, config: MAPPOConfig) -> dict[str, Callable]:
    """MAPPO's `collect_fn` and `learn_fn` for `jaxil.rl.ppo.online_round` on the vectorised
    `venv` of the multi-agent `env`: `collect` a rollout, `learn_agents` from the given
    rewards `[T, B, N]`."""
    return {"collect_fn": lambda env_state, learner, key: collect(venv, env_state, learner,
                                                                  key, config),
            "learn_fn": lambda learner, rollout, rewards, key: learn_agents(
                learner, rollout, rewards, key, env, config)}


def mappo(env: Env, config: MAPPOConfig | None = None) -> Algorithm:
    """MAPPO on a multi-agent `env` as an `Algorithm` (design: the module docstring).

    `init(key, demos=None)` builds the shared learner and resets `config.ppo.num_envs`
    copies of `env`; `update(state, batch)` ignores `batch` (pass `None`), collects one
    rollout and runs PPO's `learn` on its `[T, B * N]` agent-steps; `policy(state)` is a
    `MultiAgentPolicy`, `policy(obs[N, D], key) -> action[N]`.

    The state is a `jaxil.rl.PPOState` (its `episodes` track the team return). Metrics:
    `jaxil.rl.ppo.LEARN_METRICS` over agent-steps (`mean_reward`: per agent and step) and
    `jaxil.rl.ppo.EPISODE_METRICS`, where `episode_return` is the team return of the episodes
    that ended in the rollout: the mean over agents of each agent's return, which for a
    shared cooperative reward (`mpe/simple_spread`) is the return of that shared reward,
    the same number `jaxil.evaluate` reports.

    Args:
        env: a multi-agent environment with a time limit (e.g.
            `jaxil.envs.make("mpe/simple_spread")`).
        config: the `MAPPOConfig` (`None`: the defaults).

    Raises:
        ValueError: a single-agent `env`, agents with different `Box` action spaces,
            different `Discrete` ones without `config.agent_ids`, or a config that does
            not fit (naming the field).
    """
    config = MAPPOConfig() if config is None else config
    check_mappo_config(env, config)
    venv = vectorize(env, config.ppo.num_envs)
    init = online_init(venv, config.ppo, lambda key: init_mappo_learner(env, config, key))
    update = online_update(**mappo_steps(venv, env, config), track_fn=team_episodes)

    def policy(state: PPOState) -> MultiAgentPolicy:
        return multiagent_policy(state.learner, env, config)

    return Algorithm(init, update, policy, env.spec)
