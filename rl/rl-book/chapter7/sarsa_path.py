"""Figure 7.4: the action values that one-step and 10-step Sarsa strengthen in one episode.

    python rl/rl-book/chapter7/sarsa_path.py [--n 10] [--alpha 0.5]

All values start at 0 and the only reward is +1 on reaching G, so the first episode is a random walk
(epsilon-greedy among all-zero values, ties at random) and both agents, seeded alike, take the same path.
One-step Sarsa then raises only the last action's value; n-step Sarsa raises the last n. The default seed (1)
gives a 48-step episode, short enough to draw; other seeds give longer paths and the same picture.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import draw_policy, grid_axes, plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import OpenGrid  # noqa: E402
from nstep import n_step_control  # noqa: E402
from shared.cli import main_guard, positive_float, positive_int  # noqa: E402
from shared.errors import PlaygroundError  # noqa: E402


def compute(n, alpha, seed):
    """Path of the shared first episode and the action values [S, A] of one-step and n-step Sarsa after it."""
    env = OpenGrid()
    one = n_step_control(env, "sarsa", 1, [alpha], 1, np.random.default_rng(seed))
    many = n_step_control(env, "sarsa", n, [alpha], 1, np.random.default_rng(seed))
    assert one["first_episode"] == many["first_episode"], "both agents must walk the same path"
    states = one["first_episode"][0] + [int(env.terminal.argmax())]
    return env, states, one["Q"][0], many["Q"][0]


def draw_path(ax, env, states, title):
    grid_axes(ax, env.shape, title)
    rows, cols = np.unravel_index(states, env.shape)
    ax.plot(cols + 0.5, rows + 0.5, "-", color="tab:blue", lw=1.2, alpha=0.6)
    for (r, c), label in ((env.start_cell, "S"), (env.goal_cell, "G")):
        ax.text(c + 0.5, r + 0.5, label, ha="center", va="center", fontsize=14, weight="bold")


def main():
    parser = figure_parser(__doc__, HERE)
    parser.allow_abbrev = False
    parser.set_defaults(seed=1)
    parser.add_argument("--n", type=positive_int, default=10)
    parser.add_argument("--alpha", type=positive_float, default=0.5)
    args = parser.parse_args()
    if args.alpha > 1:
        raise PlaygroundError(f"--alpha {args.alpha} is above 1; use a step size in (0, 1]")
    env, states, Q1, Qn = compute(args.n, args.alpha, args.seed)
    goal = np.zeros(env.shape, bool)
    goal[env.goal_cell] = True

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    draw_path(axes[0], env, states, f"Path taken ({len(states) - 1} steps)")
    for ax, Q, name in ((axes[1], Q1, "one-step Sarsa"), (axes[2], Qn, f"{args.n}-step Sarsa")):
        draw_policy(ax, (Q > 0).reshape(*env.shape, -1), shade=goal)
        draw_path(ax, env, states, f"Action values increased by {name}: {(Q > 0).sum()}")
    fig.suptitle("Figure 7.4: one episode, all values 0 at the start, +1 at G")
    save_figure(fig, args.out / "figure_7_4.png",
                {"seed": args.seed, "n": args.n, "alpha": args.alpha, "path": states,
                 "increased_one_step": np.argwhere(Q1 > 0), "increased_n_step": np.argwhere(Qn > 0),
                 "values_n_step": Qn[Qn > 0]})
    print(f"{len(states) - 1}-step episode; one-step Sarsa raised {(Q1 > 0).sum()} value(s), "
          f"{args.n}-step Sarsa {(Qn > 0).sum()}")


if __name__ == "__main__":
    main_guard(main)()
