"""Wall time of each chapter-2 figure at the book's scale (2,000 runs x 1,000 steps), vectorized
over runs, next to a plain per-run Python loop of the same epsilon-greedy method (measured on a
few runs, extrapolated to 2,000).

    python rl/rl-book/chapter2/benchmark.py      # prints a table, writes benchmark.json beside it (~30 s)
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import bandits
from shared.cli import ArgumentParser, main_guard
from shared.plotting import save_json

HERE = Path(__file__).resolve().parent


def loop_epsilon_greedy(runs: int, steps: int, epsilon: float, seed: int = 0) -> float:
    """The textbook way: one bandit problem at a time, one step at a time."""
    rng = np.random.default_rng(seed)
    for _ in range(runs):
        q_star = rng.normal(0, 1, bandits.K)
        Q, N = np.zeros(bandits.K), np.zeros(bandits.K)
        for _ in range(steps):
            a = rng.integers(bandits.K) if rng.random() < epsilon else int(np.argmax(Q))
            r = rng.normal(q_star[a], 1)
            N[a] += 1
            Q[a] += (r - Q[a]) / N[a]


def main(argv=None):
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=HERE / "benchmark.json", help="where the timings go (JSON)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in bandits.FIGURES:
            t0 = time.perf_counter()
            bandits.make_figure(name, 2000, 1000, 0, Path(tmp))
            rows.append({"figure": name, "seconds": time.perf_counter() - t0})
    t0 = time.perf_counter()
    loop_epsilon_greedy(50, 1000, 0.1)
    loop_seconds = (time.perf_counter() - t0) * 2000 / 50 * 3  # three epsilons in Figure 2.2
    print(f"{'figure':<8}{'seconds (2000 runs x 1000 steps)':>34}")
    for r in rows:
        print(f"{r['figure']:<8}{r['seconds']:>34.2f}")
    fig22 = next(r["seconds"] for r in rows if r["figure"] == "2.2")
    print(f"\nFigure 2.2 with a per-run Python loop (extrapolated from 50 runs): {loop_seconds:.1f} s "
          f"-> vectorized is {loop_seconds / fig22:.0f}x faster (target: Figure 2.2 under 5 s)")
    save_json({"figures": rows, "figure_2_2_python_loop_seconds": loop_seconds}, args.output)


if __name__ == "__main__":
    main_guard(main)()
