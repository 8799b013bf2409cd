"""Multimodal policy heads: mixture and discretised, against hand-computed values."""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import log_softmax, logsumexp

import jaxil
from jaxil.algorithms import BCConfig, bc, bc_loss
from jaxil.networks import (
    Discretised,
    DiscretisedHead,
    MixtureHead,
    PolicyArch,
    entropy,
    load_policy,
    make_actor_policy,
    normalizer_from_data,
    save_policy,
)
from jaxil.types import Box, Transition


def _with_output(policy, out):
    """Zeroes the last layer's weights so the torso outputs `out` for every input."""
    last = lambda p: p.network.torso.layers[-1]
    return eqx.tree_at(lambda p: (last(p).weight, last(p).bias), policy,
                       (jnp.zeros_like(last(policy).weight), jnp.asarray(out, jnp.float32)))


def _softplus_inverse(y):
    return math.log(math.expm1(y))


def _normal_log_pdf(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)


# --- mixture ---------------------------------------------------------------------------------

MIX_BOX = Box((1,), -2.0, 2.0)


def _mixture_policy(logits, means, stds, init_std=1.0, min_std=0.05):
    """A 2-component 1-D mixture policy whose components are exactly `means`, `stds`.

    The head adds fixed offsets `linspace(-1, 1, K)` to the means, and its stds are
    `softplus(raw + softplus_inverse(init_std - min_std)) + min_std`; both are undone here.
    """
    arch = PolicyArch(3, MIX_BOX, hidden_sizes=(8,), head="mixture", init_std=init_std,
                      head_options=(("num_components", 2), ("min_std", min_std)))
    policy = make_actor_policy(arch, jax.random.key(0))
    raw_means = [m - o for m, o in zip(means, (-1.0, 1.0), strict=True)]
    raw_stds = [_softplus_inverse(s - min_std) - _softplus_inverse(init_std - min_std)
                for s in stds]
    return _with_output(policy, [*logits, *raw_means, *raw_stds])


@jax.jit
def _log_prob(policy, actions):
    """`[B]` log-densities of `actions[B, act_dim]` under `policy` at a zero observation."""
    dist = policy.distribution(jnp.zeros(policy.normalizer.mean.shape))
    return jax.vmap(dist.log_prob)(actions)


@jax.jit
def _entropy_and_mode(policy):
    obs = jnp.zeros(policy.normalizer.mean.shape)
    return entropy(policy.distribution(obs)), policy.with_deterministic()(obs, None)


@functools.partial(jax.jit, static_argnums=2)
def _samples(policy, key, n):
    return jax.vmap(policy)(jnp.zeros((n, *policy.normalizer.mean.shape)),
                            jax.random.split(key, n))


def test_mixture_log_prob_matches_hand_computed_squashed_mixture():
    logits, means, stds = [0.5, -0.5], [-0.4, 1.2], [0.3, 0.8]
    policy = _mixture_policy(logits, means, stds)
    assert isinstance(policy.network.head, MixtureHead)
    assert policy.network.head.param_size == 2 * (1 + 2)
    log_pi = log_softmax(np.array(logits))
    actions = np.array([-1.5, 0.2, 1.0])
    expected = []
    for a in actions:
        u = math.atanh(a / 2.0)  # action = 2 tanh(u)
        base = logsumexp([log_pi[k] + _normal_log_pdf(u, means[k], stds[k]) for k in range(2)])
        log_det = math.log(2.0) + math.log(1 - math.tanh(u) ** 2)  # da/du
        expected.append(base - log_det)
    np.testing.assert_allclose(_log_prob(policy, actions[:, None]), expected, rtol=1e-5)
    # on the bounds the inverse clips 1e-4 inside them: finite, with finite gradients
    lp, grad = jax.jit(jax.value_and_grad(lambda p: _log_prob(p, jnp.array([[2.0]]))[0]))(
        policy)
    assert np.isfinite(float(lp))
    assert all(np.isfinite(g).all() for g in jax.tree.leaves(eqx.filter(grad, eqx.is_array)))


def test_mixture_mode_entropy_and_samples():
    logits, means, stds = [0.5, -0.5], [-0.4, 1.2], [0.3, 0.8]
    policy = _mixture_policy(logits, means, stds)
    # the mode is the squashed mean of the most probable component (component 0 here)
    ent, mode = _entropy_and_mode(policy)
    np.testing.assert_allclose(mode, [2 * math.tanh(-0.4)], rtol=1e-5)
    _, flipped = _entropy_and_mode(_mixture_policy([-0.5, 0.5], means, stds))
    np.testing.assert_allclose(flipped, [2 * math.tanh(1.2)], rtol=1e-5)
    # entropy: the bound H(pi) + sum_k pi_k H(N_k) of the unsquashed mixture
    pi = np.exp(log_softmax(np.array(logits)))
    h_normal = [0.5 * math.log(2 * math.pi * math.e * s**2) for s in stds]
    np.testing.assert_allclose(ent, -np.sum(pi * np.log(pi)) + np.sum(pi * np.array(h_normal)),
                               rtol=1e-5)
    # samples lie in the bounds, with the mixing weights (component 0 below 0, 1 above it:
    # P(a < 0) = pi_0 P(N(-0.4, 0.3) < 0) + pi_1 P(N(1.2, 0.8) < 0))
    a = _samples(policy, jax.random.key(1), 4000)
    assert a.shape == (4000, 1) and float(jnp.max(jnp.abs(a))) <= 2.0
    phi = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))
    p_neg = pi[0] * phi(0.4 / 0.3) + pi[1] * phi(-1.2 / 0.8)
    np.testing.assert_allclose(float(jnp.mean(a < 0)), p_neg, atol=0.03)


