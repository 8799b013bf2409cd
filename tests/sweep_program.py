"""A sweep of 64 BC configurations, run in a subprocess of `tests/test_sweep.py` (the device
count is fixed when JAX starts, so it needs a process of its own).

    python tests/sweep_program.py OUT.npz

runs the sweep on this process's devices (the test forces 4 CPU devices), the same 64
configurations as single `jaxil.train` runs, and a toy sweep of 6 runs (padded to 8), and
saves them all to OUT.npz.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

LEARNING_RATES = [float(x) for x in np.geomspace(1e-4, 3e-2, 16)]
ENTROPY_COEFS = [0.0, 1e-3, 1e-2, 1e-1]
UPDATES, BATCH, EVAL_EVERY = 30, 32, 15


class ToyState(NamedTuple):
    x: jax.Array
    metrics: dict


def toy_algo(settings):
    """A toy `Algorithm` whose result is known exactly: `x` starts at uniform noise of
    `size` and each update adds `rate`, so after `n` updates `value = sum(x0) + n * rate *
    size`."""
    import jaxil

    rate, size = settings.get("rate", 1.0), settings.get("size", 1)

    def init(key, _):
        x = jax.random.uniform(key, (size,))
        return ToyState(x, {"value": jnp.sum(x)})

    def update(state, _):
        x = state.x + rate
        return ToyState(x, {"value": jnp.sum(x)})

    return jaxil.Algorithm(init, update, policy=lambda s: None)


def problem():
    import jaxil
    from jaxil.algorithms import BCConfig, bc

    env = jaxil.envs.make("cartpole")
    demos = jaxil.data.collect(env, jaxil.RandomPolicy(env.spec.action_space),
                               jax.random.key(7), 3)
    make_algo = jaxil.sweeps.configured(bc, env, BCConfig(hidden_sizes=(8,)))
    return env, jaxil.data.as_transitions(demos), make_algo


def run_sweep(env, demos, make_algo):
    import jaxil

    return jaxil.sweep(make_algo, jax.random.key(0), demos, seeds=1,
                       grid={"learning_rate": LEARNING_RATES, "entropy_coef": ENTROPY_COEFS},
                       num_updates=UPDATES, batch_size=BATCH, eval_env=env,
                       eval_every=EVAL_EVERY, eval_episodes=2, keep_states=False)


def single_runs(env, demos, make_algo):
    """The 64 configurations one by one: one compiled run, the settings as arguments."""
    import jaxil

    @jax.jit
    def one(lr, coef, data):
        algo = make_algo({"learning_rate": lr, "entropy_coef": coef})
        return jaxil.train(algo, jax.random.fold_in(jax.random.key(0), 0), data, UPDATES,
                           BATCH, eval_env=env, eval_every=EVAL_EVERY, eval_episodes=2)[1]

    out = [one(np.float32(lr), np.float32(c), demos)
           for lr in LEARNING_RATES for c in ENTROPY_COEFS]
    return {k: np.stack([np.asarray(m[k]) for m in out]) for k in out[0]}


def main() -> None:
    import jaxil

    env, demos, make_algo = problem()
    result = run_sweep(env, demos, make_algo)
    saved = {f"sweep/{k}": v[:, 0] for k, v in result.metrics.items()}
    saved["devices"] = np.int64(result.devices)
    saved.update({f"single/{k}": v for k, v in single_runs(env, demos, make_algo).items()})
    # 2 x 3 = 6 runs on 4 devices: padded to 8, the pads dropped
    toy = jaxil.sweep(toy_algo, jax.random.key(0), seeds=3, grid={"rate": [0.5, 2.0]},
                      num_updates=4)
    saved["toy/value"] = toy.metrics["value"]
    np.savez(sys.argv[1], **saved)


if __name__ == "__main__":
    main()
