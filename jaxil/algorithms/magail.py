"""MAGAIL, multi-agent generative adversarial imitation learning (Song, Ren, Sadigh & Ermon
2018), and its independent-GAIL baseline.

The policy side is MAPPO (`jaxil.rl.mappo`): one actor shared by the agents (each sees its
own observation and its one-hot id) and a centralised critic by default. The reward side
is a discriminator chosen by the paper's prior on the agents' rewards
(`MAGAILConfig.prior`):

- `"centralized"`: one discriminator `D(s, a)` on the joint observation and joint action
  of an env step, `[o_1 .. o_N]` and `[onehot(a_1) .. onehot(a_N)]` (continuous actions as
  they are); every agent receives the same reward `r(s, a)`, as suits a cooperative task.
- `"decentralized"`: one discriminator per agent, `D_i(o_i, a_i)` on that agent's own
  observation and action (its own network, optimiser and input statistics, all `N`
  trained at once with `vmap`); agent `i` receives its own `r_i`.
- `"zero_sum"`: two teams (`MAGAILConfig.teams`, or the env's `teams`: 0 or 1 per agent)
  with opposite rewards. One joint discriminator is trained, at expert states, on three
  kinds of joint actions (the paper's code): team 0 the expert's and team 1 the policy's
  (label 1), both the expert's (label 1/2), team 0 the policy's and team 1 the expert's
  (label 0); on the policy's own joint steps team 0 receives `tanh(g / 2) = 2 D - 1` and
  team 1 its negative. A team earns reward by acting more like the expert than the other
  team does.

Rewards other than zero-sum's come from `MAGAILConfig.reward` (GAIL's mappings, `-log(1 -
D)` by default) and are clipped like GAIL's. The discriminator's settings (widths, steps,
gradient penalty, input normalisation, BC warm start) are the single-agent
`AdversarialConfig`'s; the absorbing state and a replay of rollouts are not offered (the
particle envs never terminate).

Independent GAIL, the paper's baseline (each agent treats the others as part of the
environment), is `independent_gail`: the decentralised prior with a decentralised critic.
Multi-agent behavioural cloning is `jaxil.algorithms.multiagent_bc`.

Shapes: a rollout is `Transition[T, B]` of `N` agents (`obs[T, B, N, D]`, `action[T, B,
N]`, `reward[T, B, N]`, `terminated[T, B]`); an expert batch is `Transition[M]` of env
steps (`obs[M, N, D]`, from `jaxil.data.as_transitions` of multi-agent demos).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxil.adversarial.inputs import guard_horizon
from jaxil.adversarial.losses import accuracy, gradient_penalty
from jaxil.adversarial.method import (
    AdversarialConfig,
    AdversarialMethod,
    check_method,
    resolve_absorbing,
    samples_per_step,
    tanh_fixed_stats_config,
)
from jaxil.adversarial.networks import Discriminator, make_discriminator
from jaxil.adversarial.rewards import RewardMapping, gail_reward
from jaxil.adversarial.steps import (
    batch_logits,
    discriminator_optimizer,
    discriminator_steps,
    policy_samples,
    relabel,
    train_discriminator,
)
from jaxil.adversarial.trainer import (
    AdversarialState,
    bc_optimizer_state,
    bc_regularize,
    bc_warm_start,
    zero_metrics,
)
from jaxil.algorithms.gail import gail_logits
from jaxil.algorithms.multiagent_bc import agent_rows
from jaxil.core import Algorithm
from jaxil.envs.base import Env
from jaxil.envs.multiagent import is_multiagent
from jaxil.envs.wrappers import vectorize
from jaxil.networks.multiagent import MultiAgentPolicy
from jaxil.networks.normalizer import normalizer_from_data
from jaxil.rl.episodes import init_episode_stats
from jaxil.rl.mappo import (
    MAPPOConfig,
    check_mappo_config,
    init_mappo_learner,
    mappo_steps,
    multiagent_policy,
    team_episodes,
)
from jaxil.rl.ppo import online_round
from jaxil.types import Array, Box, Discrete, EnvSpec, Metrics, PRNGKey, Transition

PRIORS = ("centralized", "decentralized", "zero_sum")
"""The reward priors of `MAGAILConfig.prior`."""

ZERO_SUM_REWARD = RewardMapping("two_d_minus_one", lambda v: jnp.tanh(0.5 * v), 0)
"""Team 0's reward under the zero-sum prior, `2 D - 1 = tanh(g / 2)` (team 1: minus)."""


