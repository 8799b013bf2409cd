"""`train`: a whole training run as one `lax.scan` over `Algorithm.update`, or, with a
checkpoint directory, as a host loop over compiled chunks of it that saves and resumes."""

from __future__ import annotations

import functools
import os
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxil import checkpoint
from jaxil.core import Algorithm, State
from jaxil.data.demos import Demos, as_transitions
from jaxil.data.sampling import sample_batch
from jaxil.data.validation import check_demos, is_traced
from jaxil.types import Metrics, PRNGKey, Transition

__all__ = ["default_checkpoint_every", "final_metrics", "sample_batch", "train"]


def train(algo: Algorithm, key: PRNGKey, demos: Demos | Transition | Any = None,
          num_updates: int = 1_000, batch_size: int = 256,
          checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int | None = None,
          checkpoint_description: str = "") -> tuple[State, Metrics]:
    """Initialises `algo` and runs `num_updates` updates as one `lax.scan`.

    Works under `jax.jit` and `jax.vmap` (over keys for seeds; build the algorithm inside
    the vmapped function to sweep over float hyperparameters of its config).

    With `checkpoint_dir`, the run happens on the host instead, as a Python loop over
    chunks of `checkpoint_every` updates, each chunk one compiled `lax.scan` (one program,
    compiled once, plus one for a shorter last chunk), and after each chunk the whole state,
    the metrics so far and the number of updates done are saved to `checkpoint_dir`
    (`jaxil.checkpoint`: atomic files, the last two kept). If `checkpoint_dir` already
    holds a checkpoint of the same run (same key, `num_updates`, `batch_size`, demos,
    state structure, jaxil version and `checkpoint_description`), the run resumes from the
    newest intact one (a truncated or corrupted file is skipped with a warning); a
    finished run returns at once. Every update gets the PRNG key it gets without
    checkpoints, so an interrupted and resumed run ends with the state and metrics of an
    uninterrupted one, bit for bit: those of `train` called without `jit`, or jitted with
    the demos as an argument (a jitted caller that closes over the demos may differ in
    the last bits, where XLA folds computations on them at compile time).

    Args:
        algo: an `Algorithm`.
        key: PRNG key; the same key gives the same result.
        demos: expert demonstrations (`Demos`, or its flat `Transition` view), sampled
            uniformly into each update's batch; `None` for methods that need none (PPO).
            Traced demos (an argument of a jitted or vmapped function) must be the flat
            view `jaxil.data.as_transitions(demos)`.
            Concrete demos are validated against `algo.spec` first (observation size,
            action space: integer actions in range, continuous actions within bounds).
            Other expert data (the exact `jaxil.tabular.Occupancy` that the tabular
            methods accept instead of demonstrations) goes to `init` as it is, and every
            update's batch is `None`.
        num_updates: number of `update` calls.
        batch_size: expert transitions per update.
        checkpoint_dir: a directory (made if missing) for checkpoints; the key and demos
            must then be concrete (not under `jit` / `vmap`). `None`: no checkpoints, one
            `lax.scan`.
        checkpoint_every: updates per chunk (and checkpoint); default
            `default_checkpoint_every(num_updates)`, a tenth of the run. Chunking does not
            change the result, so a run may resume with another value.
        checkpoint_description: text naming the settings the state does not show (the
            algorithm and its float hyperparameters, held in `update`'s closure), e.g.
            `f"gail {config}"`: a checkpoint of another description is refused.

    Returns:
        `(final_state, metrics)`, where `metrics[name]` stacks the per-update scalars
        `[num_updates]`.

    Raises:
        ValueError: concrete demos that do not fit `algo.spec`, naming the field;
            `checkpoint_dir` with a traced key or demos; a bad `checkpoint_every`.
        jaxil.checkpoint.CheckpointMismatchError: `checkpoint_dir` holds a checkpoint of
            another run (a `ValueError` naming what differs; the directory is left as is).
    """
    if checkpoint_dir is None:
        if checkpoint_every is not None:
            raise ValueError(f"checkpoint_every: {checkpoint_every} given without "
                             "checkpoint_dir; pass checkpoint_dir too, or leave it out")
        init_data, samples = _expert_data(algo, demos)
        return _run(algo, key, init_data, samples, num_updates, batch_size)
    return _train_checkpointed(algo, key, demos, num_updates, batch_size,
                               os.fspath(checkpoint_dir), checkpoint_every,
                               checkpoint_description)


def _expert_data(algo: Algorithm, demos: Demos | Transition | Any
                 ) -> tuple[Any, Transition | None]:
    """`(init_data, samples)`: what `init` gets and what batches are sampled from.

    Demonstrations are checked against `algo.spec` (when concrete) and both are their flat
    `Transition` view; other expert data (an `Occupancy`) goes to `init` as it is, with no
    samples (`None` batches).
    """
    if demos is not None and not isinstance(demos, Demos | Transition):
        return demos, None
    # Concrete demos (closed over by a jitted caller, as the CLI does) stay concrete, so
    # they are checked on the host against the algorithm's env, and `init` checks them
    # too, with a clear `ValueError` before anything compiles.
    with jax.ensure_compile_time_eval():
        if demos is not None and algo.spec is not None:
            check_demos(demos, algo.spec)
        if isinstance(demos, Demos) and is_traced(demos):
            raise ValueError("demos: padded Demos cannot be traced (selecting their valid "
                             "steps needs concrete lengths); pass the flat view "
                             "jaxil.data.as_transitions(demos) into a jitted function, or "
                             "close over the Demos")
        data = None if demos is None else as_transitions(demos)
    return data, data


