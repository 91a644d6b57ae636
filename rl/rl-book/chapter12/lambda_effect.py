"""Figure 12.14: the effect of lambda, at the best step size for each lambda, with accumulating and replacing traces.

    python rl/rl-book/chapter12/lambda_effect.py              # the three panels below
    python rl/rl-book/chapter12/lambda_effect.py --quick      # about a fifth of the runs

The book's figure has four panels from older studies (mountain car and puddle world: Sutton 1996; random walk:
Singh & Sutton 1996; cart-pole: Sutton 1984). We redo three of them with this chapter's code (cart-pole, whose
data were never published, is not reproduced), each point the best over a grid of step sizes:
- Mountain car: Sarsa(lambda), 8 tilings of 8 x 8, greedy; steps per episode over the first 20 episodes, 30 runs,
  alpha x 8 in {0.05, 0.1, 0.2, 0.4, ..., 1.6}.
- Puddle world: Sarsa(lambda), 5 tilings of 5 x 5, greedy; cost per episode over the first 40 episodes, 30 runs,
  alpha x 5 in {0.1, 0.2, 0.4, 0.6, 0.8, 1.0}.
- Random walk: TD(lambda) on the 19-state walk; RMS error over the first 10 episodes, 100 runs, Figure 12.6's
  alpha grid.
"""
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
import random_walk  # noqa: E402
from sarsa_lambda import sweep  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
from traces import PuddleWorldTask, sarsa_lambda  # noqa: E402

LAMBDAS = [0.0, 0.4, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0]
MC_ALPHAS = np.round(np.concatenate([[0.05, 0.1], np.arange(0.2, 1.61, 0.2)]), 2)  # alpha x 8
MC_EPISODES, MC_STOP = 20, 1000
PW_ALPHAS, PW_EPISODES = np.array([0.1, 0.2, 0.4, 0.6, 0.8, 1.0]), 40  # alpha x 5
TRACES = ("accumulating", "replacing")


def puddle_world_costs(runs, rng, trace):
    """Mean cost per episode (minus the return) [len(LAMBDAS), len(PW_ALPHAS)] on puddle world."""
    task = PuddleWorldTask()
    lam, a5, _ = np.meshgrid(LAMBDAS, PW_ALPHAS, np.arange(runs), indexing="ij")
    with np.errstate(over="ignore", invalid="ignore"):
        returns = sarsa_lambda(a5.ravel() / task.tilings, lam.ravel(), PW_EPISODES, rng, trace=trace, task=task,
                               max_steps_per_episode=MC_STOP)["returns"]
    return -returns.reshape(len(LAMBDAS), len(PW_ALPHAS), runs, PW_EPISODES).mean((2, 3))


def compute(mc_runs, pw_runs, rw_runs, rng):
    """Best-over-alpha performance per lambda: {panel: {trace: [len(LAMBDAS)]}} and the alphas that gave it."""
    out, best_alpha = ({k: {} for k in ("mountain_car", "puddle_world", "random_walk")} for _ in range(2))
    for trace in TRACES:
        steps = sweep(MC_ALPHAS, LAMBDAS, mc_runs, MC_EPISODES, rng, stop_above=MC_STOP, trace=trace)
        out["mountain_car"][trace], best_alpha["mountain_car"][trace] = steps.min(1), MC_ALPHAS[steps.argmin(1)]
        cost = puddle_world_costs(pw_runs, rng, trace)
        out["puddle_world"][trace], best_alpha["puddle_world"][trace] = cost.min(1), PW_ALPHAS[cost.argmin(1)]
        rms = random_walk.compute(trace, rw_runs, rng, lambdas=LAMBDAS)
        out["random_walk"][trace] = rms.min(1)
        best_alpha["random_walk"][trace] = random_walk.ALPHAS[rms.argmin(1)]
    return out, best_alpha


def main():
    parser = figure_parser(__doc__, HERE)
    parser.allow_abbrev = False
    parser.add_argument("--mc-runs", type=positive_int, default=30, help="mountain car runs (--quick: 6)")
    parser.add_argument("--pw-runs", type=positive_int, default=30, help="puddle world runs (--quick: 6)")
    parser.add_argument("--rw-runs", type=positive_int, default=100, help="random walk runs (--quick: 20)")
    args = parser.parse_args()
    runs = (6, 6, 20) if args.quick else (args.mc_runs, args.pw_runs, args.rw_runs)
    t0 = time.perf_counter()
    result, best_alpha = compute(*runs, np.random.default_rng(args.seed))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    labels = {"mountain_car": ("Mountain car, Sarsa(λ)", f"steps per episode\n(first {MC_EPISODES} episodes, "
                                                         f"{runs[0]} runs, best α)"),
              "puddle_world": ("Puddle world, Sarsa(λ)", f"cost per episode\n(first {PW_EPISODES} episodes, "
                                                         f"{runs[1]} runs, best α)"),
              "random_walk": ("19-state random walk, TD(λ)", f"RMS error\n(first {random_walk.EPISODES} "
                                                              f"episodes, {runs[2]} runs, best α)")}
    for ax, (panel, (title, ylabel)) in zip(axes, labels.items()):
        for trace, style, color in zip(TRACES, ("o-", "s--"), ("#1f77b4", "#d62728")):
            ax.plot(LAMBDAS, result[panel][trace], style, ms=4, color=color, label=f"{trace} traces")
        top = ax.get_ylim()[1]
        for trace, color in zip(TRACES, ("#1f77b4", "#d62728")):  # stopped learners: a mark on the top edge
            stopped = ~np.isfinite(result[panel][trace])
            ax.plot(np.array(LAMBDAS)[stopped], np.full(stopped.sum(), top), "^", color=color, ms=7, clip_on=False)
        ax.set_ylim(top=top)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("λ")
        ax.legend()
    fig.suptitle("Figure 12.14: the effect of λ (three of the book's four tasks; ▲: off the chart at every α)")
    path = args.out / "figure_12_14.png"
    save_figure(fig, path, {"seed": args.seed, "lambdas": LAMBDAS, "runs": dict(zip(labels, runs)),
                            "mountain_car_alpha_x8_grid": MC_ALPHAS, "puddle_world_alpha_x5_grid": PW_ALPHAS,
                            "result": {k: {t: [float(x) if np.isfinite(x) else None for x in v] for t, v in d.items()}
                                       for k, d in result.items()},
                            "best_alpha": best_alpha})
    print(f"Figure 12.14: {path} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    for panel, d in result.items():
        for trace, v in d.items():
            print(panel, trace, np.round(v, 3).tolist(), file=sys.stderr)


if __name__ == "__main__":
    main_guard(main)()