class MAGAILConfig(eqx.Module):
    """MAGAIL settings.

    Attributes:
        prior: (static) one of `PRIORS` (see the module docstring). Default
            `"decentralized"`: on `mpe/simple_spread` it learns several times faster than
            the centralised prior, whose one shared reward leaves each agent to find its
            own part in it (`benchmarks/RESULTS.md`, "MAGAIL").
        reward: (static) GAIL's reward mapping for the cooperative priors, one of
            `jaxil.adversarial.GAIL_REWARDS` (`-log(1 - D)` by default).
        teams: (static) the zero-sum prior's team of each agent, 0 or 1, in agent order
            (`None`: the env's `teams`).
        adversarial: the discriminator settings (`AdversarialConfig`; `absorbing_state`
            and `replay_rollouts` are not supported). Default: the tanh discriminator with
            fixed input statistics it was measured with (`tanh_fixed_stats_config`), with
            4 discriminator steps per update (on `mpe/simple_spread` one step leaves the
            discriminator separating by states alone, and the policy barely learns) and a
            gradient penalty of weight 0.1: at the single-agent default of 3, imitating
            the MAPPO expert of `mpe/simple_spread`, the discriminators stayed at chance
            (logits within 0.1 of 0 for 1,000 updates, every reward about `log 2`).
            With few demonstrations (5-25 episodes of the particle tasks) prefer
            `gradient_penalty="interpolate", gp_weight=1.0`: with the default, 5 or 10
            episodes of `mpe/simple_speaker_listener` end below random, with it 0.60-0.66
            of the expert, above BC (`benchmarks/RESULTS.md`, "Session 18"). With
            `bc_steps_per_update=16` (BC steps on each update's expert batch; off by
            default, so that this is the paper's method) both priors reach 0.90-1.00 of the
            expert on the cooperative particle tasks at 200 episodes ("Session 19").
        mappo: the policy optimiser (`MAPPOConfig`; a centralised critic by default).
    """

    prior: str = eqx.field(static=True, default="decentralized")
    reward: str = eqx.field(static=True, default="neg_log_one_minus_d")
    teams: tuple[int, ...] | None = eqx.field(static=True, default=None)
    adversarial: AdversarialConfig = eqx.field(
        default_factory=lambda: tanh_fixed_stats_config(disc_steps=4, gp_weight=0.1))
    mappo: MAPPOConfig = eqx.field(
        default_factory=lambda: MAPPOConfig(centralized_critic=True))


def agent_view(tr: Transition) -> Transition:
    """Each agent's own transitions: `Transition[..., N]` -> `Transition[N, ...]`.

    `obs[..., N, D] -> [N, ..., D]`, actions and rewards alike; the env's flags
    `terminated[...]` / `truncated[...]` are repeated for each agent.
    """
    axis = tr.reward.ndim - 1
    n = tr.reward.shape[axis]

    def lead(x: Array | None) -> Array | None:
        return None if x is None else jnp.moveaxis(x, axis, 0)

    def flag(x: Array) -> Array:
        return jnp.broadcast_to(x, (n,) + x.shape)

    return Transition(lead(tr.obs), lead(tr.action), lead(tr.reward), lead(tr.next_obs),
                      flag(tr.terminated), flag(tr.truncated))


def joint_actions(action: Array, num_actions: int | None) -> Array:
    """`[..., N]` discrete actions as `[..., N * num_actions]` concatenated one-hots, or
    `[..., N, act_dim]` continuous ones as `[..., N * act_dim]` (`num_actions=None`)."""
    if num_actions is not None:
        action = jax.nn.one_hot(action, num_actions, dtype=jnp.float32)
    return jnp.reshape(action, action.shape[:-2] + (-1,)).astype(jnp.float32)


