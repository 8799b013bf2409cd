"""Compounding error: the imitation cost of BC and DAgger against the horizon T.

Ross & Bagnell (2010) bound the cost of behavioural cloning by `T^2 eps` and Ross, Gordon
& Bagnell (2011) that of DAgger by about `T eps`, where `eps` is the learner's per-step
error on the distribution it was trained on (BC: the expert's states; DAgger: the states
of its own rollouts). This script measures both against the horizon `T` on cartpole
(discrete actions, so the 0-1 loss is exact), at a matched training loss.

Setting. A PPO expert is trained once (`jaxil.experts` recipe, 500-step episodes); it
balances the pole for any horizon. For each `T` of `--horizons` the env is
`jaxil.envs.make("cartpole", max_episode_steps=T)` and each method gets `--labels` expert
labels and `--steps` gradient steps, `--seeds` seeds in one vmapped run (every seed has
its own demonstrations and training key):

- `bc`: `--labels / T` expert episodes, `--steps` BC steps;
- `dagger`: half the labels as expert episodes (the warm start, DAgger's round 0), the
  other half over `--rounds` rounds of complete learner episodes (`beta = 0`: the
  learner acts alone, the expert only labels), `--steps / (rounds + 1)` BC steps per
  round and in the warm start.

Both use the same learner class, linear by default (`--hidden-sizes ''`): it cannot
represent the expert, so both training losses stay at a floor `eps > 0` of the same size
(the non-realisable case the bounds are about), instead of both imitating perfectly.

Cost (the theory's quantity). Along each learner episode of horizon `T` (the same
`--eval-episodes` start states for every policy), a step costs 1 when the learner's
action differs from the expert's action in the learner's state, and every step after the
pole has fallen (the episode terminated before `T`) costs 1; the expert's own cost is 0.
`cost = disagreements + steps_after_failure` is reported with its two parts, and with the
task's own measure, `return_gap = expert return - learner return` (the steps lost by
falling). The errors reported next to it, all 0-1 per step:

- `train_error` (and `train_nll`): on the method's own training set (BC: its
  demonstrations; DAgger: its whole aggregated dataset), the `eps` of the bounds;
- `expert_error`: on fresh expert episodes of horizon `T` (the expert's distribution);
- `own_error`: `disagreements / steps alive` on the learner's own episodes
  (`own_over_train_error`: its ratio to `train_error`, 1 when nothing compounds).

One JSON object per (method, T) (`benchmark: compounding_error`), then one per method
(`compounding_error_fit`) with the least-squares slope of `log(mean cost)` (and of
`log(mean return gap)` when it is positive at every `T`) against `log T`, the range of
the per-seed slopes, and the local slopes between consecutive horizons. The PNG (`--plot`)
shows both measures against `T`, log-log, with reference lines `~T` and `~T^2`. Nothing
here asserts the theory: the slopes are what they are.

Usage:
    python benchmarks/compounding_error.py            # T in 25..800, 8 seeds
    python benchmarks/compounding_error.py --smoke    # tiny settings: checks the script
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import jaxil
from jaxil.algorithms import AggregationConfig, BCConfig, DAggerConfig, bc, dagger
from jaxil.algorithms.bc import BCState, bc_loss
from jaxil.rollout import rollout_episodes
from jaxil.types import Array, Policy, PRNGKey, Transition

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import emit, machine, save_figure  # noqa: E402  (run as a file or with -m)

ENV = "cartpole"
METHODS = ("bc", "dagger")


class ScriptedExpert(eqx.Module):
    """A hand-written cartpole controller (push the cart under the falling pole), the
    `--expert scripted` option: no PPO to train (`--smoke` uses it to stay quick). It is
    linear, so the default linear learner can match it almost exactly: use PPO to measure."""

    def __call__(self, obs: Array, key: PRNGKey) -> Array:
        del key
        x, x_dot, theta, theta_dot = obs
        return (theta + 0.5 * theta_dot + 0.01 * x + 0.1 * x_dot > 0).astype(jnp.int32)


def expert_labels(expert: Policy, obs: Array) -> Array:
    """The (deterministic) expert's actions for `obs[..., obs_dim]`."""
    flat = jnp.reshape(obs, (-1, obs.shape[-1]))
    actions = jax.vmap(lambda o: expert(o, jax.random.key(0)))(flat)
    return jnp.reshape(actions, obs.shape[:-1])


