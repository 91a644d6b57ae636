"""Figure 6.2: batch TD(0) vs batch constant-alpha MC on the random walk (alpha = 0.001, 100 runs).

    python rl/rl-book/chapter6/batch_updating.py [--runs 100]

After each new episode, all episodes so far are presented again and again (increments summed over
the batch) until the values converge; batch TD converges to the certainty-equivalence estimate,
batch MC to the sample-average returns, and TD's answer has the lower RMS error.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import RandomWalk  # noqa: E402
from random_walk import rms_error  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
from td import batch_predict  # noqa: E402


def compute(runs, episodes, rng):
    env = RandomWalk()
    return {m: rms_error(batch_predict(env, m, episodes, rng, runs), env).mean(0) for m in ("td", "mc")}


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=100)
    parser.add_argument("--episodes", type=positive_int, default=100)
    args = parser.parse_args()
    runs, episodes = (20, 30) if args.quick else (args.runs, args.episodes)
    curves = compute(runs, episodes, np.random.default_rng(args.seed))
    print(f"RMS after {episodes} episodes: batch TD {curves['td'][-1]:.3f}, batch MC {curves['mc'][-1]:.3f}")
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(1, episodes + 1)
    ax.plot(x, curves["td"], label="TD")
    ax.plot(x, curves["mc"], label="MC")
    ax.set_ylim(0, 0.25)
    ax.set_xlabel("Walks / Episodes")
    ax.set_ylabel(f"RMS error, averaged\nover states and {runs} runs")
    ax.set_title("Figure 6.2: batch training on the random walk")
    ax.legend()
    save_figure(fig, args.out / "figure_6_2.png", {"seed": args.seed, "runs": runs, "rms_td": curves["td"],
                                                    "rms_mc": curves["mc"]})


if __name__ == "__main__":
    main_guard(main)()