def joint_view(tr: Transition, num_actions: int | None) -> Transition:
    """The env steps as one joint agent: `obs[..., N, D] -> [..., N D]` (next_obs alike),
    actions through `joint_actions`, the team reward (mean over agents)."""

    def flat(x: Array) -> Array:
        return jnp.reshape(x, x.shape[:-2] + (-1,))

    action = None if tr.action is None else joint_actions(tr.action, num_actions)
    return Transition(flat(tr.obs), action, jnp.mean(tr.reward, axis=-1), flat(tr.next_obs),
                      tr.terminated, tr.truncated)


def discrete_width(env: Env) -> int | None:
    """The widest agent's number of actions (discrete agents), or `None` (continuous)."""
    spaces = [s.action_space for s in env.spec.agent_specs]
    if all(isinstance(s, Discrete) for s in spaces):
        return max(s.n for s in spaces)
    return None


def disc_specs(env: Env) -> tuple[EnvSpec, EnvSpec]:
    """`(per_agent, joint)`: the `EnvSpec`s the decentralised and the joint discriminators
    featurise their inputs with (`[D]` and `[N D]` observations; one agent's action, and
    the joint action as a flat float vector)."""
    spec = env.spec
    n, d = spec.num_agents, spec.observation_size
    width = discrete_width(env)
    if width is None:
        action_space = spec.agent_specs[0].action_space
        joint_size = n * action_space.shape[0]
    else:
        action_space = Discrete(width)
        joint_size = n * width
    agent = EnvSpec(f"{spec.name}/agent", d, action_space, spec.max_episode_steps)
    joint = EnvSpec(f"{spec.name}/joint", n * d, Box((joint_size,), 0.0, 1.0),
                    spec.max_episode_steps)
    return agent, joint


def team_signs(env: Env, config: MAGAILConfig) -> Array:
    """`[N]` float: +1 for team 0, -1 for team 1 (the zero-sum prior's reward signs)."""
    teams = config.teams
    if teams is None:  # the env's own, under its wrappers (time limit, ...)
        teams = getattr(getattr(env, "unwrapped", env), "teams", None)
    n = env.spec.num_agents
    if teams is None:
        raise ValueError(f"MAGAILConfig.teams: the zero-sum prior needs each agent's team; "
                         f"{env.spec.name!r} names none, so pass teams=(0 or 1 per agent)")
    teams = tuple(int(t) for t in teams)
    if len(teams) != n or set(teams) != {0, 1}:
        raise ValueError(f"MAGAILConfig.teams: expected {n} entries of 0 and 1 with both "
                         f"teams present, got {teams}")
    return jnp.asarray([1.0 if t == 0 else -1.0 for t in teams], jnp.float32)


def check_magail_config(env: Env, config: MAGAILConfig) -> AdversarialMethod:
    """Host-side checks; returns the `AdversarialMethod` of the cooperative priors.

    Raises:
        ValueError: a single-agent `env`, or a field out of range (naming it).
    """
    if not is_multiagent(env):
        raise ValueError(f"env: MAGAIL expects a multi-agent environment (e.g. "
                         f"mpe/simple_spread), got {env.spec.name!r}; use gail for one agent")
    if not isinstance(config, MAGAILConfig):
        raise ValueError(f"config: expected a MAGAILConfig, got {type(config).__name__}")
    if config.prior not in PRIORS:
        raise ValueError(f"MAGAILConfig.prior: expected one of {PRIORS}, got "
                         f"{config.prior!r}")
    adv = config.adversarial
    for name in ("absorbing_state", "absorbing_per_terminal", "replay_rollouts"):
        if getattr(adv, name):
            raise ValueError(f"MAGAILConfig.adversarial.{name}: not supported by MAGAIL "
                             f"(got {getattr(adv, name)!r})")
    method = AdversarialMethod("MAGAIL", "sa", gail_logits, gail_reward(config.reward),
                               config_path="MAGAILConfig.adversarial",
                               absorbing_default=False)
    check_method(method, adv)
    check_mappo_config(env, config.mappo)
    if config.prior == "zero_sum":
        team_signs(env, config)
    return method


