"""Example 8.4: prioritized sweeping vs Dyna-Q on the Dyna maze scaled up: updates until near-optimal.

    python rl/rl-book/chapter8/prioritized_sweeping.py [--runs 5] [--sizes 6]

The mazes are Figure 8.2's maze with every cell doubled along its columns, then its rows, in turn (47, 94, 188,
376, 752, 1504, 3008, 6016 open cells; the book's axis: 47, 94, 186, 376, 752, 1504, 3008, 6016). Both methods
use alpha = 0.5, gamma = 0.95, epsilon = 0.1 and n = 5 updates per real step (the book doesn't print its
settings); prioritized sweeping queues pairs whose priority exceeds theta = 1e-4. A run counts as solved at the
end of the first episode after which the greedy policy (ties broken at random) goes from S to G in at most
1.2 times the shortest path. Every Q update counts: Dyna-Q's real and planning updates, prioritized sweeping's
queue pops. Default: the first 6 sizes (up to 1,504 states); --sizes 8 is the book's full range (several minutes).
"""
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import DYNA_MAZE, Maze, scaled_layout  # noqa: E402
from planning import dyna_q, greedy_path_length, prioritized_sweeping  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402

SCALINGS = [(1, 1), (1, 2), (2, 2), (2, 4), (4, 4), (4, 8), (8, 8), (8, 16)]  # (row factor, column factor)
NEAR_OPTIMAL = 1.2
SETTINGS = dict(alpha=0.5, gamma=0.95, epsilon=0.1)


def updates_until_solved(env, runs, rng, planning_steps=5):
    """Updates each method needed in each run: {method: [runs]}, and the real steps they took."""
    limit = int(NEAR_OPTIMAL * env.shortest_path())

    def solved(Q, ids=None):
        return greedy_path_length(env, Q, rng, limit) <= limit

    ps = np.array([prioritized_sweeping(env, rng, planning_steps, stop_when=lambda Q: solved(Q[None])[0], **SETTINGS)
                   for _ in range(runs)])
    dq = dyna_q(env, planning_steps, runs, rng, stop_when=solved, **SETTINGS)["updates_when_stopped"]
    return {"prioritized_sweeping": ps[:, 0], "dyna_q": dq,
            "real_steps": {"prioritized_sweeping": ps[:, 1], "dyna_q": dq // (planning_steps + 1)}}


def compute(n_sizes, runs, rng):
    results = []
    for rows, cols in SCALINGS[:n_sizes]:
        env = Maze(scaled_layout(DYNA_MAZE, rows, cols))
        t0 = time.perf_counter()
        updates = updates_until_solved(env, runs, rng)
        results.append({"states": env.n_open, "shortest_path": env.shortest_path(), **updates,
                        "seconds": time.perf_counter() - t0})
        print(f"{env.n_open:5d} states: updates until solved, prioritized sweeping {np.median(updates['prioritized_sweeping']):9,.0f}, "
              f"Dyna-Q {np.median(updates['dyna_q']):10,.0f} (medians of {runs} runs; {results[-1]['seconds']:.1f} s)",
              flush=True)
    return results


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=5)
    parser.add_argument("--sizes", type=positive_int, default=6, help="how many maze sizes, from 47 states doubling (max 8)")
    args = parser.parse_args()
    if args.sizes > len(SCALINGS):
        parser.error(f"--sizes goes up to {len(SCALINGS)} (6,016 states)")
    n_sizes, runs = (3, 2) if args.quick else (args.sizes, args.runs)
    results = compute(n_sizes, runs, np.random.default_rng(args.seed))
    states = [r["states"] for r in results]
    fig, ax = plt.subplots(figsize=(6, 4.3))
    for i, (method, label) in enumerate((("prioritized_sweeping", "Prioritized sweeping"), ("dyna_q", "Dyna-Q"))):
        per_run = np.array([r[method] for r in results])
        ax.plot(states, np.median(per_run, 1), "-o", color=f"C{i}", ms=4, label=f"{label} (median of {runs} runs)")
        for j in range(runs):
            ax.plot(states, per_run[:, j], ".", color=f"C{i}", alpha=0.35, ms=4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(states, [f"{s:,}" for s in states], rotation=45)
    ax.minorticks_off()
    ax.set_xlabel("Gridworld size (#states)")
    ax.set_ylabel(f"Updates until greedy path <= {NEAR_OPTIMAL} x shortest")
    ax.set_title("Example 8.4: prioritized sweeping vs Dyna-Q (n = 5) on scaled Dyna mazes", fontsize=10)
    ax.legend()
    save_figure(fig, args.out / "example_8_4.png",
                {"seed": args.seed, "runs": runs, "near_optimal": NEAR_OPTIMAL, **SETTINGS,
                 "sizes": [{k: v for k, v in r.items() if k != "seconds"} for r in results]})


if __name__ == "__main__":
    main_guard(main)()
