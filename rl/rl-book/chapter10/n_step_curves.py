"""Figure 10.3: one-step vs 8-step semi-gradient Sarsa on mountain car.

    python rl/rl-book/chapter10/n_step_curves.py [--runs 100] [--episodes 500]

Steps per episode (log scale) averaged over --runs runs: n = 1 with alpha = 0.5/8 and n = 8 with
alpha = 0.3/8, the best step sizes the book found for each. 8-step Sarsa learns faster and ends lower.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure, steps_per_episode_axes  # noqa: E402
from common.script import figure_parser  # noqa: E402
from sarsa import TILINGS, n_step_sarsa  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402

SETTINGS = {1: 0.5, 8: 0.3}  # n: alpha x number of tilings


def compute(runs, episodes, rng):
    results = {}
    for n, a in SETTINGS.items():
        out = n_step_sarsa(np.full(runs, a / TILINGS), n, episodes, rng)
        results[n] = {"steps": out["steps"].mean(0), "truncated": int(out["truncated"].sum())}
    return results


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=100)
    parser.add_argument("--episodes", type=positive_int, default=500)
    args = parser.parse_args()
    runs, episodes = (10, 100) if args.quick else (args.runs, args.episodes)
    results = compute(runs, episodes, np.random.default_rng(args.seed))
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    data = {"seed": args.seed, "runs": runs, "episodes": episodes}
    for i, (n, a) in enumerate(SETTINGS.items()):
        curve = results[n]["steps"]
        ax.plot(np.arange(1, episodes + 1), curve, color=f"C{3 if n == 1 else 0}",
                label=f"n = {n}, α = {a}/8")
        data[f"n_{n}"] = {"alpha_x8": a, "mean_steps_per_episode": curve,
                          "mean_steps_episodes_1_50": curve[:50].mean(),
                          "mean_steps_last_100_episodes": curve[-100:].mean(),
                          "truncated_episodes": results[n]["truncated"]}
        print(f"n = {n}, alpha = {a}/8: first 50 episodes {curve[:50].mean():.0f} steps, "
              f"last 100 {curve[-100:].mean():.1f}, cut at 10,000 steps: {results[n]['truncated']}")
    steps_per_episode_axes(ax, runs)
    ax.set_title("Figure 10.3: one-step vs 8-step semi-gradient Sarsa")
    ax.legend()
    save_figure(fig, args.out / "figure_10_3.png", data)


if __name__ == "__main__":
    main_guard(main)()
