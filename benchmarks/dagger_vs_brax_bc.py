"""DAgger's whole-loop throughput: jaxil against brax/training's BC agent (online DAgger).

One PPO expert (`jaxil.experts.train_ppo`, trained once per run; `--smoke` uses a fixed
linear controller instead) is the teacher of both loops, on the same Brax environment
(`--env`, `inverted_pendulum` by default) with the same physics backend (`--backend`).
Each library runs `--rounds` DAgger iterations; the script prints one JSON object per
measurement:

- `dagger_vs_brax_bc_expert`: the teacher's return and training time.
- `dagger_vs_brax_bc` (`library` = `jaxil`): the whole loop is one `jaxil.train` call,
  jitted: `lower_compile_seconds` (its lower and compile, wall), `compile_seconds` (the
  part of it JAX reports as tracing, lowering and XLA compilation, the same measure as
  brax's below), `first_call_seconds` (lower, compile and first run), `steady_seconds`
  (the compiled loop run again, `--repeats` times with new keys; the minimum is used,
  the machine is shared) and from it `env_steps_per_second` and
  `sgd_samples_per_second`; `final_return`: `jaxil.evaluate` of the learned policy.
- `dagger_vs_brax_bc` (`library` = `brax`): `brax.training.agents.bc.train.train` is a
  Python function that builds and jits its DAgger step anew at every call, and runs its
  loop as an eager `lax.scan` of that step, which compiles again at every call (and
  between the chunks of one call when `num_evals > 2`: measured on a loaded 2-core CPU,
  26-39 s for a one-round chunk whose run takes about 0.02 s), so no call of it runs
  without compiling. It is called `--brax-calls` times (2; 1 with `--smoke`),
  unmodified, with `num_evals=0` (one loop of `rounds` DAgger steps, no evaluation
  inside): `call_seconds` (each call's wall time; `first_call_seconds` the first's) and
  `compile_seconds` (the first call's tracing, lowering and XLA compilation as JAX's
  `jax.monitoring` time spans report them, overlapping spans counted once; the env's
  jitted reset included). To time its loop without the compile, `jax.lax.scan` as
  brax's `bc/train.py` sees it is wrapped during the calls (`LoopTimer`): the top-level
  scan over brax's `dagger_step` is jitted as it is, run once (`loop_first_seconds`: compile
  and run; `train` goes on with its result) and then `--repeats` more times on the same
  inputs (the loop is a pure function), timed: `steady_seconds` is the minimum over all
  calls. The repeats are subtracted from `call_seconds` and from brax's own `walltime`
  (`brax_walltime`: its loop with its compile). Every other scan passes through.
  `final_return`: `jaxil.evaluate` of brax's learned inference function (the `make_policy`
  and params that `train` returns) on the jaxil env, from the same start states as
  jaxil's policy. An error (brax's agent cannot run) is reported as `error` instead of
  crashing.
- `dagger_vs_brax_bc_ratio`: jaxil / brax of the steady-state loop seconds (< 1: jaxil
  faster), of the throughputs (> 1: jaxil faster) and of the first-call and compile
  seconds (< 1: jaxil faster).

Matched between the two loops:
- environment and backend: `brax.envs.get_environment(env, backend=...)` for both (jaxil
  through `jaxil.envs.make("brax/<env>")`; brax's in a wrapper that puts the observation
  under the key `"state"`, which brax's BC agent requires, and in
  `brax.envs.training.wrap`), the same time limit (`--episode-length`, 1000);
- the teacher: the same deterministic jaxil PPO expert; brax's `teacher_inference_fn`
  returns its action (clipped to [-1, 1]) and `extras["loc"] = arctanh(action)`, so that
  brax's loss `|tanh(loc_student) - tanh(loc_teacher)|^2` is the squared error to the
  teacher's action, as jaxil's;
- the loss: squared error of the deterministic tanh-squashed action (jaxil
  `head="deterministic"`, brax's `NormalTanhDistribution` mode with `tanh_squash=True`),
  summed over action dimensions, averaged over the batch;
- the network: an MLP of `--hidden-sizes` (brax's default `32,32,32,32`) with swish
  (`silu`) activations; Adam at `--learning-rate` (brax's default 4e-4) without gradient
  clipping (jaxil's `max_grad_norm` set out of reach); `--epochs` 50 and `--batch-size`
  256 are brax's defaults too;
- the schedule: `--rounds` iterations (brax `dagger_steps`), the expert's actions in
  round 0 and the learner's afterwards (brax's default `dagger_beta_fn`, jaxil's
  `first_round`), `--num-envs` parallel envs (brax `num_envs`), `--rollout-length` steps
  per env per round (brax `demo_length`), episodes running on across rounds (brax
  `reset=False`, `scramble_time=0`: all envs start at step 0 as jaxil's do);
- the gradient steps: brax takes `--epochs` shuffled passes over the round's
  `num_envs * rollout_length` states in minibatches of `--batch-size`; jaxil takes as
  many steps per round, `epochs * num_envs * rollout_length / batch_size`
  (`AggregationConfig.sgd_steps`), of the same batch size. Both run without
  demonstrations (jaxil: `jaxil.train(algo, key, None, rounds)`).

Differences that remain (brax's agent cannot be configured otherwise):
- aggregation: brax's agent does *not* aggregate: every round it trains on that round's
  `num_envs * rollout_length` states only (only its observation normaliser accumulates
  statistics over all rounds); jaxil's DAgger trains on all states gathered so far (its
  buffer holds all `rounds * num_envs * rollout_length` pairs). Per round both do the
  same number of gradient steps of the same size, so the SGD work is equal; the data
  differ.
- sampling: brax shuffles and passes over the data (without replacement, `epochs`
  times); jaxil draws each minibatch uniformly with replacement from its buffer.
- labelling: jaxil queries the expert once per visited state, in the rollout. Brax
  evaluates both teacher and student at every rollout step (`jnp.where`) and then
  re-queries the teacher on every minibatch of every epoch (its loss takes the labels
  from `teacher_inference_fn` inside the SGD step), i.e. `1 + epochs` teacher calls per
  state; `teacher_queries` reports both counts.
- normalisation: brax standardises observations with running statistics updated by
  every round's states; jaxil without demonstrations uses the identity (its normaliser
  is fitted to demonstrations, which neither loop is given here).
- initialisation: each library's own (flax's lecun-uniform vs equinox's default).
- the backend (the same for both, so not a difference between them): `--backend
  positional` by default, the one jaxil's expert recipe for this env is tuned on
  (`jaxil.experts.defaults`, `env_kwargs`); jaxil's adapter alone passes no backend,
  i.e. Brax's default `generalized` (`--backend generalized` runs both loops on it).

Usage:
    python benchmarks/dagger_vs_brax_bc.py             # inverted_pendulum, 10 rounds
    python benchmarks/dagger_vs_brax_bc.py --backend generalized --rounds 20
    python benchmarks/dagger_vs_brax_bc.py --smoke     # tiny settings: checks the script
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
import traceback

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import jaxil
from jaxil.algorithms import AggregationConfig, BCConfig, DAggerConfig, dagger

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import emit, machine, timed  # noqa: E402  (run as a file or with -m)

OBS_KEY = "state"
"""The key under which brax's BC agent gets the (vector) observation."""


