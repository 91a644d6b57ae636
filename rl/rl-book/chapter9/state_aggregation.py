"""Figure 9.1: gradient Monte Carlo with state aggregation on the 1,000-state random walk.

    python rl/rl-book/chapter9/state_aggregation.py [--episodes 100000]

One run of --episodes episodes, alpha = 2e-5, 10 groups of 100 states. The learned values (a staircase) against
the true values, and the state distribution mu: gradient MC converges to the mu-weighted average of v_pi over
each group (the minimum of VE), so within a group the fit leans towards the states visited most.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import RandomWalk1000  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
import approx  # noqa: E402

GROUPS, ALPHA = 10, 2e-5


def compute(episodes, rng):
    env = RandomWalk1000()
    walks = approx.walk_episodes(env, episodes, rng)
    w = approx.gradient_mc_aggregation(walks, GROUPS, ALPHA)[-1]
    X = approx.aggregation(GROUPS)
    visits = np.bincount(walks.states, minlength=env.n_states)
    return env, {"w": w, "best_w": approx.mc_solution(X, env), "sqrt_ve": approx.value_error(w, X, env),
                 "best_sqrt_ve": approx.value_error(approx.mc_solution(X, env), X, env),
                 "visits": visits / visits.sum(), "mean_length": walks.length.mean()}


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--episodes", type=positive_int, default=100_000)
    args = parser.parse_args()
    episodes = 10_000 if args.quick else args.episodes
    env, out = compute(episodes, np.random.default_rng(args.seed))
    s = env.inner
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    ax.plot(s, env.true_values[s], "r", label="true value $v_\\pi$")
    ax.plot(s, np.repeat(out["w"], len(s) // GROUPS), "b", label="approximate MC value $\\hat v$")
    ax.set_xlabel("State")
    ax.set_ylabel("Value scale")
    ax.set_ylim(-1, 1)
    ax2 = ax.twinx()
    ax2.fill_between(s, out["visits"][s], color="0.6", alpha=0.5, lw=0, label="state distribution $\\mu$ (visits)")
    ax2.plot(s, env.mu[s], "k", lw=0.6, label="$\\mu$ from the model (9.2)-(9.3)")
    ax2.set_ylabel("Distribution scale")
    ax2.set_ylim(0, 0.004)  # mu's spike at the start state (0.0137) is cut off, as in the book
    ax2.annotate(f"μ(500) = {env.mu[env.start_state]:.4f}", (env.start_state, 0.004), (560, 0.0036), fontsize=8,
                 arrowprops=dict(arrowstyle="->", lw=0.6))
    ax2.grid(False)
    ax2.spines["right"].set_visible(True)
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], loc="upper left")
    ax.set_title(f"Figure 9.1: gradient MC, state aggregation (10 groups, α = 2e-5, "
                 f"{episodes:,} episodes)\n"
                 f"√VE = {out['sqrt_ve']:.4f} (the best staircase: {out['best_sqrt_ve']:.4f})")
    save_figure(fig, args.out / "figure_9_1.png", {"seed": args.seed, "episodes": episodes, "alpha": ALPHA, **out})
    print(f"sqrt VE {out['sqrt_ve']:.4f} (minimum {out['best_sqrt_ve']:.4f}); w = {np.round(out['w'], 3)}; "
          f"mean episode length {out['mean_length']:.1f}")


if __name__ == "__main__":
    main_guard(main)()
