"""Figure 9.5: Fourier vs polynomial bases on the 1,000-state random walk, gradient Monte Carlo.

    python rl/rl-book/chapter9/bases.py [--runs 30] [--episodes 5000]

Orders 5, 10 and 20 of each basis (9.17, 9.18) with the book's step sizes, alpha = 1e-4 for the polynomials and
5e-5 for the Fourier cosines; sqrt(VE) averaged over --runs runs. All six feature sets learn from the same
episodes, every (basis, run) advancing one update per numpy step.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import RandomWalk1000  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
import approx  # noqa: E402

ORDERS = (5, 10, 20)
BASES = {"polynomial": (approx.polynomial, 1e-4), "Fourier": (approx.fourier, 5e-5)}


def checkpoints(episodes):
    """Every episode for the first 100 (where the curves fall fast), then every 10th."""
    return np.unique(np.concatenate([np.arange(min(100, episodes)), np.arange(100, episodes + 1, 10), [episodes]]))


def compute(runs, episodes, rng):
    env = RandomWalk1000()
    walks = approx.walk_episodes(env, runs * episodes, rng)
    names, sets, alphas = [], [], []
    for basis, (features, alpha) in BASES.items():
        for order in ORDERS:
            names.append(f"{basis} {order}")
            sets.append(features(order))
            alphas.append(alpha)
    at = checkpoints(episodes)
    weights = approx.gradient_mc(walks, runs, sets, alphas, at)         # [set, run, checkpoint, F]
    curves = {name: approx.value_error(weights[i, ..., :X.shape[1]], X, env).mean(0)
              for i, (name, X) in enumerate(zip(names, sets))}
    best = {name: approx.value_error(approx.mc_solution(X, env), X, env) for name, X in zip(names, sets)}
    return at, curves, best


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=30)
    parser.add_argument("--episodes", type=positive_int, default=5000)
    args = parser.parse_args()
    runs, episodes = (5, 1000) if args.quick else (args.runs, args.episodes)
    at, curves, best = compute(runs, episodes, np.random.default_rng(args.seed))
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    colors = dict(zip(ORDERS, ("#2ca02c", "#1f77b4", "#d62728")))
    for name, curve in curves.items():
        basis, order = name.split()
        ax.plot(at, curve, color=colors[int(order)], ls="-" if basis == "Fourier" else "--",
                label=f"{basis}, order {order}")
    ax.set_xlabel("Episodes")
    ax.set_ylabel(f"$\\sqrt{{VE}}$ averaged over {runs} runs")
    ax.set_ylim(0, 0.45)
    ax.legend(title="basis (α = 5e-5 Fourier, 1e-4 polynomial)")
    ax.set_title("Figure 9.5: Fourier vs polynomial bases, gradient MC, 1000-state random walk")
    final = {name: c[-1] for name, c in curves.items()}
    save_figure(fig, args.out / "figure_9_5.png", {"seed": args.seed, "runs": runs, "episodes": at,
                                                    "sqrt_ve": curves, "final": final, "best_possible": best})
    print("sqrt VE after", episodes, "episodes:", {k: round(float(v), 3) for k, v in final.items()})


if __name__ == "__main__":
    main_guard(main)()
