"""The one adversarial-imitation update loop that GAIL, AIRL, GAIfO and f-GAIL share: the
orchestration of the pure pieces in `jaxil.adversarial.steps`.

A method is an `AdversarialMethod` (`jaxil.adversarial.method`): which inputs its
discriminator sees, a logits function, the divergence its discriminator estimates and a
reward mapping. `adversarial` turns one into an `Algorithm` whose
`update(state, expert_batch)` is, as one pure function:

1. roll the current policy out for `T` steps in `B` vectorised environments (PPO's
   `collect`; the transitions keep the true final observation and `terminated` apart from
   `truncated`);
2. relabel the rollout's rewards with the discriminator (`steps.relabel`),
   `r = clip(mapping(logits))`;
   with the absorbing-state option, centred on the absorbing state's reward,
   `r - r_abs` (`centre_on_absorbing`: the same optimal policy as staying absorbed
   forever after a termination, without a lump at the terminal step), or, with one
   absorbing state per terminal observation, centred on the neutral reward with the value
   of the terminal step's own absorbing state added there (`absorbing_lumps`);
3. take `disc_steps` discriminator steps (`steps.train_discriminator`), each on a slice
   of the expert batch against as many policy samples (`steps.policy_samples`: from this
   rollout, or from a replay of recent rollouts), with an optional gradient penalty;
4. run PPO's epochs on the relabelled rewards (GAE bootstraps through truncation, not
   through termination).

Steps 1 and 4, with the episode tracking, are PPO's own online round
(`jaxil.rl.ppo.online_round`); steps 2 and 3 are the `relabel_fn` this loop gives it.

`reward_transfer` is PPO from scratch on a fixed `LearnedReward`
(`jaxil.rl.ppo(env, config, reward_fn=reward)`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxil.adversarial.inputs import guard_horizon
from jaxil.adversarial.method import (
    AdversarialConfig,
    AdversarialMethod,
    LogitsFn,
    check_method,
    resolve_absorbing,
    samples_per_step,
    uses_bc,
)
from jaxil.adversarial.networks import Discriminator, make_discriminator
from jaxil.adversarial.rewards import LearnedReward
from jaxil.adversarial.steps import (
    action_log_probs,
    discriminator_optimizer,
    policy_samples,
    relabel,
    train_discriminator,
)
from jaxil.core import Algorithm
from jaxil.data.buffer import BufferState, buffer_add, buffer_init
from jaxil.data.sampling import sample_batch
from jaxil.envs.base import Env, EnvState
from jaxil.envs.wrappers import vectorize
from jaxil.networks.cloning import bc_loss
from jaxil.networks.normalizer import normalizer_from_data
from jaxil.networks.policy import ActorPolicy
from jaxil.rl.episodes import EpisodeStats, init_episode_stats, track_transitions
from jaxil.rl.ppo import (
    EPISODE_METRICS,
    LEARN_METRICS,
    PPOConfig,
    PPOLearner,
    PPOState,
    check_config,
    init_learner,
    online_round,
    ppo,
    ppo_steps,
)
from jaxil.types import Array, EnvSpec, Metrics, PRNGKey, Transition

__all__ = [  # the method's pieces live in `method` and `steps`; re-exported here
    "AdversarialConfig", "AdversarialMethod", "AdversarialState", "DISC_METRICS",
    "Extension", "LogitsFn", "TransferState", "action_log_probs", "adversarial", "bc_warm_start",
    "example_transition", "reward_transfer", "zero_metrics",
]

DISC_METRICS = ("disc_loss", "disc_grad_penalty", "disc_expert_accuracy",
                "disc_policy_accuracy", "disc_expert_logit", "disc_policy_logit",
                "disc_grad_norm", "disc_absorbing_logit", "relabelled_reward")
"""Names of the `[]` discriminator metrics of `AdversarialState.metrics`."""

class Extension(NamedTuple):
    """What a method adds to the shared loop without touching it (InfoGAIL's latent code
    and posterior: `jaxil.algorithms.infogail`).

    Attributes:
        acting_env: `acting_env(env) -> Env`, the environment the policy acts in (e.g. `env`
            with a latent code appended to its observations); demonstrations stay in `env`.
        disc_view: `disc_view(transitions) -> transitions`, what the discriminator (and the
            replay) sees of the policy's transitions: `env`'s observations.
        init: `init(key) -> extension state`.
        step: `step(ext_state, transitions[T, B], key) -> (ext_state, rewards[T, B],
            metrics)`: trains the extension's networks on the rollout and returns rewards
            added to the discriminator's.
        metrics: the names of `step`'s metrics.
        acting_demos: `acting_demos(demos[M], key) -> demos[M]`, the demos with the
            observations the acting policy sees (InfoGAIL: a random code appended to each),
            for the BC warm start (`AdversarialConfig.bc_steps`); `None`: no warm start.
    """

    acting_env: Callable[[Env], Env]
    disc_view: Callable[[Transition], Transition]
    init: Callable[[PRNGKey], Any]
    step: Callable[[Any, Transition, PRNGKey], tuple[Any, Array, Metrics]]
    metrics: tuple[str, ...] = ()
    acting_demos: Callable[[Transition, PRNGKey], Transition] | None = None


class AdversarialState(NamedTuple):
    """State of an adversarial `Algorithm`.

    Attributes:
        learner: the `PPOLearner` (policy, value network, optimiser state).
        discriminator: the `Discriminator` (its `net` is trained; its normaliser is fixed
            unless `config.running_input_stats`).
        disc_opt_state: the discriminator's optimiser state.
        env_state: state of the `B` vectorised environments.
        episodes: `EpisodeStats` of the environment's (true) returns.
        replay: `BufferState` of recent policy transitions, or `None`.
        key: PRNG key for the next update.
        step: `[]` int32, updates done.
        metrics: `DISC_METRICS + LEARN_METRICS + EPISODE_METRICS` (and an extension's),
            `[]` float32 each.
        extension: the state of the method's `Extension` (`None` without one).
        bc_opt_state: the Adam state of the BC steps taken after each update
            (`AdversarialConfig.bc_steps_per_update`; `None` when they are off).
    """

    learner: PPOLearner
    discriminator: Discriminator
    disc_opt_state: optax.OptState
    env_state: EnvState
    episodes: EpisodeStats
    replay: BufferState | None
    key: PRNGKey
    step: Array
    metrics: Metrics
    extension: Any = None
    bc_opt_state: optax.OptState | None = None


def zero_metrics(extra: tuple[str, ...] = ()) -> Metrics:
    """Every metric name of `AdversarialState.metrics` (plus `extra`), `[]` float32 zeros."""
    return {k: jnp.zeros((), jnp.float32)
            for k in DISC_METRICS + LEARN_METRICS + EPISODE_METRICS + tuple(extra)}


def example_transition(spec: EnvSpec) -> Transition:
    """One all-zero transition shaped like the environment's (for replay buffers)."""
    obs = jnp.zeros((spec.observation_size,), jnp.float32)
    if spec.discrete:
        action = jnp.zeros((), jnp.int32)
    else:
        action = jnp.zeros(spec.action_space.shape, jnp.float32)
    false = jnp.zeros((), bool)
    return Transition(obs, action, jnp.zeros((), jnp.float32), obs, false, false)


def bc_step(policy: ActorPolicy, opt_state: optax.OptState, demos: Transition,
            optimizer: optax.GradientTransformation) -> tuple[ActorPolicy, optax.OptState]:
    """One `optimizer` step of behavioural cloning of `policy` on `demos[M]`
    (`bc_loss`: the mean negative log-likelihood of the demos' actions); the policy's
    normaliser is kept."""

    def loss_fn(net):
        return bc_loss(ActorPolicy(net, policy.normalizer), demos.obs, demos.action)[0]

    network = policy.network
    grads = eqx.filter_grad(loss_fn)(network)
    updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(network, eqx.is_array))
    return (ActorPolicy(eqx.apply_updates(network, updates), policy.normalizer,
                        policy.deterministic), opt_state)


