"""The pure pieces of one adversarial round, each usable and testable on its own.

Shapes: a rollout is `Transition[T, B]`; expert batches and policy samples are flat,
`Transition[N]`; `k = config.disc_steps` discriminator steps each take `N / k` of both.

- `policy_log_probs`: `[N]` `log pi(a | s)` for methods that need it (AIRL), else zeros;
- `batch_logits`: `[N]` logits of the method's discriminator;
- `relabel`: `[T, B]` rewards of a rollout under the current discriminator;
- `discriminator_objective`: one step's loss (the f-divergence bound, the absorbing
  state's weighted samples, the gradient penalty) and its metrics;
- `train_discriminator`: `k` optimiser steps on slices of the expert batch and the
  policy samples;
- `policy_samples`: the policy transitions the discriminator is trained on (from the
  rollout or a replay buffer).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxil.adversarial.inputs import DiscInputs, absorbing_inputs, without_indicator_gradient
from jaxil.adversarial.losses import accuracy, discriminator_loss, gradient_penalty, weighted_mean
from jaxil.adversarial.method import AdversarialConfig, AdversarialMethod, absorbing_weight
from jaxil.adversarial.networks import Discriminator, DiscriminatorNet
from jaxil.adversarial.rewards import absorbing_lumps, centre_on_absorbing
from jaxil.data.buffer import BufferState, buffer_sample
from jaxil.networks.normalizer import update_normalizer
from jaxil.networks.policy import ActorPolicy
from jaxil.types import Array, Metrics, PRNGKey, Transition


def flatten_leading(tree, lead: int):
    """`tree` with its `lead` leading axes merged into one (`[T, B, ...]` -> `[T * B, ...]`)."""
    return jax.tree.map(lambda a: jnp.reshape(a, (-1,) + a.shape[lead:]), tree)


def action_log_probs(policy: ActorPolicy, obs: Array, actions: Array) -> Array:
    """`[N]` log-probabilities `log pi(a | s)` of environment actions `actions[N, ...]`
    (`ActorPolicy.log_prob`: actions of a squashed head are moved inside the bounds)."""
    return jax.vmap(policy.log_prob)(obs, actions)


def policy_log_probs(method: AdversarialMethod, policy: ActorPolicy, tr: Transition,
                     known: Array | None = None) -> Array:
    """`[N]` `log pi(a | s)` of transitions `tr[N]` if `method.uses_log_prob`, else zeros;
    `known` (`[N]`, the exact log-probabilities the policy's rollout recorded for its own
    samples) is used as it is instead of re-deriving them from the stored actions."""
    if not method.uses_log_prob:
        return jnp.zeros(tr.terminated.shape, jnp.float32)
    if known is not None:
        return known.astype(jnp.float32)
    return action_log_probs(policy, tr.obs, tr.action)


def batch_logits(method: AdversarialMethod, net: DiscriminatorNet, x: DiscInputs,
                 log_probs: Array, gamma: Array | float) -> Array:
    """`[N]` logits of `method`'s discriminator for inputs `x[N]` and `log_probs[N]`."""
    return jax.vmap(method.logits, in_axes=(None, 0, 0, None))(net, x, log_probs, gamma)


def clipped_reward(method: AdversarialMethod, config: AdversarialConfig,
                   logits: Array) -> Array:
    """The method's reward of `logits[...]`, clipped to `[-reward_clip, reward_clip]`."""
    return jnp.clip(method.reward.fn(logits), -config.reward_clip, config.reward_clip)


def capped_absorbing_reward(method: AdversarialMethod, config: AdversarialConfig,
                            logits: Array) -> Array:
    """The clipped reward of absorbing-state `logits[...]` capped at the divergence's
    `neutral_logit` (see `relabel`)."""
    return clipped_reward(method, config, jnp.minimum(logits, method.divergence.neutral_logit))


def relabel(method: AdversarialMethod, config: AdversarialConfig, disc: Discriminator,
            policy: ActorPolicy, tr: Transition, gamma: Array | float,
            log_probs: Array | None = None) -> Array:
    """`[T, B]` rewards of a rollout `tr[T, B]` under the current discriminator; with an
    absorbing state, centred on its reward (`centre_on_absorbing`), whose logit is capped
    at the divergence's `neutral_logit` (`D <= 1/2` for GAIL): ending an episode never
    pays more than a state the discriminator cannot tell from the expert's. Uncapped, the
    absorbing state outscores the expert's own states whenever the policy survives longer
    than the demos, and the policy learns to end its episodes at once (cartpole,
    `benchmarks/RESULTS.md`, "Adversarial imitation at episode ends"). `log_probs`
    (`[T, B]`, the rollout's own exact `log pi(a | s)`) spares re-deriving them for
    methods that use them (AIRL).

    With `config.absorbing_per_terminal`, each terminal step has its own absorbing state
    (`absorbing_lumps`): rewards are centred on the neutral logit's reward and a terminal
    step adds the value of staying in its absorbing state, whose logit is capped alike."""
    flat = flatten_leading(tr, 2)
    known = None if log_probs is None else jnp.reshape(log_probs, (-1,))
    x = disc.features(flat)
    logits = batch_logits(method, disc.net, x, policy_log_probs(method, policy, flat, known),
                          gamma)
    rewards = jnp.reshape(clipped_reward(method, config, logits), tr.terminated.shape)
    if config.absorbing_state and config.absorbing_per_terminal:
        absorbing = batch_logits(method, disc.net, absorbing_inputs(x), jnp.zeros_like(logits),
                                 gamma)
        neutral = jnp.asarray(method.divergence.neutral_logit, jnp.float32)
        rewards = absorbing_lumps(
            rewards, jnp.reshape(capped_absorbing_reward(method, config, absorbing),
                                 tr.terminated.shape),
            tr.terminated, clipped_reward(method, config, neutral), gamma)
    elif config.absorbing_state:
        absorbing_logit = method.logits(disc.net, disc.absorbing_features(), jnp.zeros(()),
                                        gamma)
        rewards = centre_on_absorbing(
            rewards, capped_absorbing_reward(method, config, absorbing_logit))
    return rewards


