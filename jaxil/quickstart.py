"""`jaxil quickstart`: experts, demonstrations and behavioural cloning, end to end.

For each environment: evaluate a random policy, train a PPO expert, collect expert
episodes, train BC on them (4 seeds in one vmapped program is not needed here: one seed),
and evaluate. Writes demos, a metrics CSV and a learning-curve PNG under `out`.
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from rich.console import Console
from rich.table import Table

import jaxil
from jaxil.logging import plot_learning_curves, write_metrics_csv
from jaxil.progress import busy

QUICKSTART_ENVS: tuple[tuple[str, dict], ...] = (
    ("cartpole", {}),
    ("brax/inverted_pendulum", {"backend": "positional"}),
)
BC_UPDATES = 2_000
EVAL_EPISODES = 20


def _return_curve(info: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """`(timesteps, mean episode return)` from a PPO expert's training metrics."""
    metrics = info.get("metrics", {})
    name = next((k for k in metrics if "return" in k), None)
    if name is None:
        return None
    y = np.asarray(metrics[name])
    x = np.linspace(0, info["timesteps"], len(y) + 1)[1:]
    return x, y


def run_quickstart(out: str = "runs/quickstart", seed: int = 0, num_episodes: int = 10,
                   console: Console | None = None) -> list[dict]:
    """Runs the quickstart and returns one result row per environment."""
    console = console or Console()
    os.makedirs(out, exist_ok=True)
    csv_path = os.path.join(out, "metrics.csv")
    if os.path.exists(csv_path):
        os.remove(csv_path)
    key = jax.random.key(seed)
    show = console.is_terminal  # progress bars in a terminal, a spinner-free log otherwise
    rows, expert_curves, bc_curves = [], {}, {}
    start = time.perf_counter()
    for i, (name, kwargs) in enumerate(QUICKSTART_ENVS):
        env_key = jax.random.fold_in(key, i)
        k_random, k_expert, k_demos, k_bc, k_eval = jax.random.split(env_key, 5)
        env = jaxil.envs.make(name, **kwargs)
        console.rule(f"[bold]{name}")
        with console.status(f"{name}: evaluating a random policy"):
            random_return = float(jnp.mean(jaxil.evaluate(
                env, jaxil.RandomPolicy(env.spec.action_space), k_random, EVAL_EPISODES)))
        bar = jaxil.experts.progress_bar(env, description=f"{name}: PPO expert") \
            if show else None
        with busy(console, f"{name}: training a PPO expert", not show):
            expert, info = jaxil.experts.train_ppo(
                env, k_expert, progress=bar,
                progress_every=None)
        console.print(f"PPO expert: {info['timesteps']:,} env steps in {info['seconds']:.1f} s")
        expert_return = float(jnp.mean(jaxil.evaluate(env, expert, k_eval, EVAL_EPISODES)))
        with console.status(f"{name}: collecting {num_episodes} expert episodes"):
            demos = jaxil.data.collect(env, expert, k_demos, num_episodes)
        demos_path = os.path.join(out, f"demos_{name.replace('/', '_')}.npz")
        jaxil.data.save(demos_path, demos, metadata={"env": name, **kwargs})
        console.print(f"demos: {num_episodes} episodes, {demos.num_transitions:,} transitions "
                      f"-> {demos_path}")
        algo = jaxil.algorithms.bc(env)
        with busy(console, f"{name}: behavioural cloning ({BC_UPDATES} updates)", not show):
            t0 = time.perf_counter()
            state, metrics = jax.jit(
                lambda k, algo=algo, demos=demos: jaxil.train(algo, k, demos, BC_UPDATES, 256,
                                                              progress=show)
            )(k_bc)
            jax.block_until_ready(state)
            bc_seconds = time.perf_counter() - t0
        console.print(f"BC: {BC_UPDATES} updates in {bc_seconds:.1f} s (compile included)")
        bc_return = float(jnp.mean(jaxil.evaluate(env, algo.policy(state), k_eval,
                                                  EVAL_EPISODES)))
        score = lambda r, e=expert_return, rr=random_return: float(
            jaxil.normalized_score(r, rr, e))
        rows.append({"env": name, "random": random_return, "expert": expert_return,
                     "bc": bc_return, "expert_score": score(expert_return),
                     "bc_score": score(bc_return)})
        write_metrics_csv(csv_path, {k: np.asarray(v) for k, v in metrics.items()},
                          run=f"bc/{name}", append=True)
        write_metrics_csv(csv_path, {k: np.asarray(v) for k, v in info["metrics"].items()},
                          run=f"ppo/{name}", append=True)
        curve = _return_curve(info)
        if curve is not None:
            expert_curves[name] = curve
        bc_curves[name] = (np.arange(1, BC_UPDATES + 1), np.asarray(metrics["loss"]))

    table = Table(title=f"jaxil quickstart ({time.perf_counter() - start:.0f} s)")
    for col in ("env", "random", "expert", "BC", "BC / expert (normalised)"):
        table.add_column(col, justify="right" if col != "env" else "left")
    for r in rows:
        table.add_row(r["env"], f"{r['random']:.1f}", f"{r['expert']:.1f}", f"{r['bc']:.1f}",
                      f"{r['bc_score']:.2f}")
    console.print(table)
    png = os.path.join(out, "learning_curves.png")
    if plot_learning_curves(png, {"PPO expert: episode return vs env steps": expert_curves,
                                  "BC: loss vs update": bc_curves}):
        console.print(f"learning curves -> {png}")
    else:
        console.print("matplotlib is not installed (pip install 'jaxil[plot]'): no PNG written")
    console.print(f"metrics -> {csv_path}")
    return rows
