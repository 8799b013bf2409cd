"""The shared adversarial core: losses against hand-computed values, the f-divergence table,
gradient penalties (NaN-safe), reward mappings, features, the absorbing state and the
variable-horizon check."""

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxil
from jaxil import algorithms as alg
from jaxil.adversarial import (
    DIVERGENCES,
    GAIL_REWARDS,
    AdversarialConfig,
    DiscInputs,
    LearnedReward,
    discriminator_loss,
    gradient_penalty,
    tanh_fixed_stats_config,
)
from jaxil.adversarial.inputs import (
    absorbing_inputs,
    check_horizon,
    make_inputs,
    without_indicator_gradient,
)
from jaxil.adversarial.losses import safe_norm
from jaxil.adversarial.networks import make_discriminator
from jaxil.adversarial.rewards import absorbing_lumps, centre_on_absorbing
from jaxil.adversarial.steps import discriminator_objective, policy_samples, relabel
from jaxil.adversarial.trainer import action_log_probs, bc_warm_start
from jaxil.algorithms import GAILConfig, airl, gail
from jaxil.algorithms.airl import airl_logits
from jaxil.algorithms.gail import gail_method
from jaxil.networks import PolicyArch, make_actor_policy
from jaxil.types import Box, Discrete, EnvSpec, Transition

softplus = lambda x: math.log1p(math.exp(x))
sigmoid = lambda x: 1 / (1 + math.exp(-x))

# The f-GAN table (Nowozin et al. 2016): generator f(u), output activation g_f(v) and the
# conjugate f*(t), written independently of jaxil's closed forms.
F_TABLE = {
    "gan": (lambda u: u * math.log(u) - (u + 1) * math.log(u + 1),
            lambda v: -math.log1p(math.exp(-v)), lambda t: -math.log(1 - math.exp(t))),
    "js": (lambda u: -(u + 1) * math.log((1 + u) / 2) + u * math.log(u),
           lambda v: math.log(2) - math.log1p(math.exp(-v)),
           lambda t: -math.log(2 - math.exp(t))),
    "forward_kl": (lambda u: u * math.log(u), lambda v: v, lambda t: math.exp(t - 1)),
    "reverse_kl": (lambda u: -math.log(u), lambda v: -math.exp(-v),
                   lambda t: -1 - math.log(-t)),
    "pearson": (lambda u: (u - 1) ** 2, lambda v: v, lambda t: t**2 / 4 + t),
    "total_variation": (lambda u: 0.5 * abs(u - 1), lambda v: 0.5 * math.tanh(v),
                        lambda t: t),
    "squared_hellinger": (lambda u: (math.sqrt(u) - 1) ** 2, lambda v: 1 - math.exp(-v),
                          lambda t: t / (1 - t)),
}


def test_gan_loss_is_binary_cross_entropy_with_expert_labelled_one():
    expert, policy = jnp.array([0.0, 1.0]), jnp.array([-1.0, 2.0])
    loss = discriminator_loss(expert, policy, "gan")
    bce = (-math.log(sigmoid(0.0)) - math.log(sigmoid(1.0))) / 2 + (
        -math.log(1 - sigmoid(-1.0)) - math.log(1 - sigmoid(2.0))) / 2
    np.testing.assert_allclose(loss, bce, rtol=1e-6)
    np.testing.assert_allclose(discriminator_loss(expert, policy, "js"),
                               bce - 2 * math.log(2), rtol=1e-6)


def test_weighted_loss():
    expert, policy = jnp.array([0.0, 3.0]), jnp.array([1.0, -2.0])
    loss = discriminator_loss(expert, policy, "gan", jnp.array([1.0, 3.0]),
                              jnp.array([0.0, 2.0]))
    expected = (softplus(0.0) + 3 * softplus(-3.0)) / 4 + softplus(-2.0)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(DIVERGENCES))
