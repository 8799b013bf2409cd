"""Mode averaging: BC with unimodal and multimodal policies on `obstacle_nav`.

The demonstrations pass a disc obstacle on the left or on the right, half each, from the
same start states (`jaxil.envs.navigation.multimodal_demos`). For each policy kind
(`tanh_gaussian`, `mixture`, `discretised`, and `diffusion` / `flow` when
`jaxil.networks.policy_kinds()` has them) BC is trained with several seeds in one vmapped
`jaxil.train` call; each seed's deterministic policy (BC's default) is scored on complete
episodes: success (goal reached without a collision), collision, and the fraction of
episodes that pass on the left. One JSON object per policy kind and training length, and
a PNG with 50 trajectories of the first seed per policy kind (columns) and training
length (rows).

Training budgets (`BUDGETS`, with BC's defaults: 64x64 tanh network, Adam 1e-3, batches
of 256): the Gaussian, mixture and discretised heads are trained for 2,000 updates, the
diffusion and flow heads, which regress a field over all noise levels, for 6,000. By
default every head is trained at every budget (`--updates 2000 6000`), so the Gaussian is
also shown at the generative heads' budget: trained longer, its averaged policy tips to
one side in more trainings (see `jaxil.envs.navigation`) and succeeds in some. The last
JSON object summarises each head at its budget and the Gaussian at all of them.

    python benchmarks/multimodal_bc.py [--smoke] [--updates 2000 6000] [--plot FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np

import jaxil
from jaxil.envs import navigation as nav

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import emit, save_figure, timed  # noqa: E402  (run as a file or with -m)

KINDS = ("tanh_gaussian", "mixture", "discretised", "diffusion", "flow")
# the number of BC updates (of 256) a user is told to train each head for on this task
BUDGETS = {"tanh_gaussian": 2_000, "mixture": 2_000, "discretised": 2_000,
           "diffusion": 6_000, "flow": 6_000}


def rates(layout: nav.Layout, episodes) -> dict[str, np.ndarray]:
    """Per-seed success, collision and left-pass rates of `episodes` `[S, N, ...]`."""
    per_episode = {
        "success": jax.vmap(lambda e: nav.success(e, layout))(episodes),
        "collision": jax.vmap(lambda e: nav.collided(e, layout))(episodes),
        "left": jax.vmap(lambda e: nav.side(e, layout) == nav.LEFT)(episodes),
    }
    return {k: np.asarray(jnp.mean(v, axis=1)) for k, v in per_episode.items()}


def plot(path: str, layout: nav.Layout, panels: dict[tuple[int, str], tuple],
         caption: str = "") -> None:
    """A grid of panels, a row per training length and a column per policy kind.

    `panels[(updates, kind)] = (title, positions[N, T + 1, 2], lengths[N])`; the obstacle,
    the goal region and the nominal start are drawn in each; `caption` goes above.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted({u for u, _ in panels})
    cols = list(dict.fromkeys(k for _, k in panels))
    fig, axes = plt.subplots(len(rows), len(cols), squeeze=False,
                             figsize=(2.8 * len(cols), 3.4 * len(rows)))
    for (updates, kind), (title, pos, lengths) in panels.items():
        ax = axes[rows.index(updates), cols.index(kind)]
        ax.add_patch(plt.Circle(layout.obstacle, layout.obstacle_radius, color="0.6"))
        ax.add_patch(plt.Circle(layout.goal, layout.goal_radius, color="tab:green", alpha=0.4))
        for p, n in zip(pos, lengths, strict=True):
            ax.plot(p[: n + 1, 0], p[: n + 1, 1], lw=0.8, alpha=0.6, color="tab:blue")
        ax.plot(*layout.start, "k^", ms=5)
        ax.set(xlim=(-1, 1), ylim=(-1, 1), aspect="equal")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if caption:
        fig.suptitle(caption, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny settings, just runs")
    parser.add_argument("--updates", type=int, nargs="+",
                        default=sorted(set(BUDGETS.values())),
                        help="training lengths, each for every head (default: the budgets)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--demos", type=int, default=64, help="demonstrated episodes")
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--plot", default=None,
                        help="PNG of 50 trajectories per policy kind and training length "
                             "(default: multimodal_bc.png; with --smoke, a temporary file)")
    args = parser.parse_args()
    if args.smoke:
        args.updates, args.seeds, args.demos, args.eval_episodes = [20, 50], 2, 8, 10
    if args.plot is None:
        args.plot = (os.path.join(tempfile.mkdtemp(), "multimodal_bc.png") if args.smoke
                     else "multimodal_bc.png")

    env = jaxil.envs.make("obstacle_nav")
    layout = env.unwrapped.layout
    key = jax.random.key(0)
    demos = nav.multimodal_demos(key, args.demos, env)
    expert = jaxil.rollout_episodes(env, nav.scripted_expert(None, layout), key,
                                    args.eval_episodes)
    emit({"benchmark": "multimodal_bc", "policy": "scripted_expert",
          **{k: float(v[0]) for k, v in rates(layout, jax.tree.map(lambda x: x[None],
                                                                    expert)).items()},
          "demo_left": float(np.mean(nav.side(demos, layout) == nav.LEFT))})

    kinds = [k for k in KINDS if k in jaxil.networks.policy_kinds()]
    seed_keys = jax.random.split(jax.random.key(1), args.seeds)
    eval_keys = jax.random.split(jax.random.key(100), args.seeds)
    panels, summary = {}, []
    for kind in kinds:
        algo = jaxil.algorithms.bc(env, jaxil.algorithms.BCConfig(head=kind))
        evaluate = jax.jit(jax.vmap(lambda state, k, algo=algo: jaxil.rollout_episodes(
            env, algo.policy(state), k, args.eval_episodes)))
        for updates in sorted(args.updates):
            train = jax.jit(jax.vmap(lambda k, algo=algo, n=updates: jaxil.train(
                algo, k, demos, num_updates=n, batch_size=args.batch_size)[0]))
            states, seconds = timed(lambda train=train: train(seed_keys))
            episodes = evaluate(states, eval_keys)
            r = rates(layout, episodes)
            result = {
                "benchmark": "multimodal_bc", "policy": kind, "updates": updates,
                "recommended_budget": updates == BUDGETS.get(kind),
                "seeds": args.seeds, "demo_episodes": args.demos,
                "eval_episodes": args.eval_episodes, "batch_size": args.batch_size,
                "success_mean": float(r["success"].mean()),
                "success_min": float(r["success"].min()),
                "success_max": float(r["success"].max()),
                "collision_mean": float(r["collision"].mean()),
                "left_mean": float(r["left"].mean()),
                "success_per_seed": r["success"].round(3).tolist(),
                "train_and_compile_s": seconds,
            }
            emit(result)
            if result["recommended_budget"] or kind == "tanh_gaussian":
                summary.append({k: result[k] for k in (
                    "policy", "updates", "recommended_budget", "success_mean", "success_min",
                    "success_max")})
            n = min(50, args.eval_episodes)
            mark = " *" if result["recommended_budget"] else ""
            panels[(updates, kind)] = (
                f"{kind}, {updates:,} updates{mark}\nsuccess {r['success'].mean():.2f} "
                f"({r['success'].min():.2f}-{r['success'].max():.2f})",
                np.asarray(episodes.obs[0, :n, :, :2]), np.asarray(episodes.lengths[0, :n]))
    plot(args.plot, layout, panels,
         f"success: mean (min-max) over {args.seeds} seeds of {args.eval_episodes} "
         f"episodes; trajectories of the first seed; * the head's budget (BUDGETS)")
    emit({"benchmark": "multimodal_bc", "summary": summary, "seeds": args.seeds,
          "plot": os.path.abspath(args.plot)})


if __name__ == "__main__":
    main()