def setting(args: argparse.Namespace) -> dict:
    """The matched settings, in every record."""
    per_round = args.num_envs * args.rollout_length
    return {"env": args.env, "backend": args.backend, "episode_length": args.episode_length,
            "rounds": args.rounds, "num_envs": args.num_envs,
            "rollout_length": args.rollout_length, "epochs": args.epochs,
            "batch_size": args.batch_size, "sgd_steps_per_round": sgd_steps(args),
            "env_steps": args.rounds * per_round,
            "sgd_samples": args.rounds * sgd_steps(args) * args.batch_size,
            "hidden_sizes": list(args.hidden_sizes), "learning_rate": args.learning_rate,
            "smoke": args.smoke}


def sgd_steps(args: argparse.Namespace) -> int:
    """Gradient steps per round: brax's `epochs` passes over the round's states."""
    return args.epochs * args.num_envs * args.rollout_length // args.batch_size


def throughput(args: argparse.Namespace, seconds: float) -> dict:
    s = setting(args)
    return {"env_steps_per_second": s["env_steps"] / seconds,
            "sgd_samples_per_second": s["sgd_samples"] / seconds}


class CompileSpans:
    """Collects the time spans JAX reports for tracing, lowering and XLA compilation
    (`jax.monitoring` events), to tell a loop's compile time from its run time."""

    EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
              "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")

    def __init__(self):
        self.spans: list[tuple[float, float]] = []
        jax.monitoring.register_event_time_span_listener(self._record)

    def _record(self, event: str, start: float, end: float, **_) -> None:
        if event in self.EVENTS:
            self.spans.append((start, end))

    def within(self, start: float, end: float) -> float:
        """Seconds of `[start, end]` (`time.time()`) covered by a span (nested spans,
        e.g. an inner jit traced while an outer one is, are counted once)."""
        total, reach = 0.0, start
        for s, e in sorted(self.spans):
            s, e = max(s, reach), min(e, end)
            if e > s:
                total += e - s
                reach = e
        return total


