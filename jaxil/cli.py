"""The `jaxil` command: quickstart, expert, train, eval."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="jaxil: functional, pure-JAX imitation learning.")
console = Console()


def _parse_overrides(config_cls, overrides: list[str]):
    """Builds `config_cls(**kwargs)` from `name=value` strings, checking every name."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    defaults = config_cls()
    kwargs = {}
    for item in overrides:
        name, sep, raw = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--set {item!r}: expected name=value")
        if name not in fields:
            raise typer.BadParameter(
                f"--set {name}: {config_cls.__name__} has no field {name!r}; "
                f"fields: {', '.join(sorted(fields))}")
        default = getattr(defaults, name)
        try:
            if isinstance(default, bool):
                if raw.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(raw)
                value = raw.lower() in ("true", "1")
            elif isinstance(default, tuple):
                value = tuple(int(x) for x in raw.split(",") if x)
            elif isinstance(default, int):
                value = int(raw)
            elif isinstance(default, str):
                value = raw
            else:
                value = float(raw)
        except ValueError as err:
            raise typer.BadParameter(
                f"--set {name}: expected a value like {default!r}, got {raw!r}") from err
        kwargs[name] = value
    return config_cls(**kwargs)


def _algorithm(name: str):
    """`(factory, config_class)` for `jaxil.algorithms.<name>`."""
    from jaxil import algorithms

    factory = getattr(algorithms, name, None)
    wanted = name.replace("_", "").lower() + "config"
    configs = [getattr(algorithms, n) for n in dir(algorithms) if n.lower() == wanted]
    if factory is None or not callable(factory) or not configs:
        known = sorted(n for n in dir(algorithms)
                       if any(c.lower() == n.replace("_", "").lower() + "config"
                              for c in dir(algorithms)))
        raise typer.BadParameter(f"algorithm {name!r} is unknown; known: {', '.join(known)}")
    return factory, configs[0]


def _expert_argument(factory, algo: str, path: str | None) -> dict:
    """`{"expert": policy}` for factories that take an expert (DAgger, DART), else `{}`."""
    import inspect

    import jaxil

    if "expert" not in inspect.signature(factory).parameters:
        if path is not None:
            raise typer.BadParameter(f"--expert: {algo} does not query an expert")
        return {}
    if path is None:
        raise typer.BadParameter(f"--expert: {algo} queries an expert; give a saved policy "
                                 "(`jaxil expert ENV --out expert.eqx`)")
    try:
        return {"expert": jaxil.load_policy(path)}
    except (ValueError, OSError) as err:
        raise typer.BadParameter(f"--expert {path}: {err}") from err


def _make_env(name: str, backend: str | None):
    from jaxil import envs

    try:
        return envs.make(name, **({"backend": backend} if backend else {}))
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err


@app.command()
def quickstart(
    out: Annotated[str, typer.Option(help="Output directory.")] = "runs/quickstart",
    seed: Annotated[int, typer.Option(help="PRNG seed.")] = 0,
    episodes: Annotated[int, typer.Option(help="Expert episodes for BC.")] = 10,
):
    """Trains PPO experts, collects demos, runs BC and prints a table of returns."""
    from jaxil.quickstart import run_quickstart

    run_quickstart(out, seed=seed, num_episodes=episodes, console=console)


@app.command()
def expert(
    env: Annotated[str, typer.Argument(help="Environment name, e.g. cartpole or brax/hopper.")],
    out: Annotated[str, typer.Option(help="Where to save the expert policy (.eqx).")],
    timesteps: Annotated[int | None, typer.Option(help="PPO env steps (default per env).")]
    = None,
    seed: Annotated[int, typer.Option(help="PRNG seed.")] = 0,
    demos: Annotated[str | None, typer.Option(help="Also collect demos to this .npz.")] = None,
    episodes: Annotated[int, typer.Option(help="Episodes to collect with --demos.")] = 10,
    backend: Annotated[str | None, typer.Option(help="Brax backend.")] = None,
    sampled_actions: Annotated[bool, typer.Option(
        help="Record sampled actions in --demos instead of the expert's mode.")] = False,
):
    """Trains a PPO expert on ENV and saves it (optionally with demonstrations)."""
    import jax

    import jaxil

    environment = _make_env(env, backend)
    key = jax.random.key(seed)
    with console.status(f"training a PPO expert on {env}"):
        policy, info = jaxil.experts.train_ppo(environment, key, num_timesteps=timesteps)
    jaxil.save_policy(out, policy)
    console.print(f"expert on {env}: mean return {info['eval_return']:.1f} "
                  f"({info['timesteps']} steps, {info['seconds']:.1f} s) -> {out}")
    if demos:
        data = jaxil.data.collect(environment, policy, jax.random.fold_in(key, 1), episodes,
                                  deterministic=not sampled_actions)
        jaxil.data.save(demos, data, metadata={"env": env, "expert_return":
                                               float(info["eval_return"])})
        console.print(f"{episodes} episodes (mean return {data.returns.mean():.1f}) -> {demos}")