def test_divergence_table_matches_f_gan(name):
    f, g, f_star = F_TABLE[name]
    div = DIVERGENCES[name]
    for v in (-1.5, -0.3, 0.2, 1.1):
        t = g(v)
        np.testing.assert_allclose(div.activation(jnp.float32(v)), t, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(div.conjugate_of_activation(jnp.float32(v)), f_star(t),
                                   rtol=1e-5, atol=1e-6)
        # f* is the convex conjugate: f*(t) = sup_u u t - f(u), on a fine grid of u > 0.
        u = np.exp(np.linspace(-12, 6, 400_001))
        sup = np.max(u * t - np.vectorize(f)(u))
        np.testing.assert_allclose(sup, f_star(t), rtol=2e-3, atol=2e-3)
    # A divergence vanishes at P = Q; the GAN objective is 2 JS - log 4.
    assert f(1.0) == pytest.approx(-math.log(4) if name == "gan" else 0.0, abs=1e-12)


@pytest.mark.parametrize("name", sorted(DIVERGENCES))
def test_optimal_discriminator_recovers_the_divergence(name):
    """Maximising the bound over a discriminator on 3 atoms gives D_f(P || Q)."""
    f = F_TABLE[name][0]
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    exact = sum(qi * f(pi / qi) for pi, qi in zip(p, q, strict=True))
    loss_fn = lambda v: discriminator_loss(v, v, name, jnp.asarray(p), jnp.asarray(q))
    opt = optax.adam(0.05)

    def step(carry, _):
        v, s = carry
        g = jax.grad(loss_fn)(v)
        u, s = opt.update(g, s, v)
        return (v + u, s), None

    v0 = jnp.zeros(3)
    (v, _), _ = jax.lax.scan(step, (v0, opt.init(v0)), None, length=4000)
    np.testing.assert_allclose(-loss_fn(v), exact, rtol=2e-3, atol=2e-3)


def test_reward_mappings():
    v = jnp.array([-2.0, 0.0, 3.0])
    d = jax.nn.sigmoid(v)
    np.testing.assert_allclose(GAIL_REWARDS["neg_log_one_minus_d"].fn(v), -jnp.log(1 - d),
                               rtol=1e-5)
    np.testing.assert_allclose(GAIL_REWARDS["log_d"].fn(v), jnp.log(d), rtol=1e-5)
    np.testing.assert_allclose(GAIL_REWARDS["logit"].fn(v), v)
    assert [GAIL_REWARDS[k].sign for k in ("neg_log_one_minus_d", "log_d", "logit")] == [1, -1, 0]
    for div in DIVERGENCES.values():  # the declared sign holds on a wide range of logits
        r = div.conjugate_of_activation(jnp.linspace(-20, 20, 101))
        if div.reward_sign > 0:
            assert bool(jnp.all(r > 0))
        elif div.reward_sign < 0:
            assert bool(jnp.all(r < 0))
        else:
            assert bool(jnp.any(r > 0) & jnp.any(r < 0)), div.name


def test_gradient_penalty_of_a_linear_logit():
    w = jnp.array([3.0, 4.0])  # |w| = 5
    logit = lambda x: jnp.dot(w, x["a"])
    xe = {"a": jnp.ones((6, 2))}
    xp = {"a": -jnp.ones((6, 2))}
    key = jax.random.key(0)
    np.testing.assert_allclose(gradient_penalty(logit, xe, xp, key, "expert"), 25.0, rtol=1e-6)
    np.testing.assert_allclose(gradient_penalty(logit, xe, xp, key, "interpolate", 1.0), 16.0,
                               rtol=1e-6)
    np.testing.assert_allclose(gradient_penalty(logit, xe, xp, key, "none"), 0.0)
    with pytest.raises(ValueError, match="gradient_penalty"):
        gradient_penalty(logit, xe, xp, key, "wgan")


def test_gradient_penalty_is_nan_safe_at_zero_gradient():
    # A ReLU net whose every unit is dead has a zero input gradient: the norm's derivative
    # must be 0, not NaN (sqrt'(0) = inf).
    def penalty(scale):
        logit = lambda x: jax.nn.relu(-1.0 - scale * jnp.sum(x**2)) * scale
        x = jnp.zeros((4, 3))
        return gradient_penalty(logit, x, x, jax.random.key(0), "interpolate", 1.0)

    value, grad = jax.value_and_grad(penalty)(2.0)
    assert np.isfinite(value) and np.isfinite(grad)
    np.testing.assert_allclose(value, 1.0)
    assert float(jax.grad(lambda x: safe_norm(x))(jnp.zeros(3)).sum()) == 0.0
    assert np.isnan(jax.grad(lambda x: jnp.linalg.norm(x))(jnp.zeros(3))).all()


def _transitions(terminated, discrete=True):
    n = len(terminated)
    obs = jnp.arange(n * 2, dtype=jnp.float32).reshape(n, 2)
    action = jnp.arange(n) % 3 if discrete else jnp.ones((n, 1))
    return Transition(obs, action, jnp.zeros(n), obs + 100.0, jnp.asarray(terminated),
                      jnp.zeros(n, bool))


def test_inputs_and_absorbing_state():
    spec = EnvSpec("t", 2, Discrete(3), 10)
    tr = _transitions([False, True, False])
    x = make_inputs(tr, spec, None, use_actions=True, absorbing=False)
    np.testing.assert_allclose(x.action, jax.nn.one_hot(jnp.array([0, 1, 2]), 3))
    np.testing.assert_allclose(x.continuing, [1.0, 0.0, 1.0])
    np.testing.assert_allclose(x.next_obs, tr.next_obs)
    xa = make_inputs(tr, spec, None, use_actions=False, absorbing=True)
    assert xa.action.shape == (3, 0)
    np.testing.assert_allclose(xa.obs[:, -1], 0.0)
    np.testing.assert_allclose(xa.next_obs[1], [0.0, 0.0, 1.0])  # the absorbing state
    np.testing.assert_allclose(xa.next_obs[0], [100.0, 101.0, 0.0])
    np.testing.assert_allclose(xa.continuing, 1.0)


def test_airl_logits_by_hand():
    spec = EnvSpec("t", 2, Box((1,)), 10)
    disc = make_discriminator(spec, "s", jax.random.key(0), (8,), shaping=True)
    tr = _transitions([False, True], discrete=False)
    x = make_inputs(tr, spec, None, use_actions=False, absorbing=False)
    log_pi = jnp.array([-0.5, -1.5])
    gamma = 0.9
    logits = jax.vmap(airl_logits, (None, 0, 0, None))(disc.net, x, log_pi, gamma)
    net = disc.net
    for i, term in enumerate([0.0, 1.0]):
        g = net.g(tr.obs[i])[0]
        h, h_next = net.h(tr.obs[i])[0], net.h(tr.next_obs[i])[0]
        expected = g + gamma * (1 - term) * h_next - h - log_pi[i]
        np.testing.assert_allclose(logits[i], expected, rtol=1e-5)


def test_learned_reward_is_g_centred_on_the_absorbing_state():
    spec = EnvSpec("t", 2, Box((1,)), 10)
    disc = make_discriminator(spec, "sa", jax.random.key(1), (8,), absorbing=True)
    reward = LearnedReward(disc)
    tr = _transitions([False, True], discrete=False)
    r = reward.transition_rewards(tr, 0.9)
    single = jax.vmap(reward)(tr.obs, tr.action, tr.next_obs)
    r_abs = disc.net.reward(disc.absorbing_features())
    assert abs(float(r_abs)) > 1e-3  # the centring below is visible
    # every step, the terminal one included, is centred; no lump at the termination
    np.testing.assert_allclose(r, single - r_abs, rtol=1e-5, atol=1e-6)
    # without the absorbing option: g as it is, whatever the discount
    plain = LearnedReward(make_discriminator(spec, "sa", jax.random.key(1), (8,)))
    np.testing.assert_allclose(plain.transition_rewards(tr, 0.9),
                               plain.transition_rewards(tr, 0.5))


def test_centring_on_the_absorbing_state_keeps_return_differences():
    """Two episodes that terminate after 3 and 5 steps and then stay absorbed forever
    (reward `r_abs` a step): the learner sees only the centred rewards up to each
    termination, and the difference of their returns is the same as in the absorbing MDP
    (each centred return is the absorbing-MDP return minus `r_abs / (1 - gamma)`)."""
    gamma, r_abs = 0.9, 0.7
    short = np.array([0.3, -0.2, 0.5])
    long = np.array([0.1, 0.4, 0.2, 0.6, -0.1])
    discount = lambda r: float(np.sum(np.asarray(r) * gamma ** np.arange(len(r))))
    absorbed = lambda r: discount(r) + r_abs * gamma ** len(r) / (1 - gamma)
    centred = lambda r: discount(centre_on_absorbing(jnp.asarray(r), r_abs))
    np.testing.assert_allclose(centred(short), absorbed(short) - r_abs / (1 - gamma),
                               rtol=1e-5)
    np.testing.assert_allclose(centred(short) - centred(long),
                               absorbed(short) - absorbed(long), rtol=1e-5)


def test_one_absorbing_state_per_terminal_observation_by_hand():
    """`absorbing_per_terminal`: the absorbing state after a terminal step is `[s_T, 1]`;
    the discriminator is trained on each terminal sample's own absorbing state, weighted
    `gamma / (1 - gamma)`; relabelled rewards are centred on the neutral reward and a
    terminal step adds the value of staying absorbed, the absorbing logit capped at 0; the
    exported reward adds the uncapped value; and the episode returns equal those of the
    never-ending absorbing MDP up to one constant."""
    spec, gamma = EnvSpec("t", 2, Discrete(3), 10), 0.9
    bootstrap = gamma / (1 - gamma)
    terminated = [False, True, False, False, True, False]
    tr = _transitions(terminated)
    tr = tr._replace(obs=tr.obs / 4, next_obs=tr.obs / 4 + 0.5)  # inside the clip of 10
    x = make_inputs(tr, spec, None, use_actions=True, absorbing=True, per_terminal=True)
    np.testing.assert_allclose(x.next_obs[1], [1.0, 1.25, 1.0])  # s_T, indicator set
    np.testing.assert_allclose(x.next_obs[0], [0.5, 0.75, 0.0])
    config = AdversarialConfig(absorbing_state=True, absorbing_per_terminal=True,
                               reward_clip=5.0)
    method = gail_method(GAILConfig())
    disc = make_discriminator(spec, "sa", jax.random.key(2), (8,), absorbing=True,
                              per_terminal=True)
    g = lambda o, a: float(disc.net.g(jnp.concatenate([o, a]))[0])  # noqa: E731
    # the output bias moved to halfway between the two terminal samples' absorbing logits
    middle = (g(x.next_obs[1], jnp.zeros(3)) + g(x.next_obs[4], jnp.zeros(3))) / 2
    disc = eqx.tree_at(lambda d: d.net.g.layers[-1].bias, disc,
                       disc.net.g.layers[-1].bias - middle)
    logits = [g(x.obs[i], x.action[i]) for i in range(6)]
    absorbing = [g(x.next_obs[i], jnp.zeros(3)) for i in range(6)]
    assert absorbing[1] != absorbing[4]  # each terminal observation has its own
    assert max(absorbing[1], absorbing[4]) > 0 > min(absorbing[1], absorbing[4])  # one capped
    # relabelled: softplus(v) - log 2, plus at a termination 9 (softplus(min(v_abs, 0)) - log 2)
    policy = make_actor_policy(PolicyArch(2, Discrete(3)), jax.random.key(0))
    rewards = relabel(method, config, disc, policy,
                      jax.tree.map(lambda a: jnp.reshape(a, (3, 2) + a.shape[1:]), tr), gamma)
    expected = [softplus(v) - math.log(2) + (bootstrap * (
        softplus(min(a, 0.0)) - math.log(2)) if t else 0.0)
        for v, a, t in zip(logits, absorbing, terminated, strict=True)]
    np.testing.assert_allclose(np.ravel(rewards), expected, rtol=1e-5, atol=1e-5)
    # the discriminator's loss: cross-entropy with each side's terminal samples' absorbing
    # states weighted 9 each (expert: the first three samples, policy: the last three)
    side = lambda i: (jax.tree.map(lambda a: a[3 * i:3 * i + 3], x), jnp.zeros(3),  # noqa: E731
                      jnp.asarray(terminated[3 * i:3 * i + 3], jnp.float32))
    config_nogp = dataclasses.replace(config, gp_weight=0.0)
    loss, metrics = discriminator_objective(disc.net, disc, side(0), side(1),
                                            jax.random.key(0), method, config_nogp, gamma)
    bce = lambda vs, ws, label: (sum(  # noqa: E731
        w * softplus(-v if label else v) for v, w in zip(vs, ws, strict=True)) / sum(ws))
    expected_loss = (bce(logits[:3] + [absorbing[1]], [1, 1, 1, bootstrap], 1)
                     + bce(logits[3:] + [absorbing[4]], [1, 1, 1, bootstrap], 0))
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
    np.testing.assert_allclose(metrics["disc_absorbing_logit"],
                               (absorbing[1] + absorbing[4]) / 2, atol=1e-6)
    # the exported reward: the logit, plus at a termination 9 times the absorbing logit
    exported = LearnedReward(disc).transition_rewards(tr, gamma)
    np.testing.assert_allclose(exported, [v + (bootstrap * a if t else 0.0) for v, a, t in
                                          zip(logits, absorbing, terminated, strict=True)],
                               rtol=1e-5, atol=1e-5)
    # returns: an episode that ends after 3 steps in absorbing state A (reward 0.7 a step
    # forever after) against one of 5 steps ending in B (-0.4): the lumps keep the
    # difference of their absorbing-MDP returns
    short, long = np.array([0.3, -0.2, 0.5]), np.array([0.1, 0.4, 0.2, 0.6, -0.1])
    discount = lambda r: float(np.sum(np.asarray(r) * gamma ** np.arange(len(r))))  # noqa: E731
    absorbed = lambda r, ra: discount(r) + ra * gamma ** len(r) / (1 - gamma)  # noqa: E731
    lumped = lambda r, ra: discount(absorbing_lumps(  # noqa: E731
        jnp.asarray(r), jnp.full(len(r), ra), jnp.arange(len(r)) == len(r) - 1, 0.2, gamma))
    np.testing.assert_allclose(lumped(short, 0.7) - lumped(long, -0.4),
                               absorbed(short, 0.7) - absorbed(long, -0.4), rtol=1e-5)
    # without the absorbing state the option would do nothing: refused, naming both fields
    env = jaxil.envs.make("cartpole")
    with pytest.raises(ValueError, match="WAILConfig.adversarial.absorbing_per_terminal.*"
                                         "absorbing_state=True"):
        alg.wail(env, alg.WAILConfig(adversarial=tanh_fixed_stats_config(
            absorbing_per_terminal=True)))


def test_action_log_probs_match_the_distribution():
    policy = make_actor_policy(PolicyArch(2, Box((1,), -2.0, 2.0)), jax.random.key(0))
    obs = jnp.zeros((3, 2))
    actions = jnp.array([[0.5], [-1.0], [2.0]])  # the last one on the bound
    lp = jax.jit(action_log_probs)(policy, obs, actions)
    assert np.all(np.isfinite(lp))
    expected = jax.jit(lambda p, a: p.distribution(obs[0]).log_prob(a))(policy, actions[:2])
    np.testing.assert_allclose(lp[:2], expected, rtol=1e-5)


def test_horizon_check_names_the_options():
    demos = _transitions([False, True])
    with pytest.raises(ValueError, match="absorbing_state=True.*allow_variable_horizon=True"):
        check_horizon(demos, +1, False, False, "GAIL", "neg_log_one_minus_d", "cfg")
    check_horizon(demos, 0, False, False, "GAIL", "logit", "cfg")  # both signs: fine
    check_horizon(demos, -1, True, False, "GAIL", "log_d", "cfg")  # absorbing: fine
    check_horizon(demos, -1, False, True, "GAIL", "log_d", "cfg")  # accepted
    check_horizon(_transitions([False, False]), +1, False, False, "GAIL", "x", "cfg")


def test_variable_horizon_checks_run_on_the_host():
    env = jaxil.envs.make("cartpole")
    demos = Transition(jnp.zeros((4, 4)), jnp.zeros(4, jnp.int32), jnp.zeros(4),
                       jnp.zeros((4, 4)), jnp.array([False, True, False, False]),
                       jnp.zeros(4, bool))
    # the default (absorbing_state=None) follows the method: on for GAIL, which then
    # accepts demos that end early
    for config in (GAILConfig(), GAILConfig(adversarial=AdversarialConfig(absorbing_state=True))):
        state = jax.eval_shape(gail(env, config).init, jax.random.key(0), demos)
        assert state.discriminator.absorbing
    off = GAILConfig(adversarial=AdversarialConfig(absorbing_state=False))
    with pytest.raises(ValueError, match="GAILConfig.adversarial.absorbing_state"):
        gail(env, off).init(jax.random.key(0), demos)
    # `jaxil.train` under `jit` with the demos closed over (as the CLI runs it): the same
    # host-side ValueError, before compiling, not an error from inside the program.
    with pytest.raises(ValueError, match="allow_variable_horizon"):
        jax.jit(lambda k: jaxil.train(gail(env, off), k, demos, 1, 4))(jax.random.key(0))
    with pytest.raises(Exception, match="allow_variable_horizon"):  # traced: in-program
        jax.jit(gail(env, off).init)(jax.random.key(0), demos)
    jax.eval_shape(airl(env).init, jax.random.key(0), demos)  # AIRL's reward has both signs


def test_gradient_penalty_ignores_the_absorbing_indicator():
    spec = EnvSpec("t", 2, Box((1,)), 10)
    x = make_inputs(_transitions([False, True], discrete=False), spec, None,
                    use_actions=True, absorbing=True)
    logit = lambda v: jnp.sum(v.obs * jnp.array([1.0, 2.0, 50.0])) + jnp.sum(v.action)
    grads = jax.vmap(jax.grad(lambda v: logit(without_indicator_gradient(v))))(x)
    np.testing.assert_allclose(grads.obs, [[1.0, 2.0, 0.0]] * 2)  # not the indicator's 50
    np.testing.assert_allclose(grads.action, 1.0)
    np.testing.assert_allclose(grads.next_obs, 0.0)
    assert float(jnp.sum(without_indicator_gradient(x).obs)) == float(jnp.sum(x.obs))


def test_bc_warm_start_fits_the_demos():
    from jaxil.algorithms.bc import bc_loss

    policy = make_actor_policy(PolicyArch(2, Discrete(2)), jax.random.key(0))
    obs = jax.random.normal(jax.random.key(1), (256, 2))
    actions = (obs[:, 0] > 0).astype(jnp.int32)
    demos = Transition(obs, actions, jnp.zeros(256), obs, jnp.zeros(256, bool),
                       jnp.zeros(256, bool))
    warm = bc_warm_start(policy, demos, jax.random.key(2), 200, 64, 1e-2)
    before = bc_loss(policy, obs, actions)[0]
    after = bc_loss(warm, obs, actions)[0]
    assert float(after) < 0.3 < float(before)


def test_discriminator_is_a_pytree_with_static_choices():
    spec = EnvSpec("t", 3, Discrete(2), 10)
    disc = make_discriminator(spec, "sas", jax.random.key(0), (4,))
    leaves = jax.tree.leaves(disc)
    assert all(isinstance(x, jax.Array) for x in leaves)
    x = DiscInputs(jnp.zeros(3), jnp.zeros(2), jnp.zeros(3), jnp.ones(()))
    assert disc.net.reward(x).shape == ()
    assert eqx.filter_jit(lambda d: d.net.reward(x))(disc).shape == ()


def test_relabel_and_policy_samples_alone():
    """The round's pieces work on their own: `relabel` is the clipped reward of each
    transition's logit, centred on the absorbing state's, and `policy_samples` draws
    distinct rollout transitions."""
    spec = EnvSpec("t", 2, Discrete(3), 10)
    config = AdversarialConfig(absorbing_state=True, reward_clip=0.5)
    method = gail_method(GAILConfig())
    disc = make_discriminator(spec, "sa", jax.random.key(2), (8,), absorbing=True)
    disc = eqx.tree_at(lambda d: d.net, disc, jax.tree.map(lambda a: 3 * a, disc.net))
    policy = make_actor_policy(PolicyArch(2, Discrete(3)), jax.random.key(0))
    tr = jax.tree.map(lambda a: jnp.reshape(a, (3, 2) + a.shape[1:]),
                      _transitions([False, True, False, False, True, False]))
    flat = jax.tree.map(lambda a: jnp.reshape(a, (6,) + a.shape[2:]), tr)
    capped = 0
    for shift in (0.0, 3.0):  # the output bias moved up: the absorbing logit turns positive
        net = eqx.tree_at(lambda n: n.g.layers[-1].bias, disc.net,
                          disc.net.g.layers[-1].bias + shift)
        d = eqx.tree_at(lambda d: d.net, disc, net)
        rewards = relabel(method, config, d, policy, tr, 0.9)
        x = d.features(flat)
        logits = jax.vmap(lambda xi, d=d: method.logits(d.net, xi, jnp.zeros(()), 0.9))(x)
        absorbing = method.logits(d.net, d.absorbing_features(), jnp.zeros(()), 0.9)
        capped += int(absorbing > 0)
        if shift == 0.0:
            assert np.ptp(np.asarray(rewards)) > 0  # not all clipped alike
        # the absorbing logit is capped at 0 (D = 1/2): ending never pays more than a state
        # the discriminator cannot tell from the expert's
        expected = (np.clip(jax.nn.softplus(logits), -0.5, 0.5)
                    - np.clip(jax.nn.softplus(np.minimum(absorbing, 0.0)), -0.5, 0.5))
        np.testing.assert_allclose(rewards, np.reshape(expected, (3, 2)), rtol=1e-5,
                                   atol=1e-6)
    assert capped == 1  # one case below the cap, one above it
    recorded = jnp.arange(6, dtype=jnp.float32).reshape(3, 2)  # stands for log pi(a | s)
    drawn, drawn_log_probs = policy_samples(tr, None, jax.random.key(0), 4, recorded)
    assert len(set(np.asarray(drawn.obs[:, 0]).tolist())) == 4
    # each sample comes with the rollout's own log-probability of it
    rows = [int(np.flatnonzero(np.all(np.asarray(flat.obs) == np.asarray(o), axis=1))[0])
            for o in drawn.obs]
    np.testing.assert_array_equal(drawn_log_probs, rows)
    assert policy_samples(tr, None, jax.random.key(0), 4)[1] is None


def test_running_input_stats_merge_the_expert_and_policy_batches():
    """With `running_input_stats`, the discriminator's steps first merge the observations
    of both batches into its input statistics: afterwards they are the statistics of the
    demos and both batches at once. Off (the default), they stay the demos'."""
    from jaxil.adversarial.steps import discriminator_optimizer, train_discriminator
    from jaxil.networks.normalizer import normalizer_from_data

    spec = EnvSpec("t", 2, Discrete(3), 10)
    keys = jax.random.split(jax.random.key(3), 3)
    demo_obs = 2.0 + jax.random.normal(keys[0], (10, 2))
    expert = _transitions([False] * 4)._replace(obs=jax.random.normal(keys[1], (4, 2)))
    samples = _transitions([False] * 4)._replace(obs=5 * jax.random.normal(keys[2], (4, 2)))
    disc = make_discriminator(spec, "sa", jax.random.key(2), (8,),
                              normalizer=normalizer_from_data(demo_obs))
    policy = make_actor_policy(PolicyArch(2, Discrete(3)), jax.random.key(0))
    method = gail_method(GAILConfig())
    for running in (True, False):
        config = AdversarialConfig(hidden_sizes=(8,), disc_steps=2, running_input_stats=running)
        opt_state = discriminator_optimizer(config).init(eqx.filter(disc.net, eqx.is_array))
        trained, _, _ = train_discriminator(method, config, disc, opt_state, policy, expert,
                                            samples, jax.random.key(1), 0.9)
        seen = jnp.concatenate([demo_obs, expert.obs, samples.obs]) if running else demo_obs
        np.testing.assert_allclose(trained.normalizer.mean, jnp.mean(seen, 0), rtol=1e-5)
        np.testing.assert_allclose(trained.normalizer.var, jnp.var(seen, 0), rtol=1e-5)
        assert float(trained.normalizer.count) == seen.shape[0]


class EnsembleWithExtras(eqx.Module):
    """A method's own discriminator network: three MLPs on `(s, a, extras)`, averaged."""

    members: tuple

    def __init__(self, sizes, key):
        width = sizes.obs_features + sizes.action_features + 1
        self.members = tuple(jaxil.networks.MLP(width, 1, (8,), k)
                             for k in jax.random.split(key, 3))

    def reward(self, x):
        z = jnp.concatenate([x.obs, x.action, x.extras])
        return jnp.mean(jnp.stack([m(z)[0] for m in self.members]))


def pole_angle_squared(tr):
    """`[..., 1]` extras: the squared pole angle of each transition's state."""
    return tr.obs[..., 2:3] ** 2


def test_a_method_brings_its_own_network_and_extra_inputs(cartpole_demos):
    from adversarial_setup import TINY_ADV, TINY_PPO, check_traced_once

    from jaxil.adversarial import adversarial
    from jaxil.adversarial.steps import batch_logits, discriminator_optimizer, train_discriminator
    from jaxil.algorithms.gail import GAILConfig, gail_method
    from jaxil.networks.normalizer import normalize

    env = jaxil.envs.make("cartpole")
    method = gail_method(GAILConfig(reward="logit"))._replace(
        network=EnsembleWithExtras, extras=pole_angle_squared)
    algo = adversarial(env, method, TINY_ADV, TINY_PPO)
    state = algo.init(jax.random.key(0), cartpole_demos)
    disc = state.discriminator
    assert isinstance(disc.net, EnsembleWithExtras)
    batches = [jaxil.sample_batch(cartpole_demos, jax.random.key(i), 16) for i in range(2)]
    check_traced_once(algo.update, jax.eval_shape(lambda: state), batches)

    # the core's logits are the ensemble's, on the method's extras of the transitions
    tr = batches[0]
    x = disc.features(tr)
    np.testing.assert_allclose(x.extras, pole_angle_squared(tr))
    logits = batch_logits(method, disc.net, x, jnp.zeros(16), 0.99)
    z = jnp.concatenate([normalize(disc.normalizer, tr.obs),
                         jax.nn.one_hot(tr.action, 2), pole_angle_squared(tr)], axis=-1)
    by_hand = jnp.mean(jnp.stack([jax.vmap(m)(z)[:, 0] for m in disc.net.members]), axis=0)
    np.testing.assert_allclose(logits, by_hand, rtol=1e-5, atol=1e-6)

    # the core trains every member (two steps on expert against shuffled "policy" samples)
    opt_state = discriminator_optimizer(TINY_ADV).init(eqx.filter(disc.net, eqx.is_array))
    trained, _, metrics = train_discriminator(
        method, TINY_ADV, disc, opt_state, state.learner.policy, tr,
        jax.tree.map(lambda a: a[::-1], batches[1]), jax.random.key(1), 0.99)
    assert all(bool(jnp.all(jnp.isfinite(v))) for v in metrics.values())
    for before, after in zip(disc.net.members, trained.net.members, strict=True):
        assert not np.allclose(before.layers[0].weight, after.layers[0].weight)

    with pytest.raises(ValueError, match="absorbing_per_terminal=True"):
        adversarial(env, method, AdversarialConfig(absorbing_state=True,
                                                   absorbing_per_terminal=False), TINY_PPO)
    # one absorbing state per terminal observation keeps its transition's extras
    per_terminal = adversarial(env, method, dataclasses.replace(
        TINY_ADV, absorbing_state=True, absorbing_per_terminal=True), TINY_PPO)
    pt_state = per_terminal.init(jax.random.key(0), cartpole_demos)
    ended = tr._replace(terminated=jnp.ones(16, bool))
    np.testing.assert_allclose(absorbing_inputs(pt_state.discriminator.features(ended)).extras,
                               pole_angle_squared(ended))
    jax.eval_shape(per_terminal.update, pt_state, batches[0])
    no_reward = method._replace(network=lambda sizes, key: jaxil.networks.MLP(4, 1, (), key))
    with pytest.raises(ValueError, match="no reward"):
        adversarial(env, no_reward, TINY_ADV, TINY_PPO).init(jax.random.key(0),
                                                             cartpole_demos)


def test_discriminator_defaults_and_the_methods_that_keep_the_earlier_one():
    """GAIL's family takes `AdversarialConfig`'s defaults (relu, running input statistics,
    Adam at 5e-4); WAIL, InfoGAIL and MAGAIL keep the discriminator they were measured with
    (`tanh_fixed_stats_config`), whose fields a user can still set."""
    new = AdversarialConfig()
    assert (new.activation, new.running_input_stats, new.disc_learning_rate) == \
        ("relu", True, 5e-4)
    for config in (GAILConfig(), alg.AIRLConfig(), alg.GAIfOConfig(), alg.FGAILConfig(),
                   alg.LSGAILConfig()):
        assert config.adversarial == new, type(config).__name__
    earlier = ("tanh", False, 1e-3)
    for config in (alg.WAILConfig(), alg.InfoGAILConfig(), alg.MAGAILConfig()):
        adv = config.adversarial
        assert (adv.activation, adv.running_input_stats, adv.disc_learning_rate) == earlier
    assert alg.MAGAILConfig().adversarial.disc_steps == 4
    assert alg.WAILConfig().adversarial.gp_target == 1.0
    mine = tanh_fixed_stats_config(activation="relu", gp_weight=1.0)
    assert (mine.activation, mine.running_input_stats, mine.gp_weight) == ("relu", False, 1.0)
    # the activation reaches the network
    env = jaxil.envs.make("cartpole")
    for adv, name in ((new, "relu"), (tanh_fixed_stats_config(), "tanh")):
        state = jax.eval_shape(gail(env, GAILConfig(adversarial=adv)).init, jax.random.key(0))
        assert state.discriminator.net.g.activation == name