def discriminator_objective(net: DiscriminatorNet, disc: Discriminator, expert: tuple,
                            policy: tuple, key: PRNGKey, method: AdversarialMethod,
                            config: AdversarialConfig, gamma: Array | float
                            ) -> tuple[Array, Metrics]:
    """The loss one discriminator step minimises, and its metrics.

    Args:
        net: the network being trained (differentiated).
        disc: the `Discriminator` (its normaliser and options; its own `net` is unused).
        expert: `(x, log_probs, terminated)` of `n` expert samples: `DiscInputs[n]`,
            `[n]`, `[n]` float32.
        policy: the same for `n` policy samples.
        key: PRNG key (interpolates of the gradient penalty).
        method: the `AdversarialMethod`.
        config: the `AdversarialConfig` (absorbing state, penalty kind and weight).
        gamma: the discount.

    Returns:
        `(loss + gp_weight * penalty, metrics)`: the divergence bound with the absorbing
        state's self-transition weighted `absorbing_weight` per terminal sample on each
        side (with `absorbing_per_terminal`, each terminal sample's own absorbing state);
        `disc_loss`, `disc_grad_penalty`, accuracies and mean logits (the absorbing
        logit: the shared one, or the mean over the batch's terminal samples).
    """
    (ex, elp, eterm), (px, plp, pterm) = expert, policy
    el = batch_logits(method, net, ex, elp, gamma)
    pl = batch_logits(method, net, px, plp, gamma)
    if config.absorbing_state and config.absorbing_per_terminal:
        weight = absorbing_weight(config, gamma)
        zeros = jnp.zeros(el.shape, jnp.float32)
        ael = batch_logits(method, net, absorbing_inputs(ex), zeros, gamma)
        apl = batch_logits(method, net, absorbing_inputs(px), zeros, gamma)
        ones = jnp.ones(el.shape, jnp.float32)
        loss = discriminator_loss(jnp.concatenate([el, ael]), jnp.concatenate([pl, apl]),
                                  method.divergence,
                                  jnp.concatenate([ones, weight * eterm]),
                                  jnp.concatenate([ones, weight * pterm]))
        al = weighted_mean(jnp.concatenate([ael, apl]), jnp.concatenate([eterm, pterm]))
    elif config.absorbing_state:
        weight = absorbing_weight(config, gamma)
        al = method.logits(net, disc.absorbing_features(), jnp.zeros(()), gamma)
        ones = jnp.ones(el.shape, jnp.float32)
        loss = discriminator_loss(
            jnp.concatenate([el, al[None]]), jnp.concatenate([pl, al[None]]),
            method.divergence,
            jnp.concatenate([ones, weight * jnp.sum(eterm, keepdims=True)]),
            jnp.concatenate([ones, weight * jnp.sum(pterm, keepdims=True)]))
    else:
        al = jnp.zeros(())
        loss = discriminator_loss(el, pl, method.divergence)

    def one_logit(x: DiscInputs) -> Array:
        if config.absorbing_state:
            x = without_indicator_gradient(x)
        else:
            x = x._replace(continuing=jax.lax.stop_gradient(x.continuing))
        return method.logits(net, x, jnp.zeros(()), gamma)

    gp = gradient_penalty(one_logit, ex, px, key, config.gradient_penalty, config.gp_target)
    total = loss + config.gp_weight * gp
    e_acc, p_acc = accuracy(el, pl)
    metrics = {"disc_loss": loss, "disc_grad_penalty": gp, "disc_expert_accuracy": e_acc,
               "disc_policy_accuracy": p_acc, "disc_expert_logit": jnp.mean(el),
               "disc_policy_logit": jnp.mean(pl), "disc_absorbing_logit": al}
    return total, metrics


def discriminator_optimizer(config: AdversarialConfig) -> optax.GradientTransformation:
    """Adam after global-norm clipping, as `config` sets them."""
    return optax.chain(optax.clip_by_global_norm(config.disc_max_grad_norm),
                       optax.adam(config.disc_learning_rate))