def test_mixture_components_start_apart_and_options_are_read():
    arch = PolicyArch(3, Box((2,), -1.0, 1.0), head="mixture", init_std=0.5,
                      head_options=(("num_components", 3), ("min_std", 0.1)))
    policy = make_actor_policy(arch, jax.random.key(0))
    head = policy.network.head
    assert head.num_components == 3 and head.param_size == 3 * (1 + 2 * 2)
    assert head.min_std == 0.1 and head.init_std == 0.5
    _, means, stds = jax.jit(lambda p: p.network.head._split(p.network.torso(jnp.zeros(3))))(
        policy)
    assert means.shape == (3, 2)
    assert float(jnp.min(jnp.abs(means[1:] - means[:-1]))) > 0.5  # not identical at init
    np.testing.assert_allclose(stds, 0.5, atol=0.02)  # init_std
    for options in ((("num_components", 0),), (("min_std", 2.0),), (("num_bins", 5),)):
        with pytest.raises(ValueError, match=options[0][0]):
            make_actor_policy(PolicyArch(3, Box((1,)), head="mixture", head_options=options),
                              jax.random.key(0))


# --- discretised -----------------------------------------------------------------------------

DISC_BOX = Box((2,), -1.0, 1.0)  # 4 bins: edges -1, -0.5, 0, 0.5, 1; centres +-0.25, +-0.75
LOGITS = [[0.0, 1.0, 2.0, 3.0], [1.0, 0.0, 0.0, 0.0]]


def _discretised_policy(logits=LOGITS, within_bin="centre"):
    arch = PolicyArch(3, DISC_BOX, hidden_sizes=(8,), head="discretised",
                      head_options=(("num_bins", 4), ("within_bin", within_bin)))
    return _with_output(make_actor_policy(arch, jax.random.key(0)), np.ravel(logits))


@jax.jit
def _discretised_stats(policy, actions):
    """Bin indices `[B, 2]`, bin log-masses and log-densities `[B]` of `actions[B, 2]`,
    and the mode `[2]` and entropy `[]`, of `policy` at a zero observation."""
    dist = policy.distribution(jnp.zeros(3))
    per_action = jax.vmap(lambda a: (dist.bin_index(a), dist.bin_log_prob(a), dist.log_prob(a)))
    return (*per_action(actions), dist.mode(), entropy(dist))


def test_discretised_bins_log_prob_and_mode():
    policy = _discretised_policy()
    assert isinstance(policy.network.head, DiscretisedHead)
    assert policy.network.head.param_size == 2 * 4
    dist = policy.distribution(jnp.zeros(3))
    assert isinstance(dist, Discretised) and dist.event_shape == (2,)
    # bin assignment: edges go to the bin above, the upper bound and beyond to the last bin
    actions = jnp.array([[0.3, -0.9], [-1.0, 0.0], [1.0, -0.5], [1.5, -3.0], [-0.26, 0.49]])
    expected_bins = np.array([[2, 0], [0, 2], [3, 1], [3, 0], [1, 2]])
    bins, mass, density, mode, ent = _discretised_stats(policy, actions)
    np.testing.assert_array_equal(bins, expected_bins)
    log_p = log_softmax(np.array(LOGITS), axis=-1)
    expected_mass = log_p[0, expected_bins[:, 0]] + log_p[1, expected_bins[:, 1]]
    np.testing.assert_allclose(mass, expected_mass, rtol=1e-5)
    # the log-density adds -log(width) per dimension: width 0.5
    np.testing.assert_allclose(density, expected_mass - 2 * math.log(0.5), rtol=1e-5)
    # mode: centre of the most probable bin of each dimension
    np.testing.assert_allclose(mode, [0.75, -0.75])
    np.testing.assert_allclose(_entropy_and_mode(policy)[1], [0.75, -0.75])
    # entropy of the density: categorical entropies plus log widths
    cat = -np.sum(np.exp(log_p) * log_p, axis=-1)
    np.testing.assert_allclose(ent, np.sum(cat + math.log(0.5)), rtol=1e-5)
    # BC's generic negative log-likelihood path uses this log-density
    loss, m = jax.jit(bc_loss)(policy, jnp.zeros((5, 3)), actions)
    np.testing.assert_allclose(loss, -np.mean(density), rtol=1e-5)
    np.testing.assert_allclose(m["entropy"], ent, rtol=1e-5)