def _update_step(algo: Algorithm, samples: Transition | None, batch_size: int):
    """The scan body: samples a batch with the step's key, updates, emits the metrics."""

    def body(state: State, k: PRNGKey):
        batch = None if samples is None else sample_batch(samples, k, batch_size)
        state = algo.update(state, batch)
        return state, state.metrics

    return body


def _run(algo: Algorithm, key: PRNGKey, init_data: Any, samples: Transition | None,
         num_updates: int, batch_size: int) -> tuple[State, Metrics]:
    """`init(init_data)`, then `num_updates` updates on batches of `samples` (or `None`)
    as one `lax.scan`: `train` without checkpoints (jit / vmap friendly)."""
    init_key, sample_key = jax.random.split(key)
    state = algo.init(init_key, init_data)
    body = _update_step(algo, samples, batch_size)
    state, metrics = jax.lax.scan(body, state, jax.random.split(sample_key, num_updates))
    return state, metrics


def default_checkpoint_every(num_updates: int) -> int:
    """Updates per checkpoint when `train` is not told: a tenth of the run (at least 1)."""
    return max(1, num_updates // 10)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _scan_chunk(algo: Algorithm, batch_size: int, state: State, keys: PRNGKey,
                samples: Transition | None) -> tuple[State, Metrics]:
    """`len(keys)` updates as one compiled `lax.scan` (compiled once per chunk length and
    algorithm: the algorithm is a static argument, so a resumed run in the same process
    reuses the program). The demonstrations are an argument, not a constant: see `train`."""
    return jax.lax.scan(_update_step(algo, samples, batch_size), state, keys)


def _chunk_runner(algo: Algorithm, batch_size: int):
    """`run(state, keys, samples)`: `_scan_chunk`, or a jit of its own for an algorithm
    that cannot be a static argument (an unhashable field)."""
    try:
        hash(algo)
    except TypeError:
        return jax.jit(lambda state, keys, samples: jax.lax.scan(
            _update_step(algo, samples, batch_size), state, keys))
    return functools.partial(_scan_chunk, algo, batch_size)


def _train_checkpointed(algo: Algorithm, key: PRNGKey, demos: Demos | Transition | Any,
                        num_updates: int, batch_size: int, directory: str,
                        every: int | None, description: str) -> tuple[State, Metrics]:
    """`train` with `checkpoint_dir`: chunks of `every` updates on the host, saved after
    each; resumes from the newest checkpoint of the same run."""
    if is_traced(key) or is_traced(demos):
        raise ValueError(f"checkpoint_dir {directory}: checkpointed training runs on the "
                         "host (a Python loop over compiled chunks that saves files), so the "
                         "key and demos cannot be traced; call jaxil.train outside jit and "
                         "vmap, or leave checkpoint_dir out")
    if isinstance(num_updates, bool) or not isinstance(num_updates, int | np.integer) or \
            num_updates < 1:
        raise ValueError(f"num_updates: expected an int of at least 1 with checkpoint_dir, "
                         f"got {num_updates!r}")
    every = default_checkpoint_every(num_updates) if every is None else every
    if isinstance(every, bool) or not isinstance(every, int | np.integer) or every < 1:
        raise ValueError(f"checkpoint_every: expected a positive int, got {every!r}")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(f"checkpoint_dir {directory}: exists and is not a directory")
    num_updates, every = int(num_updates), int(every)

    init_data, samples = _expert_data(algo, demos)
    init_key, sample_key = jax.random.split(key)
    keys = jax.random.split(sample_key, num_updates)  # the keys of an uninterrupted run
    # The state's shapes, without running `init` (nor compiling it), for the fingerprint
    # and as the skeleton that a checkpoint is read into.
    shapes = _carried(eqx.filter_eval_shape(lambda k: algo.init(k, init_data), init_key))
    run = checkpoint.fingerprint(shapes, key, num_updates=num_updates,
                                 batch_size=batch_size, demos=init_data,
                                 description=description)
    metric_shapes = shapes.metrics

    def like(step: int):
        stacked = jax.tree.map(lambda m: jax.ShapeDtypeStruct((step, *m.shape), m.dtype),
                               metric_shapes)
        return {"state": shapes, "metrics": stacked}

    found = checkpoint.restore(directory, like, run)
    if found is None:
        done, state, history = 0, algo.init(init_key, init_data), []
    else:
        done, saved = found
        state, history = saved["state"], [saved["metrics"]]
    os.makedirs(directory, exist_ok=True)
    run_chunk = _chunk_runner(algo, batch_size)
    while done < num_updates:
        size = min(every, num_updates - done)
        state, chunk = run_chunk(state, keys[done:done + size], samples)
        history.append(jax.tree.map(np.asarray, chunk))
        done += size
        metrics = _concatenate(history)
        history = [metrics]
        checkpoint.save(directory, {"state": state, "metrics": metrics}, done, run)
    return state, jax.tree.map(jnp.asarray, _concatenate(history))


def _carried(shapes: State) -> State:
    """The shapes of a state once a compiled scan has carried it: NumPy arrays and Python
    scalars become JAX arrays of JAX's dtypes (`float64` -> `float32` without x64)."""
    def carried(x):
        if isinstance(x, np.ndarray | np.generic | bool | int | float | complex):
            return jax.eval_shape(lambda: jnp.asarray(x))
        return x

    return jax.tree.map(carried, shapes)


def _concatenate(history: list[Metrics]) -> Metrics:
    """The metrics of consecutive chunks stacked along the update axis (on the host)."""
    return jax.tree.map(lambda *parts: np.concatenate([np.asarray(p) for p in parts]),
                        *history)


def final_metrics(metrics: Metrics, last: int = 10) -> dict[str, float]:
    """Mean of the last `last` updates of each metric, as Python floats."""
    return {k: float(jnp.mean(v[..., -last:])) for k, v in metrics.items()}