def errors_on(policy, obs: Array, actions: Array) -> tuple[Array, Array]:
    """`(0-1 error, NLL)` of `policy` (an `ActorPolicy`) on the pairs `obs`, `actions`."""
    predicted = jax.vmap(lambda o: policy(o, jax.random.key(0)))(obs)
    _, metrics = bc_loss(policy, obs, actions)
    return jnp.mean(predicted != actions), metrics["nll"]


def per_step(env: jaxil.envs.Env, expert: Policy, policy: Policy, key: PRNGKey,
             num_episodes: int) -> dict[str, Array]:
    """`[N, T_max]` per-step `disagree` (with the expert, while alive), `alive`, `reward`."""
    horizon = env.spec.max_episode_steps
    ep = rollout_episodes(env, policy, key, num_episodes)
    alive = jnp.arange(horizon)[None] < ep.lengths[:, None]
    disagree = (expert_labels(expert, ep.obs[:, :-1]) != ep.actions) & alive
    return {"disagree": disagree, "alive": alive, "reward": ep.rewards}


def prefix(episodes: Transition, horizon: int) -> Transition:
    """The first `horizon` steps of expert episodes `obs[..., E, T_max, obs_dim]`,
    `action[..., E, T_max]`, as `[..., E * horizon]` pairs. An episode of horizon `T` is
    the first `T` steps of a longer one from the same start state (the time limit only
    truncates, and the expert never falls), so one collection serves every horizon."""
    obs = episodes.obs[..., :horizon, :]
    action = episodes.action[..., :horizon]
    return Transition(jnp.reshape(obs, (*obs.shape[:-3], -1, obs.shape[-1])),
                      jnp.reshape(action, (*action.shape[:-2], -1)), None, None, None, None)


