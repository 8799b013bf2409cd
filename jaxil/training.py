"""`train`: a whole training run as one `lax.scan` over `Algorithm.update`, or, with a
checkpoint directory, as a host loop over compiled chunks of it that saves and resumes."""

from __future__ import annotations

import functools
import os
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxil import checkpoint
from jaxil.core import Algorithm, State
from jaxil.data.demos import Demos, as_transitions
from jaxil.data.sampling import sample_batch
from jaxil.data.validation import check_demos, is_traced
from jaxil.envs.base import Env
from jaxil.evaluation import Evaluator
from jaxil.progress import MetricsCallback, Reporter, default_report_every, make_reporter
from jaxil.types import Metrics, PRNGKey, Transition

__all__ = ["default_checkpoint_every", "final_metrics", "sample_batch", "train"]

_EVAL_STREAM = 0x6576616C  # folded into the run's key for evaluation ("eval")


class _Plan(NamedTuple):
    """What a compiled run does besides updating; a static part of the program."""

    algo: Algorithm
    batch_size: int
    num_updates: int
    evaluator: Evaluator | None = None
    reporter: Reporter | None = None
    report_every: int = 1


def train(algo: Algorithm, key: PRNGKey, demos: Demos | Transition | Any = None,
          num_updates: int = 1_000, batch_size: int = 256,
          checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int | None = None,
          checkpoint_description: str = "", *, eval_env: Env | None = None,
          eval_every: int | None = None, eval_episodes: int = 10,
          progress: bool | str = False, callback: MetricsCallback | None = None,
          report_every: int | None = None) -> tuple[State, Metrics]:
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
        eval_env: evaluate the policy in this environment during the run, inside the
            compiled program (`jaxil.evaluation.Evaluator`): every `eval_every` updates,
            `eval_episodes` complete episodes. Evaluation has keys of its own, so the
            training run is the same with or without it.
        eval_every: updates between evaluations (needed with `eval_env`); with
            `checkpoint_dir`, `checkpoint_every` must be a multiple of it.
        eval_episodes: episodes per evaluation.
        progress: show a progress bar on standard error (updates done, rate, time left and
            a metric: `True` picks one, a string names it). It is drawn from inside the
            compiled run through `jax.debug.callback`, so it works under `jit` and `vmap`.
        callback: `callback(update, metrics)`, called on the host every `report_every`
            updates (and at each evaluation) with the number of updates done and that
            update's metrics as Python floats: the hook for TensorBoard, Weights & Biases
            or a live log. Under `vmap` it is called once per vmapped run.
        report_every: updates between two reports to the bar and `callback` (default: a
            hundredth of the run); the last update is always reported.

    Returns:
        `(final_state, metrics)`, where `metrics[name]` stacks the per-update scalars
        `[num_updates]`; with `eval_env`, `metrics["eval/return"]`,
        `metrics["eval/return_std"]` and `metrics["eval/update"]` are
        `[num_updates // eval_every]`.

    Raises:
        ValueError: concrete demos that do not fit `algo.spec`, naming the field;
            `checkpoint_dir` with a traced key or demos; a bad `checkpoint_every`.
        jaxil.checkpoint.CheckpointMismatchError: `checkpoint_dir` holds a checkpoint of
            another run (a `ValueError` naming what differs; the directory is left as is).
    """
    plan = _make_plan(algo, num_updates, batch_size, eval_env, eval_every, eval_episodes,
                      progress, callback, report_every)
    try:
        if checkpoint_dir is None:
            if checkpoint_every is not None:
                raise ValueError(f"checkpoint_every: {checkpoint_every} given without "
                                 "checkpoint_dir; pass checkpoint_dir too, or leave it out")
            init_data, samples = _expert_data(algo, demos)
            result = _run(plan, key, init_data, samples)
        else:
            result = _train_checkpointed(plan, key, demos, os.fspath(checkpoint_dir),
                                         checkpoint_every, checkpoint_description)
        if plan.reporter is not None and not is_traced(result):
            jax.block_until_ready(result)  # the last report has arrived
        return result
    finally:
        if plan.reporter is not None and not is_traced(key):
            plan.reporter.close()


def _make_plan(algo: Algorithm, num_updates: int, batch_size: int, eval_env: Env | None,
               eval_every: int | None, eval_episodes: int, progress: bool | str,
               callback: MetricsCallback | None, report_every: int | None) -> _Plan:
    """`train`'s options, checked (a `ValueError` naming the argument), as a `_Plan`."""
    evaluator = None
    if eval_env is not None or eval_every is not None:
        if eval_env is None or eval_every is None:
            raise ValueError(f"eval_env and eval_every: give both or neither (got eval_env="
                             f"{'an env' if eval_env is not None else None}, eval_every="
                             f"{eval_every!r})")
        evaluator = Evaluator(eval_env, eval_every, eval_episodes)
        evaluator.check()
        evaluator = evaluator._replace(every=int(eval_every), episodes=int(eval_episodes))
    reporter = make_reporter(num_updates, progress, callback)
    if report_every is None:
        report_every = default_report_every(num_updates)
    if isinstance(report_every, bool) or not isinstance(report_every, int | np.integer) or \
            report_every < 1:
        raise ValueError(f"report_every: expected a positive int, got {report_every!r}")
    return _Plan(algo, batch_size, num_updates, evaluator, reporter, int(report_every))


