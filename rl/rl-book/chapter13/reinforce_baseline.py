"""Figure 13.2: REINFORCE with baseline (alpha_theta = 2^-9, alpha_w = 2^-6) vs REINFORCE (alpha = 2^-13)
on the short corridor.

    python rl/rl-book/chapter13/reinforce_baseline.py [--runs 100] [--episodes 1000]

The baseline is a learned state value v(s, w) = w, one weight (the agent cannot tell the states apart either).
Same start (p(right) = 0.05) and probability floor as Figure 13.1.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import POLICY_FEATURES, ShortCorridor  # noqa: E402
from policy_gradient import reinforce  # noqa: E402
from reinforce import MIN_PROB, START_P_RIGHT, exact_values, plot_curves  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
from short_corridor import compute as corridor_optimum, initial_theta  # noqa: E402

ALPHA_THETA, ALPHA_W, ALPHA_PLAIN = 2.0 ** -9, 2.0 ** -6, 2.0 ** -13


def compute(runs, episodes, rng):
    env, theta0 = ShortCorridor(), initial_theta(START_P_RIGHT)
    plain = reinforce(env, POLICY_FEATURES, np.full(runs, ALPHA_PLAIN), episodes, rng, theta0, min_prob=MIN_PROB)
    baseline = reinforce(env, POLICY_FEATURES, np.full(runs, ALPHA_THETA), episodes, rng, theta0,
                         baseline_alphas=np.full(runs, ALPHA_W), phi=np.ones((env.n_states, 1)), min_prob=MIN_PROB)
    return {name: {"returns": out["returns"].mean(0), "J": exact_values(out["theta"][:, 1:]).mean(0)}
            for name, out in (("REINFORCE with baseline", baseline), ("REINFORCE", plain))}


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
    plot_curves(ax, {"REINFORCE with baseline, α_θ = 2^-9, α_w = 2^-6": curves["REINFORCE with baseline"],
                     "REINFORCE, α = 2^-13": curves["REINFORCE"]}, v_star, runs)
    ax.set_title("Figure 13.2: REINFORCE with and without baseline")
    # episodes until the runs' average policy is within 1 of v*(s0), from the exact J after each episode
    reach = {k: int(np.argmax(c["J"] > v_star - 1.0)) + 1 if (c["J"] > v_star - 1.0).any() else None
             for k, c in curves.items()}
    summary = {k: {"mean_return_last_100": c["returns"][-100:].mean(), "J_after_last_episode": c["J"][-1],
                   "episodes_to_within_1_of_v_star": reach[k]} for k, c in curves.items()}
    save_figure(fig, args.out / "figure_13_2.png",
                {"seed": args.seed, "runs": runs, "v_star": v_star, "summary": summary, "curves": curves})
    print({k: {m: (round(float(v), 2) if v is not None else None) for m, v in s.items()} for k, s in summary.items()})


if __name__ == "__main__":
    main_guard(main)()