def bc_optimizer(config: AdversarialConfig) -> optax.GradientTransformation:
    """The optimiser of the BC steps taken after each update: Adam at
    `config.bc_learning_rate`."""
    return optax.adam(config.bc_learning_rate)


def bc_regularize(learner: PPOLearner, opt_state: optax.OptState, demos: Transition,
                  config: AdversarialConfig) -> tuple[PPOLearner, optax.OptState]:
    """`config.bc_steps_per_update` BC steps (`bc_step` with `bc_optimizer`) of the
    learner's policy on the whole expert batch `demos[M]`: what an update does after its
    policy step."""
    optimizer = bc_optimizer(config)

    def step(carry, _):
        return bc_step(*carry, demos, optimizer), None

    (policy, opt_state), _ = jax.lax.scan(step, (learner.policy, opt_state), None,
                                          length=config.bc_steps_per_update)
    return learner._replace(policy=policy), opt_state


def bc_optimizer_state(policy: ActorPolicy, config: AdversarialConfig) -> optax.OptState | None:
    """The initial state of `bc_optimizer` for `policy`, or `None` when
    `config.bc_steps_per_update` is 0."""
    if config.bc_steps_per_update == 0:
        return None
    return bc_optimizer(config).init(eqx.filter(policy.network, eqx.is_array))


