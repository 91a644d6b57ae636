"""Figure 6.5: maximization bias, Q-learning vs Double Q-learning (epsilon = 0.1, alpha = 0.1, gamma = 1).

    python rl/rl-book/chapter6/maximization_bias.py [--runs 10000] [--episodes 300]

% of episodes whose first action in A is left, averaged over --runs runs; the optimum under
epsilon-greedy is 5% (left only when exploring, half the time).
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import MaximizationBias  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
from td import control  # noqa: E402

METHODS = {"q_learning": "Q-learning", "double_q": "Double Q-learning"}


def compute(runs, episodes, rng):
    env = MaximizationBias()
    return {m: 100 * (control(env, m, np.full(runs, 0.1), episodes, rng)["first_action"] == env.LEFT).mean(0)
            for m in METHODS}


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=10_000)
    parser.add_argument("--episodes", type=positive_int, default=300)
    args = parser.parse_args()
    runs = 1000 if args.quick else args.runs
    left = compute(runs, args.episodes, np.random.default_rng(args.seed))
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(1, args.episodes + 1)
    for m, label in METHODS.items():
        ax.plot(x, left[m], label=label)
        print(f"{label}: peak {left[m].max():.0f}% left, last 10 episodes {left[m][-10:].mean():.1f}%")
    ax.axhline(5, color="k", ls="--", lw=1, label="optimal (5%)")
    ax.set_ylim(0, 100)
    ax.set_xlabel("Episodes")
    ax.set_ylabel(f"% left actions from A\n(mean of {runs:,} runs)")
    ax.set_title("Figure 6.5: maximization bias")
    ax.legend()
    save_figure(fig, args.out / "figure_6_5.png", {"seed": args.seed, "runs": runs, "percent_left": left})


if __name__ == "__main__":
    main_guard(main)()
