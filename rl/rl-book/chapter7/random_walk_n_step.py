"""Figure 7.2: n-step TD on the 19-state random walk, RMS error vs step size for n = 1, 2, 4, ..., 512.

    python rl/rl-book/chapter7/random_walk_n_step.py [--runs 100] [--episodes 10]

Performance = RMS error between V and the true values over the 19 states, at the end of each of the first
--episodes episodes, averaged over those episodes and --runs runs; V starts at 0, rewards -1 / +1 at the ends,
gamma = 1. Every (n, alpha, run) of the sweep advances in one vectorized loop (nstep.n_step_td_rms).
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import RandomWalk19  # noqa: E402
from nstep import n_step_td_rms  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402

NS = 2 ** np.arange(10)
STEP_SIZES = np.round(np.arange(0.0, 1.001, 0.05), 2)
BOOK_BEST = 0.26  # read off Figure 7.2: the lowest point, on the n = 4 curve


def compute(runs, episodes, rng):
    """Mean RMS error [len(NS), len(STEP_SIZES)] and its standard error over runs."""
    rms = n_step_td_rms(RandomWalk19(), NS, STEP_SIZES, runs, episodes, rng).mean(3)
    return rms.mean(2), rms.std(2) / np.sqrt(runs)


def main():
    parser = figure_parser(__doc__, HERE)
    parser.allow_abbrev = False
    parser.add_argument("--runs", type=positive_int, default=100)
    parser.add_argument("--episodes", type=positive_int, default=10)
    args = parser.parse_args()
    runs = 20 if args.quick else args.runs
    error, stderr = compute(runs, args.episodes, np.random.default_rng(args.seed))
    best_n, best_alpha = np.unravel_index(error.argmin(), error.shape)

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, n in enumerate(NS):
        ax.plot(STEP_SIZES, error[i], label=f"n={n}")
    ax.axhline(BOOK_BEST, color="k", ls=":", lw=0.8, label=f"book's best ≈ {BOOK_BEST}")
    ax.plot(STEP_SIZES[best_alpha], error[best_n, best_alpha], "k*", ms=9,
            label=f"ours: {error[best_n, best_alpha]:.3f} (n={NS[best_n]}, α={STEP_SIZES[best_alpha]})")
    ax.set_ylim(0.25, 0.55)
    ax.set_xlabel("α")
    ax.set_ylabel(f"Average RMS error over 19 states\nand first {args.episodes} episodes")
    ax.set_title(f"Figure 7.2: n-step TD on the 19-state random walk ({runs} runs)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_figure(fig, args.out / "figure_7_2.png",
                {"seed": args.seed, "runs": runs, "episodes": args.episodes, "n": NS, "alpha": STEP_SIZES,
                 "rms_error": error, "standard_error": stderr,
                 "best": {"n": NS[best_n], "alpha": STEP_SIZES[best_alpha], "rms": error[best_n, best_alpha]}})
    print(f"best RMS {error[best_n, best_alpha]:.3f} at n = {NS[best_n]}, alpha = {STEP_SIZES[best_alpha]}")
    print("best per n:", {int(n): round(float(e.min()), 3) for n, e in zip(NS, error)})


if __name__ == "__main__":
    main_guard(main)()
