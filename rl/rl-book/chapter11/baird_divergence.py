"""Figure 11.2: Baird's counterexample. Semi-gradient off-policy TD (left, one run, 1,000 steps) and semi-gradient
DP (right, 1,000 sweeps) both diverge from the book's initial weights w = (1, 1, 1, 1, 1, 1, 10, 1), alpha = 0.01,
although the true values are all 0 and w = 0 represents them exactly.

    python rl/rl-book/chapter11/baird_divergence.py [--steps 1000]
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import BEHAVIOUR, FEATURES, GAMMA, TARGET, W0, BairdCounterexample  # noqa: E402
from off_policy import Problem, semi_gradient_dp, semi_gradient_td  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402

ALPHA = 0.01
COLORS = ["#1f77b4"] * 6 + ["#d62728", "#2ca02c"]


def baird():
    return Problem(BairdCounterexample(), FEATURES, BEHAVIOUR, TARGET, GAMMA)


def plot_weights(ax, history, xlabel, title):
    """The eight weights over time, w1-w6 in one colour (they move together), as the book draws them."""
    for i in range(history.shape[1]):
        ax.plot(history[:, i], color=COLORS[i], lw=1.0, label=("w1 - w6" if i == 0 else f"w{i + 1}") if i == 0 or i >= 6 else None)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend()


def compute(steps, rng):
    problem = baird()
    return {"td": semi_gradient_td(problem, W0, ALPHA, steps, 1, rng)[0], "dp": semi_gradient_dp(problem, W0, ALPHA, steps)}


def main():
    parser = figure_parser(__doc__, HERE)
    parser.allow_abbrev = False
    parser.add_argument("--steps", type=positive_int, default=1000)
    args = parser.parse_args()
    res = compute(args.steps, np.random.default_rng(args.seed))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    plot_weights(ax1, res["td"], "Steps", "Semi-gradient off-policy TD")
    plot_weights(ax2, res["dp"], "Sweeps", "Semi-gradient DP")
    ax1.set_ylabel("weights")
    fig.suptitle("Figure 11.2: Baird's counterexample, α = 0.01, γ = 0.99")
    final = {k: h[-1] for k, h in res.items()}
    save_figure(fig, args.out / "figure_11_2.png", {"seed": args.seed, "alpha": ALPHA, "final_weights": final,
                                                     "weights": res})
    print({k: np.round(w, 1).tolist() for k, w in final.items()})


if __name__ == "__main__":
    main_guard(main)()
