"""Networks: MLP, policy heads, normaliser and policy serialisation."""

import json
import math

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxil.networks import (
    MLP,
    EpsilonRandom,
    PolicyArch,
    RandomPolicy,
    ValueNetwork,
    init_normalizer,
    load_policy,
    make_actor_policy,
    normalize,
    normalizer_from_data,
    save_policy,
    update_normalizer,
)
from jaxil.types import Box, Discrete


def test_mlp_shapes_and_scan_safe_leaves():
    mlp = MLP(3, 2, (8, 8), jax.random.key(0))
    assert mlp(jnp.ones(3)).shape == (2,)
    # every leaf is an array, so the module can be a lax.scan carry
    assert all(isinstance(x, jax.Array) for x in jax.tree.leaves(mlp))
    with pytest.raises(ValueError, match="activation"):
        MLP(3, 2, (8,), jax.random.key(0), activation="sigmoidish")


def test_heads_give_the_expected_distributions():
    key = jax.random.key(0)
    cat = make_actor_policy(PolicyArch(4, Discrete(3)), key)
    assert isinstance(cat.distribution(jnp.zeros(4)), distrax.Categorical)
    box = Box((2,), -2.0, 2.0)
    squashed = make_actor_policy(PolicyArch(4, box), key)
    actions = jax.vmap(squashed)(jnp.zeros((256, 4)), jax.random.split(key, 256))
    assert actions.shape == (256, 2)
    assert float(jnp.max(jnp.abs(actions))) <= 2.0
    det = make_actor_policy(PolicyArch(4, box, head="deterministic"), key)
    a1, a2 = det(jnp.ones(4), jax.random.key(1)), det(jnp.ones(4), jax.random.key(2))
    np.testing.assert_array_equal(a1, a2)
    with pytest.raises(ValueError, match="head"):
        make_actor_policy(PolicyArch(4, Discrete(3), head="tanh_gaussian"), key)


