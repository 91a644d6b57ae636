"""Example 6.2: TD(0) vs constant-alpha MC on the 5-state random walk.

    python rl/rl-book/chapter6/random_walk.py [--runs 100]

Left: TD(0) estimates (alpha = 0.1, one run) after 0, 1, 10 and 100 episodes, against the true values
1/6 ... 5/6. Right: RMS error over the five states, averaged over --runs runs, for TD (alpha 0.15, 0.1,
0.05) and MC (alpha 0.01 ... 0.04); every (method, alpha, run) advances in one vectorized loop per method.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import RandomWalk  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
from td import predict  # noqa: E402

STEP_SIZES = {"td": [0.15, 0.1, 0.05], "mc": [0.01, 0.02, 0.03, 0.04]}
EPISODES = 100


def rms_error(history, env):
    inner = ~env.terminal
    return np.sqrt(((history[..., inner] - env.true_values[inner]) ** 2).mean(-1))


def compute(runs, rng):
    env = RandomWalk()
    curves = {}
    for method, alphas in STEP_SIZES.items():
        history = predict(env, method, np.repeat(alphas, runs), EPISODES, rng)
        rms = rms_error(history, env).reshape(len(alphas), runs, -1).mean(1)
        curves |= {f"{method} α={a}": c for a, c in zip(alphas, rms)}
    one_run = predict(env, "td", np.array([0.1]), EPISODES, rng)[0]
    return env, curves, one_run


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=100)
    args = parser.parse_args()
    env, curves, one_run = compute(20 if args.quick else args.runs, np.random.default_rng(args.seed))
    inner = np.arange(1, 6)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for k in (0, 1, 10, 100):
        ax1.plot(inner, one_run[k, 1:6], "o-", ms=3, label=f"{k}")
    ax1.plot(inner, env.true_values[1:6], "k--", label="true values")
    ax1.set_xticks(inner, list("ABCDE"))
    ax1.set_xlabel("State")
    ax1.set_ylabel("Estimated value")
    ax1.legend(title="episodes")
    for name, c in curves.items():
        ax2.plot(c, ls="-" if name.startswith("td") else "--", label=name.replace("td", "TD").replace("mc", "MC"))
    ax2.set_xlabel("Walks / Episodes")
    ax2.set_ylabel("Empirical RMS error,\naveraged over states")
    ax2.set_ylim(0, 0.25)
    ax2.legend(ncol=2)
    fig.suptitle("Example 6.2: random walk, TD(0) vs constant-α MC")
    save_figure(fig, args.out / "example_6_2.png",
                {"seed": args.seed, "td_alpha_0.1_values_after": {k: one_run[k, 1:6] for k in (0, 1, 10, 100)},
                 "rms_error": curves})
    print("RMS after 100 episodes:", {k: round(float(c[-1]), 3) for k, c in curves.items()})


if __name__ == "__main__":
    main_guard(main)()