def bc_warm_start(policy: ActorPolicy, demos: Transition, key: PRNGKey, steps: int,
                  batch_size: int, learning_rate: Array | float) -> ActorPolicy:
    """`steps` Adam steps of behavioural cloning on `demos[M]`, from `policy`.

    The policy's normaliser is set to the demos' statistics first.
    """
    policy = ActorPolicy(policy.network, normalizer_from_data(demos.obs), policy.deterministic)
    optimizer = optax.adam(learning_rate)

    def step(carry, k):
        return bc_step(*carry, sample_batch(demos, k, batch_size), optimizer), None

    opt_state = optimizer.init(eqx.filter(policy.network, eqx.is_array))
    (policy, _), _ = jax.lax.scan(step, (policy, opt_state), jax.random.split(key, steps))
    return policy


def adversarial(env: Env, method: AdversarialMethod, config: AdversarialConfig,
                ppo_config: PPOConfig, extension: Extension | None = None) -> Algorithm:
    """An adversarial imitation method as an `Algorithm` (see the module docstring).

    `init(key, demos)` builds the policy (optionally BC-warm-started on `demos`), the
    discriminator (its input normaliser from `demos.obs`) and `ppo_config.num_envs`
    environments, and checks the demos' horizons against the reward's sign;
    `update(state, batch)` is one collect / relabel / discriminator / PPO round on the
    expert batch `batch[N]` (`N >= disc_steps`); `policy(state)` is the `ActorPolicy`.

    Args:
        env: one environment with a time limit (e.g. `jaxil.envs.make("cartpole")`).
        method: the `AdversarialMethod`.
        config: the shared `AdversarialConfig`.
        ppo_config: the `PPOConfig` of the policy optimiser (its `gamma` is also the
            discount of AIRL's shaping and of the absorbing state).
        extension: what a method adds to the loop (an `Extension`), or `None`.
    """
    config = resolve_absorbing(method, config, extension is not None)
    check_method(method, config)
    spec = env.spec
    acting = env
    if extension is not None:
        if method.uses_log_prob:
            raise ValueError(f"{method.config_path}: an extended method's policy acts on "
                             "other observations than the demos' (no log-probability "
                             "logits)")
        for field in ("bc_steps", "bc_steps_per_update"):
            if getattr(config, field) > 0 and extension.acting_demos is None:
                raise ValueError(f"{method.config_path}.{field}: this method's policy acts "
                                 "on other observations than the demos' and it gives no way "
                                 "to map the demos to them (no behavioural cloning)")
        acting = extension.acting_env(env)
    check_config(acting.spec, ppo_config)
    venv = vectorize(acting, ppo_config.num_envs)
    view = (lambda tr: tr) if extension is None else extension.disc_view
    extra_metrics = () if extension is None else tuple(extension.metrics)
    gamma = ppo_config.gamma
    needs_actions = "a" in method.inputs or method.uses_log_prob or uses_bc(config)
    disc_opt = discriminator_optimizer(config)

    def init(key: PRNGKey, demos: Transition | None = None) -> AdversarialState:
        if demos is not None and needs_actions and demos.action is None:
            raise ValueError(f"demos: {method.name} needs demonstrations with actions "
                             "(these are state-only)")
        step = guard_horizon(jnp.zeros((), jnp.int32), demos, method.reward.sign,
                             config.absorbing_state, config.allow_variable_horizon,
                             method.name, method.reward.name, method.config_path)
        learner_key, disc_key, env_key, bc_key, key = jax.random.split(key, 5)
        learner = init_learner(acting.spec, ppo_config, learner_key)
        normalizer = None
        if demos is not None and config.normalize_inputs:
            normalizer = normalizer_from_data(demos.obs)
        disc = make_discriminator(spec, method.inputs, disc_key, config.hidden_sizes,
                                  config.activation, method.shaping, normalizer,
                                  config.absorbing_state, method.network, method.extras,
                                  config.absorbing_per_terminal)
        if config.bc_steps > 0:
            if demos is None:
                raise ValueError(f"{method.config_path}.bc_steps: a BC warm start needs "
                                 "demos; pass them to jaxil.train")
            bc_demos = demos
            if extension is not None:  # the demos as the acting policy sees them
                bc_key, view_key = jax.random.split(bc_key)
                bc_demos = extension.acting_demos(demos, view_key)
            policy = bc_warm_start(learner.policy, bc_demos, bc_key, config.bc_steps,
                                   config.bc_batch_size, config.bc_learning_rate)
            learner = learner._replace(policy=policy)
        replay = None
        if config.replay_rollouts > 0:
            replay = buffer_init(example_transition(spec), config.replay_rollouts
                                 * ppo_config.batch_size)
        ext = None
        if extension is not None:  # its own key: the other pieces start as without it
            ext = extension.init(jax.random.fold_in(key, 1))
        return AdversarialState(learner, disc, disc_opt.init(eqx.filter(disc.net, eqx.is_array)),
                                venv.reset(env_key), init_episode_stats(ppo_config.num_envs),
                                replay, key, step, zero_metrics(extra_metrics), ext,
                                bc_optimizer_state(learner.policy, config))

    def update(state: AdversarialState, batch: Transition) -> AdversarialState:
        if batch is None:
            raise ValueError(f"batch: {method.name} needs expert demonstrations; pass demos "
                             "to jaxil.train")
        if needs_actions and batch.action is None:
            raise ValueError(f"batch: {method.name} needs expert actions (the demos are "
                             "state-only)")
        n = samples_per_step(batch, config, method.config_path)
        count = n * config.disc_steps
        expert = jax.tree.map(lambda a: a[:count], batch)

        def relabel_and_train(learner, rollout, key, sample_key, disc_key):
            tr = view(rollout.transitions)
            # the rollout's exact log-probabilities of its own actions (AIRL's logits)
            log_probs = rollout.log_probs if method.uses_log_prob else None
            rewards = relabel(method, config, state.discriminator, learner.policy, tr, gamma,
                              log_probs)
            ext, ext_metrics = state.extension, {}
            if extension is not None:
                ext, extra, ext_metrics = extension.step(ext, rollout.transitions,
                                                         jax.random.fold_in(key, 1))
                rewards = rewards + extra
            replay = None if state.replay is None else buffer_add(state.replay, tr)
            samples, sample_log_probs = policy_samples(tr, replay, sample_key, count,
                                                       log_probs)
            disc, disc_opt_state, disc_metrics = train_discriminator(
                method, config, state.discriminator, state.disc_opt_state, learner.policy,
                expert, samples, disc_key, gamma, sample_log_probs)
            metrics = {**disc_metrics, "relabelled_reward": jnp.mean(rewards), **ext_metrics}
            return rewards, (disc, disc_opt_state, replay, ext), metrics

        out = online_round(
            state.key, state.env_state, state.learner, state.episodes,
            **ppo_steps(venv, ppo_config),
            relabel_fn=relabel_and_train,
            track_fn=lambda episodes, tr: track_transitions(episodes, view(tr)),
            relabel_keys=2)
        disc, disc_opt_state, replay, ext = out.extra
        metrics = {k: jnp.asarray(out.metrics[k], jnp.float32) for k in state.metrics}
        learner, bc_opt_state = out.learner, state.bc_opt_state
        if config.bc_steps_per_update > 0:
            rows = batch if extension is None else \
                extension.acting_demos(batch, jax.random.fold_in(state.key, 2))
            learner, bc_opt_state = bc_regularize(learner, bc_opt_state, rows, config)
        return AdversarialState(learner, disc, disc_opt_state, out.env_state, out.episodes,
                                replay, out.key, state.step + 1, metrics, ext, bc_opt_state)

    def policy(state: AdversarialState) -> ActorPolicy:
        return state.learner.policy.with_deterministic(ppo_config.deterministic_policy)

    return Algorithm(init, update, policy, env.spec)


TransferState = PPOState
"""State of `reward_transfer`: PPO's state (kept as a name for compatibility)."""


def reward_transfer(env: Env, reward: LearnedReward, config: PPOConfig) -> Algorithm:
    """PPO from scratch on a learned reward (e.g. AIRL's `g`), ignoring the env's reward:
    `jaxil.rl.ppo(env, config, reward_fn=reward)`. `metrics["episode_return"]` still
    tracks the environment's own return, to measure how well the reward transfers.

    Args:
        env: one environment with a time limit (it may differ from the training one in
            its dynamics, as long as observations and actions match).
        reward: the `LearnedReward` (a pytree; it is not trained further).
        config: the `PPOConfig`.
    """
    return ppo(env, config, reward_fn=reward)
