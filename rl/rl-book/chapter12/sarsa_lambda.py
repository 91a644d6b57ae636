"""Figures 12.10 and 12.11: Sarsa(lambda) and true online Sarsa(lambda) on mountain car, early performance vs alpha.

    python rl/rl-book/chapter12/sarsa_lambda.py                     # both figures, 100 runs (the book's scale)
    python rl/rl-book/chapter12/sarsa_lambda.py --figures 12.11
    python rl/rl-book/chapter12/sarsa_lambda.py --quick             # 10 runs

Mountain car with 8 tilings of 8 x 8 tiles (chapter 10's tile coding), w = 0, greedy, gamma = 1.
Figure 12.10: steps per episode averaged over the first 50 episodes, Sarsa(lambda) with replacing traces for
lambda in {0, .68, .84, .92, .96, .98, .99} (right) beside n-step Sarsa, n in {1, 2, 4, 8, 16} (left). The left
panel is Figure 10.4, as in the book: read from chapter10/figure_10_4.json when that was made at the same scale
(runs, 50 episodes), else computed with chapter 10's code (n_step_alphas.compute, about as long again).
Figure 12.11: reward per episode over the first 20 episodes, lambda = 0.9: true online Sarsa(lambda) vs
Sarsa(lambda) with accumulating traces, replacing traces, and replacing traces that clear the other actions'
traces. Every (method, lambda, alpha, run) is one learner; all learners of a figure panel run in one vectorized
loop. A learner whose average would be far off the book's axis is stopped early and left off the plot (as the
book's curves leave the axis).
"""
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
import json  # noqa: E402

from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
from shared.imports import load_module  # noqa: E402
from traces import sarsa_lambda  # noqa: E402

FIGURES = ("12.10", "12.11")
LAMBDAS_12_10 = [0.0, 0.68, 0.84, 0.92, 0.96, 0.98, 0.99]
ALPHAS_12_10 = np.round(np.arange(0.2, 1.81, 0.2), 2)  # alpha x 8
FIGURE_10_4 = HERE.parent / "chapter10" / "figure_10_4.json"
METHODS_12_11 = {"true online Sarsa(λ)": dict(trace="dutch"),
                 "Sarsa(λ), replacing, clearing": dict(trace="replacing", clear_other_actions=True),
                 "Sarsa(λ), replacing": dict(trace="replacing"),
                 "Sarsa(λ), accumulating": dict(trace="accumulating")}
ALPHAS_12_11 = np.round(np.concatenate([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], np.arange(0.8, 2.01, 0.2)]), 2)
TOP_12_10, BOTTOM_12_11 = 300, -550  # the book's axes


def sweep(alphas_x8, lambdas, runs, episodes, rng, stop_above, **kwargs):
    """Mean steps per episode [len(lambdas), len(alphas)] of Sarsa(lambda); inf where learners were stopped."""
    lam, a8, _ = np.meshgrid(lambdas, alphas_x8, np.arange(runs), indexing="ij")
    with np.errstate(over="ignore", invalid="ignore"):  # accumulating traces diverge at large alpha
        steps = sarsa_lambda(a8.ravel() / 8, lam.ravel(), episodes, rng, max_steps_per_episode=stop_above,
                             **kwargs)["steps"]
    return steps.reshape(len(lambdas), len(alphas_x8), runs, episodes).mean((2, 3))


def figure_10_4(runs, episodes, rng):
    """n-step Sarsa's mean steps per episode {n: (alpha_x8, mean_steps)} and where they came from."""
    if FIGURE_10_4.exists():
        saved = json.loads(FIGURE_10_4.read_text())
        if saved.get("runs") == runs and saved.get("episodes") == episodes:
            return {int(k[2:]): (np.array(v["alpha_x8"]), np.array(v["mean_steps"], dtype=float))
                    for k, v in saved.items() if k.startswith("n_")}, f"read from {FIGURE_10_4.name}"
    results = load_module(HERE.parent / "chapter10" / "n_step_alphas.py").compute(runs, episodes, rng)
    return {n: (r["alpha_x8"], r["mean_steps"]) for n, r in results.items()}, "computed (chapter10/n_step_alphas.py)"


def compute_12_10(runs, rng, episodes=50):
    # learners past 375 steps per episode on average are stopped: they are off the book's axis (300) anyway
    sarsa = sweep(ALPHAS_12_10, LAMBDAS_12_10, runs, episodes, rng, stop_above=1.25 * TOP_12_10, trace="replacing")
    n_step, source = figure_10_4(runs, episodes, rng)
    return {"n_step": n_step, "n_step_source": source, "sarsa_lambda": sarsa}