def check_on_host(algo: Algorithm, key: PRNGKey, demos: Demos | Transition | Any = None
                  ) -> None:
    """The checks `train` makes of concrete demos before anything compiles, for a caller
    that will pass them into a program as traced arguments (`jaxil.sweep`): the demos
    against `algo.spec`, and `algo.init`'s own checks (an adversarial method's episode
    ends, say), traced with the demos as constants, so nothing runs or compiles.

    Raises:
        ValueError: naming the field, as `train` would.
    """
    init_data, _ = _expert_data(algo, demos)
    jax.eval_shape(lambda k: algo.init(k, init_data), key)


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


def _update_step(plan: _Plan, samples: Transition | None):
    """The scan body over `(updates_done_after, key)`: samples a batch with the step's
    key, updates, reports when due, emits the metrics."""
    evaluator, reporter = plan.evaluator, plan.reporter

    def body(state: State, xs: tuple[jax.Array, PRNGKey]):
        done, k = xs
        batch = None if samples is None else sample_batch(samples, k, plan.batch_size)
        state = plan.algo.update(state, batch)
        if reporter is not None:
            due = (done % plan.report_every == 0) | (done == plan.num_updates)
            if evaluator is not None:  # that update is reported with its evaluation
                due &= done % evaluator.every != 0
            jax.lax.cond(due, lambda: jax.debug.callback(reporter, done, state.metrics),
                         lambda: None)
        return state, state.metrics

    return body


def _updates(plan: _Plan, samples: Transition | None, state: State, first: Any,
             keys: PRNGKey, eval_key: PRNGKey) -> tuple[State, Metrics]:
    """`len(keys)` updates, the first one update number `first + 1` of the run, as one
    `lax.scan`; with an evaluator, a scan of blocks of `evaluator.every` updates, each
    followed by an evaluation (`first` must then be a multiple of `every`)."""
    n = keys.shape[0]
    done = first + jnp.arange(1, n + 1, dtype=jnp.int32)  # updates done after each
    body = _update_step(plan, samples)
    if plan.evaluator is None:
        return jax.lax.scan(body, state, (done, keys))
    evaluator, every = plan.evaluator, plan.evaluator.every
    blocks = n // every

    def block(state: State, xs):
        state, metrics = jax.lax.scan(body, state, xs)
        at = xs[0][-1]
        evaluation = evaluator(plan.algo.policy(state), jax.random.fold_in(eval_key, at))
        if plan.reporter is not None:
            last = jax.tree.map(lambda m: m[-1], metrics)
            jax.debug.callback(plan.reporter, at, {**last, **evaluation})
        return state, (metrics, {**evaluation, "eval/update": at})

    head = jax.tree.map(lambda x: x[:blocks * every].reshape(blocks, every, *x.shape[1:]),
                        (done, keys))
    state, (metrics, evaluations) = jax.lax.scan(block, state, head)
    metrics = jax.tree.map(lambda m: m.reshape(blocks * every, *m.shape[2:]), metrics)
    if n > blocks * every:  # updates after the last evaluation
        tail = jax.tree.map(lambda x: x[blocks * every:], (done, keys))
        state, rest = jax.lax.scan(body, state, tail)
        metrics = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), metrics, rest)
    return state, {**metrics, **evaluations}


def _run(plan: _Plan, key: PRNGKey, init_data: Any, samples: Transition | None
         ) -> tuple[State, Metrics]:
    """`init(init_data)`, then `num_updates` updates on batches of `samples` (or `None`)
    as one `lax.scan`: `train` without checkpoints (jit / vmap friendly)."""
    init_key, sample_key = jax.random.split(key)
    state = plan.algo.init(init_key, init_data)
    keys = jax.random.split(sample_key, plan.num_updates)
    return _updates(plan, samples, state, 0, keys, jax.random.fold_in(key, _EVAL_STREAM))


