"""Figure 10.4: effect of alpha and n on the early performance of n-step semi-gradient Sarsa on mountain car.

    python rl/rl-book/chapter10/n_step_alphas.py [--runs 100] [--episodes 50]

Steps per episode averaged over the first --episodes episodes and --runs runs, for n = 1, 2, 4, 8, 16 and a
range of alpha x 8 (8 tilings). For each n every (alpha, run) pair is one row of the vectorized learner, with
its own weights. Large alphas are left out for large n, as in the book, where performance is off the chart.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from sarsa import TILINGS, n_step_sarsa  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402

# n: the values of alpha x 8 tried (the book's curves stop where they leave its 220-300 range)
ALPHAS_X8 = {1: np.arange(0.2, 1.81, 0.2), 2: np.arange(0.2, 1.61, 0.2), 4: np.arange(0.2, 1.41, 0.2),
             8: np.arange(0.1, 0.91, 0.1), 16: np.arange(0.1, 0.61, 0.1)}


def compute(runs, episodes, rng, ns=tuple(ALPHAS_X8)):
    results = {}
    for n in ns:
        alphas = np.round(ALPHAS_X8[n], 2)
        out = n_step_sarsa(np.repeat(alphas / TILINGS, runs), n, episodes, rng)
        steps = out["steps"].reshape(len(alphas), runs, episodes)
        results[n] = {"alpha_x8": alphas, "mean_steps": steps.mean((1, 2)),
                      "standard_error": steps.mean(2).std(1, ddof=1) / np.sqrt(runs),
                      "truncated_episodes": int(out["truncated"].sum())}
    return results


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=100)
    parser.add_argument("--episodes", type=positive_int, default=50)
    args = parser.parse_args()
    runs = 10 if args.quick else args.runs
    results = compute(runs, args.episodes, np.random.default_rng(args.seed))
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, (n, r) in enumerate(results.items()):
        ax.plot(r["alpha_x8"], r["mean_steps"], "-o", ms=3, color=f"C{i}", label=f"n = {n}")
        best = int(np.argmin(r["mean_steps"]))
        print(f"n = {n}: best alpha x 8 = {r['alpha_x8'][best]:.1f} with {r['mean_steps'][best]:.0f} steps "
              f"(+- {r['standard_error'][best]:.0f}); all: {np.array2string(r['mean_steps'], precision=0)}; "
              f"episodes cut at 10,000 steps: {r['truncated_episodes']}")
    ax.set_ylim(210, 300)
    ax.set_xlabel("α × number of tilings (8)")
    ax.set_ylabel(f"Steps per episode, averaged over\nthe first {args.episodes} episodes and {runs} runs")
    ax.set_title("Figure 10.4: effect of α and n on n-step semi-gradient Sarsa")
    ax.legend()
    save_figure(fig, args.out / "figure_10_4.png",
                {"seed": args.seed, "runs": runs, "episodes": args.episodes,
                 **{f"n_{n}": r for n, r in results.items()}})


if __name__ == "__main__":
    main_guard(main)()