def test_discretised_samples_centres_or_uniform_within_the_bin():
    key = jax.random.key(0)
    # one dominant bin per dimension: bin 1 ([-0.5, 0)) and bin 3 ([0.5, 1])
    sharp = [[0.0, 50.0, 0.0, 0.0], [0.0, 0.0, 0.0, 50.0]]
    a = _samples(_discretised_policy(sharp), key, 2000)
    np.testing.assert_allclose(a, np.broadcast_to([-0.25, 0.75], a.shape))
    u = _samples(_discretised_policy(sharp, "uniform"), key, 2000)
    assert float(jnp.min(u[:, 0])) >= -0.5 and float(jnp.max(u[:, 0])) < 0.0
    assert float(jnp.min(u[:, 1])) >= 0.5 and float(jnp.max(u[:, 1])) <= 1.0
    np.testing.assert_allclose(jnp.mean(u, 0), [-0.25, 0.75], atol=0.02)  # uniform in bins
    np.testing.assert_allclose(jnp.std(u, 0), 0.5 / math.sqrt(12), rtol=0.1)
    # with softer logits, bins are drawn with their softmax probabilities
    a = _samples(_discretised_policy(), key, 2000)
    centres = np.array([-0.75, -0.25, 0.25, 0.75])
    freq = (np.asarray(a[:, 0])[:, None] == centres[None]).mean(0)
    np.testing.assert_allclose(freq, np.exp(log_softmax(np.array(LOGITS[0]))), atol=0.03)
    with pytest.raises(ValueError, match="within_bin"):
        _discretised_policy(within_bin="edge")


# --- both ------------------------------------------------------------------------------------

@pytest.mark.parametrize("head, options", [
    ("mixture", (("num_components", 3),)),
    ("discretised", (("num_bins", 7), ("within_bin", "uniform"))),
])
def test_multimodal_heads_save_load_round_trip(tmp_path, head, options):
    arch = PolicyArch(3, Box((2,), -2.0, 2.0), hidden_sizes=(16,), head=head,
                      head_options=options)
    policy = make_actor_policy(arch, jax.random.key(3),
                               normalizer_from_data(jnp.arange(12.0).reshape(4, 3)))
    obs = jnp.array([0.3, -1.0, 2.0])

    @jax.jit
    def act_and_log_prob(p):
        return p(obs, jax.random.key(0)), p.distribution(obs).log_prob(jnp.array([0.5, -1.9]))

    for deterministic in (False, True):
        p = policy.with_deterministic(deterministic)
        save_policy(tmp_path / "policy.eqx", p)
        loaded = load_policy(tmp_path / "policy.eqx")
        assert loaded.network.arch == arch and loaded.deterministic == deterministic
        for x, y in zip(act_and_log_prob(p), act_and_log_prob(loaded), strict=True):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("head", ["mixture", "discretised"])
def test_multimodal_heads_jit_and_vmap(head):
    arch = PolicyArch(3, Box((2,), -1.0, 1.0), hidden_sizes=(16,), head=head)
    policy = make_actor_policy(arch, jax.random.key(0))
    act = jax.jit(jax.vmap(policy))
    a = act(jnp.ones((5, 3)), jax.random.split(jax.random.key(1), 5))
    assert a.shape == (5, 2) and float(jnp.max(jnp.abs(a))) <= 1.0
    # the BC loss has finite gradients, expert actions on the bounds included
    actions = jnp.array([[1.0, -1.0], [0.0, 0.5]])
    grads = jax.jit(jax.grad(lambda p: bc_loss(p, jnp.ones((2, 3)), actions)[0]))(policy)
    assert all(np.isfinite(g).all() for g in jax.tree.leaves(eqx.filter(grads, eqx.is_array)))


@pytest.mark.parametrize("head", ["mixture", "discretised"])
def test_bc_update_with_multimodal_heads_compiles_once(head):
    env = jaxil.envs.make("pointmass")
    k1, k2 = jax.random.split(jax.random.key(0))
    data = Transition(obs=jax.random.normal(k1, (64, 4)),
                      action=jax.random.uniform(k2, (64, 2), minval=-1.0, maxval=1.0),
                      reward=jnp.zeros(64), next_obs=jnp.zeros((64, 4)),
                      terminated=jnp.zeros(64, bool), truncated=jnp.zeros(64, bool))
    options = (("num_components", 3),) if head == "mixture" else (("num_bins", 11),)
    algo = bc(env, BCConfig(head=head, head_options=options, hidden_sizes=(16,)))
    update = jax.jit(eqx.debug.assert_max_traces(algo.update, max_traces=1))
    state = algo.init(jax.random.key(1), data)
    losses = []
    for i in range(3):
        state = update(state, jaxil.sample_batch(data, jax.random.key(i), 32))
        losses.append(float(state.metrics["loss"]))
    assert np.isfinite(losses).all()
    assert algo.policy(state).network.arch.head_options == options