def with_running_stats(disc: Discriminator, *observations: Array) -> Discriminator:
    """`disc` with each `observations[..., obs_dim]` batch merged, one sample per row, into
    its input normaliser (`update_normalizer`: the statistics of everything so far)."""
    size = disc.normalizer.mean.shape[-1]
    rows = jnp.concatenate([jnp.reshape(o, (-1, size)) for o in observations])
    return eqx.tree_at(lambda d: d.normalizer, disc, update_normalizer(disc.normalizer, rows))


def train_discriminator(method: AdversarialMethod, config: AdversarialConfig,
                        disc: Discriminator, opt_state: optax.OptState, policy: ActorPolicy,
                        expert: Transition, samples: Transition, key: PRNGKey,
                        gamma: Array | float, sample_log_probs: Array | None = None
                        ) -> tuple[Discriminator, optax.OptState, Metrics]:
    """`config.disc_steps` optimiser steps, one `lax.scan` (with
    `config.running_input_stats`, after merging the observations of `expert` and
    `samples` into the discriminator's input statistics: `with_running_stats`).

    Args:
        method, config: the method and its shared settings.
        disc: the `Discriminator`; its `net` is trained.
        opt_state: the state of `discriminator_optimizer(config)`.
        policy: the current policy (`log pi` for methods that use it).
        expert: `Transition[k * n]` expert samples; step `i` takes the `i`-th slice of `n`.
        samples: `Transition[k * n]` policy samples, sliced alike.
        key: PRNG key.
        gamma: the discount.
        sample_log_probs: `[k * n]` exact `log pi(a | s)` of `samples` when the policy's
            rollout recorded them (`None`: derived from the actions, as for the expert's).

    Returns:
        `(disc, opt_state, metrics)`, the metrics averaged over the steps, with
        `disc_grad_norm`.
    """
    k = config.disc_steps
    n = expert.terminated.shape[0] // k
    optimizer = discriminator_optimizer(config)
    if config.normalize_inputs and config.running_input_stats:
        disc = with_running_stats(disc, expert.obs, samples.obs)

    def prepare(tr: Transition, known: Array | None = None) -> tuple:
        x = disc.features(tr)
        parts = (x, policy_log_probs(method, policy, tr, known),
                 tr.terminated.astype(jnp.float32))
        return jax.tree.map(lambda a: jnp.reshape(a, (k, n) + a.shape[1:]), parts)

    def loss(net, xs):
        expert_part, policy_part, k_gp = xs
        return discriminator_objective(net, disc, expert_part, policy_part, k_gp, method,
                                       config, gamma)

    return discriminator_steps(loss, disc, opt_state, optimizer,
                               (prepare(expert), prepare(samples, sample_log_probs),
                                jax.random.split(key, k)))


def discriminator_steps(loss, disc: Discriminator, opt_state: optax.OptState,
                        optimizer: optax.GradientTransformation, xs
                        ) -> tuple[Discriminator, optax.OptState, Metrics]:
    """One optimiser step of `disc.net` per leading entry of `xs`, one `lax.scan`.

    Args:
        loss: `loss(net, x) -> (loss, metrics)` for one entry `x` of `xs`.
        disc: the `Discriminator`; its `net` is trained.
        opt_state: the state of `optimizer`.
        optimizer: the discriminator's optimiser.
        xs: a pytree whose leaves have a leading axis of one entry per step.

    Returns:
        `(disc, opt_state, metrics)`: the metrics averaged over the steps, with
        `disc_grad_norm`.
    """
    grad_fn = eqx.filter_value_and_grad(loss, has_aux=True)

    def step(carry, x):
        net, opt_state = carry
        (_, metrics), grads = grad_fn(net, x)
        metrics["disc_grad_norm"] = optax.global_norm(grads)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(net, eqx.is_array))
        return (eqx.apply_updates(net, updates), opt_state), metrics

    (net, opt_state), metrics = jax.lax.scan(step, (disc.net, opt_state), xs)
    metrics = {name: jnp.mean(v) for name, v in metrics.items()}
    return eqx.tree_at(lambda d: d.net, disc, net), opt_state, metrics


def policy_samples(rollout: Transition, replay: BufferState | None, key: PRNGKey,
                   count: int, log_probs: Array | None = None
                   ) -> tuple[Transition, Array | None]:
    """`(Transition[count], log_probs[count] or None)`: policy samples for the
    discriminator, from `replay` when there is one (their log-probabilities are then
    `None`: the policy that drew them has changed), else from the rollout `rollout[T, B]`
    (without replacement while `count <= T * B`) with the matching entries of the
    rollout's `log_probs[T, B]` when given."""
    if replay is not None:
        return buffer_sample(replay, key, count), None
    flat = flatten_leading(rollout, 2)
    size = flat.terminated.shape[0]
    if count <= size:
        idx = jax.random.permutation(key, size)[:count]
    else:
        idx = jax.random.randint(key, (count,), 0, size)
    picked = None if log_probs is None else jnp.reshape(log_probs, (-1,))[idx]
    return jax.tree.map(lambda a: a[idx], flat), picked
