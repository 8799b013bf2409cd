"""Tests of jaxil.data: validation, save/load, collection, sampling and the replay buffer."""

from __future__ import annotations

import dataclasses
import json
import math
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxil
from jaxil.algorithms.gcl import mean_episode_length
from jaxil.data import (
    Demos,
    as_transitions,
    buffer_add,
    buffer_init,
    buffer_sample,
    collect,
    concatenate,
    load,
    load_with_metadata,
    make_demos,
    sample_batch,
    sample_segments,
    save,
    step_mask,
    storage,
    validate_demos,
)
from jaxil.types import Box, Discrete, EnvSpec, Transition

N, T, OBS = 3, 5, 4
DISCRETE = EnvSpec("toy", OBS, Discrete(2), max_episode_steps=T)
CONTINUOUS = EnvSpec("toy_box", OBS, Box((2,), -1.0, 1.0), max_episode_steps=T)


def toy(discrete: bool = True) -> dict[str, np.ndarray]:
    """Valid arrays of 3 episodes: lengths 5 (truncated), 3 (terminated), 2 (no flag)."""
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(N, T + 1, OBS)).astype(np.float32)
    if discrete:
        actions = rng.integers(0, 2, size=(N, T)).astype(np.int32)
    else:
        actions = rng.uniform(-1, 1, size=(N, T, 2)).astype(np.float32)
    lengths = np.array([5, 3, 2], np.int32)
    terminated = np.zeros((N, T), bool)
    truncated = np.zeros((N, T), bool)
    truncated[0, 4] = True
    terminated[1, 2] = True
    rewards = rng.normal(size=(N, T)).astype(np.float32)
    return dict(obs=obs, actions=actions, rewards=rewards, terminated=terminated,
                truncated=truncated, lengths=lengths)


def demos_with(discrete: bool = True, **changes) -> Demos:
    """A `Demos` of the toy arrays with some fields replaced (not validated)."""
    return Demos(**{**toy(discrete), **changes})


# ------------------------------------------------------------------------ validation


def _set(field, index, value):
    def change(a):
        a = dict(a)
        a[field] = a[field].copy()
        a[field][index] = value
        return a
    return change


def _replace(field, make):
    def change(a):
        return {**a, field: make(a[field])}
    return change


