"""Figure 6.3: interim and asymptotic performance of Sarsa, Expected Sarsa and Q-learning on cliff walking.

    python rl/rl-book/chapter6/cliff_step_sizes.py [--interim-runs 2000] [--asymptotic-runs 10] [--asymptotic-episodes 10000]

Performance = mean sum of rewards per episode, epsilon = 0.1, as a function of the step size alpha.
Interim: the first 100 episodes. Asymptotic: all --asymptotic-episodes episodes. Every (alpha, run) of a
method advances in one vectorized loop. The book uses 50,000 interim runs and 10 runs of 100,000
episodes; the defaults here are reduced to fit the 10-minute budget for chapters 3-6 (see README).
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
from td import control  # noqa: E402

METHODS = {"sarsa": "Sarsa", "expected_sarsa": "Expected Sarsa", "q_learning": "Q-learning"}
STEP_SIZES = np.round(np.arange(0.1, 1.01, 0.1), 2)


def performance(method, runs, episodes, rng):
    """Mean reward per episode for each step size: [len(STEP_SIZES)]."""
    out = control(make_cliff_walking(), method, np.repeat(STEP_SIZES, runs), episodes, rng, epsilon=0.1)
    return out["returns"].reshape(len(STEP_SIZES), runs, episodes).mean((1, 2))


def compute(interim_runs, asymptotic_runs, asymptotic_episodes, rng):
    results = {}
    for m in METHODS:
        t0 = time.perf_counter()
        results[m] = {"interim": performance(m, interim_runs, 100, rng),
                      "asymptotic": performance(m, asymptotic_runs, asymptotic_episodes, rng),
                      "seconds": time.perf_counter() - t0}
    return results


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--interim-runs", type=positive_int, default=2000)
    parser.add_argument("--asymptotic-runs", type=positive_int, default=10)
    parser.add_argument("--asymptotic-episodes", type=positive_int, default=10_000)
    args = parser.parse_args()
    scale = (50, 5, 1000) if args.quick else (args.interim_runs, args.asymptotic_runs, args.asymptotic_episodes)
    results = compute(*scale, np.random.default_rng(args.seed))
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
