"""InfoGAIL against GAIL on unlabelled two-mode demonstrations (`obstacle_nav`: the scripted
expert passes the obstacle on the left in half of the episodes and on the right in the
other half, from the same starts).

For each seed: InfoGAIL (2 codes) and GAIL trained on the same demonstrations; InfoGAIL
evaluated with each fixed code, GAIL as it is. Reported: per code, the share of episodes
on the code's majority side (how well the code identifies the demonstrated mode) and the
share that reach the goal; for GAIL, the sides it uses and its success. A PNG of
trajectories coloured by code (and GAIL's) goes to `--plot`.

    python benchmarks/infogail_modes.py [--seeds 3] [--updates 2500] [--plot PATH]
        [--uniform-code] [--methods infogail,gail] [--disc own|earlier|default]
        [--absorbing own|on|off|per_terminal] [--info-coef LAMBDA]
        [--info-warmup-coef LAMBDA|none] [--discriminator js|wasserstein] [--bc-steps N]

`--uniform-code`: InfoGAIL with a one-dimensional continuous code `c ~ U[-1, 1]`
(`code_distribution="uniform"`), evaluated at `c = -1` and `c = +1` as its two "codes".
`--discriminator wasserstein`: InfoGAIL with WAIL's critic and WGAN-GP's penalty
(`wail_adversarial_config()`, with InfoGAIL's absorbing state unless `--absorbing` says
otherwise). `--bc-steps`: InfoGAIL's BC warm start on the demos with random codes.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import jax
import numpy as np

import jaxil
from jaxil.adversarial import AdversarialConfig, tanh_fixed_stats_config
from jaxil.algorithms import GAILConfig, InfoGAILConfig, gail, infogail
from jaxil.algorithms.infogail import DISCRIMINATORS
from jaxil.algorithms.wail import wail_adversarial_config
from jaxil.envs import LatentCode
from jaxil.envs import navigation as nav

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import emit, save_figure  # noqa: E402  (run as a file or with -m)

EPISODES = 64


def _episodes(env, policy, key):
    """Episodes of `policy` (acting deterministically) with `env`'s own observations."""
    ep = jaxil.rollout_episodes(env, policy.with_deterministic(True), key, EPISODES)
    return ep._replace(obs=ep.obs[..., :4])