@app.command()
def train(
    algo: Annotated[str, typer.Argument(help="Algorithm: bc, gail, airl, gaifo, fgail, ...")],
    env: Annotated[str, typer.Option(help="Environment name.")],
    demos: Annotated[str, typer.Option(help="Demonstrations (.npz from `jaxil expert`).")],
    out: Annotated[str, typer.Option(help="Where to save the learned policy.")]
    = "policy.eqx",
    updates: Annotated[int, typer.Option(help="Number of updates.")] = 2_000,
    batch_size: Annotated[int, typer.Option(help="Expert transitions per update.")] = 256,
    seed: Annotated[int, typer.Option(help="PRNG seed.")] = 0,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Config override name=value (repeatable).")] = None,
    backend: Annotated[str | None, typer.Option(help="Brax backend.")] = None,
    metrics_csv: Annotated[str | None, typer.Option(help="Write per-update metrics here.")]
    = None,
    expert: Annotated[str | None, typer.Option(
        help="A saved expert policy (.eqx from `jaxil expert`), for methods that query "
             "one (dagger, dart).")] = None,
):
    """Trains ALGO on demonstrations and saves the policy."""
    import time

    import jax
    import numpy as np

    import jaxil

    factory, config_cls = _algorithm(algo)
    config = _parse_overrides(config_cls, set_ or [])
    environment = _make_env(env, backend)
    try:
        data = jaxil.data.load(demos, spec=environment.spec)
    except (ValueError, OSError) as err:
        raise typer.BadParameter(f"--demos {demos}: {err}") from err
    algorithm = factory(environment, config, **_expert_argument(factory, algo, expert))
    start = time.perf_counter()
    with console.status(f"training {algo} on {env} ({updates} updates)"):
        try:  # host-side checks of the demos and settings raise before anything compiles
            state, metrics = jax.jit(
                lambda k: jaxil.train(algorithm, k, data, updates, batch_size))(
                jax.random.key(seed))
        except ValueError as err:
            raise typer.BadParameter(str(err)) from err
        jax.block_until_ready(state)
    seconds = time.perf_counter() - start
    policy = algorithm.policy(state)
    jaxil.save_policy(out, policy)
    returns = jaxil.evaluate(environment, policy, jax.random.key(seed + 1), 20)
    if metrics_csv:
        from jaxil.logging import write_metrics_csv

        write_metrics_csv(metrics_csv, {k: np.asarray(v) for k, v in metrics.items()},
                          run=f"{algo}/{env}")
    console.print(f"{algo} on {env}: {updates} updates in {seconds:.1f} s, "
                  f"mean return {float(returns.mean()):.1f} -> {out}")


@app.command("eval")
def eval_(
    policy: Annotated[str, typer.Argument(help="A saved policy (.eqx).")],
    env: Annotated[str, typer.Option(help="Environment name.")],
    episodes: Annotated[int, typer.Option(help="Number of episodes.")] = 20,
    seed: Annotated[int, typer.Option(help="PRNG seed.")] = 0,
    backend: Annotated[str | None, typer.Option(help="Brax backend.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
):
    """Evaluates a saved policy: mean and std of complete-episode returns."""
    import jax
    import numpy as np

    import jaxil

    environment = _make_env(env, backend)
    try:
        loaded = jaxil.load_policy(policy)
    except (ValueError, OSError) as err:
        raise typer.BadParameter(f"policy {policy}: {err}") from err
    if loaded.network.arch.observation_size != environment.spec.observation_size:
        raise typer.BadParameter(
            f"policy {policy}: observation size {loaded.network.arch.observation_size} "
            f"does not match {env}'s {environment.spec.observation_size}")
    returns = np.asarray(jaxil.evaluate(environment, loaded, jax.random.key(seed), episodes))
    result = {"env": env, "policy": os.fspath(policy), "episodes": episodes,
              "mean_return": float(returns.mean()), "std_return": float(returns.std())}
    if json_out:
        print(json.dumps(result))
    else:
        console.print(f"{env}: mean return {result['mean_return']:.1f} "
                      f"± {result['std_return']:.1f} over {episodes} episodes")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