INVALID = {
    # obs must have exactly one more step than actions.
    "obs_same_steps_as_actions": (_replace("obs", lambda o: o[:, :-1]),
                                  r"actions: expected shape \[3, 4.*one more step.*found \[3, 5\]"),
    "obs_two_more_steps": (_replace("obs", lambda o: np.concatenate([o, o[:, :1]], 1)),
                           r"actions: expected shape \[3, 6.*found \[3, 5\]"),
    "obs_not_3d": (_replace("obs", lambda o: o[..., 0]), r"obs: expected shape \[N, T \+ 1"),
    "obs_int_dtype": (_replace("obs", lambda o: o.astype(np.int32)),
                      r"obs: expected a floating dtype.*found int32"),
    "lengths_zero": (_set("lengths", 2, 0), r"lengths: expected values in 1\.\.5.*found 0"),
    "lengths_too_long": (_set("lengths", 1, T + 1),
                         r"lengths: expected values in 1\.\.5.*found 6 at episode 1"),
    "lengths_shape": (_replace("lengths", lambda x: x[:, None]),
                      r"lengths: expected shape \[3\].*found \[3, 1\]"),
    "lengths_float": (_replace("lengths", lambda x: x.astype(np.float32)),
                      r"lengths: expected an integer dtype.*found float32"),
    "obs_nan": (_set("obs", (1, 2, 3), np.nan), r"obs: expected finite values, found nan"),
    "obs_inf": (_set("obs", (0, 0, 0), np.inf), r"obs: expected finite values, found inf"),
    "rewards_nan": (_set("rewards", (2, 1), np.nan), r"rewards: expected finite values"),
    "rewards_shape": (_replace("rewards", lambda r: r[:, :-1]),
                      r"rewards: expected shape \[3, 5\].*found \[3, 4\]"),
    "action_too_large": (_set("actions", (2, 1), 2),
                         r"actions: expected discrete actions in \[0, 2\), found 2"),
    "action_negative": (_set("actions", (0, 0), -1),
                        r"actions: expected discrete actions in \[0, 2\), found -1"),
    "action_float_for_discrete": (_replace("actions", lambda a: a.astype(np.float32)),
                                  r"actions: expected an integer dtype.*found float32"),
    "action_extra_dim_for_discrete": (_replace("actions", lambda a: a[..., None]),
                                      r"actions: expected shape \[3, 5\] for the discrete"),
    "obs_size": (_replace("obs", lambda o: o[..., :3]),
                 r"obs: expected observation size 4 .*'toy'.*found \[3, 6, 3\]"),
    "empty_episodes": (lambda a: {k: v[:0] for k, v in a.items()},
                       r"obs: empty demos.*found \[0, 6, 4\]"),
    "empty_steps": (lambda a: {**{k: v[:, :0] for k, v in a.items() if k != "lengths"},
                               "obs": a["obs"][:, :1], "lengths": a["lengths"]},
                    r"obs: empty demos.*found \[3, 1, 4\]"),
    "terminated_shape": (_replace("terminated", lambda x: x[:, :-1]),
                         r"terminated: expected shape \[3, 5\].*found \[3, 4\]"),
    "truncated_shape": (_replace("truncated", lambda x: x[None]),
                        r"truncated: expected shape \[3, 5\].*found \[1, 3, 5\]"),
    "terminated_dtype": (_replace("terminated", lambda x: x.astype(np.float32)),
                         r"terminated: expected dtype bool, found float32"),
    "truncated_dtype": (_replace("truncated", lambda x: x.astype(np.int8) * 3),
                        r"truncated: expected dtype bool, found int8"),
    "both_flags": (_set("terminated", (0, 4), True),
                   r"terminated/truncated: .*both true at episode 0, step 4"),
    "terminated_early": (_set("terminated", (1, 0), True),
                         r"terminated: expected true only at the last valid step.*episode 1, "
                         r"step 0"),
    "truncated_in_padding": (_set("truncated", (2, 4), True),
                             r"truncated: expected true only at the last valid step.*episode 2, "
                             r"step 4 \(lengths\[2\] = 2\)"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_demos_raise_naming_the_field(case):
    change, message = INVALID[case]
    arrays = change(toy())
    with pytest.raises(ValueError, match=message):
        validate_demos(Demos(**arrays), DISCRETE)
    # make_demos rejects them too: it canonicalises dtypes (integer obs become float32,
    # which is why that case is valid for it) but never changes contents.
    if case != "obs_int_dtype":
        with pytest.raises(ValueError, match=message.split(":")[0]):
            make_demos(**arrays, spec=DISCRETE)


@pytest.mark.parametrize("field", ["obs", "actions"])
def test_nan_in_continuous_actions_and_obs(field):
    index = (0, 1, 1) if field == "actions" else (0, 1, 2)
    arrays = _set(field, index, np.nan)(toy(discrete=False))
    with pytest.raises(ValueError, match=fr"{field}: expected finite values, found nan at "
                                         r"index \[0, 1,"):
        make_demos(**arrays, spec=CONTINUOUS)


def test_action_size_must_match_spec():
    a = toy(discrete=False)
    with pytest.raises(ValueError, match=r"actions: expected shape \[3, 5, 2\].*'toy_box'.*"
                                         r"found \[3, 5, 3\]"):
        validate_demos(Demos(**{**a, "actions": np.zeros((N, T, 3), np.float32)}), CONTINUOUS)
    with pytest.raises(ValueError, match=r"actions: expected shape \[3, 5\] for the discrete"):
        validate_demos(Demos(**a), DISCRETE)


def test_integer_actions_for_continuous_space_are_converted():
    a = toy(discrete=False)
    demos = make_demos(**{**a, "actions": np.ones((N, T, 2), np.int64)}, spec=CONTINUOUS)
    assert demos.actions.dtype == np.float32


def test_valid_demos_pass_and_are_canonical():
    a = toy()
    demos = make_demos(a["obs"].astype(np.float64), a["actions"].astype(np.int64),
                       a["rewards"].astype(np.float64), a["terminated"].astype(np.int64),
                       a["truncated"], a["lengths"].astype(np.int64), spec=DISCRETE)
    assert demos.obs.dtype == np.float32 and demos.rewards.dtype == np.float32
    assert demos.actions.dtype == np.int32 and demos.lengths.dtype == np.int32
    assert demos.terminated.dtype == bool and demos.truncated.dtype == bool
    np.testing.assert_array_equal(demos.terminated, a["terminated"])
    validate_demos(demos, DISCRETE)  # no error
    validate_demos(demos)


def test_state_only_and_reward_free_demos_are_allowed():
    a = toy()
    demos = make_demos(a["obs"], None, None, a["terminated"], a["truncated"], a["lengths"],
                       spec=DISCRETE)
    assert demos.actions is None and demos.rewards is None
    flat = as_transitions(demos)
    assert flat.action is None
    assert flat.obs.shape == (10, OBS)
    np.testing.assert_array_equal(flat.reward, np.zeros(10))


def test_lengths_are_derived_from_flags():
    a = toy()
    demos = make_demos(a["obs"], a["actions"], terminated=a["terminated"],
                       truncated=a["truncated"])
    np.testing.assert_array_equal(demos.lengths, [5, 3, T])
    no_flags = make_demos(a["obs"], a["actions"])
    np.testing.assert_array_equal(no_flags.lengths, [T, T, T])
    assert not no_flags.terminated.any() and not no_flags.truncated.any()


def test_as_transitions_and_step_mask():
    a = toy()
    demos = make_demos(**a, spec=DISCRETE)
    mask = step_mask(demos)
    np.testing.assert_array_equal(mask.sum(1), a["lengths"])
    flat = as_transitions(demos)
    assert flat.obs.shape == (int(a["lengths"].sum()), OBS)
    assert flat.action.shape == (10,)
    # The last transition of episode 1 ends at its true final observation obs[1, 3].
    last = int(a["lengths"][0]) + int(a["lengths"][1]) - 1
    np.testing.assert_array_equal(flat.next_obs[last], a["obs"][1, 3])
    assert bool(flat.terminated[last])
    # Episode 2 (length 2) ends with no flag: it is cut off there, so it ends truncated
    # instead of running into nothing, and the episodes count as three.
    assert bool(flat.truncated[-1]) and not bool(flat.terminated[-1])
    assert int(flat.terminated.sum()) == 1 and int(flat.truncated.sum()) == 2
    assert float(mean_episode_length(flat)) == pytest.approx(10 / 3)
    assert as_transitions(flat) is flat


def test_returns_need_rewards():
    a = toy()
    demos = make_demos(**a)
    expected = [a["rewards"][i, :n].sum() for i, n in enumerate(a["lengths"])]
    np.testing.assert_allclose(demos.returns, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="rewards"):
        make_demos(**{**a, "rewards": None}).returns  # noqa: B018


# ------------------------------------------------------------------------ save / load


def test_save_load_round_trip(tmp_path):
    demos = make_demos(**toy(), spec=DISCRETE)
    path = tmp_path / "demos.npz"
    save(path, demos, metadata={"expert_return": 12.5, "seed": 3, "note": "ok"}, spec=DISCRETE)
    loaded, header = load_with_metadata(path, spec=DISCRETE)
    for name, want in demos.arrays.items():
        got = getattr(loaded, name)
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert loaded.spec == demos.spec == DISCRETE
    assert header["format"] == "jaxil-demos" and header["version"] == 1
    assert header["env"] == "toy"
    assert header["spec"]["action_space"] == {"type": "discrete", "n": 2}
    assert header["metadata"] == {"expert_return": 12.5, "seed": 3, "note": "ok"}
    assert header["fields"]["obs"]["shape"] == [N, T + 1, OBS]
    assert header["num_transitions"] == 10
    np.testing.assert_array_equal(load(path).obs, demos.obs)
    assert sorted(os.listdir(tmp_path)) == ["demos.npz"]  # no temporary file left


def test_save_load_without_actions_or_rewards(tmp_path):
    a = toy(discrete=False)
    demos = make_demos(a["obs"], None, None, a["terminated"], a["truncated"], a["lengths"])
    save(tmp_path / "state_only", demos)  # the path is used as given
    loaded, header = load_with_metadata(tmp_path / "state_only", spec=CONTINUOUS)
    assert loaded.actions is None and loaded.rewards is None
    np.testing.assert_array_equal(loaded.obs, a["obs"])
    np.testing.assert_array_equal(loaded.lengths, a["lengths"])
    assert header["env"] is None and header["metadata"] == {}


def test_load_checks_the_spec(tmp_path):
    save(tmp_path / "d.npz", make_demos(**toy()))
    with pytest.raises(ValueError, match=r"obs: expected observation size 3"):
        load(tmp_path / "d.npz", spec=EnvSpec("other", 3, Discrete(2), T))
    with pytest.raises(ValueError, match=r"actions: expected discrete actions in \[0, 1\)"):
        load(tmp_path / "d.npz", spec=EnvSpec("other", OBS, Discrete(1), T))


def test_save_refuses_invalid_demos_and_bad_metadata(tmp_path):
    with pytest.raises(ValueError, match="lengths"):
        save(tmp_path / "d.npz", demos_with(lengths=np.array([5, 3, 9], np.int32)))
    with pytest.raises(TypeError, match="metadata"):
        save(tmp_path / "d.npz", make_demos(**toy()), metadata={"x": object()})
    with pytest.raises(TypeError, match="metadata"):
        save(tmp_path / "d.npz", make_demos(**toy()), metadata={"x": math.nan})
    assert os.listdir(tmp_path) == []


def test_failed_save_leaves_no_file_and_keeps_an_existing_one(tmp_path, monkeypatch):
    path = tmp_path / "demos.npz"
    demos = make_demos(**toy())

    def failing_savez(f, **arrays):
        f.write(b"PK\x03\x04 half written")
        raise OSError("disk full")

    monkeypatch.setattr(storage.np, "savez_compressed", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        save(path, demos)
    assert os.listdir(tmp_path) == []

    monkeypatch.undo()
    save(path, demos, metadata={"version": "old"})
    before = path.read_bytes()
    monkeypatch.setattr(storage.np, "savez_compressed", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        save(path, make_demos(**toy(discrete=False)))
    assert os.listdir(tmp_path) == ["demos.npz"]
    assert path.read_bytes() == before
    monkeypatch.undo()
    assert load_with_metadata(path)[1]["metadata"] == {"version": "old"}


@pytest.fixture
def saved(tmp_path):
    """A valid demos file; returns its path and bytes."""
    path = tmp_path / "demos.npz"
    save(path, make_demos(**toy()), spec=DISCRETE)
    return path, path.read_bytes()


def _rewrite(path, src, drop=(), header_changes=None):
    """Writes a copy of the demos file `src` with fields dropped or the header changed."""
    with np.load(src) as npz:
        arrays = {k: npz[k] for k in npz.files if k not in drop}
    header = json.loads(arrays["__jaxil__"].tobytes())
    header.update(header_changes or {})
    arrays["__jaxil__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(path, **arrays)


def _bad_files(tmp_path, src, good):
    half = tmp_path / "half.npz"
    half.write_bytes(good[: len(good) // 2])
    corrupt = bytearray(good)
    middle = len(corrupt) // 2
    corrupt[middle:middle + 64] = bytes(b ^ 0xFF for b in corrupt[middle:middle + 64])
    (tmp_path / "corrupt.npz").write_bytes(bytes(corrupt))
    np.savez(tmp_path / "foreign.npz", obs=np.zeros((2, 3)), x=np.ones(3))
    (tmp_path / "notes.txt").write_text("these are not demonstrations\n")
    np.save(tmp_path / "single.npy", np.zeros(3))
    (tmp_path / "empty.npz").write_bytes(b"")
    _rewrite(tmp_path / "no_lengths.npz", src, drop=("lengths",))
    _rewrite(tmp_path / "future.npz", src, header_changes={"version": 99})
    _rewrite(tmp_path / "other_format.npz", src, header_changes={"format": "something-else"})
    _rewrite(tmp_path / "bad_shape.npz", src,
             header_changes={"fields": {"obs": {"shape": [1, 2, 3], "dtype": "<f4"}}})
    _rewrite(tmp_path / "wrong_count.npz", src, header_changes={"num_transitions": 11})
    _rewrite(tmp_path / "bad_spec.npz", src,
             header_changes={"spec": {"name": "toy", "observation_size": "four"}})
    _rewrite(tmp_path / "float_spec.npz", src, header_changes={"spec": {
        "name": "toy", "observation_size": OBS, "max_episode_steps": T,
        "action_space": {"type": "discrete", "n": 1}}})
    _rewrite(tmp_path / "renamed.npz", src, header_changes={"env": "other", "spec": {
        "name": "toy", "observation_size": OBS, "max_episode_steps": T,
        "action_space": {"type": "discrete", "n": 2}}})
    return {
        "half.npz": "truncated or corrupted",
        "corrupt.npz": "truncated or corrupted",
        "foreign.npz": "not a jaxil demos file.*no '__jaxil__' header",
        "notes.txt": r"not a jaxil demos file.*expected an \.npz",
        "single.npy": r"not a jaxil demos file.*expected an \.npz",
        "empty.npz": r"not a jaxil demos file",
        "no_lengths.npz": "lengths: missing field",
        "future.npz": "version: demos format version 99 is not supported",
        "other_format.npz": "not a jaxil demos file.*format 'jaxil-demos'",
        "bad_shape.npz": r"obs: header records shape \[1, 2, 3\]",
        "wrong_count.npz": "num_transitions: the header records 11, the arrays hold 10",
        "bad_spec.npz": "spec.observation_size: expected int, found 'four'",
        "float_spec.npz": r"actions: expected discrete actions in \[0, 1\)",
        "renamed.npz": "env: the header names env 'other' but its spec describes 'toy'",
    }


def test_load_rejects_bad_files_and_changes_nothing(tmp_path, saved):
    src, good = saved
    cases = _bad_files(tmp_path, src, good)
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    for name, message in cases.items():
        with pytest.raises(ValueError, match=message):
            load(tmp_path / name)
    after = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    assert after == before
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


# ------------------------------------------------------------------------ specs


def test_demos_carry_their_spec_through_save_load_and_jit(tmp_path):
    demos = make_demos(**toy(), spec=DISCRETE)
    assert demos.spec == DISCRETE
    save(tmp_path / "d.npz", demos)  # no spec argument: the demos' own is recorded
    loaded, header = load_with_metadata(tmp_path / "d.npz")
    assert loaded.spec == DISCRETE and header["env"] == "toy"
    assert header["spec"]["action_space"] == {"type": "discrete", "n": 2}
    # the spec is structure, not a leaf: jit passes it through and keys the cache on it
    assert len(jax.tree.leaves(demos)) == 6
    out = jax.jit(lambda d: d._replace(obs=d.obs + 1.0))(demos)
    assert out.spec == DISCRETE
    np.testing.assert_allclose(out.obs, demos.obs + 1.0)
    with pytest.raises(ValueError, match="spec: expected demos from one env"):
        concatenate(demos, make_demos(**toy(), spec=dataclasses.replace(DISCRETE, name="b")))


def test_a_given_spec_must_match_the_recorded_one(tmp_path):
    save(tmp_path / "d.npz", make_demos(**toy(), spec=DISCRETE))
    other = EnvSpec("other", OBS, Discrete(3), T)
    with pytest.raises(ValueError, match="spec: the demos were recorded in 'toy'.*'other'"):
        load(tmp_path / "d.npz", spec=other)
    # the same spaces under another name (another time limit) are accepted
    renamed = EnvSpec("toy-v2", OBS, Discrete(2), 2 * T)
    assert load(tmp_path / "d.npz", spec=renamed).spec == renamed


def test_continuous_actions_are_checked_against_the_bounds():
    arrays = toy(discrete=False)
    slack = 0.5e-3 * 2.0  # half the tolerance of a width-2 box
    arrays["actions"][0, 1, 0] = 1.0 + slack
    make_demos(**arrays, spec=CONTINUOUS)  # float noise at a bound passes
    arrays["actions"][0, 1, 0] = 1e30
    with pytest.raises(ValueError, match=r"actions: expected values within the bounds of "
                                         r"'toy_box' \[-1, 1\].*found 1e\+30 at episode 0, "
                                         r"step 1, dimension \[0\]"):
        make_demos(**arrays, spec=CONTINUOUS)
    arrays["actions"][0, 1, 0] = 0.0
    arrays["actions"][2, 4, 1] = -7.0  # padding (episode 2 has 2 steps): not checked
    make_demos(**arrays, spec=CONTINUOUS)


def test_collect_records_continuous_actions_as_the_env_executes_them():
    env = jaxil.envs.make("pendulum", max_episode_steps=4)
    demos = collect(env, lambda obs, key: jnp.array([7.5]), jax.random.key(0), 2)
    assert demos.spec == env.spec
    np.testing.assert_array_equal(demos.actions, 2.0)  # pendulum clips its torque to 2


def test_train_checks_demos_against_the_algorithms_env(cartpole, cartpole_demos):
    algo = jaxil.algorithms.bc(cartpole, jaxil.algorithms.BCConfig())
    assert algo.spec == cartpole.spec
    run = lambda demos: jax.jit(lambda k: jaxil.train(algo, k, demos, 2, 8))(jax.random.key(0))
    # demos saved without a spec: float actions on a discrete env used to train at loss 0
    floats = cartpole_demos._replace(actions=cartpole_demos.actions + 0.5, spec=None)
    with pytest.raises(ValueError, match="actions: expected an integer dtype.*'cartpole'"):
        run(floats)
    with pytest.raises(ValueError, match=r"actions: expected discrete actions in \[0, 2\)"):
        run(as_transitions(cartpole_demos._replace(actions=cartpole_demos.actions * 3)))
    traced = jax.jit(lambda k, d: jaxil.train(algo, k, d, 2, 8))
    with pytest.raises(ValueError, match="demos: padded Demos cannot be traced.*as_transitions"):
        traced(jax.random.key(0), cartpole_demos)
    pendulum = jaxil.envs.make("pendulum")
    with pytest.raises(ValueError, match="spec: the demos were recorded in 'cartpole'"):
        jaxil.train(jaxil.algorithms.bc(pendulum, jaxil.algorithms.BCConfig()),
                    jax.random.key(0), cartpole_demos, 2, 8)


# ------------------------------------------------------------------------ collect


@pytest.fixture(scope="module")
def cartpole():
    return jaxil.envs.make("cartpole")


@pytest.fixture(scope="module")
def cartpole_demos(cartpole):
    policy = jaxil.RandomPolicy(cartpole.spec.action_space)
    return collect(cartpole, policy, jax.random.key(0), num_episodes=6)


def test_collect_cartpole_random(cartpole, cartpole_demos):
    from jaxil.envs.cartpole import THETA_LIMIT, X_LIMIT

    demos = cartpole_demos
    validate_demos(demos, cartpole.spec)
    assert demos.obs.shape == (6, 501, 4) and demos.actions.shape == (6, 500)
    assert demos.actions.dtype == np.int32 and demos.obs.dtype == np.float32
    idx = np.arange(6)
    # A random policy drops the pole long before the 500-step limit: every episode
    # terminates, at its last step.
    assert (demos.lengths < 500).all()
    np.testing.assert_array_equal(demos.terminated[idx, demos.lengths - 1], True)
    assert demos.terminated.sum() == 6 and not demos.truncated.any()
    # The kept final observation is the real one: outside the limits, unlike the one before.
    outside = lambda o: (np.abs(o[:, 0]) > X_LIMIT) | (np.abs(o[:, 2]) > THETA_LIMIT)
    assert outside(demos.obs[idx, demos.lengths]).all()
    assert not outside(demos.obs[idx, demos.lengths - 1]).any()
    np.testing.assert_array_equal(demos.returns, demos.lengths)
    assert as_transitions(demos).obs.shape[0] == int(demos.lengths.sum())


def test_collect_is_deterministic_and_truncates_at_the_time_limit(cartpole, cartpole_demos):
    policy = jaxil.RandomPolicy(cartpole.spec.action_space)
    again = collect(cartpole, policy, jax.random.key(0), num_episodes=6)  # cached compile
    for name, want in cartpole_demos.arrays.items():
        np.testing.assert_array_equal(getattr(again, name), want)
    assert again.spec == cartpole.spec

    env = jaxil.envs.make("pendulum", max_episode_steps=8)
    demos = collect(env, jaxil.RandomPolicy(env.spec.action_space), jax.random.key(1), 3)
    assert demos.actions.shape == (3, 8, 1) and demos.actions.dtype == np.float32
    np.testing.assert_array_equal(demos.lengths, [8, 8, 8])
    np.testing.assert_array_equal(demos.truncated[:, -1], True)
    assert demos.truncated.sum() == 3 and not demos.terminated.any()


def test_collect_rejects_vectorised_envs_and_bad_counts(cartpole):
    policy = jaxil.RandomPolicy(cartpole.spec.action_space)
    with pytest.raises(ValueError, match="env: .*AutoReset"):
        collect(jaxil.envs.vectorize(cartpole, 2), policy, jax.random.key(0), 2)
    with pytest.raises(ValueError, match="num_episodes"):
        collect(cartpole, policy, jax.random.key(0), 0)


# ------------------------------------------------------------------------ sampling


def test_sample_batch_draws_rows_of_the_data():
    data = as_transitions(make_demos(**toy()))
    sample = eqx.filter_jit(sample_batch)
    batch = sample(data, jax.random.key(0), 64)
    assert batch.obs.shape == (64, OBS) and batch.action.shape == (64,)
    rows = {tuple(np.asarray(o)) for o in data.obs}
    assert {tuple(np.asarray(o)) for o in batch.obs} <= rows
    # obs and next_obs stay paired.
    pairs = {tuple(np.concatenate([o, p])) for o, p in zip(data.obs, data.next_obs, strict=True)}
    assert all(tuple(np.concatenate([o, p])) in pairs
               for o, p in zip(batch.obs, batch.next_obs, strict=True))
    assert jaxil.sample_batch is sample_batch and jaxil.training.sample_batch is sample_batch
    state_only = data._replace(action=None)
    assert sample(state_only, jax.random.key(1), 8).action is None


def test_sample_segments(cartpole_demos):
    demos = cartpole_demos
    length = 6
    sample = jax.jit(sample_segments, static_argnums=(2, 3))
    seg, mask = sample(demos, jax.random.key(0), 32, length)
    assert seg.obs.shape == (32, length, 4) and seg.action.shape == (32, length)
    assert mask.shape == (32, length)
    assert bool(mask.all())  # every episode is longer than 6 steps
    # Consecutive steps: next_obs[k] == obs[k + 1].
    np.testing.assert_array_equal(seg.next_obs[:, :-1], seg.obs[:, 1:])
    # Each segment is a window of one episode.
    obs = np.asarray(demos.obs)
    for s in np.asarray(seg.obs)[:5]:
        i, t = np.argwhere((obs == s[0]).all(-1))[0]
        np.testing.assert_array_equal(obs[i, t:t + length], s)

    a = toy()
    short = make_demos(**a)
    seg, mask = sample(short, jax.random.key(1), 64, 4)
    # Episodes 1 and 2 (3 and 2 steps) give one segment each, padded past their end;
    # episode 0 (5 steps) two full windows.
    valid = np.asarray(mask.sum(1))
    assert set(valid.tolist()) == {4, 3, 2}
    np.testing.assert_array_equal(np.asarray(seg.obs)[valid == 2][0], a["obs"][2, :4])
    np.testing.assert_array_equal(np.asarray(seg.obs)[valid == 3][0], a["obs"][1, :4])
    with pytest.raises(ValueError, match="length"):
        sample_segments(short, jax.random.key(0), 4, T + 1)


# ------------------------------------------------------------------------ replay buffer


def _transitions(values, obs_dim=3):
    values = jnp.asarray(values, jnp.float32)
    n = values.shape[0]
    return Transition(
        obs=jnp.repeat(values[:, None], obs_dim, 1), action=values.astype(jnp.int32),
        reward=values, next_obs=jnp.repeat(values[:, None] + 0.5, obs_dim, 1),
        terminated=jnp.zeros(n, bool), truncated=jnp.ones(n, bool))


def test_buffer_init_and_add_wraps_around():
    example = jax.tree.map(lambda x: x[0], _transitions([0.0]))
    state = buffer_init(example, capacity=5)
    assert state.data.obs.shape == (5, 3) and state.data.action.dtype == jnp.int32
    assert int(state.size) == 0 and int(state.position) == 0 and state.capacity == 5

    add = jax.jit(buffer_add)
    state = add(state, _transitions([1, 2, 3]))
    assert int(state.size) == 3 and int(state.position) == 3
    state = add(state, _transitions([4, 5, 6]))  # same shape: no recompilation
    assert int(state.size) == 5 and int(state.position) == 1
    np.testing.assert_array_equal(state.data.reward, [6, 2, 3, 4, 5])
    np.testing.assert_array_equal(state.data.next_obs[:, 0], [6.5, 2.5, 3.5, 4.5, 5.5])
    assert add._cache_size() == 1
    # More than the capacity at once: only the newest `capacity` are kept, in ring order.
    state = add(state, _transitions(np.arange(10, 17)))
    assert int(state.size) == 5 and int(state.position) == 3
    np.testing.assert_array_equal(np.sort(np.asarray(state.data.reward)), [12, 13, 14, 15, 16])
    np.testing.assert_array_equal(state.data.reward, [14, 15, 16, 12, 13])


def test_buffer_add_flattens_leading_axes_and_checks_shapes():
    example = jax.tree.map(lambda x: x[0], _transitions([0.0]))
    state = buffer_init(example, capacity=8)
    tb = jax.tree.map(lambda x: x.reshape(2, 3, *x.shape[1:]), _transitions(np.arange(1, 7)))
    state = buffer_add(state, tb)  # [T=2, B=3] as from jaxil.unroll
    np.testing.assert_array_equal(state.data.reward[:6], np.arange(1, 7))
    assert int(state.size) == 6
    with pytest.raises(ValueError, match="transitions"):
        buffer_add(state, _transitions([1.0], obs_dim=4))


def test_buffer_sample_only_filled_slots():
    example = jax.tree.map(lambda x: x[0], _transitions([0.0]))
    state = buffer_add(buffer_init(example, capacity=100), _transitions([1, 2, 3]))
    batch = jax.jit(buffer_sample, static_argnums=2)(state, jax.random.key(0), 500)
    assert batch.obs.shape == (500, 3)
    values = set(np.asarray(batch.reward).tolist())
    assert values == {1.0, 2.0, 3.0}  # never an empty (zero) slot
    np.testing.assert_array_equal(batch.next_obs[:, 0], batch.reward + 0.5)


def test_buffer_in_a_scan():
    example = jax.tree.map(lambda x: x[0], _transitions([0.0]))

    def body(state, values):
        state = buffer_add(state, _transitions(values))
        return state, buffer_sample(state, jax.random.key(0), 4).reward

    chunks = jnp.arange(1, 13, dtype=jnp.float32).reshape(4, 3)
    state, samples = jax.lax.scan(body, buffer_init(example, 6), chunks)
    assert int(state.size) == 6 and samples.shape == (4, 4)
    np.testing.assert_array_equal(np.sort(np.asarray(state.data.reward)), np.arange(7, 13))
    assert (np.asarray(samples[0]) <= 3).all()  # after the first add, only 1..3 exist


def test_concatenate_joins_episodes_and_pads_to_the_longest():
    a = make_demos(np.zeros((2, 4, 3)), np.ones((2, 3, 1)), np.ones((2, 3)), lengths=[3, 2])
    b = make_demos(np.arange(15.0).reshape(1, 5, 3), np.full((1, 4, 1), 2.0), np.ones((1, 4)),
                   truncated=[[0, 0, 0, 1]])
    both = jaxil.data.concatenate(a, b)
    assert both.obs.shape == (3, 5, 3) and both.actions.shape == (3, 4, 1)
    np.testing.assert_array_equal(both.lengths, [3, 2, 4])
    np.testing.assert_array_equal(both.obs[2], b.obs[0])
    np.testing.assert_array_equal(both.obs[:2, 4], a.obs[:, 3])  # padding repeats the last
    np.testing.assert_array_equal(both.actions[:2, 3], 0.0)
    np.testing.assert_array_equal(both.truncated[2], [False, False, False, True])
    assert as_transitions(both).obs.shape == (3 + 2 + 4, 3)
    with pytest.raises(ValueError, match="rewards"):
        jaxil.data.concatenate(a, b._replace(rewards=None))
    with pytest.raises(ValueError, match="obs"):
        jaxil.data.concatenate(a, make_demos(np.zeros((1, 4, 2)), np.ones((1, 3, 1))))
    with pytest.raises(ValueError, match="actions"):
        jaxil.data.concatenate(a, make_demos(np.zeros((1, 4, 3)), np.ones((1, 3, 2)),
                                             np.ones((1, 3))))
    with pytest.raises(ValueError, match="demos"):
        jaxil.data.concatenate()
