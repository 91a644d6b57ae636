"""Figure 8.8: on-policy trajectory sampling vs uniform sweeps of expected updates on random tasks.

    python rl/rl-book/chapter8/trajectory_sampling.py [--tasks 200]

Each task: n states, 2 actions; each (s, a) leads to one of b successor states (drawn uniformly from all states,
equally likely) with its own reward ~ N(0, 1); after every transition the episode ends with probability 0.1;
undiscounted. Uniform: expected updates cycle through all (s, a) in order. On-policy: expected updates at the
(s, a) met along epsilon-greedy (0.1) episodes from state 0, simulated with the current Q. Plotted: the value of
state 0 under the greedy policy (exact, by policy evaluation) vs the number of expected updates, mean of --tasks
tasks. Upper panel: 1,000 states, b = 1, 3, 10; lower panel: 10,000 states, b = 1 (the book's four cases).
"""
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from planning import random_tasks, trajectory_sampling  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402

CASES = [(1000, 1, 20_000), (1000, 3, 20_000), (1000, 10, 20_000), (10_000, 1, 200_000)]  # (states, b, updates)
DISTRIBUTIONS = {"on_policy": "on-policy", "uniform": "uniform"}


def compute(n_tasks, rng, cases=CASES, points=40):
    results = []
    for n_states, b, n_updates in cases:
        t0 = time.perf_counter()
        successors, rewards = random_tasks(n_tasks, n_states, b, rng)
        curves = {d: trajectory_sampling(successors, rewards, d, n_updates, n_updates // points, rng)
                  for d in DISTRIBUTIONS}
        results.append({"states": n_states, "b": b, "updates": curves["uniform"][0],
                        **{d: c[1] for d, c in curves.items()}, "seconds": time.perf_counter() - t0})
        print(f"{n_states:6,} states, b = {b:2d}: start value at {n_updates // 8:,} / {n_updates:,} updates: "
              + ", ".join(f"{label} {curves[d][1][points // 8]:.2f} / {curves[d][1][-1]:.2f}"
                          for d, label in DISTRIBUTIONS.items()) + f" ({results[-1]['seconds']:.1f} s)", flush=True)
    return results


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--tasks", type=positive_int, default=200)
    args = parser.parse_args()
    n_tasks = 20 if args.quick else args.tasks
    cases = [(s // 10, b, u // 10) for s, b, u in CASES] if args.quick else CASES
    results = compute(n_tasks, np.random.default_rng(args.seed), cases)
    fig, axes = plt.subplots(2, 1, figsize=(6.2, 8))
    colors = {1: "C0", 3: "C1", 10: "C2"}
    for r in results:
        ax = axes[0] if r["states"] == cases[0][0] else axes[1]
        for d, style in (("on_policy", "-"), ("uniform", "--")):
            ax.plot(r["updates"], r[d], style, color=colors[r["b"]], label=f"b = {r['b']}, {DISTRIBUTIONS[d]}")
    for ax, n_states in zip(axes, (cases[0][0], cases[-1][0])):
        ax.set_title(f"{n_states:,} states", fontsize=10)
        ax.set_xlabel("Computation time, in expected updates")
        ax.set_ylabel("Value of start state\nunder greedy policy")
        ax.legend(fontsize=8)
    fig.suptitle(f"Figure 8.8: on-policy trajectory sampling vs uniform (mean of {n_tasks} tasks)", fontsize=11)
    fig.tight_layout()
    save_figure(fig, args.out / "figure_8_8.png",
                {"seed": args.seed, "tasks": n_tasks,
                 "cases": [{k: v for k, v in r.items() if k != "seconds"} for r in results]})


if __name__ == "__main__":
    main_guard(main)()
