"""Figure 4.3: value iteration on the gambler's problem, p_h = 0.4.

    python rl/rl-book/chapter4/gamblers_problem.py [--p-heads 0.4]

Top: value estimates after sweeps 1, 2, 3 and the final v*; sweeps are in place, capital 1 to 99 in order,
as in the book's value-iteration box (a synchronous sweep 1 would be a bare step: 0.4 from capital 50 on). Bottom: the final policy (the smallest
optimal stake, which is the book's spiky policy) over the set of ALL optimal stakes per capital: many
capitals have several optimal stakes, and the book's figure shows one optimal policy among many.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from dp import greedy, value_iteration  # noqa: E402
from envs import Gambler  # noqa: E402
from shared.cli import main_guard  # noqa: E402

SHOW_SWEEPS = [1, 2, 3]  # and the final v; the book stops after 32 sweeps, our theta = 1e-13 after 23 in-place sweeps


def compute(p_heads=0.4, theta=1e-13, atol=1e-9):
    env = Gambler(p_heads)
    history = []
    v, q, sweeps = value_iteration(env.P, env.r, 1.0, env.allowed, theta=theta, in_place=True, history=history)
    optimal = greedy(q, atol=atol) & env.allowed
    optimal[env.terminal] = False
    smallest = np.where(optimal.any(1), optimal.argmax(1), 0)
    return env, v, history, sweeps, optimal, smallest


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--p-heads", type=float, default=0.4, help="probability the coin comes up heads")
    args = parser.parse_args()
    if not 0 < args.p_heads < 1:
        parser.error(f"--p-heads must be in (0, 1), got {args.p_heads}")
    env, v, history, sweeps, optimal, smallest = compute(args.p_heads)
    print(f"value iteration: {sweeps} sweeps; v(25) = {v[25]:.4f}, v(50) = {v[50]:.4f}, v(75) = {v[75]:.4f}")

    capital = np.arange(1, env.goal)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6.5, 8))
    for k in SHOW_SWEEPS:
        if k <= len(history):
            ax1.plot(capital, history[k - 1][1:-1], lw=1, label=f"sweep {k}")
    ax1.plot(capital, v[1:-1], "k", lw=1.6, label=f"final value function ({sweeps} sweeps)")
    ax1.set_xlabel("Capital")
    ax1.set_ylabel("Value estimates")
    ax1.legend()
    s_opt, a_opt = np.nonzero(optimal)
    ax2.scatter(s_opt, a_opt, s=9, c="0.7", label="every optimal stake")
    ax2.step(capital, smallest[1:-1], where="mid", color="k", lw=1.2, label="final policy (smallest optimal stake)")
    ax2.set_xlabel("Capital")
    ax2.set_ylabel("Final policy (stake)")
    ax2.legend(loc="upper left")
    fig.suptitle(f"Figure 4.3: gambler's problem, $p_h$ = {args.p_heads}")
    save_figure(fig, args.out / "figure_4_3.png",
                {"p_heads": args.p_heads, "sweeps": sweeps, "v": v,
                 "sweep_values": {k: history[k - 1] for k in SHOW_SWEEPS if k <= len(history)},
                 "smallest_optimal_stake": smallest, "optimal_stakes": [np.nonzero(o)[0] for o in optimal]})


if __name__ == "__main__":
    main_guard(main)()
