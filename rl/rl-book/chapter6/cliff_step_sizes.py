"""Figure 6.3: interim and asymptotic performance of Sarsa, Expected Sarsa and Q-learning on cliff walking.

    python rl/rl-book/chapter6/cliff_step_sizes.py [--interim-runs 50000] [--asymptotic-runs 10] [--asymptotic-episodes 100000]

Performance = mean sum of rewards per episode, epsilon = 0.1, as a function of the step size alpha.
Interim: the first 100 episodes, averaged over 50,000 runs. Asymptotic: 100,000 episodes, averaged over 10 runs.
That is the book's scale: about 6 x 10^9 time steps, run as the book's per-run loops compiled with numba
(td_compiled.py) on every core; td.control, the numpy version vectorized over runs, would need 35-50 minutes.
"""
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import make_cliff_walking  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
from td_compiled import control_returns  # noqa: E402

METHODS = {"sarsa": "Sarsa", "expected_sarsa": "Expected Sarsa", "q_learning": "Q-learning"}
STEP_SIZES = np.round(np.arange(0.1, 1.01, 0.1), 2)


def performance(method, runs, episodes, seed):
    """Mean reward per episode for each step size: [len(STEP_SIZES)]."""
    returns = control_returns(make_cliff_walking(), method, np.repeat(STEP_SIZES, runs), episodes, seed, epsilon=0.1)
    return returns.reshape(len(STEP_SIZES), runs, episodes).mean((1, 2))


def compute(interim_runs, asymptotic_runs, asymptotic_episodes, seed):
    results = {}
    for i, m in enumerate(METHODS):
        t0 = time.perf_counter()
        results[m] = {"interim": performance(m, interim_runs, 100, 2 * (seed * len(METHODS) + i)),
                      "asymptotic": performance(m, asymptotic_runs, asymptotic_episodes, 2 * (seed * len(METHODS) + i) + 1),
                      "seconds": time.perf_counter() - t0}
    return results


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--interim-runs", type=positive_int, default=50_000, help="runs of 100 episodes (book: 50,000)")
    parser.add_argument("--asymptotic-runs", type=positive_int, default=10, help="long runs (book: 10)")
    parser.add_argument("--asymptotic-episodes", type=positive_int, default=100_000, help="episodes per long run (book: 100,000)")
    args = parser.parse_args()
    scale = (50, 5, 1000) if args.quick else (args.interim_runs, args.asymptotic_runs, args.asymptotic_episodes)
    results = compute(*scale, args.seed)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, (m, label) in enumerate(METHODS.items()):
        ax.plot(STEP_SIZES, results[m]["asymptotic"], "-o", color=f"C{i}", ms=4, label=f"Asymptotic {label}")
        ax.plot(STEP_SIZES, results[m]["interim"], "--x", color=f"C{i}", ms=5, label=f"Interim {label}")
        print(f"{label}: interim {np.array2string(results[m]['interim'], precision=0)}, "
              f"asymptotic {np.array2string(results[m]['asymptotic'], precision=0)} ({results[m]['seconds']:.0f} s)")
    ax.set_ylim(-160, 0)
    ax.set_xlabel("α")
    ax.set_ylabel("Sum of rewards per episode")
    ax.set_title(f"Figure 6.3: cliff walking, interim = first 100 episodes x {scale[0]:,} runs,\n"
                 f"asymptotic = {scale[2]:,} episodes x {scale[1]} runs", fontsize=10)
    ax.legend(fontsize=8, ncol=2, loc="lower center")
    save_figure(fig, args.out / "figure_6_3.png",
                {"seed": args.seed, "interim_runs": scale[0], "asymptotic_runs": scale[1],
                 "asymptotic_episodes": scale[2], "step_sizes": STEP_SIZES,
                 **{m: {k: v for k, v in r.items() if k != "seconds"} for m, r in results.items()}})


if __name__ == "__main__":
    main_guard(main)()