class Experiment:
    """The expert, its episodes, and the programs shared by every horizon.

    The expert's episodes are collected once at the longest horizon `T_max` (per seed, and
    a held-out set); the data of horizon `T` are their first `T` steps. BC's training
    program and the evaluation program do not depend on `T` (every horizon has `--labels`
    pairs), so each compiles once; DAgger's rollouts do, so it compiles per horizon.
    Every learner is evaluated on `--eval-episodes` episodes of `T_max` steps from the same
    start states; its cost at horizon `T` is that of their first `T` steps.
    """

    def __init__(self, expert: Policy, args: argparse.Namespace):
        self.expert, self.args = expert, args
        self.t_max = max(args.horizons)
        for t in args.horizons:
            if args.labels % (2 * args.rounds * t):
                raise ValueError(f"--labels {args.labels} must be a multiple of "
                                 f"2 * rounds * T = {2 * args.rounds * t}")
        self.env_max = jaxil.envs.make(ENV, max_episode_steps=self.t_max)
        per_seed = args.labels // min(args.horizons)  # episodes the shortest horizon needs
        demos = jaxil.data.collect(self.env_max, expert, jax.random.key(args.seed + 1),
                                   (args.seeds + 1) * per_seed)
        if np.any(demos.lengths != self.t_max):
            raise RuntimeError(f"the expert fell within {self.t_max} steps; train it longer")
        obs = jnp.asarray(demos.obs[:, :-1]).reshape(args.seeds + 1, per_seed, self.t_max, -1)
        act = jnp.asarray(demos.actions).reshape(args.seeds + 1, per_seed, self.t_max)
        self.episodes = Transition(obs[:-1], act[:-1], None, None, None, None)  # [S, E, T]
        self.held_out = Transition(obs[-1], act[-1], None, None, None, None)
        self.eval_key = jax.random.key(args.seed + 2)
        expert_steps = eqx.filter_jit(per_step)(self.env_max, expert, expert, self.eval_key,
                                                args.eval_episodes)
        self.expert_rewards = np.asarray(expert_steps["reward"])  # [N, T_max]
        self.learner = BCConfig(hidden_sizes=args.hidden_sizes,
                                learning_rate=args.learning_rate)
        self.bc = bc(self.env_max, self.learner)  # only its spec: the same for every T
        self.train_bc = eqx.filter_jit(jax.vmap(
            lambda k, d: jaxil.train(self.bc, k, d, args.steps, args.batch_size)[0]))
        self.measure = eqx.filter_jit(jax.vmap(self._measure, in_axes=(0, 0, 0, None, None)))

    def _measure(self, learner: BCState, obs: Array, actions: Array, held_obs: Array,
                 held_actions: Array) -> dict[str, Array]:
        """One seed's errors on its training set and the expert's, and per-step costs."""
        policy = self.bc.policy(learner)
        train_error, train_nll = errors_on(policy, obs, actions)
        expert_error, _ = errors_on(policy, held_obs, held_actions)
        steps = per_step(self.env_max, self.expert, policy, self.eval_key,
                         self.args.eval_episodes)
        return {"train_error": train_error, "train_nll": train_nll,
                "expert_error": expert_error, **steps}

    def data(self, horizon: int, episodes: int) -> Transition:
        """Per seed, the first `horizon` steps of the first `episodes` expert episodes."""
        return prefix(jax.tree.map(lambda x: x[:, :episodes], self.episodes), horizon)

    def train(self, method: str, horizon: int) -> tuple[BCState, Transition, dict]:
        """`(learner states [seeds], training pairs [seeds, labels], setting)`."""
        args = self.args
        keys = jax.random.split(jax.random.fold_in(jax.random.key(args.seed + 3), horizon),
                                args.seeds)
        if method == "bc":
            data = self.data(horizon, args.labels // horizon)
            setting = {"demo_episodes": args.labels // horizon, "rounds": 0,
                       "grad_steps": args.steps}
            return self.train_bc(keys, data), data, setting
        demos = self.data(horizon, args.labels // (2 * horizon))
        sgd_steps = args.steps // (args.rounds + 1)
        rounds = AggregationConfig(num_envs=args.labels // (2 * args.rounds * horizon),
                                   rollout_length=horizon, sgd_steps=sgd_steps,
                                   batch_size=args.batch_size, buffer_size=args.labels)
        env = jaxil.envs.make(ENV, max_episode_steps=horizon)
        config = DAggerConfig(beta_schedule="constant", beta=0.0, aggregation=rounds,
                              bc=self.learner)  # the demos were the expert's round
        algo = dagger(env, config, expert=self.expert)
        run = eqx.filter_jit(jax.vmap(
            lambda k, d: jaxil.train(algo, k, d, args.rounds, args.batch_size)[0]))
        states = run(keys, demos)
        # the aggregated dataset holds exactly --labels pairs: the demos and every round's
        assert np.all(np.asarray(states.dataset.size) == args.labels), states.dataset.size
        data = Transition(states.dataset.data.obs, states.dataset.data.action, None, None,
                          None, None)
        setting = {"demo_episodes": args.labels // (2 * horizon), "rounds": args.rounds,
                   "episodes_per_round": rounds.num_envs,
                   "grad_steps": sgd_steps * (args.rounds + 1)}
        return states.learner, data, setting

    def run(self, method: str, horizon: int) -> dict:
        args = self.args
        start = time.perf_counter()
        learners, data, setting = self.train(method, horizon)
        held = prefix(jax.tree.map(lambda x: x[: args.labels // horizon], self.held_out),
                      horizon)
        out = jax.tree.map(np.asarray, self.measure(learners, data.obs, data.action,
                                                    held.obs, held.action))
        seconds = time.perf_counter() - start
        first = lambda x: x[..., :horizon].sum(-1).astype(np.float64)  # [seeds, N]
        disagreements = first(out["disagree"])
        alive = first(out["alive"])
        after_failure = horizon - alive
        cost = disagreements + after_failure
        expert_return = float(first(self.expert_rewards).mean())
        per_seed = {
            "cost": cost.mean(1),
            "disagreements": disagreements.mean(1),
            "steps_after_failure": after_failure.mean(1),
            "return_gap": expert_return - first(out["reward"]).mean(1),
            "failure_rate": (alive < horizon).mean(1),
            "own_error": disagreements.sum(1) / alive.sum(1),
            "train_error": out["train_error"], "train_nll": out["train_nll"],
            "expert_error": out["expert_error"],
        }
        rec = {"benchmark": "compounding_error", "env": ENV, "method": method, "T": horizon,
               "expert_labels": args.labels, **setting,
               "hidden_sizes": list(args.hidden_sizes), "expert_return": expert_return,
               "seeds": args.seeds, "eval_episodes": args.eval_episodes}
        for name, values in per_seed.items():
            rec[f"{name}_mean"] = float(np.mean(values))
            rec[f"{name}_std"] = float(np.std(values))
            if name in ("cost", "return_gap"):
                rec[f"{name}_min"] = float(np.min(values))
                rec[f"{name}_max"] = float(np.max(values))
                rec[f"{name}_per_seed"] = [round(float(v), 3) for v in values]
        rec["own_over_train_error"] = rec["own_error_mean"] / rec["train_error_mean"]
        rec.update(seconds=seconds, machine=machine())
        emit(rec)
        return rec


def loglog_slope(ts: list[int], values: list[float]) -> float | None:
    """Least-squares slope of `log(values)` against `log(ts)`; None if a value is <= 0."""
    if len(ts) < 2 or min(values) <= 0:
        return None
    return float(np.polyfit(np.log(ts), np.log(values), 1)[0])


def fit(results: list[dict]) -> list[dict]:
    out = []
    for method in METHODS:
        rows = sorted((r for r in results if r["method"] == method), key=lambda r: r["T"])
        ts = [r["T"] for r in rows]
        seed_slopes = [loglog_slope(ts, list(c)) for c in
                       zip(*(r["cost_per_seed"] for r in rows), strict=True)]
        seed_slopes = [s for s in seed_slopes if s is not None]
        rec = {"benchmark": "compounding_error_fit", "env": ENV, "method": method,
               "horizons": ts,
               "cost_slope": loglog_slope(ts, [r["cost_mean"] for r in rows]),
               "cost_slope_seed_min": min(seed_slopes) if seed_slopes else None,
               "cost_slope_seed_max": max(seed_slopes) if seed_slopes else None,
               "cost_slope_seeds": len(seed_slopes),  # seeds with a positive cost at every T
               "cost_local_slopes": [loglog_slope(ts[i:i + 2], [r["cost_mean"] for r in
                                                                rows[i:i + 2]])
                                     for i in range(len(rows) - 1)],
               "return_gap_slope": loglog_slope(ts, [r["return_gap_mean"] for r in rows]),
               "train_error_range": [min(r["train_error_mean"] for r in rows),
                                     max(r["train_error_mean"] for r in rows)],
               "machine": MACHINE}
        emit(rec)
        out.append(rec)
    return out


def plot(results: list[dict], fits: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slopes = {f["method"]: f for f in fits}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    panels = (("cost", "cost_slope", "imitation cost: disagreements + steps after failure"),
              ("return_gap", "return_gap_slope", "expert return - learner return"))
    for ax, (name, slope_key, ylabel) in zip(axes, panels, strict=True):
        ts = sorted({r["T"] for r in results})
        for method in METHODS:
            rows = sorted((r for r in results if r["method"] == method), key=lambda r: r["T"])
            slope = slopes[method][slope_key]
            eps = np.mean([r["train_error_mean"] for r in rows])
            label = (f"{method} (train error {eps:.3f}; slope "
                     f"{'n/a' if slope is None else f'{slope:.2f}'})")
            x = [r["T"] for r in rows]
            line, = ax.plot(x, [r[f"{name}_mean"] for r in rows], marker="o", label=label)
            ax.fill_between(x, [r[f"{name}_min"] for r in rows],
                            [r[f"{name}_max"] for r in rows], color=line.get_color(),
                            alpha=0.15)
        t = np.asarray(ts, float)
        bc_rows = sorted((r for r in results if r["method"] == "bc"), key=lambda r: r["T"])
        positive = [r for r in bc_rows if r[f"{name}_mean"] > 0]
        if positive:  # reference lines through BC's first positive point
            t0, y0 = positive[0]["T"], positive[0][f"{name}_mean"]
            ax.plot(t, y0 * t / t0, color="gray", ls="--", lw=0.8, label="~ T")
            ax.plot(t, y0 * (t / t0) ** 2, color="gray", ls=":", lw=0.8, label="~ T^2")
        ax.plot(t, t, color="black", lw=0.5, label="T (the most a run can cost)")
        ax.set_xscale("log")
        if name == "cost":
            ax.set_yscale("log")
        else:  # DAgger's gap can be exactly 0: linear near 0, logarithmic above 1
            ax.set_yscale("symlog", linthresh=1.0)
        ax.set_xticks(ts, [str(v) for v in ts])
        ax.minorticks_off()
        ax.set_ylim(bottom=0 if name == "return_gap" else None, top=2.0 * t[-1])
        ax.set_xlabel("horizon T")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle(f"{ENV}: compounding error of BC vs DAgger "
                 f"(mean over seeds; band: min-max)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ints = lambda s: [int(x) for x in s.split(",")]
    sizes = lambda s: tuple(int(x) for x in s.split(",") if x)
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--horizons", type=ints, default=[25, 50, 100, 200, 400, 800])
    p.add_argument("--labels", type=int, default=6400,
                   help="expert labels per method and seed (a multiple of 2 * rounds * T)")
    p.add_argument("--rounds", type=int, default=4, help="DAgger rounds")
    p.add_argument("--steps", type=int, default=1000, help="gradient steps per method")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--hidden-sizes", type=sizes, default=(),
                   help="learner's hidden layers, comma-separated ('' = linear)")
    p.add_argument("--learning-rate", type=float, default=3e-3)
    p.add_argument("--eval-episodes", type=int, default=100)
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--expert", choices=("ppo", "scripted"), default="ppo",
                   help="a PPO expert, or a hand-written controller (see ScriptedExpert)")
    p.add_argument("--expert-steps", type=int, default=None,
                   help="PPO expert timesteps (default: the jaxil.experts recipe)")
    p.add_argument("--plot", default="runs/compounding_error.png", help="path of the PNG")
    p.add_argument("--smoke", action="store_true", help="tiny settings: checks the script")
    args = p.parse_args(argv)
    if args.smoke:
        args.horizons, args.labels, args.rounds, args.steps = [10, 20], 80, 2, 9
        args.batch_size, args.eval_episodes, args.seeds = 32, 4, 2
        args.expert = "scripted"
    return args


def main(args: argparse.Namespace) -> list[dict]:
    start = time.perf_counter()
    if args.expert == "ppo":
        expert, info = jaxil.experts.train_ppo(jaxil.envs.make(ENV), jax.random.key(args.seed),
                                               num_timesteps=args.expert_steps)
        expert_return = info["mean_return"]
    else:
        expert, expert_return = ScriptedExpert(), None
    emit({"benchmark": "compounding_error_expert", "env": ENV, "expert": args.expert,
          "expert_return": expert_return, "seconds": time.perf_counter() - start,
          "machine": MACHINE})
    experiment = Experiment(expert, args)
    results = [experiment.run(method, horizon) for horizon in args.horizons
               for method in METHODS]
    fits = fit(results)
    plot(results, fits, args.plot)
    return results + fits


MACHINE = machine()

if __name__ == "__main__":
    main(parse())