def multiagent_bc_warm_start(policy, demos: Transition, key: PRNGKey,
                             config: AdversarialConfig, agent_ids: bool):
    """`bc_warm_start` of the shared actor on every agent's rows of `demos[M]`
    (`agent_rows`)."""
    return bc_warm_start(policy, agent_rows(demos, agent_ids), key, config.bc_steps,
                         config.bc_batch_size, config.bc_learning_rate)


def zero_sum_objective(net, disc: Discriminator, inputs: tuple, key: PRNGKey,
                       config: AdversarialConfig) -> tuple[Array, Metrics]:
    """The zero-sum prior's discriminator loss on `n` expert states: mean sigmoid
    cross-entropy of the joint actions `(expert 0, policy 1)` against label 1,
    `(expert, expert)` against 1/2 and `(policy 0, expert 1)` against 0, plus the
    gradient penalty on the all-expert inputs.

    Args:
        net: the network being trained.
        disc: the `Discriminator` (normaliser; its `net` unused).
        inputs: `(team0_expert, expert, team1_expert)` `DiscInputs[n]` each.
        key: PRNG key (interpolates of the penalty).
        config: the `AdversarialConfig`.
    """
    ahead, even, behind = inputs

    def logits(x):
        return batch_logits(_ZERO_SUM_METHOD, net, x, jnp.zeros(x.continuing.shape), 0.0)

    la, le, lb = logits(ahead), logits(even), logits(behind)
    loss = jnp.mean(jnp.concatenate([
        optax.sigmoid_binary_cross_entropy(la, jnp.ones_like(la)),
        optax.sigmoid_binary_cross_entropy(le, jnp.full_like(le, 0.5)),
        optax.sigmoid_binary_cross_entropy(lb, jnp.zeros_like(lb))]))

    def one_logit(x):
        return gail_logits(net, x._replace(continuing=jax.lax.stop_gradient(x.continuing)),
                           0.0, 0.0)

    gp = gradient_penalty(one_logit, even, behind, key, config.gradient_penalty,
                          config.gp_target)
    a_acc, b_acc = accuracy(la, lb)
    metrics = {"disc_loss": loss, "disc_grad_penalty": gp, "disc_expert_accuracy": a_acc,
               "disc_policy_accuracy": b_acc, "disc_expert_logit": jnp.mean(la),
               "disc_policy_logit": jnp.mean(lb), "disc_absorbing_logit": jnp.zeros(())}
    return loss + config.gp_weight * gp, metrics


_ZERO_SUM_METHOD = AdversarialMethod("MAGAIL", "sa", gail_logits, ZERO_SUM_REWARD,
                                     config_path="MAGAILConfig.adversarial",
                                     absorbing_default=False)


