"""Figure 9.2: bootstrapping with state aggregation on the 1,000-state random walk.

    python rl/rl-book/chapter9/td_aggregation.py [--episodes 100000] [--runs 100]

Left: semi-gradient TD(0), 10 groups, alpha = 2e-4 (the book gives no alpha for this panel), one run of
--episodes episodes: its asymptotic values sit at the TD fixed point (9.12), further from v_pi than gradient MC's
(Figure 9.1). Right: n-step semi-gradient TD with 20 groups, the RMS error over the 1,000 states and the first
10 episodes against alpha, for n = 1, 2, 4, ..., 512, averaged over --runs runs: every (n, alpha, run) in one
vectorized loop, each run's episodes shared by all its (n, alpha), as in Figure 7.2.
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

TD_GROUPS, TD_ALPHA = 10, 2e-4
NSTEP_GROUPS, NSTEP_EPISODES = 20, 10
NS, ALPHAS = 2 ** np.arange(10), np.linspace(0.0, 1.0, 11)


def split_runs(walks, runs):
    """Episodes of runs * E walks -> a list of runs Episodes, E each."""
    E = len(walks) // runs
    return [approx.Episodes(walks.states[walks.start[r * E]:walks.start[(r + 1) * E]],
                            walks.start[r * E:(r + 1) * E + 1] - walks.start[r * E], walks.G[r * E:(r + 1) * E])
            for r in range(runs)]


def compute_left(episodes, rng):
    env = RandomWalk1000()
    walks = approx.walk_episodes(env, episodes, rng)
    w = approx.td0_aggregation(walks, TD_GROUPS, TD_ALPHA)[-1]
    X = approx.aggregation(TD_GROUPS)
    w_td, w_mc = approx.td_fixed_point(X, env), approx.mc_solution(X, env)
    return env, {"w": w, "w_td_fixed_point": w_td, "w_mc": w_mc, "sqrt_ve": approx.value_error(w, X, env),
                 "sqrt_ve_td_fixed_point": approx.value_error(w_td, X, env),
                 "sqrt_ve_mc": approx.value_error(w_mc, X, env)}


def compute_right(runs, rng):
    env = RandomWalk1000()
    walks = split_runs(approx.walk_episodes(env, runs * NSTEP_EPISODES, rng), runs)
    history = approx.nstep_td_aggregation(walks, NSTEP_GROUPS, NS, ALPHAS)    # [n, alpha, run, episode, group]
    errors = approx.rms_error(history[..., 1:, :], approx.aggregation(NSTEP_GROUPS), env)
    return errors.mean((-1, -2))                                               # [n, alpha]


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--episodes", type=positive_int, default=100_000, help="TD(0) episodes (left)")
    parser.add_argument("--runs", type=positive_int, default=100, help="n-step TD runs (right)")
    args = parser.parse_args()
    episodes, runs = (10_000, 20) if args.quick else (args.episodes, args.runs)
    rng = np.random.default_rng(args.seed)
    env, left = compute_left(episodes, rng)
    errors = compute_right(runs, rng)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    s = env.inner
    ax1.plot(s, env.true_values[s], "r", label="true value $v_\\pi$")
    ax1.plot(s, np.repeat(left["w"], len(s) // TD_GROUPS), "b", label="approximate TD value $\\hat v$")
    ax1.plot(s, np.repeat(left["w_mc"], len(s) // TD_GROUPS), "b:", lw=1, label="gradient MC's limit (Fig. 9.1)")
    ax1.set_xlabel("State")
    ax1.set_ylabel("Value")
    ax1.set_ylim(-1, 1)
    ax1.legend(loc="upper left")
    ax1.set_title(f"semi-gradient TD(0), 10 groups, α = 2e-4, {episodes:,} episodes\n"
                  f"√VE {left['sqrt_ve']:.3f} (TD fixed point {left['sqrt_ve_td_fixed_point']:.3f}, "
                  f"MC {left['sqrt_ve_mc']:.3f})")
    for n, row in zip(NS, errors):
        ax2.plot(ALPHAS, row, label=f"n={n}")
    ax2.set_ylim(0.25, 0.55)
    ax2.set_xlabel("α")
    ax2.set_ylabel(f"Average RMS error over 1000 states\nand first {NSTEP_EPISODES} episodes")
    ax2.set_title(f"n-step semi-gradient TD, 20 groups, {runs} runs")
    ax2.legend(bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.suptitle("Figure 9.2: bootstrapping with state aggregation on the 1000-state random walk", y=1.04)
    best = np.unravel_index(np.argmin(errors), errors.shape)
    save_figure(fig, args.out / "figure_9_2.png",
                {"seed": args.seed, "episodes": episodes, "runs": runs, "left": left, "ns": NS, "alphas": ALPHAS,
                 "rms_error": errors, "best": {"n": NS[best[0]], "alpha": ALPHAS[best[1]], "rms": errors[best]}})
    print(f"TD(0): sqrt VE {left['sqrt_ve']:.4f}, fixed point {left['sqrt_ve_td_fixed_point']:.4f}, "
          f"MC {left['sqrt_ve_mc']:.4f}; n-step best RMS {errors[best]:.3f} at n = {NS[best[0]]}, "
          f"alpha = {ALPHAS[best[1]]:.1f}")


if __name__ == "__main__":
    main_guard(main)()
