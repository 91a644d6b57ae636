"""Figure 5.4: ordinary importance sampling on the one-state MDP of Example 5.5 never settles.

    python rl/rl-book/chapter5/infinite_variance.py [--runs 10] [--episodes 10000000]

Target policy: always left (v = 1). Behaviour: left or right with probability 1/2. An episode is
k left-and-stay steps, then either left-and-end (+1, ratio 2^(k+1)) or right (ratio 0). Per step
left-and-stay has probability 0.45, so k is geometric: we draw whole episodes at once from this
closed form (tests check it against stepping OneStateMDP). The book shows 10 runs to 10^8 episodes;
as here by default (--episodes lowers it; time grows linearly).
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402

P_STAY, P_END_LEFT = 0.9 * 0.5, 0.1 * 0.5


def sample_weighted_returns(n, rng):
    """rho * G for n episodes under the behaviour policy (G = 1 only when the episode ends by left)."""
    k = rng.geometric(1 - P_STAY, n) - 1                 # left-and-stay steps before the last step
    ended_left = rng.random(n) < P_END_LEFT / (1 - P_STAY)
    return np.where(ended_left, np.exp2(k + 1.0), 0.0)


def ordinary_is_curves(runs, episodes, rng, points=300, chunk=10_000_000):
    """Ordinary IS estimate after each of `points` log-spaced episode counts, per run."""
    marks = np.unique(np.geomspace(1, episodes, points).astype(np.int64))
    curves = np.zeros((runs, len(marks)))
    for r in range(runs):
        total, done = 0.0, 0
        for start in range(0, episodes, chunk):
            x = np.cumsum(sample_weighted_returns(min(chunk, episodes - start), rng)) + total
            inside = (marks > start) & (marks <= start + len(x))
            curves[r, inside] = x[marks[inside] - start - 1] / marks[inside]
            total, done = x[-1], start + len(x)
    return marks, curves


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=10)
    parser.add_argument("--episodes", type=positive_int, default=100_000_000)
    args = parser.parse_args()
    episodes = 100_000 if args.quick else args.episodes
    marks, curves = ordinary_is_curves(args.runs, episodes, np.random.default_rng(args.seed))
    print("final estimates:", np.array2string(curves[:, -1], precision=3))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for c in curves:
        ax.semilogx(marks, c, lw=0.9)
    ax.axhline(1.0, color="k", ls=":", lw=1)
    ax.set_ylim(0, 2)
    ax.set_xlabel("Episodes (log scale)")
    ax.set_ylabel("Monte-Carlo estimate of\n$v_\\pi(s)$ with ordinary\nimportance sampling")
    ax.set_title(f"Figure 5.4: {args.runs} runs, {episodes:,} episodes each")
    save_figure(fig, args.out / "figure_5_4.png",
                {"seed": args.seed, "runs": args.runs, "episodes": marks, "estimates": curves})


if __name__ == "__main__":
    main_guard(main)()
