"""Figure 10.2: mountain car learning curves of semi-gradient Sarsa for three step sizes.

    python rl/rl-book/chapter10/learning_curves.py [--runs 100] [--episodes 500]

Steps per episode (log scale), averaged over --runs runs, for alpha = 0.1/8, 0.2/8, 0.5/8 (8 tilings of
8 x 8 tiles, greedy, w = 0). All 3 x 100 runs learn in one vectorized loop.
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

ALPHAS_X8 = (0.1, 0.2, 0.5)  # alpha x number of tilings, as the book labels them


def compute(runs, episodes, rng):
    out = n_step_sarsa(np.repeat(np.array(ALPHAS_X8) / TILINGS, runs), 1, episodes, rng)
    steps = out["steps"].reshape(len(ALPHAS_X8), runs, episodes)
    return steps.mean(1), int(out["truncated"].sum())


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=100)
    parser.add_argument("--episodes", type=positive_int, default=500)
    args = parser.parse_args()
    runs, episodes = (10, 100) if args.quick else (args.runs, args.episodes)
    curves, truncated = compute(runs, episodes, np.random.default_rng(args.seed))
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    data = {"seed": args.seed, "runs": runs, "episodes": episodes, "truncated_episodes": truncated}
    for a, curve in zip(ALPHAS_X8, curves):
        ax.plot(np.arange(1, episodes + 1), curve, label=f"α = {a}/8")
        data[f"alpha_{a}/8"] = {"mean_steps_per_episode": curve, "mean_first_episode": curve[0],
                                "mean_steps_episodes_1_50": curve[:50].mean(),
                                "mean_steps_last_100_episodes": curve[-100:].mean()}
        print(f"alpha = {a}/8: episode 1 {curve[0]:.0f} steps, first 50 {curve[:50].mean():.0f}, "
              f"last 100 {curve[-100:].mean():.0f}")
    print(f"episodes cut at 10,000 steps: {truncated}")
    steps_per_episode_axes(ax, runs)
    ax.set_title("Figure 10.2: mountain car, semi-gradient Sarsa, 8 tilings")
    ax.legend()
    save_figure(fig, args.out / "figure_10_2.png", data)


if __name__ == "__main__":
    main_guard(main)()