# ----------------------------------------------------------------------------- teacher


class LinearExpert(eqx.Module):
    """`clip(obs @ w, -1, 1)`: a fixed controller (`--expert linear`, used by `--smoke`);
    `w = [0.5, 5, 0.5, 1]` balances Brax's inverted pendulum (cart position, pole angle,
    and their velocities)."""

    w: jax.Array

    def __call__(self, obs, key):
        return jnp.clip(jnp.atleast_1d(obs @ self.w), -1.0, 1.0)


def make_expert(args: argparse.Namespace, env: jaxil.envs.Env) -> tuple[jaxil.Policy, dict]:
    if args.expert == "linear":
        if args.env != "inverted_pendulum":
            raise ValueError("--expert linear: only for inverted_pendulum")
        return LinearExpert(jnp.asarray([0.5, 5.0, 0.5, 1.0], jnp.float32)), {"timesteps": 0}
    return jaxil.experts.train_ppo(env, jax.random.key(args.seed),
                                   num_timesteps=args.expert_steps)



def make_teacher(expert: jaxil.Policy):
    """The jaxil expert as brax's `teacher_inference_fn(obs, key) -> (actions, extras)`.

    `obs` is brax's dict observation `{"state": [B, obs_dim]}`; the expert is
    deterministic, so the key (brax passes `None`) is not used. `extras["loc"]` is the
    pre-tanh action, which brax's loss squashes with `tanh`.
    """
    key = jax.random.key(0)

    def teacher(obs, _key=None):
        x = obs[OBS_KEY]
        actions = jax.vmap(lambda o: expert(o, key))(x)
        actions = jnp.clip(actions.astype(jnp.float32), -1.0, 1.0)
        loc = jnp.arctanh(jnp.clip(actions, -1.0 + 1e-6, 1.0 - 1e-6))
        return actions, {"loc": loc}

    return teacher


class BraxPolicy(eqx.Module):
    """Brax's learned BC inference function as a jaxil `Policy` (one observation)."""

    params: tuple
    make_policy: object = eqx.field(static=True)

    def __call__(self, obs, key):
        actions, _ = self.make_policy(self.params)({OBS_KEY: obs[None]}, None)
        return actions[0]


# ----------------------------------------------------------------------------- jaxil


