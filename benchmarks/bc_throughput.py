"""BC training throughput (samples/s) on cartpole expert demonstrations.

Measures, in one run: jaxil BC (`jaxil.train` of `jaxil.algorithms.bc`), a bare jitted BC
loop (64x64 MLP, Adam, `lax.scan`: the ceiling for this model size; jaxil BC is
measured with the same 64x64 tanh network), and, when a Python
with the PyTorch `imitation` library is given, imitation's BC on the same demonstrations.

    python benchmarks/bc_throughput.py [--peer-python /path/to/python-with-imitation]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxil

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import emit, run_peer, timed  # noqa: E402  (run as a file or with -m)

PEER_SCRIPT = os.path.join(os.path.dirname(__file__), "peers", "imitation_bc.py")


def bare_bc_loop(obs: jax.Array, actions: jax.Array, batch_size: int, num_updates: int):
    """A minimal BC loop: 64x64 tanh MLP, cross-entropy, Adam, one `lax.scan`."""
    sizes = [obs.shape[1], 64, 64, 2]
    opt = optax.adam(1e-3)

    def init(key):
        keys = jax.random.split(key, 3)
        return [(jax.random.normal(k, (a, b)) / np.sqrt(a), jnp.zeros(b))
                for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)]

    def loss(params, o, a):
        x = o
        for w, b in params[:-1]:
            x = jnp.tanh(x @ w + b)
        logits = x @ params[-1][0] + params[-1][1]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), a[:, None], 1))

    @jax.jit
    def run(key):
        params = init(key)

        def step(carry, k):
            params, opt_state = carry
            idx = jax.random.randint(k, (batch_size,), 0, obs.shape[0])
            grads = jax.grad(loss)(params, obs[idx], actions[idx])
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        (params, _), _ = jax.lax.scan(step, (params, opt.init(params)),
                                      jax.random.split(key, num_updates))
        return params

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--peer-python", default=os.environ.get("IMITATION_PYTHON"))
    parser.add_argument("--updates", type=int, default=50_000)
    parser.add_argument("--peer-batches", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    env = jaxil.envs.make("cartpole")
    key = jax.random.key(0)
    expert, _ = jaxil.experts.train_ppo(env, key)
    demos = jaxil.data.collect(env, expert, jax.random.key(1), 10)
    data = jaxil.data.as_transitions(demos)
    algo = jaxil.algorithms.bc(env, jaxil.algorithms.BCConfig())  # 64x64 tanh

    for batch_size in (32, 256):
        run = jax.jit(lambda k, b=batch_size: jaxil.train(algo, k, demos, args.updates, b)[0])
        _, compile_s = timed(lambda run=run: run(jax.random.key(0)))
        best = min(timed(lambda run=run, i=i: run(jax.random.key(i + 1)))[1]
                   for i in range(args.repeats))
        bare = bare_bc_loop(data.obs, data.action, batch_size, args.updates)
        timed(lambda bare=bare: bare(jax.random.key(0)))
        bare_best = min(timed(lambda bare=bare, i=i: bare(jax.random.key(i + 1)))[1]
                        for i in range(args.repeats))
        record = {
            "benchmark": "bc_throughput", "env": "cartpole", "batch_size": batch_size,
            "updates": args.updates, "jaxil_samples_per_s": batch_size * args.updates / best,
            "jaxil_first_call_s": compile_s,
            "bare_loop_samples_per_s": batch_size * args.updates / bare_best,
        }
        record["jaxil_vs_bare"] = record["jaxil_samples_per_s"] / record["bare_loop_samples_per_s"]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "demos.npz")
            np.savez(path, obs=np.asarray(data.obs), acts=np.asarray(data.action),
                     next_obs=np.asarray(data.next_obs),
                     dones=np.asarray(data.terminated | data.truncated))
            peer = run_peer(args.peer_python, PEER_SCRIPT,
                            [path, str(batch_size), str(args.peer_batches)])
        if peer is not None:
            record["imitation_samples_per_s"] = peer["samples_per_s"]
            record["ratio_jaxil_over_imitation"] = (record["jaxil_samples_per_s"]
                                                    / peer["samples_per_s"])
        emit(record)


if __name__ == "__main__":
    main()
