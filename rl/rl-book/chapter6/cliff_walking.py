"""Example 6.6: Sarsa vs Q-learning on cliff walking (epsilon = 0.1, alpha = 0.5), gymnasium's CliffWalking-v1.

    python rl/rl-book/chapter6/cliff_walking.py [--runs 100] [--episodes 500]

Top: sum of rewards per episode during learning, averaged over --runs runs (and smoothed over 10
episodes as in the book). Bottom: the greedy path w.r.t. each method's Q averaged over the runs
(one run's greedy policy after constant-alpha learning can bounce between two cells):
Q-learning learns the optimal path along the cliff but falls off while exploring; Sarsa takes the
safer path and earns more on-line.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import grid_axes, plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import make_cliff_walking  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
from td import control, greedy_path  # noqa: E402

METHODS = {"sarsa": "Sarsa", "q_learning": "Q-learning"}


def compute(runs, episodes, rng):
    env = make_cliff_walking()
    results = {m: control(env, m, np.full(runs, 0.5), episodes, rng, epsilon=0.1) for m in METHODS}
    return env, results


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=100)
    parser.add_argument("--episodes", type=positive_int, default=500)
    args = parser.parse_args()
    runs = 10 if args.quick else args.runs
    env, results = compute(runs, args.episodes, np.random.default_rng(args.seed))
    fig, axes = plt.subplots(2, 1, figsize=(7, 7.5), gridspec_kw={"height_ratios": [3, 2]})
    data = {"seed": args.seed, "runs": runs}
    grid_axes(axes[1], env.shape, f"greedy paths after learning (Q averaged over {runs} runs)")
    axes[1].add_patch(plt.Rectangle((1, 3), 10, 1, color="0.6"))
    axes[1].text(6, 3.5, "The Cliff", ha="center", va="center")
    for i, (m, label) in enumerate(METHODS.items()):
        returns = results[m]["returns"].mean(0)
        smooth = np.convolve(returns, np.ones(10) / 10, mode="valid")
        axes[0].plot(np.arange(10, len(returns) + 1), smooth, label=label)
        path = greedy_path(env, results[m]["Q"].mean(0))
        rows, cols = np.divmod(np.array(path), env.shape[1])
        axes[1].plot(cols + 0.5 + 0.08 * i, rows + 0.5 - 0.08 * i, "-o", ms=3, color=f"C{i}", label=label)
        data[m] = {"mean_return_per_episode": returns, "mean_return_last_100": returns[-100:].mean(),
                   "greedy_path_mean_q": path,
                   "greedy_path_length_run1": len(greedy_path(env, results[m]["Q"][0])) - 1}
        print(f"{label}: mean reward per episode over the last 100 {returns[-100:].mean():.1f}; "
              f"greedy path {len(path) - 1} steps")
    axes[0].set_ylim(-100, 0)
    axes[0].set_xlabel("Episodes")
    axes[0].set_ylabel(f"Sum of rewards during episode\n(mean of {runs} runs, 10-episode average)")
    axes[0].legend()
    axes[1].legend(loc="upper right", fontsize=8)
    fig.suptitle("Example 6.6: cliff walking")
    fig.tight_layout()
    save_figure(fig, args.out / "example_6_6.png", data)


if __name__ == "__main__":
    main_guard(main)()