def run_jaxil(args: argparse.Namespace, env: jaxil.envs.Env, expert: jaxil.Policy,
              eval_key, spans: CompileSpans) -> dict:
    bc_config = BCConfig(hidden_sizes=tuple(args.hidden_sizes), head="deterministic",
                         activation="silu", learning_rate=args.learning_rate,
                         max_grad_norm=1e30)
    total = args.rounds * args.num_envs * args.rollout_length
    config = DAggerConfig(
        beta_schedule="first_round", bc=bc_config,
        aggregation=AggregationConfig(num_envs=args.num_envs,
                                      rollout_length=args.rollout_length,
                                      sgd_steps=sgd_steps(args), batch_size=args.batch_size,
                                      buffer_size=total))
    algo = dagger(env, config, expert=expert)

    def loop(key):
        return jaxil.train(algo, key, None, num_updates=args.rounds,
                           batch_size=args.batch_size)

    key = jax.random.key(args.seed + 10)
    start, wall = time.perf_counter(), time.time()
    compiled = jax.jit(loop).lower(key).compile()
    lower_compile_seconds = time.perf_counter() - start
    compile_seconds = spans.within(wall, time.time())
    (state, metrics), first_run = timed(lambda: compiled(key))
    steady = []
    for i in range(args.repeats):
        _, seconds = timed(lambda i=i: compiled(jax.random.key(args.seed + 11 + i)))
        steady.append(seconds)
    returns = jaxil.evaluate(env, algo.policy(state), eval_key, args.eval_episodes)
    best = min(steady)
    return {"library": "jaxil", "compile_seconds": compile_seconds,
            "lower_compile_seconds": lower_compile_seconds,
            "first_call_seconds": lower_compile_seconds + first_run,
            "first_run_seconds": first_run, "steady_seconds": best,
            "steady_seconds_all": steady, **throughput(args, best),
            "seconds_per_round": best / args.rounds,
            "teacher_queries": total, "dataset_size": int(state.dataset.size),
            "final_bc_loss": float(metrics["loss"][-1]),
            "final_return": float(np.mean(returns)), "final_return_std": float(np.std(returns)),
            "eval_episodes": args.eval_episodes}


# ----------------------------------------------------------------------------- brax


def brax_env(args: argparse.Namespace):
    """Brax's env with its observation under `OBS_KEY`, wrapped for brax's training."""
    from brax import envs
    from brax.envs.base import Wrapper

    class DictObs(Wrapper):
        """`obs` -> `{OBS_KEY: obs}` (brax's BC agent reads dict observations only)."""

        def reset(self, rng):
            state = self.env.reset(rng)
            return state.replace(obs={OBS_KEY: state.obs})

        def step(self, state, action):
            state = self.env.step(state.replace(obs=state.obs[OBS_KEY]), action)
            return state.replace(obs={OBS_KEY: state.obs})

        @property
        def observation_size(self):
            return {OBS_KEY: (self.env.observation_size,)}

    env = envs.get_environment(args.env, backend=args.backend)
    return envs.training.wrap(DictObs(env), episode_length=args.episode_length,
                              action_repeat=1)


class _Proxy:
    """`target` with some attributes replaced (a module as one module sees it)."""

    def __init__(self, target, **overrides):
        self._target, self._overrides = target, overrides

    def __getattr__(self, name):
        return self._overrides[name] if name in self._overrides else getattr(self._target, name)


class LoopTimer:
    """Stands in for `jax.lax.scan` inside brax's `bc/train.py` during one `train` call.

    Every scan passes through to `jax.lax.scan` unchanged except the top-level one over
    brax's `dagger_step` (the whole DAgger loop): that one is jitted as it is and run
    on its inputs once (compile and run, timed: `first_seconds`; its result is what
    `train` goes on with) and then `repeats` more times on the same inputs (the loop
    is a pure function; timed: `steady_seconds`).
    """

    def __init__(self, repeats: int):
        self.repeats = repeats
        self.first_seconds: float | None = None
        self.steady_seconds: list[float] = []

    def scan(self, f, init=None, xs=None, length=None, **kwargs):
        if getattr(f, "__name__", None) != "dagger_step" or xs is not None or kwargs:
            return jax.lax.scan(f, init, xs, length=length, **kwargs)
        loop = jax.jit(lambda carry: jax.lax.scan(f, carry, length=int(length)))
        out, self.first_seconds = timed(lambda: loop(init))
        for _ in range(self.repeats):
            self.steady_seconds.append(timed(lambda: loop(init))[1])
        return out


