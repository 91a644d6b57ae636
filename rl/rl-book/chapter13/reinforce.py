"""Figure 13.1: REINFORCE on the short corridor, alpha = 2^-12, 2^-13, 2^-14.

    python rl/rl-book/chapter13/reinforce.py [--runs 100] [--episodes 1000]

Total reward per episode averaged over --runs runs, with v*(s0) (the best J a policy of these features can
reach, about -11.6) drawn. Every (alpha, run) advances in one vectorized loop. The policy starts at
p(right) = 0.05 (the epsilon-greedy-left policy, J = -82), and every action keeps probability >= 0.05 so that
every episode ends (see policy_gradient.softmax_policy).
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import POLICY_FEATURES, ShortCorridor  # noqa: E402
from policy_gradient import reinforce, softmax_policy  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
from short_corridor import compute as corridor_optimum, initial_theta, start_value  # noqa: E402

STEP_SIZES = {-12: 2.0 ** -12, -13: 2.0 ** -13, -14: 2.0 ** -14}
START_P_RIGHT, MIN_PROB = 0.05, 0.05


def exact_values(theta):
    """J of the policy of every theta [..., 2], exactly."""
    p_right = softmax_policy(theta.reshape(-1, 2), np.repeat(POLICY_FEATURES[:1], theta[..., 0].size, 0), MIN_PROB)[:, 1]
    return start_value(p_right).reshape(theta.shape[:-1])


def compute(runs, episodes, rng):
    alphas = np.repeat(list(STEP_SIZES.values()), runs)
    out = reinforce(ShortCorridor(), POLICY_FEATURES, alphas, episodes, rng, initial_theta(START_P_RIGHT),
                    min_prob=MIN_PROB)
    returns = out["returns"].reshape(len(STEP_SIZES), runs, episodes).mean(1)
    J = exact_values(out["theta"][:, 1:]).reshape(len(STEP_SIZES), runs, episodes).mean(1)
    return {f"2^{k}": {"returns": r, "J": j} for k, r, j in zip(STEP_SIZES, returns, J)}


def plot_curves(ax, curves, v_star, runs):
    for name, c in curves.items():
        ax.plot(np.arange(1, len(c["returns"]) + 1), c["returns"], lw=0.9, label=name)
    ax.axhline(v_star, color="k", ls="--", lw=1, label=f"v*(s0) = {v_star:.2f}")
    ax.set_ylim(-90, -10)
    ax.set_xlabel("Episode")
    ax.set_ylabel(f"Total reward on episode\n(averaged over {runs} runs)")
    ax.legend()


def main():
    parser = figure_parser(__doc__, HERE)
    parser.allow_abbrev = False
    parser.add_argument("--runs", type=positive_int, default=100)
    parser.add_argument("--episodes", type=positive_int, default=1000)
    args = parser.parse_args()
    runs = 20 if args.quick else args.runs
    curves = compute(runs, args.episodes, np.random.default_rng(args.seed))
    v_star = corridor_optimum()["optimum"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_curves(ax, {f"α = {k}": c for k, c in curves.items()}, v_star, runs)
    ax.set_title("Figure 13.1: REINFORCE on the short corridor")
    summary = {k: {"mean_return_last_100": c["returns"][-100:].mean(), "J_after_last_episode": c["J"][-1]}
               for k, c in curves.items()}
    save_figure(fig, args.out / "figure_13_1.png",
                {"seed": args.seed, "runs": runs, "v_star": v_star, "summary": summary, "curves": curves})
    print({k: {m: round(float(v), 2) for m, v in s.items()} for k, s in summary.items()})


if __name__ == "__main__":
    main_guard(main)()
