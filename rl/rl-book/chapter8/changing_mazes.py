"""Figures 8.4 and 8.5: Dyna-Q vs Dyna-Q+ when the maze changes: cumulative reward over time steps.

    python rl/rl-book/chapter8/changing_mazes.py [--figures 8.4 8.5] [--runs 30] [--kappa 1e-3]

Figure 8.4, blocking maze: after 1,000 steps the short path (gap at the right) closes and a longer one (gap at
the left) opens. Figure 8.5, shortcut maze: after 3,000 steps a shorter path opens at the right. Dyna-Q+ plans
with the reward r + kappa * sqrt(tau), tau = steps since (s, a) was last tried for real, and also plans with
untried actions (the book's footnote). The book gives neither alpha, n nor kappa for these figures; we use
alpha = 1 (the world is deterministic), n = 10, kappa = 1e-3, epsilon = 0.1, gamma = 0.95, averaged over --runs.
"""
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import blocking_maze, shortcut_maze  # noqa: E402
from planning import dyna_q  # noqa: E402
from shared.cli import main_guard, positive_float, positive_int  # noqa: E402

FIGURES = {"8.4": ("Blocking maze", blocking_maze, 3000), "8.5": ("Shortcut maze", shortcut_maze, 6000)}
METHODS = {"dyna_q": "Dyna-Q", "dyna_q_plus": "Dyna-Q+"}
USES = 10  # a run "takes the new path" if it passes through the newly opened gap at least this often


def compute(figure, runs, rng, planning_steps=10, kappa=1e-3, alpha=1.0):
    """Mean cumulative reward per step for each method, and how often each run passed through the gap that
    the change opened (the new path: the left gap of the blocking maze, the shortcut of the shortcut maze)."""
    _, make, steps = FIGURES[figure]
    env = make()
    new_gap = int(np.flatnonzero(env.layouts[0].wall.ravel() & ~env.layouts[1].wall.ravel())[0])
    out = {}
    for method in METHODS:
        result = dyna_q(env, planning_steps, runs, rng, steps=steps, alpha=alpha, change_at=env.change_at,
                        kappa=kappa if method == "dyna_q_plus" else 0.0)
        out[method] = {"cumulative_reward": result["rewards"].cumsum(1).mean(0),
                       "passes_through_new_gap": result["visits_after_change"][:, new_gap]}
    return env, out


def draw_layout(ax, layout, title):
    grid = np.array([list(line) for line in layout])
    ax.imshow(grid == "#", cmap="Greys", vmin=0, vmax=1.6)
    for ch in "SG":
        r, c = np.argwhere(grid == ch)[0]
        ax.text(c, r, ch, ha="center", va="center", fontsize=9, weight="bold", color="C1")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(True)
    ax.set_title(title, fontsize=9)


def plot(figure, env, results, runs, kappa, out):
    name, _, steps = FIGURES[figure]
    fig = plt.figure(figsize=(9, 4))
    ax = fig.add_axes([0.07, 0.12, 0.58, 0.76])
    for i, (method, label) in enumerate(METHODS.items()):
        found = int((results[method]["passes_through_new_gap"] >= USES).sum())
        ax.plot(np.arange(1, steps + 1), results[method]["cumulative_reward"], color=f"C{i}",
                label=f"{label}" + (f" (kappa = {kappa:g})" if method == "dyna_q_plus" else "")
                + f": {found}/{runs} runs take the new path")
    ax.axvline(env.change_at, color="0.5", ls=":", lw=1)
    ax.text(env.change_at, ax.get_ylim()[1] * 0.97, " maze changes", color="0.4", va="top", fontsize=9)
    ax.set_xlabel("Time steps")
    ax.set_ylabel("Cumulative reward")
    ax.set_title(f"Figure {figure}: {name.lower()}, Dyna-Q vs Dyna-Q+ (n = 10, mean of {runs} runs)", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    draw_layout(fig.add_axes([0.7, 0.52, 0.28, 0.36]), env.layouts[0].layout, f"steps 1-{env.change_at:,}")
    draw_layout(fig.add_axes([0.7, 0.08, 0.28, 0.36]), env.layouts[1].layout, f"after step {env.change_at:,}")
    save_figure(fig, out / f"figure_{figure.replace('.', '_')}.png",
                {"runs": runs, "kappa": kappa, "change_at": env.change_at,
                 **{m: r for m, r in results.items()}})


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--figures", nargs="+", choices=list(FIGURES), default=list(FIGURES))
    parser.add_argument("--runs", type=positive_int, default=30)
    parser.add_argument("--kappa", type=positive_float, default=1e-3)
    args = parser.parse_args()
    runs = 5 if args.quick else args.runs
    rng = np.random.default_rng(args.seed)
    for figure in args.figures:
        t0 = time.perf_counter()
        env, results = compute(figure, runs, rng, kappa=args.kappa)
        plot(figure, env, results, runs, args.kappa, args.out)
        print(f"Figure {figure}: " + ", ".join(
            f"{METHODS[m]} {r['cumulative_reward'][env.change_at - 1]:.1f} at the change, "
            f"{r['cumulative_reward'][-1]:.1f} at the end, new path taken in "
            f"{(r['passes_through_new_gap'] >= USES).sum()}/{runs} runs" for m, r in results.items())
            + f" ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main_guard(main)()