def _summary(ep) -> dict:
    sides = np.asarray(nav.side(ep))
    left, right = float(np.mean(sides == nav.LEFT)), float(np.mean(sides == nav.RIGHT))
    return {"left": left, "right": right, "mode_share": max(left, right),
            "majority_side": "left" if left >= right else "right",
            "success": float(np.mean(nav.success(ep))),
            "collided": float(np.mean(nav.collided(ep)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--updates", type=int, default=2_500)
    parser.add_argument("--demos", type=int, default=20, help="demonstrated episodes")
    parser.add_argument("--plot", default="runs/infogail_modes.png")
    parser.add_argument("--uniform-code", action="store_true")
    parser.add_argument("--methods", default="infogail,gail")
    parser.add_argument("--disc", choices=("own", "earlier", "default"), default="own",
                        help="both methods' discriminator: `own` (each config's default: "
                             "InfoGAIL's the earlier, GAIL's AdversarialConfig's), `earlier` "
                             "(tanh_fixed_stats_config: tanh, fixed input statistics, Adam at "
                             "1e-3) or `default` (AdversarialConfig's: relu, running input "
                             "statistics, Adam at 5e-4)")
    parser.add_argument("--absorbing", choices=("own", "on", "off", "per_terminal"),
                        default="own",
                        help="adversarial.absorbing_state of both methods (`own`: each "
                             "method's default, on for both, one state per terminal "
                             "observation; `on`: on, one state for every termination; "
                             "`per_terminal`: on, one state per terminal observation)")
    parser.add_argument("--info-coef", type=float, default=InfoGAILConfig().info_coef,
                        help="InfoGAILConfig.info_coef, the information reward's weight")
    parser.add_argument("--info-warmup-coef", default=str(InfoGAILConfig().info_warmup_coef),
                        help="InfoGAILConfig.info_warmup_coef, its weight in the warm-up "
                             "(`none`: no warm-up)")
    parser.add_argument("--discriminator", choices=DISCRIMINATORS, default="js",
                        help="InfoGAILConfig.discriminator")
    parser.add_argument("--bc-steps", type=int, default=0,
                        help="InfoGAIL's adversarial.bc_steps (BC warm start)")
    args = parser.parse_args()
    warmup = None if args.info_warmup_coef.lower() == "none" else float(args.info_warmup_coef)

    def adversarial(own: AdversarialConfig) -> dict:
        adv = {"own": own, "earlier": tanh_fixed_stats_config(),
               "default": AdversarialConfig()}[args.disc]
        if args.absorbing != "own":
            adv = dataclasses.replace(adv, absorbing_state=args.absorbing != "off",
                                      absorbing_per_terminal=args.absorbing == "per_terminal")
        return {"adversarial": adv}

    own = InfoGAILConfig().adversarial
    if args.discriminator == "wasserstein":
        own = dataclasses.replace(wail_adversarial_config(), absorbing_state=True,
                                  absorbing_per_terminal=True)
    adv = {"adversarial": dataclasses.replace(adversarial(own)["adversarial"],
                                              bc_steps=args.bc_steps),
           "info_coef": args.info_coef, "info_warmup_coef": warmup,
           "discriminator": args.discriminator}
    if args.uniform_code:
        config = InfoGAILConfig(num_codes=1, code_distribution="uniform", **adv)
        eval_envs = [LatentCode(jaxil.envs.make("obstacle_nav"), 1, code=(c,),
                                distribution="uniform") for c in (-1.0, 1.0)]
    else:
        config = InfoGAILConfig(num_codes=2, **adv)
        eval_envs = [LatentCode(jaxil.envs.make("obstacle_nav"), 2, code=c) for c in range(2)]

    env = jaxil.envs.make("obstacle_nav")
    demos = jaxil.data.as_transitions(nav.multimodal_demos(jax.random.key(0), args.demos, env))
    methods = {"infogail": infogail(env, config), "gail": gail(env, GAILConfig(reward="logit",
                                              **adversarial(GAILConfig().adversarial)))}
    methods = {name: methods[name] for name in args.methods.split(",")}
    runs = {name: jax.jit(lambda k, d, a=algo: jaxil.train(a, k, d, args.updates, 256))
            for name, algo in methods.items()}
    paths = {}
    for seed in range(args.seeds):
        key = jax.random.key(seed + 1)
        for name, algo in methods.items():
            start = time.perf_counter()
            state, _ = jax.block_until_ready(runs[name](key, demos))
            seconds = time.perf_counter() - start
            policy = algo.policy(state)
            record = {"benchmark": "infogail_modes", "method": name, "seed": seed,
                      "code_distribution": config.code_distribution,
                      "disc": args.disc, "absorbing": args.absorbing,
                      "info_coef": args.info_coef, "info_warmup_coef": warmup,
                      "discriminator": args.discriminator, "bc_steps": args.bc_steps,
                      "updates": args.updates, "seconds": seconds}
            if name == "infogail":
                codes = [_episodes(e, policy, jax.random.key(99)) for e in eval_envs]
                summaries = [_summary(ep) for ep in codes]
                distinct = summaries[0]["majority_side"] != summaries[1]["majority_side"]
                record.update(codes=summaries, distinct_modes=distinct,
                              mode_accuracy=float(np.mean([s["mode_share"]
                                                           for s in summaries])),
                              min_success=min(s["success"] for s in summaries))
                if seed == 0:
                    paths.update({f"InfoGAIL code {c}": np.asarray(ep.obs[..., :2])
                                  for c, ep in enumerate(codes)})
            else:
                ep = _episodes(env, policy, jax.random.key(99))
                record.update(_summary(ep))
                if seed == 0:
                    paths["GAIL"] = np.asarray(ep.obs[..., :2])
            emit(record)
    if paths:
        _plot(env, paths, args.plot)


def _plot(env, paths: dict, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    layout = env.unwrapped.layout
    panels = [names for names in (["InfoGAIL code 0", "InfoGAIL code 1"], ["GAIL"])
              if any(name in paths for name in names)]  # the methods that ran
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5), sharex=True,
                             sharey=True, squeeze=False)
    colours = {"InfoGAIL code 0": "tab:blue", "InfoGAIL code 1": "tab:orange",
               "GAIL": "tab:grey"}
    for ax, names in zip(axes[0], panels, strict=True):
        for name in names:
            for i, xy in enumerate(paths.get(name, [])[:32]):
                ax.plot(xy[:, 0], xy[:, 1], color=colours[name], alpha=0.4, lw=1,
                        label=name if i == 0 else None)
        ax.add_patch(plt.Circle(layout.obstacle, layout.obstacle_radius, color="k",
                                alpha=0.3))
        ax.add_patch(plt.Circle(layout.goal, layout.goal_radius, color="g", alpha=0.3))
        ax.set_aspect("equal")
        ax.set_title(" / ".join(names) + " (seed 0)")
        ax.legend(fontsize=8)
    save_figure(fig, path)


if __name__ == "__main__":
    main()
