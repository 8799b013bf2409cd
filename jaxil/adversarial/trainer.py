"""The one adversarial-imitation update loop that GAIL, AIRL, GAIfO and f-GAIL share.

A method is an `AdversarialMethod`: which inputs its discriminator sees, a logits
function, the divergence its discriminator estimates and a reward mapping. `adversarial`
turns one into an `Algorithm` whose `update(state, expert_batch)` is, as one pure function:

1. roll the current policy out for `T` steps in `B` vectorised environments (PPO's
   `collect`; the transitions keep the true final observation and `terminated` apart from
   `truncated`);
2. relabel the rollout's rewards with the discriminator, `r = clip(mapping(logits))`;
   with the absorbing-state option, centred on the absorbing state's reward,
   `r - r_abs` (`centre_on_absorbing`: the same optimal policy as staying absorbed
   forever after a termination, without a lump at the terminal step);
3. take `disc_steps` discriminator steps, each on a slice of the expert batch against as
   many policy samples (from this rollout, or from a replay of recent rollouts), with an
   optional gradient penalty;
4. run PPO's epochs on the relabelled rewards (GAE bootstraps through truncation, not
   through termination).

`reward_transfer` is PPO from scratch on a fixed `LearnedReward`
(`jaxil.rl.ppo(env, config, reward_fn=reward)`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxil.adversarial.divergences import DIVERGENCES, FDivergence
from jaxil.adversarial.inputs import (
    DiscInputs,
    check_horizon,
    horizon_message,
    without_indicator_gradient,
)
from jaxil.adversarial.losses import (
    GP_KINDS,
    accuracy,
    discriminator_loss,
    gradient_penalty,
)
from jaxil.adversarial.networks import (
    INPUT_KINDS,
    Discriminator,
    DiscriminatorNet,
    make_discriminator,
)
from jaxil.adversarial.rewards import (
    LearnedReward,
    RewardMapping,
    absorbing_bootstrap,
    centre_on_absorbing,
)
from jaxil.core import Algorithm
from jaxil.data.buffer import BufferState, buffer_add, buffer_init, buffer_sample
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
    collect,
    init_learner,
    learn,
    ppo,
)
from jaxil.types import Array, EnvSpec, Metrics, PRNGKey, Transition

LogitsFn = Callable[[DiscriminatorNet, DiscInputs, Array, Array], Array]
"""`logits(net, x, log_prob, gamma) -> []` for one sample `x` (see `AdversarialMethod`)."""

DISC_METRICS = ("disc_loss", "disc_grad_penalty", "disc_expert_accuracy",
                "disc_policy_accuracy", "disc_expert_logit", "disc_policy_logit",
                "disc_grad_norm", "disc_absorbing_logit", "relabelled_reward")
"""Names of the `[]` discriminator metrics of `AdversarialState.metrics`."""

class AdversarialMethod(NamedTuple):
    """What makes one adversarial method differ from another.

    Attributes:
        name: the method's name (for messages).
        inputs: what `g` sees, one of `INPUT_KINDS` (`"sa"` GAIL, `"ss"` GAIfO, ...).
        logits: `logits(net, x, log_prob, gamma) -> []` for one sample: `x` the
            `DiscInputs`, `log_prob` the policy's `log pi(a | s)` (0 unless
            `uses_log_prob`), `gamma` the discount. The discriminator is
            `D = sigmoid(logits)` and the expert is labelled 1.
        reward: the `RewardMapping` from logits to the policy's reward.
        divergence: the `FDivergence` the discriminator's loss estimates (`"gan"` is the
            binary cross-entropy).
        shaping: build AIRL's state potential `h`.
        uses_log_prob: the logits need `log pi(a | s)` of the current policy.
        config_path: where the shared options live in the method's config, for messages.
    """

    name: str
    inputs: str
    logits: LogitsFn
    reward: RewardMapping
    divergence: FDivergence = DIVERGENCES["gan"]
    shaping: bool = False
    uses_log_prob: bool = False
    config_path: str = "config.adversarial"


class AdversarialConfig(eqx.Module):
    """Settings shared by every adversarial method (the discriminator side).

    Static (fix shapes and loop counts):
        hidden_sizes: discriminator widths.
        activation: discriminator hidden activation.
        disc_steps: discriminator steps per update `k`; each uses `batch_size // k` expert
            samples of the update's expert batch against as many policy samples.
        gradient_penalty: `"expert"` (default: zero-centred on expert samples, R1),
            `"interpolate"` (on expert-policy interpolates, centred on `gp_target`) or
            `"none"`.
        absorbing_state: DAC-style absorbing state after terminal steps, never after
            time-outs (see `jaxil.adversarial.inputs`): its reward `r_abs` is learned and
            every relabelled reward is centred on it (`r - r_abs`), so a termination pays
            exactly what the discriminator says the absorbing state is worth against the
            states it cuts off. Off by default: from demos whose episodes end early some
            seeds still settle on ending episodes at once (the occupancy-matching
            objective is nearly indifferent there), and a goal task was not learned; see
            `benchmarks/RESULTS.md`, "Adversarial imitation at episode ends".
        allow_variable_horizon: accept demos with early terminations for a signed reward
            without an absorbing state (the bias is then the user's choice).
        replay_rollouts: if `> 0`, policy samples for the discriminator come from a replay
            of the last this-many rollouts instead of the current one only.
        bc_steps: if `> 0`, behavioural-cloning steps on the demos warm-start the policy in
            `init`.
        bc_batch_size: expert transitions per BC step.
        normalize_inputs: standardise the discriminator's observations with the demos'
            statistics (fixed at `init`).

    Floats (may be arrays: a config can be vmapped for a sweep):
        disc_learning_rate, disc_max_grad_norm, gp_weight, gp_target (the norm the
        interpolate penalty pulls to: 0 zero-centred, 1 WGAN-GP), reward_clip (rewards
        are clipped to `[-reward_clip, reward_clip]`), bc_learning_rate, absorbing_weight
        (with an absorbing state: the weight, per terminal step, of the absorbing state's
        self-transition among the discriminator's samples of the same side. `None`, the
        default, is `gamma / (1 - gamma)` (`absorbing_bootstrap`): the discounted number
        of steps spent absorbed after a termination, the weight the absorbing state's
        reward has in the return, so the discriminator prices the absorbing state by that
        occupancy. `1` counts it once, as DAC's replay buffer does).
    """

    hidden_sizes: tuple[int, ...] = eqx.field(static=True, default=(64, 64))
    activation: str = eqx.field(static=True, default="tanh")
    disc_steps: int = eqx.field(static=True, default=1)
    gradient_penalty: str = eqx.field(static=True, default="expert")
    absorbing_state: bool = eqx.field(static=True, default=False)
    allow_variable_horizon: bool = eqx.field(static=True, default=False)
    replay_rollouts: int = eqx.field(static=True, default=0)
    bc_steps: int = eqx.field(static=True, default=0)
    bc_batch_size: int = eqx.field(static=True, default=256)
    normalize_inputs: bool = eqx.field(static=True, default=True)
    disc_learning_rate: float | Array = 1e-3
    disc_max_grad_norm: float | Array = 10.0
    gp_weight: float | Array = 3.0
    gp_target: float | Array = 0.0
    reward_clip: float | Array = 10.0
    bc_learning_rate: float | Array = 1e-3
    absorbing_weight: float | Array | None = None


class AdversarialState(NamedTuple):
    """State of an adversarial `Algorithm`.

    Attributes:
        learner: the `PPOLearner` (policy, value network, optimiser state).
        discriminator: the `Discriminator` (its `net` is trained, its normaliser fixed).
        disc_opt_state: the discriminator's optimiser state.
        env_state: state of the `B` vectorised environments.
        episodes: `EpisodeStats` of the environment's (true) returns.
        replay: `BufferState` of recent policy transitions, or `None`.
        key: PRNG key for the next update.
        step: `[]` int32, updates done.
        metrics: `DISC_METRICS + LEARN_METRICS + EPISODE_METRICS`, `[]` float32 each.
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


def zero_metrics() -> Metrics:
    """Every metric name of `AdversarialState.metrics`, `[]` float32 zeros."""
    return {k: jnp.zeros((), jnp.float32)
            for k in DISC_METRICS + LEARN_METRICS + EPISODE_METRICS}


def action_log_probs(policy: ActorPolicy, obs: Array, actions: Array) -> Array:
    """`[N]` log-probabilities `log pi(a | s)` of environment actions `actions[N, ...]`
    (`ActorPolicy.log_prob`: actions of a squashed head are moved inside the bounds)."""
    return jax.vmap(policy.log_prob)(obs, actions)


def example_transition(spec: EnvSpec) -> Transition:
    """One all-zero transition shaped like the environment's (for replay buffers)."""
    obs = jnp.zeros((spec.observation_size,), jnp.float32)
    if spec.discrete:
        action = jnp.zeros((), jnp.int32)
    else:
        action = jnp.zeros(spec.action_space.shape, jnp.float32)
    false = jnp.zeros((), bool)
    return Transition(obs, action, jnp.zeros((), jnp.float32), obs, false, false)


def _flatten(tree, lead: int):
    return jax.tree.map(lambda a: jnp.reshape(a, (-1,) + a.shape[lead:]), tree)


def bc_warm_start(policy: ActorPolicy, demos: Transition, key: PRNGKey, steps: int,
                  batch_size: int, learning_rate: Array | float) -> ActorPolicy:
    """`steps` Adam steps of behavioural cloning on `demos[M]`, from `policy`.

    The policy's normaliser is set to the demos' statistics first.
    """
    policy = ActorPolicy(policy.network, normalizer_from_data(demos.obs), policy.deterministic)
    optimizer = optax.adam(learning_rate)

    def step(carry, k):
        network, opt_state = carry
        batch = sample_batch(demos, k, batch_size)

        def loss_fn(net):
            return bc_loss(ActorPolicy(net, policy.normalizer), batch.obs, batch.action)[0]

        grads = eqx.filter_grad(loss_fn)(network)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(network,
                                                                           eqx.is_array))
        return (eqx.apply_updates(network, updates), opt_state), None

    network = policy.network
    opt_state = optimizer.init(eqx.filter(network, eqx.is_array))
    (network, _), _ = jax.lax.scan(step, (network, opt_state), jax.random.split(key, steps))
    return ActorPolicy(network, policy.normalizer, policy.deterministic)


def _check(method: AdversarialMethod, config: AdversarialConfig) -> None:
    if method.inputs not in INPUT_KINDS:
        raise ValueError(f"inputs: expected one of {INPUT_KINDS}, got {method.inputs!r}")
    if config.gradient_penalty not in GP_KINDS:
        raise ValueError(f"{method.config_path}.gradient_penalty: expected one of "
                         f"{GP_KINDS}, got {config.gradient_penalty!r}")
    for name in ("disc_steps", "bc_batch_size"):
        if getattr(config, name) < 1:
            raise ValueError(f"{method.config_path}.{name}: expected >= 1, "
                             f"got {getattr(config, name)}")
    for name in ("replay_rollouts", "bc_steps"):
        if getattr(config, name) < 0:
            raise ValueError(f"{method.config_path}.{name}: expected >= 0, "
                             f"got {getattr(config, name)}")


def adversarial(env: Env, method: AdversarialMethod, config: AdversarialConfig,
                ppo_config: PPOConfig) -> Algorithm:
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
    """
    _check(method, config)
    check_config(env.spec, ppo_config)
    spec = env.spec
    venv = vectorize(env, ppo_config.num_envs)
    gamma = ppo_config.gamma
    needs_actions = "a" in method.inputs or method.uses_log_prob or config.bc_steps > 0
    rollout_size = ppo_config.batch_size
    disc_opt = optax.chain(optax.clip_by_global_norm(config.disc_max_grad_norm),
                           optax.adam(config.disc_learning_rate))
    signed = method.reward.sign != 0 and not (config.absorbing_state
                                               or config.allow_variable_horizon)
    absorbing_weight = (absorbing_bootstrap(gamma) if config.absorbing_weight is None
                        else config.absorbing_weight)

    def batch_logits(net: DiscriminatorNet, x: DiscInputs, log_probs: Array) -> Array:
        return jax.vmap(method.logits, in_axes=(None, 0, 0, None))(net, x, log_probs, gamma)

    def log_probs_of(policy: ActorPolicy, tr: Transition) -> Array:
        if not method.uses_log_prob:
            return jnp.zeros(tr.terminated.shape, jnp.float32)
        return action_log_probs(policy, tr.obs, tr.action)

    def to_reward(logits: Array) -> Array:
        return jnp.clip(method.reward.fn(logits), -config.reward_clip, config.reward_clip)

    def relabel(disc: Discriminator, policy: ActorPolicy, tr: Transition) -> Array:
        """`[T, B]` rewards of a rollout `tr[T, B]` under the current discriminator."""
        flat = _flatten(tr, 2)
        logits = batch_logits(disc.net, disc.features(flat), log_probs_of(policy, flat))
        rewards = jnp.reshape(to_reward(logits), tr.terminated.shape)
        if config.absorbing_state:
            absorbed = to_reward(method.logits(disc.net, disc.absorbing_features(),
                                               jnp.zeros(()), gamma))
            rewards = centre_on_absorbing(rewards, absorbed)
        return rewards

    def disc_loss_fn(net: DiscriminatorNet, disc: Discriminator, expert: tuple,
                     policy: tuple, key: PRNGKey) -> tuple[Array, Metrics]:
        (ex, elp, eterm), (px, plp, pterm) = expert, policy
        el = batch_logits(net, ex, elp)
        pl = batch_logits(net, px, plp)
        if config.absorbing_state:
            al = method.logits(net, disc.absorbing_features(), jnp.zeros(()), gamma)
            ones = jnp.ones(el.shape, jnp.float32)
            loss = discriminator_loss(
                jnp.concatenate([el, al[None]]), jnp.concatenate([pl, al[None]]),
                method.divergence,
                jnp.concatenate([ones, absorbing_weight * jnp.sum(eterm, keepdims=True)]),
                jnp.concatenate([ones, absorbing_weight * jnp.sum(pterm, keepdims=True)]))
        else:
            al = jnp.zeros(())
            loss = discriminator_loss(el, pl, method.divergence)

        def one_logit(x: DiscInputs) -> Array:
            if config.absorbing_state:
                x = without_indicator_gradient(x)
            else:
                x = x._replace(continuing=jax.lax.stop_gradient(x.continuing))
            return method.logits(net, x, jnp.zeros(()), gamma)

        gp = gradient_penalty(one_logit, ex, px, key, config.gradient_penalty,
                              config.gp_target)
        total = loss + config.gp_weight * gp
        e_acc, p_acc = accuracy(el, pl)
        metrics = {"disc_loss": loss, "disc_grad_penalty": gp, "disc_expert_accuracy": e_acc,
                   "disc_policy_accuracy": p_acc, "disc_expert_logit": jnp.mean(el),
                   "disc_policy_logit": jnp.mean(pl), "disc_absorbing_logit": al}
        return total, metrics

    def train_discriminator(disc: Discriminator, opt_state: optax.OptState,
                            policy: ActorPolicy, expert: Transition, samples: Transition,
                            key: PRNGKey) -> tuple[Discriminator, optax.OptState, Metrics]:
        """`disc_steps` steps; `expert` and `samples` are `[k * n]` transitions."""
        k = config.disc_steps
        n = expert.terminated.shape[0] // k

        def prepare(tr: Transition) -> tuple:
            x = disc.features(tr)
            parts = (x, log_probs_of(policy, tr), tr.terminated.astype(jnp.float32))
            return jax.tree.map(lambda a: jnp.reshape(a, (k, n) + a.shape[1:]), parts)

        grad_fn = eqx.filter_value_and_grad(disc_loss_fn, has_aux=True)

        def step(carry, xs):
            net, opt_state = carry
            expert_part, policy_part, k_gp = xs
            (_, metrics), grads = grad_fn(net, disc, expert_part, policy_part, k_gp)
            metrics["disc_grad_norm"] = optax.global_norm(grads)
            updates, opt_state = disc_opt.update(grads, opt_state,
                                                 eqx.filter(net, eqx.is_array))
            return (eqx.apply_updates(net, updates), opt_state), metrics

        (net, opt_state), metrics = jax.lax.scan(
            step, (disc.net, opt_state),
            (prepare(expert), prepare(samples), jax.random.split(key, k)))
        metrics = {name: jnp.mean(v) for name, v in metrics.items()}
        return eqx.tree_at(lambda d: d.net, disc, net), opt_state, metrics

    def policy_samples(rollout: Transition, replay: BufferState | None, key: PRNGKey,
                       count: int) -> Transition:
        if replay is not None:
            return buffer_sample(replay, key, count)
        flat = _flatten(rollout, 2)
        if count <= rollout_size:
            idx = jax.random.permutation(key, rollout_size)[:count]
        else:
            idx = jax.random.randint(key, (count,), 0, rollout_size)
        return jax.tree.map(lambda a: a[idx], flat)

    def init(key: PRNGKey, demos: Transition | None = None) -> AdversarialState:
        if demos is not None and needs_actions and demos.action is None:
            raise ValueError(f"demos: {method.name} needs demonstrations with actions "
                             "(these are state-only)")
        check_horizon(demos, method.reward.sign, config.absorbing_state,
                      config.allow_variable_horizon, method.name, method.reward.name,
                      method.config_path)
        learner_key, disc_key, env_key, bc_key, key = jax.random.split(key, 5)
        learner = init_learner(spec, ppo_config, learner_key)
        normalizer = None
        if demos is not None and config.normalize_inputs:
            normalizer = normalizer_from_data(demos.obs)
        disc = make_discriminator(spec, method.inputs, disc_key, config.hidden_sizes,
                                  config.activation, method.shaping, normalizer,
                                  config.absorbing_state)
        if config.bc_steps > 0:
            if demos is None:
                raise ValueError(f"{method.config_path}.bc_steps: a BC warm start needs "
                                 "demos; pass them to jaxil.train")
            policy = bc_warm_start(learner.policy, demos, bc_key, config.bc_steps,
                                   config.bc_batch_size, config.bc_learning_rate)
            learner = learner._replace(policy=policy)
        replay = None
        if config.replay_rollouts > 0:
            replay = buffer_init(example_transition(spec), config.replay_rollouts * rollout_size)
        step = jnp.zeros((), jnp.int32)
        if signed and demos is not None:  # traced demos (init under jit): check in-program
            message = horizon_message("some", method.reward.sign, method.name,
                                      method.reward.name, method.config_path)
            step = eqx.error_if(step, jnp.any(demos.terminated), message)
        return AdversarialState(learner, disc, disc_opt.init(eqx.filter(disc.net, eqx.is_array)),
                                venv.reset(env_key), init_episode_stats(ppo_config.num_envs),
                                replay, key, step, zero_metrics())

    def update(state: AdversarialState, batch: Transition) -> AdversarialState:
        if batch is None:
            raise ValueError(f"batch: {method.name} needs expert demonstrations; pass demos "
                             "to jaxil.train")
        if needs_actions and batch.action is None:
            raise ValueError(f"batch: {method.name} needs expert actions (the demos are "
                             "state-only)")
        n = batch.obs.shape[0] // config.disc_steps
        if n < 1:
            raise ValueError(f"batch_size: expected >= {method.config_path}.disc_steps = "
                             f"{config.disc_steps}, got {batch.obs.shape[0]}")
        key, collect_key, sample_key, disc_key, learn_key = jax.random.split(state.key, 5)
        learner = state.learner
        env_state, rollout = collect(venv, state.env_state, learner, collect_key, ppo_config)
        tr = rollout.transitions
        rewards = relabel(state.discriminator, learner.policy, tr)

        replay = None if state.replay is None else buffer_add(state.replay, tr)
        count = n * config.disc_steps
        expert = jax.tree.map(lambda a: a[:count], batch)
        samples = policy_samples(tr, replay, sample_key, count)
        disc, disc_opt_state, disc_metrics = train_discriminator(
            state.discriminator, state.disc_opt_state, learner.policy, expert, samples,
            disc_key)

        learner, ppo_metrics = learn(learner, rollout, rewards, learn_key, ppo_config)
        episodes, episode_metrics = track_transitions(state.episodes, tr)
        metrics = {**disc_metrics, "relabelled_reward": jnp.mean(rewards), **ppo_metrics,
                   **episode_metrics}
        metrics = {k: jnp.asarray(metrics[k], jnp.float32) for k in state.metrics}
        return AdversarialState(learner, disc, disc_opt_state, env_state, episodes, replay,
                                key, state.step + 1, metrics)

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