def default_checkpoint_every(num_updates: int) -> int:
    """Updates per checkpoint when `train` is not told: a tenth of the run (at least 1)."""
    return max(1, num_updates // 10)


@functools.partial(jax.jit, static_argnums=0)
def _scan_chunk(plan: _Plan, state: State, first: jax.Array, keys: PRNGKey,
                samples: Transition | None, eval_key: PRNGKey) -> tuple[State, Metrics]:
    """`len(keys)` updates as one compiled `_updates` (compiled once per chunk length and
    plan: the plan is a static argument, so a resumed run in the same process reuses the
    program). The demonstrations are an argument, not a constant: see `train`."""
    return _updates(plan, samples, state, first, keys, eval_key)


def _chunk_runner(plan: _Plan):
    """`run(state, first, keys, samples, eval_key)`: `_scan_chunk`, or a jit of its own
    for a plan that cannot be a static argument (an unhashable field)."""
    try:
        hash(plan)
    except TypeError:
        return jax.jit(lambda state, first, keys, samples, eval_key: _updates(
            plan, samples, state, first, keys, eval_key))
    return functools.partial(_scan_chunk, plan)


def _train_checkpointed(plan: _Plan, key: PRNGKey, demos: Demos | Transition | Any,
                        directory: str, every: int | None, description: str
                        ) -> tuple[State, Metrics]:
    """`train` with `checkpoint_dir`: chunks of `every` updates on the host, saved after
    each; resumes from the newest checkpoint of the same run."""
    algo, num_updates, batch_size = plan.algo, plan.num_updates, plan.batch_size
    if is_traced(key) or is_traced(demos):
        raise ValueError(f"checkpoint_dir {directory}: checkpointed training runs on the "
                         "host (a Python loop over compiled chunks that saves files), so the "
                         "key and demos cannot be traced; call jaxil.train outside jit and "
                         "vmap, or leave checkpoint_dir out")
    if isinstance(num_updates, bool) or not isinstance(num_updates, int | np.integer) or \
            num_updates < 1:
        raise ValueError(f"num_updates: expected an int of at least 1 with checkpoint_dir, "
                         f"got {num_updates!r}")
    evaluator = plan.evaluator
    if every is None:
        every = default_checkpoint_every(num_updates)
        if evaluator is not None:  # the next multiple of eval_every
            every = -(-every // evaluator.every) * evaluator.every
    if isinstance(every, bool) or not isinstance(every, int | np.integer) or every < 1:
        raise ValueError(f"checkpoint_every: expected a positive int, got {every!r}")
    if evaluator is not None and every % evaluator.every:
        raise ValueError(f"checkpoint_every: {every} is not a multiple of eval_every "
                         f"{evaluator.every}; evaluations must fall inside chunks")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(f"checkpoint_dir {directory}: exists and is not a directory")
    num_updates, every = int(num_updates), int(every)
    if evaluator is not None:  # a checkpoint's metrics hold the evaluations' too
        description += (f"; evaluated every {evaluator.every} updates over "
                        f"{evaluator.episodes} episodes of {evaluator.env.spec.name}")

    init_data, samples = _expert_data(algo, demos)
    init_key, sample_key = jax.random.split(key)
    eval_key = jax.random.fold_in(key, _EVAL_STREAM)
    keys = jax.random.split(sample_key, num_updates)  # the keys of an uninterrupted run
    # The state's shapes, without running `init` (nor compiling it), for the fingerprint
    # and as the skeleton that a checkpoint is read into.
    shapes = _carried(eqx.filter_eval_shape(lambda k: algo.init(k, init_data), init_key))
    run = checkpoint.fingerprint(shapes, key, num_updates=num_updates,
                                 batch_size=batch_size, demos=init_data,
                                 description=description)
    metric_shapes = shapes.metrics
    if evaluator is not None:
        evaluation = eqx.filter_eval_shape(
            lambda state, k: evaluator(algo.policy(state), k), shapes, eval_key)
        metric_shapes = {**metric_shapes, **evaluation,
                         "eval/update": jax.ShapeDtypeStruct((), jnp.int32)}

    def like(step: int):
        def stacked(name, m):
            count = step // evaluator.every if name.startswith("eval/") else step
            return jax.ShapeDtypeStruct((count, *m.shape), m.dtype)

        return {"state": shapes,
                "metrics": {k: stacked(k, m) for k, m in metric_shapes.items()}}

    found = checkpoint.restore(directory, like, run)
    if found is None:
        done, state, history = 0, algo.init(init_key, init_data), []
    else:
        done, saved = found
        state, history = saved["state"], [saved["metrics"]]
    os.makedirs(directory, exist_ok=True)
    run_chunk = _chunk_runner(plan)
    while done < num_updates:
        size = min(every, num_updates - done)
        state, chunk = run_chunk(state, jnp.int32(done), keys[done:done + size], samples,
                                 eval_key)
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