def magail(env: Env, config: MAGAILConfig | None = None) -> Algorithm:
    """MAGAIL on a multi-agent `env` as an `Algorithm` (design: the module docstring).

    `init(key, demos)` builds the shared MAPPO learner (optionally BC-warm-started on the
    demos' agent rows), the prior's discriminator(s) (input statistics from `demos`, per
    agent for the decentralised prior) and `config.mappo.ppo.num_envs` environments;
    `update(state, batch)` is one collect / relabel / discriminator / MAPPO round on the
    expert batch `batch[M]` of env steps (`M >= disc_steps`); `policy(state)` is a
    `MultiAgentPolicy`.

    The state is an `AdversarialState`; under the decentralised prior its
    `discriminator` and `disc_opt_state` carry a leading agent axis `[N]`, and the
    discriminator metrics are means over agents. `episode_return` is the team return.

    Args:
        env: a multi-agent environment with a time limit (e.g.
            `jaxil.envs.make("mpe/simple_spread")`).
        config: the `MAGAILConfig` (`None`: defaults, the decentralised prior).

    Raises:
        ValueError: a single-agent env, or a config that does not fit (naming the field).
    """
    config = MAGAILConfig() if config is None else config
    method = check_magail_config(env, config)
    # the absorbing state is refused above, so this decides it off (the method's default)
    adv, mappo_config = resolve_absorbing(method, config.adversarial), config.mappo
    ppo_config = mappo_config.ppo
    n = env.spec.num_agents
    width = discrete_width(env)
    agent_spec, joint_spec = disc_specs(env)
    venv = vectorize(env, ppo_config.num_envs)
    gamma = ppo_config.gamma
    disc_opt = discriminator_optimizer(adv)
    prior = config.prior
    signs = team_signs(env, config) if prior == "zero_sum" else None

    def joint(tr: Transition) -> Transition:
        return joint_view(tr, width)

    def build(spec: EnvSpec, key: PRNGKey, obs: Array | None) -> Discriminator:
        normalizer = None if obs is None or not adv.normalize_inputs else \
            normalizer_from_data(obs)
        return make_discriminator(spec, "sa", key, adv.hidden_sizes, adv.activation,
                                  normalizer=normalizer)

    def init(key: PRNGKey, demos: Transition | None = None) -> AdversarialState:
        if demos is not None and demos.action is None:
            raise ValueError("demos: MAGAIL needs demonstrations with actions (these are "
                             "state-only)")
        reward = _ZERO_SUM_METHOD.reward if prior == "zero_sum" else method.reward
        step = guard_horizon(jnp.zeros((), jnp.int32), demos, reward.sign, False,
                             adv.allow_variable_horizon, "MAGAIL", reward.name,
                             "MAGAILConfig.adversarial", absorbing_offered=False)
        learner_key, disc_key, env_key, bc_key, key = jax.random.split(key, 5)
        learner = init_mappo_learner(env, mappo_config, learner_key)
        if prior == "decentralized":
            per_agent_obs = None if demos is None else jnp.moveaxis(demos.obs, -2, 0)
            disc = eqx.filter_vmap(lambda k, o: build(agent_spec, k, o))(
                jax.random.split(disc_key, n), per_agent_obs)
            opt_state = eqx.filter_vmap(disc_opt.init)(eqx.filter(disc.net, eqx.is_array))
        else:
            disc = build(joint_spec, disc_key, None if demos is None else joint(demos).obs)
            opt_state = disc_opt.init(eqx.filter(disc.net, eqx.is_array))
        if adv.bc_steps > 0:
            if demos is None:
                raise ValueError("MAGAILConfig.adversarial.bc_steps: a BC warm start needs "
                                 "demos; pass them to jaxil.train")
            policy = multiagent_bc_warm_start(learner.policy, demos, bc_key, adv,
                                              mappo_config.agent_ids)
            learner = learner._replace(policy=policy)
        return AdversarialState(learner, disc, opt_state, venv.reset(env_key),
                                init_episode_stats(ppo_config.num_envs), None, key, step,
                                zero_metrics(),
                                bc_opt_state=bc_optimizer_state(learner.policy, adv))

    def rewards_of(state: AdversarialState, tr: Transition) -> Array:
        """`[T, B, N]` rewards of the rollout `tr[T, B]` under the current discriminator."""
        policy = state.learner.policy
        if prior == "decentralized":
            per_agent = eqx.filter_vmap(
                lambda d, t: relabel(method, adv, d, policy, t, gamma))(
                    state.discriminator, agent_view(tr))
            return jnp.moveaxis(per_agent, 0, -1)
        if prior == "zero_sum":
            r = relabel(_ZERO_SUM_METHOD, adv, state.discriminator, policy, joint(tr), gamma)
            return r[..., None] * signs
        r = relabel(method, adv, state.discriminator, policy, joint(tr), gamma)
        return jnp.broadcast_to(r[..., None], r.shape + (n,))

    def train_disc(state: AdversarialState, expert: Transition, samples: Transition,
                   key: PRNGKey):
        policy = state.learner.policy
        if prior == "decentralized":
            return eqx.filter_vmap(
                lambda d, o, e, s, k: train_discriminator(method, adv, d, o, policy, e, s, k,
                                                          gamma))(
                state.discriminator, state.disc_opt_state, agent_view(expert),
                agent_view(samples), jax.random.split(key, n))
        if prior == "zero_sum":
            return train_zero_sum(state, expert, key)
        return train_discriminator(method, adv, state.discriminator, state.disc_opt_state,
                                   policy, joint(expert), joint(samples), key, gamma)

    def train_zero_sum(state: AdversarialState, expert: Transition, key: PRNGKey):
        """The zero-sum discriminator's steps on expert states (see the module docstring):
        the policy's own actions at those states are drawn first."""
        act_key, key = jax.random.split(key)
        actor = MultiAgentPolicy(state.learner.policy.with_deterministic(False), n,
                                 mappo_config.agent_ids)
        m = expert.obs.shape[0]
        policy_actions = jax.vmap(actor)(expert.obs, jax.random.split(act_key, m))
        team0 = jnp.reshape(signs > 0, (1, n) + (1,) * (expert.action.ndim - 2))

        def mixed(first: Array, second: Array) -> Transition:
            return joint(expert._replace(action=jnp.where(team0, first, second)))

        disc = state.discriminator
        k = adv.disc_steps
        size = m // k

        def features(tr: Transition):
            return jax.tree.map(lambda a: jnp.reshape(a, (k, size) + a.shape[1:]),
                                disc.features(tr))

        inputs = (features(mixed(expert.action, policy_actions)),
                  features(joint(expert)),
                  features(mixed(policy_actions, expert.action)))

        def loss(net, xs):
            parts, k_gp = xs
            return zero_sum_objective(net, disc, parts, k_gp, adv)

        return discriminator_steps(loss, disc, state.disc_opt_state, disc_opt,
                                   (inputs, jax.random.split(key, k)))

    def update(state: AdversarialState, batch: Transition) -> AdversarialState:
        if batch is None or batch.action is None:
            raise ValueError("batch: MAGAIL needs expert demonstrations with actions; pass "
                             "demos to jaxil.train")
        per_step = samples_per_step(batch, adv, "MAGAILConfig.adversarial")
        count = per_step * adv.disc_steps
        expert = jax.tree.map(lambda a: a[:count], batch)

        def relabel_and_train(learner, rollout, key, sample_key, disc_key):
            del learner, key
            tr = rollout.transitions
            rewards = rewards_of(state, tr)
            samples, _ = policy_samples(tr, None, sample_key, count)
            disc, disc_opt_state, disc_metrics = train_disc(state, expert, samples, disc_key)
            metrics = {**{k: jnp.mean(v) for k, v in disc_metrics.items()},
                       "relabelled_reward": jnp.mean(rewards)}
            return rewards, (disc, disc_opt_state), metrics

        out = online_round(
            state.key, state.env_state, state.learner, state.episodes,
            **mappo_steps(venv, env, mappo_config), relabel_fn=relabel_and_train,
            track_fn=team_episodes, relabel_keys=2)
        disc, disc_opt_state = out.extra
        metrics = {k: jnp.asarray(out.metrics[k], jnp.float32) for k in state.metrics}
        learner, bc_opt_state = out.learner, state.bc_opt_state
        if adv.bc_steps_per_update > 0:  # on every agent's rows of the whole expert batch
            learner, bc_opt_state = bc_regularize(
                learner, bc_opt_state, agent_rows(batch, mappo_config.agent_ids), adv)
        return AdversarialState(learner, disc, disc_opt_state, out.env_state, out.episodes,
                                None, out.key, state.step + 1, metrics,
                                bc_opt_state=bc_opt_state)

    def policy(state: AdversarialState) -> MultiAgentPolicy:
        return multiagent_policy(state.learner, env, mappo_config)

    return Algorithm(init, update, policy, env.spec)


def independent_gail(env: Env, config: MAGAILConfig | None = None) -> Algorithm:
    """Independent GAIL, the MAGAIL paper's baseline: one discriminator per agent on its own
    `(o_i, a_i)` and a decentralised critic, so each agent learns as if the others were
    part of the environment; `magail` with `prior="decentralized"` and
    `mappo.centralized_critic=False` (the other settings of `config` are kept)."""
    config = MAGAILConfig() if config is None else config
    mappo_config = dataclasses.replace(config.mappo, centralized_critic=False)
    return magail(env, dataclasses.replace(config, prior="decentralized", mappo=mappo_config))


__all__ = ["MAGAILConfig", "PRIORS", "agent_view", "disc_specs",
           "independent_gail", "joint_actions", "joint_view", "magail"]
