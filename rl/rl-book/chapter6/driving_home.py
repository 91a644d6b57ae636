"""Figure 6.1 (Example 6.1, driving home): changes recommended by Monte Carlo (left) and TD (right), alpha = 1.

    python rl/rl-book/chapter6/driving_home.py

Monte Carlo moves every prediction of total travel time toward the actual outcome (43 minutes); TD moves
each prediction toward the next one, so it can learn before the trip ends. The data are the book's table.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from shared.cli import main_guard  # noqa: E402

STATES = ["leaving\noffice", "reach\ncar", "exiting\nhighway", "2ndary\nroad", "home\nstreet", "arrive\nhome"]
ELAPSED = np.array([0, 5, 20, 30, 40, 43])
PREDICTED_TO_GO = np.array([30, 35, 15, 10, 3, 0])


def changes():
    """Predicted total times and the MC and TD targets for each of them (gamma = 1, rewards = elapsed minutes)."""
    total = ELAPSED + PREDICTED_TO_GO
    mc_target = np.full(len(total) - 1, total[-1])
    td_target = total[1:]  # r + V(next) = elapsed after the next leg + predicted time to go from there
    return total, mc_target, td_target


def main():
    args = figure_parser(__doc__, HERE).parse_args()
    total, mc_target, td_target = changes()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, target, name in ((axes[0], mc_target, "Monte Carlo methods"), (axes[1], td_target, "TD methods")):
        x = np.arange(len(total))
        ax.plot(x, total, "ko-", ms=4, label="predicted total travel time")
        ax.axhline(total[-1], color="0.6", ls="--", lw=1, label="actual outcome")
        for i, t in enumerate(target):
            ax.annotate("", xy=(i, t), xytext=(i, total[i]), arrowprops=dict(arrowstyle="->", color="#d62728", lw=1.4))
        ax.set_xticks(x, STATES, fontsize=8)
        ax.set_ylim(25, 45)
        ax.set_title(f"Changes recommended by {name} (α=1)")
        ax.set_xlabel("Situation")
    axes[0].set_ylabel("Predicted total travel time (minutes)")
    axes[0].legend(loc="lower right")
    fig.suptitle("Figure 6.1: driving home")
    save_figure(fig, args.out / "figure_6_1.png",
                {"predicted_total": total, "mc_change": mc_target - total[:-1], "td_change": td_target - total[:-1]})


if __name__ == "__main__":
    main_guard(main)()
