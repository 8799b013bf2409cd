"""Shared, session-scoped fixtures: PPO experts trained once per test session.

Each expert fixture returns `(env, expert_policy, expert_mean_return)`, trained with the
default recipe of `jaxil.experts` (one compiled PPO run, a few seconds of training) and
evaluated over `EXPERT_EVAL_EPISODES` complete episodes. Under pytest-xdist the first
worker to need an expert trains and saves it; the others load it (the same policy, bit for
bit) instead of training it again.

The run also shares one persistent XLA compilation cache (`pytest_configure`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from contextlib import contextmanager

import jax
import pytest

import jaxil
from jaxil import experts

EXPERT_EVAL_EPISODES = 32
CACHE_VARIABLE = "JAX_COMPILATION_CACHE_DIR"
_OWN_CACHE = pytest.StashKey[str]()  # the cache directory this process made, if any
SHARED_EXPERTS = ("cartpole", "pendulum")  # the session fixtures `<name>_expert` below
_NEEDED = pytest.StashKey[list[str]]()  # the shared experts the selected tests use


def pytest_configure(config):
    """One persistent XLA compilation cache for the whole run, shared by the xdist workers
    (they inherit the variable) and the `jaxil` subprocesses of the CLI tests: a program
    that several tests or subprocesses compile alike (the same training run, evaluator or
    rollout) is compiled once. A cached executable is the one the compiler produced, so
    results are the same bit for bit. A directory given in the environment is kept;
    otherwise a fresh one is made here and removed at the end."""
    if CACHE_VARIABLE not in os.environ:
        os.environ[CACHE_VARIABLE] = tempfile.mkdtemp(prefix="jaxil-tests-xla-cache-")
        config.stash[_OWN_CACHE] = os.environ[CACHE_VARIABLE]
    jax.config.update("jax_compilation_cache_dir", os.environ[CACHE_VARIABLE])


def pytest_collection_finish(session):
    session.config.stash[_NEEDED] = [
        name for name in SHARED_EXPERTS
        if any(f"{name}_expert" in item.fixturenames for item in session.items)]


def pytest_unconfigure(config):
    path = config.stash.get(_OWN_CACHE, None)
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)
        os.environ.pop(CACHE_VARIABLE, None)



def _train_expert(name: str, seed: int = 0):
    env = jaxil.envs.make(name, **experts.defaults(name).env_kwargs)
    policy, info = experts.train_ppo(env, jax.random.key(seed),
                                     num_eval_episodes=EXPERT_EVAL_EPISODES)
    return env, policy, info["mean_return"]


@contextmanager
def _locked(path):
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _shared_expert(name: str, tmp_path_factory):
    """`_train_expert(name)`, trained by one xdist worker and loaded by the others."""
    if "PYTEST_XDIST_WORKER" not in os.environ:  # not distributed
        return _train_expert(name)
    root = tmp_path_factory.getbasetemp().parent  # shared by this run's workers
    stem = root / f"expert-{name.replace('/', '_')}"
    policy_path, info_path = stem.with_suffix(".eqx"), stem.with_suffix(".json")
    with _locked(stem.with_suffix(".lock")):
        if info_path.exists():
            env = jaxil.envs.make(name, **experts.defaults(name).env_kwargs)
            return env, jaxil.load_policy(policy_path), json.loads(info_path.read_text())
        env, policy, mean_return = _train_expert(name)
        jaxil.save_policy(policy_path, policy)
        info_path.write_text(json.dumps(float(mean_return)))
        return env, policy, mean_return


@pytest.fixture(scope="session")
def cartpole_expert(tmp_path_factory):
    """`(env, expert, mean_return)` for `cartpole`; the expert scores 500 (the maximum)."""
    return _shared_expert("cartpole", tmp_path_factory)


@pytest.fixture(scope="session")
def cartpole_demos(cartpole_expert):
    """10 episodes of the cartpole expert (key 7) as `Transition[N]`: the adversarial
    tests' expert data."""
    env, expert, _ = cartpole_expert
    return jaxil.data.as_transitions(jaxil.data.collect(env, expert, jax.random.key(7), 10))


@pytest.fixture(scope="session")
def pendulum_expert(tmp_path_factory):
    """`(env, expert, mean_return)` for `pendulum`; about -150 (random: about -1200)."""
    return _shared_expert("pendulum", tmp_path_factory)


@pytest.fixture(scope="session", autouse=True)
def _shared_experts_side_by_side(request):
    """Under pytest-xdist, worker `gw<i>` trains the i-th shared expert that the run needs
    before its first test, so that the experts train on both cores at once. Otherwise the
    first tests of both workers (test_airl, test_bc) wait for the cartpole expert, one of
    them idle on the lock for its whole training. Each expert is still trained once per run
    and is the same policy, bit for bit, whichever worker trains it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    needed = request.config.stash.get(_NEEDED, [])
    if worker.startswith("gw") and len(needed) > 1:
        index = int(worker.removeprefix("gw"))
        if index < len(needed):
            request.getfixturevalue(f"{needed[index]}_expert")
