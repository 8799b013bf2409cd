"""`train`: a whole training run as one `lax.scan` over `Algorithm.update`."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxil.core import Algorithm, State
from jaxil.data.demos import Demos, as_transitions
from jaxil.data.sampling import sample_batch
from jaxil.data.validation import check_demos, is_traced
from jaxil.types import Metrics, PRNGKey, Transition

__all__ = ["final_metrics", "sample_batch", "train"]


def train(algo: Algorithm, key: PRNGKey, demos: Demos | Transition | Any = None,
          num_updates: int = 1_000, batch_size: int = 256) -> tuple[State, Metrics]:
    """Initialises `algo` and runs `num_updates` updates as one `lax.scan`.

    Works under `jax.jit` and `jax.vmap` (over keys for seeds; build the algorithm inside
    the vmapped function to sweep over float hyperparameters of its config).

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

    Returns:
        `(final_state, metrics)`, where `metrics[name]` stacks the per-update scalars
        `[num_updates]`.

    Raises:
        ValueError: concrete demos that do not fit `algo.spec`, naming the field.
    """
    # Concrete demos (closed over by a jitted caller, as the CLI does) stay concrete, so
    # they are checked on the host against the algorithm's env, and `init` checks them
    # too, with a clear `ValueError` before anything compiles.
    if demos is not None and not isinstance(demos, Demos | Transition):
        return _run(algo, key, demos, None, num_updates, batch_size)
    with jax.ensure_compile_time_eval():
        if demos is not None and algo.spec is not None:
            check_demos(demos, algo.spec)
        if isinstance(demos, Demos) and is_traced(demos):
            raise ValueError("demos: padded Demos cannot be traced (selecting their valid "
                             "steps needs concrete lengths); pass the flat view "
                             "jaxil.data.as_transitions(demos) into a jitted function, or "
                             "close over the Demos")
        data = None if demos is None else as_transitions(demos)
    return _run(algo, key, data, data, num_updates, batch_size)


def _run(algo: Algorithm, key: PRNGKey, init_data: Any, samples: Transition | None,
         num_updates: int, batch_size: int) -> tuple[State, Metrics]:
    """`init(init_data)`, then `num_updates` updates on batches of `samples` (or `None`)."""
    init_key, sample_key = jax.random.split(key)
    state = algo.init(init_key, init_data)

    def body(state: State, k: PRNGKey):
        batch = None if samples is None else sample_batch(samples, k, batch_size)
        state = algo.update(state, batch)
        return state, state.metrics

    state, metrics = jax.lax.scan(body, state, jax.random.split(sample_key, num_updates))
    return state, metrics


def final_metrics(metrics: Metrics, last: int = 10) -> dict[str, float]:
    """Mean of the last `last` updates of each metric, as Python floats."""
    return {k: float(jnp.mean(v[..., -last:])) for k, v in metrics.items()}
