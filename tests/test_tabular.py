"""Tabular MDPs: solvers and occupancies against hand-computed and brute-force answers,
the built-ins, the env view, demos -> indices, and the max-margin QP."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

import jaxil
import jaxil.tabular as T


def _two_state_mdp(horizon=2, discount=1.0):
    """S=2, A=2: action 0 stays, action 1 switches (with prob 0.8); reward r(s) = (0, 1)."""
    p = np.zeros((2, 2, 2), np.float32)
    p[0, 0] = [1.0, 0.0]
    p[1, 0] = [0.0, 1.0]
    p[0, 1] = [0.2, 0.8]
    p[1, 1] = [0.8, 0.2]
    phi = np.eye(2, dtype=np.float32)
    return T.TabularMDP(p, [1.0, 0.0], phi, [0.0, 1.0], discount, horizon)


def test_soft_value_iteration_hand_computed():
    mdp = _two_state_mdp(horizon=1)
    sol = T.soft_value_iteration(mdp)
    # V_1 = r(s); Q_0(s, a) = r(s) + E[V_1(s')].
    q0 = np.array([[0.0 + 0.0, 0.0 + 0.8], [1.0 + 1.0, 1.0 + 0.2]])
    v0 = np.log(np.exp(q0).sum(1))
    np.testing.assert_allclose(sol.q_values[0], q0, atol=1e-6)
    np.testing.assert_allclose(sol.values, np.stack([v0, [0.0, 1.0]]), atol=1e-6)
    np.testing.assert_allclose(sol.policy[0], np.exp(q0 - v0[:, None]), atol=1e-6)
    # Occupancy: D_0 = e_0, D_1 = pi_0(0|0) e_0 + pi_0(1|0) (0.2, 0.8).
    pi = np.exp(q0 - v0[:, None])
    d1 = pi[0, 0] * np.array([1.0, 0.0]) + pi[0, 1] * np.array([0.2, 0.8])
    occ = T.occupancy(mdp, sol.policy)
    np.testing.assert_allclose(occ.state, np.array([1.0, 0.0]) + d1, atol=1e-6)
    np.testing.assert_allclose(occ.state_action, np.array([[pi[0, 0], pi[0, 1]], [0, 0]]),
                               atol=1e-6)
    np.testing.assert_allclose(T.expected_return(mdp, occ), d1[1], atol=1e-6)


def test_value_iteration_matches_brute_force_over_deterministic_policies():
    mdp = _two_state_mdp(horizon=2)
    best = -np.inf
    for choice in itertools.product(range(2), repeat=4):  # (t, s) -> action
        pi = jax.nn.one_hot(np.array(choice).reshape(2, 2), 2)
        best = max(best, float(T.policy_return(mdp, pi)))
    sol = T.value_iteration(mdp)
    np.testing.assert_allclose(sol.values[0] @ mdp.initial, best, atol=1e-6)
    np.testing.assert_allclose(T.policy_return(mdp, sol.policy), best, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(sol.policy).sum(-1), 1.0)


SIZES = (10, 3, 4)  # S, A, K of the random MDPs (shared, so compilations are reused)


def _random_mdps(seed, n, **kwargs):
    """`n` random MDPs stacked along a leading axis (one compiled `random_mdp`)."""
    mdps = [T.random_mdp(k, *SIZES, **kwargs) for k in jax.random.split(jax.random.key(seed), n)]
    return jax.tree.map(lambda *x: jnp.stack(x), *mdps)


def _totals(horizon, discount):
    if horizon is None:
        return 1.0 / (1.0 - discount), 1.0 / (1.0 - discount)
    return (sum(discount**t for t in range(horizon + 1)),
            sum(discount**t for t in range(horizon)))


@pytest.mark.parametrize("horizon,discount", [(6, 1.0), (None, 0.9)])
def test_occupancy_totals_and_policy_sums(horizon, discount):
    mdps = _random_mdps(0, 8, horizon=horizon, discount=discount)

    def solve(mdp):
        sol = T.soft_value_iteration(mdp)
        return sol.policy, T.occupancy(mdp, sol.policy), T.value_iteration(mdp).policy

    pis, occs, greedy = jax.jit(jax.vmap(solve))(mdps)
    total_s, total_sa = _totals(horizon, discount)  # H + 1 and H, or 1 / (1 - discount)
    np.testing.assert_allclose(occs.state.sum(-1), total_s, rtol=1e-5)
    np.testing.assert_allclose(occs.state_action.sum((-2, -1)), total_sa, rtol=1e-5)
    one = jax.tree.map(lambda x: x[3], mdps)
    np.testing.assert_allclose(T.occupancy_total(one), total_s, rtol=1e-6)
    for pi in (pis, greedy):
        assert np.all(np.isfinite(pi)) and np.all(np.asarray(pi) >= 0)
        np.testing.assert_allclose(np.asarray(pi).sum(-1), 1.0, atol=1e-6)
    # vmapped results equal the unbatched ones
    np.testing.assert_allclose(solve(one)[1].state, occs.state[3], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("horizon,discount", [(6, 1.0), (None, 0.9)])
def test_soft_values_are_return_plus_causal_entropy(horizon, discount):
    mdp = T.random_mdp(jax.random.key(1), *SIZES, horizon=horizon, discount=discount,
                       state_action_features=True)
    sol = T.soft_value_iteration(mdp)
    occ = T.occupancy(mdp, sol.policy)
    pi = sol.policy
    if horizon is None:
        entropy = -jnp.sum(occ.state_action * jnp.log(pi))
    else:
        d = T.forward_messages(mdp, pi)
        entropy = -jnp.sum(d[:-1, :, None] * pi * jnp.log(pi))
    np.testing.assert_allclose(mdp.initial @ (sol.values[0] if horizon else sol.values),
                               T.expected_return(mdp, occ) + entropy, rtol=1e-4)


@pytest.mark.parametrize("horizon,discount", [(6, 0.9), (None, 0.9)])
def test_policy_evaluation_agrees_with_occupancy(horizon, discount):
    mdp = T.random_mdp(jax.random.key(2), *SIZES, horizon=horizon, discount=discount)
    shape = SIZES[:2] if horizon is None else (horizon, *SIZES[:2])
    pi = jax.nn.softmax(jax.random.normal(jax.random.key(3), shape), -1)
    v, q = T.policy_evaluation(mdp, pi)
    v0 = v if horizon is None else v[0]
    np.testing.assert_allclose(mdp.initial @ v0, T.policy_return(mdp, pi), rtol=1e-5)
    assert q.shape == shape
    occ = T.occupancy(mdp, pi)
    np.testing.assert_allclose(occ.state.sum(), _totals(horizon, discount)[0], rtol=1e-5)


def test_discounted_value_iteration_is_a_fixed_point():
    mdp = T.random_mdp(jax.random.key(4), *SIZES, discount=0.9)
    sol = T.value_iteration(mdp)
    v_pi, _ = T.policy_evaluation(mdp, sol.policy)
    np.testing.assert_allclose(v_pi, sol.values, rtol=1e-4, atol=1e-4)
    soft = T.soft_value_iteration(mdp)
    backup = jax.nn.logsumexp(mdp.reward[:, None] + 0.9 * mdp.transitions @ soft.values, -1)
    np.testing.assert_allclose(backup, soft.values, rtol=1e-5, atol=1e-5)


def test_mixture_policy_has_the_mixture_occupancy():
    mdp = T.random_mdp(jax.random.key(5), *SIZES, horizon=6, discount=1.0)
    pis = jax.nn.softmax(3 * jax.random.normal(jax.random.key(6), (3, 6, *SIZES[:2])), -1)
    w = jnp.array([0.2, 0.5, 0.3])
    mixed = T.mixture_policy(mdp, pis, w)
    target = sum(w[i] * T.occupancy(mdp, pis[i]).state_action for i in range(3))
    np.testing.assert_allclose(T.occupancy(mdp, mixed).state_action, target, atol=1e-6)
    np.testing.assert_allclose(T.forward_messages(mdp, mixed),
                               sum(w[i] * T.forward_messages(mdp, pis[i]) for i in range(3)),
                               atol=1e-6)


def test_state_action_features_and_linear_reward():
    phi = jnp.arange(6.0).reshape(3, 2)
    sa = T.state_action_features(phi, 2)
    assert sa.shape == (3, 2, 4)
    np.testing.assert_array_equal(sa[1, 1], [0, 0, 2, 3])
    w = jnp.arange(4.0)
    mdp = T.TabularMDP(jnp.ones((3, 2, 3)) / 3, jnp.ones(3) / 3, sa)
    np.testing.assert_allclose(T.reward_from_weights(mdp, w)[1, 1], 2 * 2 + 3 * 3)


def test_cliff_world_matches_seals():
    mdp = T.cliff_world()
    assert mdp.transitions.shape == (28, 4, 28) and mdp.horizon == 8
    np.testing.assert_array_equal(mdp.reward[:7], [-1, -10, -10, -10, -10, -10, 10])
    np.testing.assert_array_equal(mdp.reward[7:], -1)
    # from (row 0, col 0), action 3 = (drow 1, dcol 1): to (1, 1) w.p. 0.7, wind to (0, 1)
    np.testing.assert_allclose(mdp.transitions[0, 3, 8], 0.7, atol=1e-6)
    np.testing.assert_allclose(mdp.transitions[0, 3, 1], 0.3, atol=1e-6)
    np.testing.assert_allclose(mdp.transitions.sum(-1), 1.0, atol=1e-6)
    assert mdp.initial[0] == 1.0
    xy = T.cliff_world(features="xy").features
    np.testing.assert_allclose(xy[9], [2 / 6, 1 / 3])


def test_gridworld_layout_and_dynamics():
    mdp = T.check_mdp(T.gridworld(("S.X", "..G"), slip=0.0))
    np.testing.assert_array_equal(mdp.reward, [0, 0, -1, 0, 0, 1])
    np.testing.assert_array_equal(mdp.features[2], [0, 1])
    assert mdp.initial[0] == 1.0
    np.testing.assert_array_equal(mdp.transitions[0, 1], jax.nn.one_hot(0, 6))  # up: wall
    np.testing.assert_array_equal(mdp.transitions[0, 4], jax.nn.one_hot(1, 6))  # right
    slippy = T.gridworld(("S.X", "..G"), slip=0.5)
    np.testing.assert_allclose(slippy.transitions[0, 4, 1], 0.5 + 0.5 * 0.2, atol=1e-6)
    with pytest.raises(ValueError, match="layout"):
        T.gridworld(("S.", "Q."))


def test_check_mdp_names_the_bad_field():
    good = T.random_mdp(jax.random.key(0), *SIZES, discount=0.9)
    T.check_mdp(good)
    bad = T.TabularMDP(good.transitions * 2, good.initial, good.features, None, 0.9)
    with pytest.raises(ValueError, match="transitions"):
        T.check_mdp(bad)
    with pytest.raises(ValueError, match="discount"):
        T.check_mdp(T.TabularMDP(good.transitions, good.initial, good.features, None, 1.0))
    with pytest.raises(ValueError, match="reward"):
        T.reward_tables(good, jnp.zeros(4))


def test_registered_envs_and_observations():
    for name, size in (("gridworld", 25), ("cliff", 28 + 9), ("random_mdp", 16)):
        env = jaxil.envs.make(name)
        assert env.spec.name == name and env.spec.observation_size == size
    env = jaxil.envs.make("cliff")
    state = env.reset(jax.random.key(0))
    np.testing.assert_array_equal(state.obs[:28], jax.nn.one_hot(0, 28))
    np.testing.assert_array_equal(state.obs[28:], jax.nn.one_hot(0, 9))
    state = env.step(state, jnp.int32(3))
    assert int(jnp.argmax(state.obs[28:])) == 1


def test_env_rollouts_match_exact_occupancy_and_return():
    env = jaxil.envs.make("cliff")
    mdp = env.unwrapped.mdp
    pi = T.soft_value_iteration(mdp).policy
    policy = T.tabular_policy(env, pi)
    demos = jaxil.data.collect(env, policy, jax.random.key(0), 4000)
    exact = T.occupancy(mdp, pi)
    occ = T.occupancy_from_demos(env, demos)
    assert float(T.total_variation(occ.state_action, exact.state_action)) < 0.02
    np.testing.assert_allclose(occ.state.sum(), 9.0, rtol=1e-6)
    np.testing.assert_allclose(demos.returns.mean(), T.expected_return(mdp, exact), rtol=0.02)
    flat = T.occupancy_from_demos(env, jaxil.data.as_transitions(demos))
    np.testing.assert_allclose(flat.state, occ.state, atol=1e-5)
    idx = T.demo_indices(env, demos)
    assert idx.states.shape == (4000 * 8,) and int(idx.times.max()) == 7


def test_plugin_occupancy_for_demos_without_time():
    env = jaxil.envs.make("gridworld", max_episode_steps=60)
    mdp = env.unwrapped.mdp
    pi = T.value_iteration(mdp).policy
    demos = jaxil.data.collect(env, T.tabular_policy(env, pi), jax.random.key(1), 50)
    flat = jaxil.data.as_transitions(demos)
    assert T.demo_indices(env, flat).times is None
    exact = T.occupancy(mdp, pi)
    plugin = T.occupancy_from_demos(env, flat)
    assert float(T.total_variation(plugin.state_action, exact.state_action)) < 0.01
    np.testing.assert_allclose(plugin.state.sum(), 10.0, rtol=1e-4)


def test_tabular_policy_reads_state_and_time():
    env = jaxil.envs.make("cliff")
    probs = jnp.zeros((8, 28, 4)).at[:, :, 0].set(1.0).at[3, 5].set(jnp.array([0, 0, 1., 0]))
    policy = T.tabular_policy(env, probs)
    obs = env.unwrapped.observe(jnp.int32(5), jnp.int32(3))
    assert int(policy(obs, jax.random.key(0))) == 2
    assert int(policy(env.unwrapped.observe(jnp.int32(5), jnp.int32(2)),
                      jax.random.key(0))) == 0
    with pytest.raises(ValueError, match="time"):
        T.tabular_policy(jaxil.envs.make("gridworld"), probs)


def test_project_simplex():
    x = T.project_simplex(jnp.array([0.5, 2.0, -1.0, 0.1]))
    np.testing.assert_allclose(x, [0.0, 1.0, 0.0, 0.0], atol=1e-6)
    y = T.project_simplex(jnp.array([0.3, 0.3, 0.9]), jnp.array([True, True, False]))
    np.testing.assert_allclose(y, [0.5, 0.5, 0.0], atol=1e-6)


def test_hull_projection_matches_scipy_and_two_point_case():
    lam, d = T.hull_projection(jnp.array([[0.0, 0.0], [2.0, 0.0]]), jnp.array([0.5, 1.0]))
    np.testing.assert_allclose(lam, [0.75, 0.25], atol=1e-5)
    np.testing.assert_allclose(d, 1.0, atol=1e-5)
    rng = np.random.default_rng(0)
    for _ in range(3):
        pts = rng.normal(size=(10, 4)).astype(np.float32)
        pts[5] = pts[4] + 1e-3  # near-duplicates: first-order methods stall here
        target = 2 * rng.normal(size=4).astype(np.float32)
        mask = np.arange(10) < 8
        lam, d = T.hull_projection(jnp.asarray(pts), jnp.asarray(target), jnp.asarray(mask))
        objective = lambda w, t=target, p=pts[:8]: np.sum((t - w @ p) ** 2)
        ref = minimize(objective, np.ones(8) / 8,
                       method="SLSQP", bounds=[(0, 1)] * 8,
                       constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
                       options={"ftol": 1e-14, "maxiter": 500})
        np.testing.assert_allclose(d, np.sqrt(ref.fun), rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(lam[8:], 0.0)
        np.testing.assert_allclose(lam.sum(), 1.0, atol=1e-6)


def test_actor_policy_conversion_is_exact_and_saveable(tmp_path):
    grid = jaxil.envs.make("gridworld")  # stationary: one linear layer
    stationary = T.soft_value_iteration(grid.unwrapped.mdp).policy  # [25, 5]
    np.testing.assert_allclose(T.policy_table(grid, T.to_actor_policy(grid, stationary)),
                               stationary, rtol=1e-5, atol=1e-7)
    env = jaxil.envs.make("cliff")  # time-dependent: one ReLU unit per (state, time)
    probs = T.soft_value_iteration(env.unwrapped.mdp).policy  # [8, 28, 4]
    actor = T.to_actor_policy(env, probs)
    assert isinstance(actor, jaxil.ActorPolicy)
    np.testing.assert_allclose(T.policy_table(env, actor), probs, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(T.policy_table(env, T.tabular_policy(env, probs)), probs)
    path = tmp_path / "policy.eqx"
    jaxil.save_policy(path, actor.with_deterministic())
    loaded = jaxil.load_policy(path)
    np.testing.assert_allclose(T.policy_table(env, loaded), probs, rtol=1e-5, atol=1e-7)
    obs = env.unwrapped.observe(jnp.int32(3), jnp.int32(2))
    assert int(loaded(obs, jax.random.key(0))) == int(jnp.argmax(probs[2, 3]))