def compute_12_11(runs, rng, episodes=20, lam=0.9):
    return {name: -sweep(ALPHAS_12_11, [lam], runs, episodes, rng, stop_above=-2 * BOTTOM_12_11, **kw)[0]
            for name, kw in METHODS_12_11.items()}


def finite_or_none(values):
    return [float(v) if np.isfinite(v) else None for v in values]


def plot_12_10(result, runs, out, seed):
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    colors = plt.cm.viridis(np.linspace(0, 0.9, 7))
    for (n, (alphas, curve)), color in zip(result["n_step"].items(), colors[::-1]):
        left.plot(alphas, curve, "o-", ms=3, color=color, label=f"n={n}")
    for lam, curve, color in zip(LAMBDAS_12_10, result["sarsa_lambda"], colors):
        right.plot(ALPHAS_12_10, curve, "o-", ms=3, color=color, label=f"λ={lam:g}")
    left.set_title("n-step Sarsa (Figure 10.4)")
    right.set_title("Sarsa(λ) with replacing traces")
    left.set_ylabel(f"Mountain Car steps per episode\naveraged over first 50 episodes and {runs} runs")
    for ax in (left, right):
        ax.set_xlabel("α × number of tilings (8)")
        ax.set_ylim(170, TOP_12_10)
        ax.set_xlim(0, 1.9)
        ax.legend(fontsize=8, ncol=2)
    fig.suptitle("Figure 12.10: early performance on mountain car vs step size")
    best = {f"lambda={lam:g}": float(np.min(c)) for lam, c in zip(LAMBDAS_12_10, result["sarsa_lambda"])}
    best |= {f"n={n}": float(np.min(c)) for n, (_, c) in result["n_step"].items()}
    path = out / "figure_12_10.png"
    save_figure(fig, path, {"seed": seed, "runs": runs, "episodes": 50, "best_mean_steps": best,
                            "sarsa_lambda": {"lambdas": LAMBDAS_12_10, "alpha_x8": ALPHAS_12_10,
                                             "mean_steps": [finite_or_none(c) for c in result["sarsa_lambda"]]},
                            "n_step_sarsa": {str(n): {"alpha_x8": a, "mean_steps": finite_or_none(c)}
                                             for n, (a, c) in result["n_step"].items()},
                            "n_step_source": result["n_step_source"]})
    return path, best


def plot_12_11(result, runs, out, seed):
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for (name, curve), color in zip(result.items(), ["#d62728", "#1f77b4", "#2ca02c", "#7f7f7f"]):
        ax.plot(ALPHAS_12_11, curve, "o-", ms=3, color=color, label=name)
    ax.set_ylim(BOTTOM_12_11, -150)
    ax.set_xlim(0, 2.05)
    ax.set_xlabel("α × number of tilings (8)")
    ax.set_ylabel(f"Mountain Car reward per episode\naveraged over first 20 episodes and {runs} runs")
    ax.set_title("Figure 12.11: Sarsa(λ) variants on mountain car, λ = 0.9")
    ax.legend(fontsize=8, loc="lower left")
    best = {name: float(np.max(c)) for name, c in result.items()}
    path = out / "figure_12_11.png"
    save_figure(fig, path, {"seed": seed, "runs": runs, "episodes": 20, "lambda": 0.9, "alpha_x8": ALPHAS_12_11,
                            "best_mean_reward": best,
                            "mean_reward": {name: finite_or_none(c) for name, c in result.items()}})
    return path, best


def main():
    parser = figure_parser(__doc__, HERE)
    parser.allow_abbrev = False
    parser.add_argument("--runs", type=positive_int, default=100, help="independent runs (book: 100; --quick: 10)")
    parser.add_argument("--figures", nargs="+", default=list(FIGURES), choices=FIGURES, metavar="FIG",
                        help=f"which figures to make, from {' '.join(FIGURES)}")
    args = parser.parse_args()
    runs = 10 if args.quick else args.runs
    for name in args.figures:
        t0 = time.perf_counter()
        rng = np.random.default_rng(args.seed)
        if name == "12.10":
            path, best = plot_12_10(compute_12_10(runs, rng), runs, args.out, args.seed)
        else:
            path, best = plot_12_11(compute_12_11(runs, rng), runs, args.out, args.seed)
        print(f"Figure {name}: best {best}; {path} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main_guard(main)()
