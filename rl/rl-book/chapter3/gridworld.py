"""Figures 3.2 and 3.5: the gridworld of Example 3.5, v of the equiprobable random policy and v*, pi*.

    python rl/rl-book/chapter3/gridworld.py

Writes figure_3_2.png / .json (v_pi, gamma = 0.9) and figure_3_5.png / .json (v* and every optimal action).
Both are exact: v_pi from one linear solve, v* from the Bellman optimality equation iterated to 1e-12.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from bellman import optimal_actions, solve_v_pi, solve_v_star  # noqa: E402
from common.plots import draw_policy, draw_values, plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import GridWorld35  # noqa: E402
from shared.cli import main_guard  # noqa: E402

GAMMA = 0.9


def compute():
    env = GridWorld35()
    pi = np.full((env.n_states, env.n_actions), 1 / env.n_actions)
    v_pi = solve_v_pi(env.P, env.r, pi, GAMMA).reshape(env.shape)
    v_star, q_star = solve_v_star(env.P, env.r, GAMMA)
    best = optimal_actions(q_star, atol=1e-6).reshape(*env.shape, env.n_actions)
    return v_pi, v_star.reshape(env.shape), best


def main():
    args = figure_parser(__doc__, HERE).parse_args()
    v_pi, v_star, best = compute()
    print("Figure 3.2, v_pi of the equiprobable random policy:\n" + np.array2string(v_pi, precision=1))
    print("Figure 3.5, v*:\n" + np.array2string(v_star, precision=1))

    fig, ax = plt.subplots(figsize=(3.6, 3.6))
    draw_values(ax, v_pi, "Figure 3.2: $v_\\pi$, equiprobable random policy")
    save_figure(fig, args.out / "figure_3_2.png", {"gamma": GAMMA, "v_pi": v_pi.round(1), "v_pi_exact": v_pi})

    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.6))
    draw_values(axes[0], v_star, "$v_*$")
    draw_policy(axes[1], best, "$\\pi_*$ (all optimal actions)")
    fig.suptitle("Figure 3.5: optimal solutions to the gridworld example")
    save_figure(fig, args.out / "figure_3_5.png",
                {"gamma": GAMMA, "v_star": v_star.round(1), "v_star_exact": v_star,
                 "optimal_actions_up_right_down_left": best.astype(int)})


if __name__ == "__main__":
    main_guard(main)()
