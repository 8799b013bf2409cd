"""BC training throughput (samples/s) on expert demonstrations.

Measures, in one run: jaxil BC (`jaxil.train` of `jaxil.algorithms.bc`), a bare jitted BC
loop (64x64 MLP, Adam, `lax.scan`: the ceiling for this model size; jaxil BC is
measured with the same 64x64 tanh network), and, when a Python
with the PyTorch `imitation` library is given, imitation's BC on the same demonstrations.
`--envs cartpole` is the categorical head (cross-entropy); `--envs pendulum` the default
continuous head, a tanh-squashed Gaussian with a learned state-independent `log_std`
(negative log-likelihood through the squashing), which the bare loop writes out by hand.

    python benchmarks/bc_throughput.py [--envs cartpole,pendulum]
        [--peer-python /path/to/python-with-imitation]
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


def _categorical_nll(logits: jax.Array, actions: jax.Array, log_std, bounds) -> jax.Array:
    del log_std, bounds
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), actions[:, None], 1))


def _tanh_gaussian_nll(mean: jax.Array, actions: jax.Array, log_std: jax.Array,
                       bounds: tuple[jax.Array, jax.Array]) -> jax.Array:
    """`-mean log pi(a | s)` of a tanh-squashed diagonal Gaussian, `a = c + h tanh(u)`,
    `u ~ N(mean, exp(log_std) + 1e-3)` (jaxil's `GaussianHead` defaults)."""
    low, high = bounds
    centre, half = (high + low) / 2, (high - low) / 2
    y = jnp.clip((actions - centre) / half, -1 + 1e-6, 1 - 1e-6)
    u = jnp.arctanh(y)
    std = jnp.exp(log_std) + 1e-3
    log_n = -0.5 * ((u - mean) / std) ** 2 - jnp.log(std) - 0.5 * jnp.log(2 * jnp.pi)
    log_det = jnp.log(half) + jnp.log1p(-y ** 2)
    return -jnp.mean(jnp.sum(log_n - log_det, axis=-1))


def bare_bc_loop(obs: jax.Array, actions: jax.Array, batch_size: int, num_updates: int,
                 out_size: int = 2, bounds: tuple | None = None,
                 max_grad_norm: float | None = None):
    """A minimal BC loop: 64x64 tanh MLP, Adam, one `lax.scan`; cross-entropy over
    `out_size` actions, or with `bounds` (`(low, high)`) a tanh-Gaussian negative
    log-likelihood with a learned `log_std[out_size]`; with `max_grad_norm`, the gradient
    clipped to that global norm first (as jaxil BC does by default)."""
    sizes = [obs.shape[1], 64, 64, out_size]
    opt = optax.adam(1e-3)
    if max_grad_norm is not None:
        opt = optax.chain(optax.clip_by_global_norm(max_grad_norm), opt)
    nll = _categorical_nll if bounds is None else _tanh_gaussian_nll

    def init(key):
        keys = jax.random.split(key, 3)
        layers = [(jax.random.normal(k, (a, b)) / np.sqrt(a), jnp.zeros(b))
                  for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)]
        return layers, jnp.zeros(out_size)

    def loss(params, o, a):
        layers, log_std = params
        x = o
        for w, b in layers[:-1]:
            x = jnp.tanh(x @ w + b)
        return nll(x @ layers[-1][0] + layers[-1][1], a, log_std, bounds)

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
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--envs", default="cartpole",
                        help="comma-separated: cartpole (categorical), pendulum (Gaussian)")
    args = parser.parse_args()
    for name in args.envs.split(","):
        measure(name, args)


def measure(name: str, args: argparse.Namespace) -> None:
    env = jaxil.envs.make(name)
    key = jax.random.key(0)
    expert, _ = jaxil.experts.train_ppo(env, key)
    demos = jaxil.data.collect(env, expert, jax.random.key(1), 10)
    data = jaxil.data.as_transitions(demos)
    algo_config = jaxil.algorithms.BCConfig()  # 64x64 tanh
    algo = jaxil.algorithms.bc(env, algo_config)
    spec = env.spec
    head = "categorical" if spec.discrete else "tanh_gaussian"
    bounds = None if spec.discrete else (jnp.asarray(spec.action_space.low, jnp.float32),
                                         jnp.asarray(spec.action_space.high, jnp.float32))

    for batch_size in (32, 256):
        loops = {  # each called once to compile, then timed in turn, best of `repeats`
            "jaxil": jax.jit(lambda k, b=batch_size: jaxil.train(algo, k, demos, args.updates,
                                                                b)[0]),
            "bare_loop": bare_bc_loop(data.obs, data.action, batch_size, args.updates,
                                      spec.action_size, bounds),
            # the same loop with jaxil BC's default gradient clipping: what clipping costs
            "bare_loop_with_clipping": bare_bc_loop(data.obs, data.action, batch_size,
                                                    args.updates, spec.action_size, bounds,
                                                    float(algo_config.max_grad_norm)),
        }
        first_call = {loop: timed(lambda run=run: run(jax.random.key(0)))[1]
                      for loop, run in loops.items()}
        best = dict.fromkeys(loops, float("inf"))
        for i in range(args.repeats):  # interleaved: a slow spell of the VM hits all three
            for loop, run in loops.items():
                best[loop] = min(best[loop], timed(lambda run=run, i=i: run(
                    jax.random.key(i + 1)))[1])
        rate = {loop: batch_size * args.updates / seconds for loop, seconds in best.items()}
        record = {
            "benchmark": "bc_throughput", "env": name, "head": head, "batch_size": batch_size,
            "updates": args.updates, "repeats": args.repeats,
            "jaxil_samples_per_s": rate["jaxil"], "jaxil_first_call_s": first_call["jaxil"],
            "bare_loop_samples_per_s": rate["bare_loop"],
            "jaxil_vs_bare": rate["jaxil"] / rate["bare_loop"],
            "bare_loop_with_clipping_samples_per_s": rate["bare_loop_with_clipping"],
            "jaxil_vs_bare_with_clipping": rate["jaxil"] / rate["bare_loop_with_clipping"],
        }
        space = ({"n": spec.action_space.n} if spec.discrete else
                 {"low": np.asarray(bounds[0]), "high": np.asarray(bounds[1])})
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "demos.npz")
            np.savez(path, obs=np.asarray(data.obs), acts=np.asarray(data.action),
                     next_obs=np.asarray(data.next_obs),
                     dones=np.asarray(data.terminated | data.truncated), **space)
            peer = run_peer(args.peer_python, PEER_SCRIPT,
                            [path, str(batch_size), str(args.peer_batches)])
        if peer is not None:
            record["imitation_samples_per_s"] = peer["samples_per_s"]
            record["ratio_jaxil_over_imitation"] = (record["jaxil_samples_per_s"]
                                                    / peer["samples_per_s"])
        emit(record)


if __name__ == "__main__":
    main()