def brax_call(args: argparse.Namespace, teacher, seed: int, spans: CompileSpans) -> dict:
    """One call of brax's `train` (`num_evals=0`: the loop, no evaluation inside), with
    its DAgger loop timed by a `LoopTimer`."""
    from brax.training.agents.bc import networks as bc_networks
    from brax.training.agents.bc import train as bc_train
    from flax import linen

    network_factory = functools.partial(
        bc_networks.make_bc_networks, policy_hidden_layer_sizes=tuple(args.hidden_sizes),
        activation=linen.swish, policy_obs_key=OBS_KEY, vision=False)
    reports = []

    def progress(step, metrics):  # called once, after the loop
        reports.append({"walltime": float(metrics["walltime"]),
                        "actor_loss": float(np.mean(metrics["actor_loss"][-1]))})

    timer = LoopTimer(args.repeats)
    bc_train.jax = _Proxy(jax, lax=_Proxy(jax.lax, scan=timer.scan))
    try:
        start = time.time()
        make_policy, params, _ = bc_train.train(
            demo_length=args.rollout_length, teacher_inference_fn=teacher,
            normalize_observations=True, epochs=args.epochs, tanh_squash=True,
            env=brax_env(args), num_envs=args.num_envs, batch_size=args.batch_size,
            scramble_time=0, network_factory=network_factory, progress_fn=progress,
            seed=seed, learning_rate=args.learning_rate, dagger_steps=args.rounds,
            num_evals=0, reset=False)
        jax.block_until_ready(params)
        end = time.time()
    finally:
        bc_train.jax = jax
    if timer.first_seconds is None:
        raise RuntimeError("brax's train ran no lax.scan over `dagger_step`: its loop has "
                           "changed, this script cannot time it")
    repeats = sum(timer.steady_seconds)  # not part of brax's own call
    (report,) = reports
    return {"call_seconds": end - start - repeats,
            "call_compile_seconds": spans.within(start, end),
            "loop_first_seconds": timer.first_seconds,
            "loop_steady_seconds": timer.steady_seconds,
            "brax_walltime": report["walltime"] - repeats,
            "final_bc_loss": report["actor_loss"], "make_policy": make_policy,
            "params": params}


def run_brax(args: argparse.Namespace, env: jaxil.envs.Env, expert: jaxil.Policy,
             eval_key, spans: CompileSpans) -> dict:
    teacher = make_teacher(expert)
    calls = [brax_call(args, teacher, args.seed + 20 + i, spans)
             for i in range(args.brax_calls)]
    steady = [s for c in calls for s in c["loop_steady_seconds"]]
    best = min(steady)
    last = calls[-1]
    policy = BraxPolicy(last["params"], last["make_policy"])
    returns = jaxil.evaluate(env, policy, eval_key, args.eval_episodes)
    per_state = 1 + args.epochs
    each = lambda k: [c[k] for c in calls]
    return {"library": "brax", "compile_seconds": calls[0]["call_compile_seconds"],
            "first_call_seconds": calls[0]["call_seconds"],
            "call_seconds": each("call_seconds"),
            "call_compile_seconds": each("call_compile_seconds"),
            "loop_first_seconds": each("loop_first_seconds"),
            "brax_walltime": each("brax_walltime"),
            "steady_seconds": best, "steady_seconds_all": steady,
            **throughput(args, best), "seconds_per_round": best / args.rounds,
            "teacher_queries": per_state * args.rounds * args.num_envs * args.rollout_length,
            "dataset_size": args.num_envs * args.rollout_length,
            "final_bc_loss": last["final_bc_loss"],
            "final_return": float(np.mean(returns)), "final_return_std": float(np.std(returns)),
            "eval_episodes": args.eval_episodes}


# ----------------------------------------------------------------------------- main