def test_squashed_gaussian_log_prob_matches_change_of_variables():
    box = Box((1,), -2.0, 2.0)
    policy = make_actor_policy(PolicyArch(2, box, hidden_sizes=(4,)), jax.random.key(0))
    # the last layer starts at zero bias and 0.01-scaled weights: mean ~ 0, std = 1 + 1e-3
    dist = policy.distribution(jnp.zeros(2))
    a = 1.0
    u = math.atanh(a / 2.0)
    std = 1.0 + 1e-3
    mean = float(dist.distribution.mean()[0])
    base = -0.5 * ((u - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)
    log_det = math.log(2.0) + math.log(1 - math.tanh(u) ** 2)
    np.testing.assert_allclose(dist.log_prob(jnp.array([a])), base - log_det, rtol=1e-5)


def test_normalizer_matches_batch_statistics():
    x = jax.random.normal(jax.random.key(0), (1000, 3)) * jnp.array([1.0, 5.0, 0.1]) + 2.0
    one_go = normalizer_from_data(x)
    in_parts = init_normalizer(3)
    for part in jnp.split(x, 4):
        in_parts = update_normalizer(in_parts, part)
    np.testing.assert_allclose(one_go.mean, np.mean(x, 0), rtol=1e-5)
    np.testing.assert_allclose(one_go.var, np.var(x, 0), rtol=1e-4)
    np.testing.assert_allclose(in_parts.mean, one_go.mean, rtol=1e-5)
    np.testing.assert_allclose(in_parts.var, one_go.var, rtol=1e-4)
    z = normalize(one_go, x)
    np.testing.assert_allclose(np.std(z, 0), 1.0, rtol=1e-3)
    # a constant feature is centred, not blown up
    const = normalizer_from_data(jnp.ones((10, 1)))
    assert float(normalize(const, jnp.array([1.0]))[0]) == 0.0


def test_value_network_and_random_policy():
    v = ValueNetwork(4, jax.random.key(0))
    assert v(jnp.ones(4)).shape == ()
    rp = RandomPolicy(Box((2,), -1.0, 1.0))
    a = jax.vmap(rp)(jnp.zeros((100, 3)), jax.random.split(jax.random.key(0), 100))
    assert a.shape == (100, 2) and float(jnp.max(jnp.abs(a))) <= 1.0
    d = jax.vmap(RandomPolicy(Discrete(3)))(jnp.zeros((300, 3)),
                                           jax.random.split(jax.random.key(1), 300))
    assert set(np.asarray(d).tolist()) == {0, 1, 2}


def test_policy_save_load_round_trip(tmp_path):
    arch = PolicyArch(3, Box((1,), -2.0, 2.0), hidden_sizes=(16, 16))
    policy = make_actor_policy(arch, jax.random.key(3),
                               normalizer_from_data(jnp.arange(12.0).reshape(4, 3)))
    policy = policy.with_deterministic()
    path = tmp_path / "policy.eqx"
    save_policy(path, policy)
    loaded = load_policy(path)
    assert loaded.deterministic and loaded.network.arch == arch
    obs = jnp.array([0.3, -1.0, 2.0])
    np.testing.assert_array_equal(policy(obs, jax.random.key(0)), loaded(obs, jax.random.key(0)))


def test_policy_load_rejects_other_and_truncated_files(tmp_path):
    bad = tmp_path / "bad.eqx"
    bad.write_text("hello\n")
    with pytest.raises(ValueError, match="not a jaxil policy"):
        load_policy(bad)
    policy = make_actor_policy(PolicyArch(3, Discrete(2)), jax.random.key(0))
    good = tmp_path / "good.eqx"
    save_policy(good, policy)
    data = good.read_bytes()
    cut = tmp_path / "cut.eqx"
    cut.write_bytes(data[: len(data) - 40])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        load_policy(cut)


def _with_header(tmp_path, good, name, change):
    """A copy of the policy file `good` whose JSON header line was edited by `change`."""
    data = good.read_bytes()
    line, rest = data.split(b"\n", 1)
    header = json.loads(line)
    change(header)
    path = tmp_path / name
    path.write_bytes(json.dumps(header).encode() + b"\n" + rest)
    return path


@pytest.mark.parametrize("name, change, message", [
    ("no_arch", lambda h: h.pop("arch"), "arch: expected an object"),
    ("string_flag", lambda h: h.update(deterministic="false"),
     "deterministic: expected true or false, found 'false'"),
    ("missing_flag", lambda h: h.pop("deterministic"), "deterministic: expected true or false"),
    ("unknown_field", lambda h: h["arch"].update(colour="red"), "arch.colour: unknown field"),
    ("bad_size", lambda h: h["arch"].update(observation_size=-3),
     "arch.observation_size: expected a positive int"),
    ("bad_hidden", lambda h: h["arch"].update(hidden_sizes="64"), "arch.hidden_sizes"),
    ("bad_space", lambda h: h["arch"].update(action_space={"type": "cube"}),
     "arch.action_space.type: expected 'discrete' or 'box'"),
    ("bad_head", lambda h: h["arch"].update(head="bogus"), "head"),
])
def test_policy_load_names_the_bad_header_field(tmp_path, name, change, message):
    good = tmp_path / "good.eqx"
    save_policy(good, make_actor_policy(PolicyArch(3, Discrete(2)), jax.random.key(0)))
    before = good.read_bytes()
    with pytest.raises(ValueError, match=message) as info:
        load_policy(_with_header(tmp_path, good, f"{name}.eqx", change))
    assert f"{name}.eqx" in str(info.value)
    assert good.read_bytes() == before


def test_normalizer_stays_finite_for_huge_observations():
    # float32 sums of squares overflowed near 1e19; the variance itself (~1e38) fits
    x = jax.random.normal(jax.random.key(1), (1000, 2)) * 1e19
    in_parts = update_normalizer(normalizer_from_data(x[:400]), x[400:])
    want = np.var(np.asarray(x, np.float64), 0)
    for stats in (normalizer_from_data(x), in_parts):
        assert np.isfinite(stats.var).all() and np.isfinite(stats.mean).all()
        np.testing.assert_allclose(stats.var, want, rtol=1e-3)


def test_epsilon_random_acts_at_random_with_probability_epsilon():
    space = Discrete(5)
    constant = lambda obs, key: jnp.asarray(3, jnp.int32)  # a policy that always acts 3
    keys = jax.random.split(jax.random.key(0), 4000)
    obs = jnp.zeros(2)
    act = lambda eps: np.asarray(jax.vmap(lambda k: EpsilonRandom(constant, eps, space)(obs, k))(
        keys))
    np.testing.assert_array_equal(act(0.0), 3)
    # with epsilon 0.4, action 3 comes from the policy (0.6) or the uniform draw (0.4 / 5)
    frequencies = np.bincount(act(0.4), minlength=5) / len(keys)
    np.testing.assert_allclose(frequencies, [0.08, 0.08, 0.08, 0.68, 0.08], atol=0.025)
    box = Box((2,), -1.0, 2.0)
    actions = np.asarray(jax.vmap(lambda k: EpsilonRandom(lambda o, kk: jnp.zeros(2), 1.0, box)(
        obs, k))(keys))
    assert actions.min() >= -1.0 and actions.max() <= 2.0 and actions.std() > 0.5
    # the acting mode passes through to the wrapped policy
    policy = make_actor_policy(PolicyArch(2, box), jax.random.key(1))
    noisy = EpsilonRandom(policy, 0.0, box).with_deterministic(True)
    assert noisy.policy.deterministic
    np.testing.assert_array_equal(noisy(obs, keys[0]), policy.with_deterministic(True)(obs,
                                                                                      keys[0]))
