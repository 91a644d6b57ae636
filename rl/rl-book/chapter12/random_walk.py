"""Figures 12.3, 12.6 and 12.8: lambda-return, TD(lambda) and true online TD(lambda) on the 19-state random walk.

    python rl/rl-book/chapter12/random_walk.py                      # all three, 100 runs (the book's scale)
    python rl/rl-book/chapter12/random_walk.py --figures 12.6       # one of them
    python rl/rl-book/chapter12/random_walk.py --quick              # 20 runs

Tabular (one-hot) features, gamma = 1, w = 0 at the start. Each point is the RMS error over the 19 states at the end
of each of the first 10 episodes, averaged over those episodes and 100 runs, for one (lambda, alpha); all
8 lambdas x 26 alphas x 100 runs learn at once (20,800 learners) from the same 100 runs' episodes.
"""
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import RandomWalk19  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
from traces import as_stream, learner_grid, offline_lambda_return, rms_error, td_lambda, walk_episodes  # noqa: E402

LAMBDAS = [0.0, 0.4, 0.8, 0.9, 0.95, 0.975, 0.99, 1.0]
ALPHAS = np.round(np.concatenate([[0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075], np.arange(0.1, 1.0001, 0.05)]), 4)
EPISODES = 10
FIGURES = {
    "12.3": ("off-line λ-return algorithm", "offline"),
    "12.6": ("TD(λ), accumulating traces", "accumulating"),
    "12.8": ("true online TD(λ)", "dutch"),
}
Y_TOP = 0.55  # the book's axis: curves that leave it are cut, as in the book


def compute(method, runs, rng, lambdas=LAMBDAS, alphas=ALPHAS, episodes=EPISODES):
    """RMS error averaged over the first `episodes` episodes and `runs` runs: [len(lambdas), len(alphas)].

    method: "offline" (the off-line lambda-return) or the trace of TD(lambda): "accumulating", "replacing" or
    "dutch" (true online TD(lambda))."""
    env = RandomWalk19()
    # one-hot features of states 1..19; the terminals (values masked to 0) point anywhere
    active = np.clip(np.arange(env.n_states) - 1, 0, env.n_states - 3)[:, None]
    n_features = env.n_states - 2
    walks = walk_episodes(env, runs, episodes, rng)
    lam, alpha, run = learner_grid(lambdas, alphas, runs)
    with np.errstate(over="ignore", invalid="ignore"):  # large alpha x lambda diverges, as in the book
        if method == "offline":
            history = offline_lambda_return(walks, active, n_features, lam, alpha, run)
        else:
            history = td_lambda(as_stream(walks), active, n_features, lam, alpha, run, episodes, trace=method)
        rms = rms_error(history, env, active).mean(1)
    rms = rms.reshape(len(lambdas), len(alphas), runs).mean(-1)
    return np.where(np.isfinite(rms), rms, np.inf)


def best(rms, lambdas=LAMBDAS, alphas=ALPHAS):
    i, j = np.unravel_index(np.argmin(rms), rms.shape)
    return {"rms": float(rms[i, j]), "lambda": lambdas[i], "alpha": float(alphas[j])}


def plot(name, rms, runs, out, seed):
    title, _ = FIGURES[name]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    colors = plt.cm.viridis(np.linspace(0, 0.92, len(LAMBDAS)))
    for lam, curve, color in zip(LAMBDAS, rms, colors):
        shown = curve < Y_TOP * 1.5  # keep the segment that leaves the axis, drop the diverged tail
        keep = shown | np.r_[False, shown[:-1]]
        ax.plot(ALPHAS[keep], np.minimum(curve[keep], 10), color=color, label=f"λ={lam:g}")
    b = best(rms)
    ax.plot(b["alpha"], b["rms"], "k*", ms=9, label=f"best {b['rms']:.3f} (λ={b['lambda']:g}, α={b['alpha']:g})")
    ax.set_ylim(0.25, Y_TOP)
    ax.set_xlim(0, 1)
    ax.set_xlabel("α")
    ax.set_ylabel(f"RMS error at the end of the episode\nover the first {EPISODES} episodes")
    ax.set_title(f"Figure {name}: {title}, 19-state random walk ({runs} runs)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    path = out / f"figure_{name.replace('.', '_')}.png"
    save_figure(fig, path, {"seed": seed, "runs": runs, "episodes": EPISODES, "lambdas": LAMBDAS,
                            "alphas": ALPHAS, "best": b,
                            "rms_error": [[None if not np.isfinite(x) or x > 10 else x for x in c] for c in rms]})
    return path


def main():
    parser = figure_parser(__doc__, HERE)
    parser.allow_abbrev = False
    parser.add_argument("--runs", type=positive_int, default=100, help="independent runs (book: 100; --quick: 20)")
    parser.add_argument("--figures", nargs="+", default=list(FIGURES), choices=FIGURES, metavar="FIG",
                        help=f"which figures to make, from {' '.join(FIGURES)}")
    args = parser.parse_args()
    runs = 20 if args.quick else args.runs
    for name in args.figures:
        t0 = time.perf_counter()
        rms = compute(FIGURES[name][1], runs, np.random.default_rng(args.seed))
        path = plot(name, rms, runs, args.out, args.seed)
        print(f"Figure {name}: best {best(rms)}; {path} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main_guard(main)()