def ratio(jaxil_rec: dict, brax_rec: dict) -> dict:
    keys = ("steady_seconds", "env_steps_per_second", "sgd_samples_per_second",
            "first_call_seconds", "compile_seconds")
    return {k: jaxil_rec[k] / brax_rec[k] if brax_rec.get(k) else None for k in keys}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ints = lambda s: [int(x) for x in s.split(",")]
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="inverted_pendulum", help="a brax.envs name")
    p.add_argument("--backend", default="positional",
                   help="Brax physics backend of both loops (and of the expert)")
    p.add_argument("--episode-length", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=10, help="DAgger iterations")
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--rollout-length", type=int, default=128,
                   help="steps per env per round (brax's demo_length)")
    p.add_argument("--epochs", type=int, default=50,
                   help="brax's SGD passes per round over the round's states")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--hidden-sizes", type=ints, default=[32, 32, 32, 32])
    p.add_argument("--learning-rate", type=float, default=4e-4)
    p.add_argument("--repeats", type=int, default=2,
                   help="steady-state runs of each compiled loop (jaxil's, brax's per call)")
    p.add_argument("--brax-calls", type=int, default=2,
                   help="calls of brax's train (each compiles again)")
    p.add_argument("--eval-episodes", type=int, default=16)
    p.add_argument("--expert", choices=("ppo", "linear"), default="ppo",
                   help="the teacher: a jaxil PPO expert, or (--smoke) a fixed linear "
                        "controller that balances the inverted pendulum")
    p.add_argument("--expert-steps", type=int, default=None,
                   help="PPO expert timesteps (default: the jaxil.experts recipe)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true", help="tiny settings: checks the script")
    args = p.parse_args(argv)
    if args.smoke:
        args.rounds, args.num_envs, args.rollout_length, args.epochs = 2, 4, 32, 2
        args.batch_size, args.episode_length, args.eval_episodes = 32, 200, 4
        args.expert, args.repeats, args.brax_calls = "linear", 1, 1
    if args.brax_calls < 1 or args.repeats < 1:
        p.error("--brax-calls and --repeats: expected >= 1")
    if (args.num_envs * args.rollout_length) % args.batch_size:
        p.error("brax needs num_envs * rollout_length divisible by --batch-size")
    return args


def main(args: argparse.Namespace) -> None:
    env = jaxil.envs.make(f"brax/{args.env}", backend=args.backend,
                          max_episode_steps=args.episode_length)
    spans = CompileSpans()
    start = time.perf_counter()
    expert, info = make_expert(args, env)
    eval_key = jax.random.key(args.seed + 1)
    expert_return = float(np.mean(jaxil.evaluate(env, expert, eval_key, args.eval_episodes)))
    emit({"benchmark": "dagger_vs_brax_bc_expert", **setting(args), "expert": args.expert,
          "expert_return": expert_return, "ppo_timesteps": info["timesteps"],
          "ppo_compile_seconds": info.get("compile_seconds"),
          "ppo_train_seconds": info.get("train_seconds"),
          "seconds": time.perf_counter() - start, "machine": machine()})

    jaxil_rec = {"benchmark": "dagger_vs_brax_bc", **setting(args),
                 **run_jaxil(args, env, expert, eval_key, spans),
                 "expert_return": expert_return}
    emit({**jaxil_rec, "machine": machine()})

    try:
        brax_rec = {"benchmark": "dagger_vs_brax_bc", **setting(args),
                    **run_brax(args, env, expert, eval_key, spans), "expert_return": expert_return}
    except Exception as err:  # brax's agent could not run: say why instead of crashing
        brax_rec = {"benchmark": "dagger_vs_brax_bc", **setting(args), "library": "brax",
                    "error": f"{type(err).__name__}: {err}",
                    "traceback": traceback.format_exc()[-3000:]}
    emit({**brax_rec, "machine": machine()})

    if "error" in brax_rec:
        emit({"benchmark": "dagger_vs_brax_bc_ratio", **setting(args), "jaxil_over_brax": None,
              "reason": "brax's BC agent did not run: " + brax_rec["error"]})
        return
    emit({"benchmark": "dagger_vs_brax_bc_ratio", **setting(args),
          "jaxil_over_brax": ratio(jaxil_rec, brax_rec),
          **{k: {"jaxil": jaxil_rec[k], "brax": brax_rec[k]}
             for k in ("steady_seconds", "env_steps_per_second", "sgd_samples_per_second",
                       "first_call_seconds", "compile_seconds", "teacher_queries")},
          "final_return": {"jaxil": jaxil_rec["final_return"],
                           "brax": brax_rec["final_return"], "expert": expert_return},
          "machine": machine()})


if __name__ == "__main__":
    main(parse())
