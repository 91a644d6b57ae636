"""Figure 9.10: tile coding (50 tilings) vs state aggregation (one tiling), gradient MC, 1,000-state walk.

    python rl/rl-book/chapter9/tile_coding.py [--runs 30] [--episodes 5000]

Tiles 200 states wide; the 50 tilings are offset from each other by 4 states (common/tiles.py's grid_tiles);
one tiling is state aggregation into 5 groups. The same initial learning rate, as the book: alpha = 1e-4 for
one tiling, 1e-4 / 50 for 50 (each state has 50 active tiles). sqrt(VE) averaged over --runs runs, both methods
on the same episodes.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from bases import checkpoints  # noqa: E402
from envs import RandomWalk1000  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
import approx  # noqa: E402

WIDTH, ALPHA = 200, 1e-4
TILINGS = {"state aggregation (one tiling)": 1, "tile coding (50 tilings)": 50}


def compute(runs, episodes, rng):
    env = RandomWalk1000()
    walks = approx.walk_episodes(env, runs * episodes, rng)
    at = checkpoints(episodes)
    curves, best = {}, {}
    for name, n in TILINGS.items():
        X = approx.tile_coding(n, WIDTH)
        if n == 1:  # one tiling is state aggregation, whose updates have a closed form per episode
            groups = approx.N_INNER // WIDTH
            weights = np.zeros((runs, len(at), X.shape[1]))
            weights[..., :groups] = approx.gradient_mc_aggregation(walks, groups, ALPHA, runs)[:, at]
        else:
            active, n_features = approx.tile_indices(n, WIDTH)
            weights = approx.gradient_mc_binary(walks, runs, active, n_features, ALPHA / n, at)
        curves[name] = approx.value_error(weights, X, env).mean(0)
        best[name] = approx.value_error(approx.mc_solution(X, env), X, env)
    return at, curves, best


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=30)
    parser.add_argument("--episodes", type=positive_int, default=5000)
    args = parser.parse_args()
    runs, episodes = (5, 1000) if args.quick else (args.runs, args.episodes)
    at, curves, best = compute(runs, episodes, np.random.default_rng(args.seed))
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for (name, curve), color in zip(curves.items(), ("#1f77b4", "#d62728")):
        ax.plot(at, curve, color=color, label=name)
        ax.axhline(best[name], color=color, ls=":", lw=1)
    ax.plot([], [], "k:", lw=1, label="best possible (min VE) of each")
    ax.set_xlabel("Episodes")
    ax.set_ylabel(f"$\\sqrt{{VE}}$ averaged over {runs} runs")
    ax.set_ylim(0, 0.45)
    ax.legend()
    ax.set_title("Figure 9.10: tile coding vs state aggregation (tiles 200 states wide), gradient MC")
    final = {name: c[-1] for name, c in curves.items()}
    save_figure(fig, args.out / "figure_9_10.png", {"seed": args.seed, "runs": runs, "episodes": at,
                                                     "sqrt_ve": curves, "final": final, "best_possible": best})
    print("sqrt VE after", episodes, "episodes:", {k: round(float(v), 3) for k, v in final.items()})


if __name__ == "__main__":
    main_guard(main)()
