"""Example 6.5: Sarsa (epsilon = 0.1, alpha = 0.5) on the windy gridworld.

    python rl/rl-book/chapter6/windy_gridworld.py [--runs 100] [--episodes 170]

Left: episodes completed vs time steps for the first run (the book's single run) and the mean over
--runs runs. Right: the greedy path of the first run after training (the shortest possible is 15).
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import grid_axes, plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import WindyGridworld  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
from td import control, greedy_path  # noqa: E402


def compute(runs, episodes, rng):
    env = WindyGridworld()
    out = control(env, "sarsa", np.full(runs, 0.5), episodes, rng, epsilon=0.1)
    paths = [greedy_path(env, q) for q in out["Q"]]
    return env, out, paths


def draw_path(ax, env, path, title):
    grid_axes(ax, env.shape, title)
    for c, w in enumerate(env.wind):
        ax.text(c + 0.5, env.shape[0] + 0.45, str(w), ha="center", va="center")
    rows, cols = np.divmod(np.array(path), env.shape[1])
    ax.plot(cols + 0.5, rows + 0.5, "-o", color="#d62728", ms=3)
    for (r, c), label in ((env.start_cell, "S"), (env.goal_cell, "G")):
        ax.text(c + 0.5, r + 0.5, label, ha="center", va="center", fontsize=13, weight="bold")
    ax.set_ylim(env.shape[0] + 0.8, 0)


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=100)
    parser.add_argument("--episodes", type=positive_int, default=170)
    args = parser.parse_args()
    runs = 10 if args.quick else args.runs
    env, out, paths = compute(runs, args.episodes, np.random.default_rng(args.seed))
    lengths = np.array([len(p) - 1 for p in paths])
    arrived = lengths[lengths < 100]  # greedy_path gives up after 100 steps
    print(f"time steps for {args.episodes} episodes: {out['end_step'][:, -1].mean():.0f} (mean of {runs} runs); "
          f"greedy policy reaches the goal in {len(arrived)} runs: median {np.median(arrived):.0f} steps, "
          f"best {arrived.min()}")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    episodes = np.arange(1, args.episodes + 1)
    ax1.plot(out["end_step"][0], episodes, label="run 1")
    ax1.plot(out["end_step"].mean(0), episodes, "--", label=f"mean over {runs} runs (time steps)")
    ax1.set_xlabel("Time steps")
    ax1.set_ylabel("Episodes")
    ax1.legend()
    draw_path(ax2, env, paths[0], f"greedy path of run 1: {lengths[0]} steps")
    fig.suptitle("Example 6.5: Sarsa on the windy gridworld")
    save_figure(fig, args.out / "example_6_5.png",
                {"seed": args.seed, "runs": runs, "episode_end_steps_run1": out["end_step"][0],
                 "mean_episode_end_steps": out["end_step"].mean(0), "greedy_path_lengths": lengths})


if __name__ == "__main__":
    main_guard(main)()
