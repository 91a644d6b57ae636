"""Figure 8.2: Dyna-Q on the Dyna maze with n = 0, 5 and 50 planning steps per real step: steps per episode.

    python rl/rl-book/chapter8/dyna_maze.py [--runs 30] [--episodes 50]

The book's setting: gamma = 0.95, alpha = 0.1, epsilon = 0.1, reward +1 on reaching G, Q = 0 at the start,
averaged over 30 runs. All runs of one n advance together (each with its own Q, model and observed pairs).
"""
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import Maze  # noqa: E402
from planning import dyna_q  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402

PLANNING_STEPS = (0, 5, 50)


def compute(runs, episodes, rng):
    env = Maze()
    return env, {n: dyna_q(env, n, runs, rng, episodes=episodes)["episode_steps"].mean(0) for n in PLANNING_STEPS}


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=30)
    parser.add_argument("--episodes", type=positive_int, default=50)
    args = parser.parse_args()
    if args.episodes < 2:
        parser.error("--episodes must be at least 2 (the figure starts at episode 2)")
    runs, episodes = (5, 20) if args.quick else (args.runs, args.episodes)
    t0 = time.perf_counter()
    env, curves = compute(runs, episodes, np.random.default_rng(args.seed))
    fig, ax = plt.subplots(figsize=(6, 4.2))
    x = np.arange(1, episodes + 1)
    for i, n in enumerate(PLANNING_STEPS):
        ax.plot(x[1:], curves[n][1:], color=f"C{i}", label=f"{n} planning steps" + (" (direct RL only)" if n == 0 else ""))
        print(f"n = {n:2d}: steps in episodes 1-5 {np.array2string(curves[n][:5], precision=0)}, "
              f"mean of the last 10 {curves[n][-10:].mean():.1f}")
    ax.axhline(env.shortest_path(), color="0.5", ls=":", lw=1, label=f"shortest path ({env.shortest_path()} steps)")
    ax.set_ylim(0, 800)
    ax.set_xlim(1, episodes)
    ax.set_xlabel("Episodes")
    ax.set_ylabel("Steps per episode")
    ax.set_title(f"Figure 8.2: Dyna-Q on the Dyna maze, {runs} runs\n"
                 f"(episode 1, a random walk, averages {np.mean([c[0] for c in curves.values()]):.0f} steps: off the plot)",
                 fontsize=10)
    ax.legend()
    save_figure(fig, args.out / "figure_8_2.png",
                {"seed": args.seed, "runs": runs, "episodes": episodes, "shortest_path": env.shortest_path(),
                 "steps_per_episode": {str(n): c for n, c in curves.items()}})
    print(f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main_guard(main)()
