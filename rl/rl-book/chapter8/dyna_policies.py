"""Figure 8.3: greedy policies of Dyna-Q without planning (n = 0) and with n = 50, halfway through episode 2.

    python rl/rl-book/chapter8/dyna_policies.py [--seed 0]

One real run of each agent with the same seed: the first episode is the same random walk for both (no reward,
so planning changes nothing until G is reached). An arrow marks each greedy action of a state; states whose
action values are all still 0 are left blank, as in the book.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import draw_policy, plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import Maze  # noqa: E402
from planning import dyna_q  # noqa: E402
from shared.cli import main_guard  # noqa: E402


def halfway_policy(env, planning_steps, seed):
    """Q of one run halfway through its second episode, and where the agent is then."""
    out = dyna_q(env, planning_steps, 1, np.random.default_rng(seed), episodes=2, record_episode=2)
    snapshots = out["snapshots"]
    return snapshots[len(snapshots) // 2], len(snapshots), int(out["episode_steps"][0, 0])


def greedy_arrows(env, Q):
    """best[row, col, a]: greedy actions of states that have some nonzero action value."""
    best = (Q == Q.max(1, keepdims=True)) & (Q != 0).any(1, keepdims=True)
    return best.reshape(*env.shape, env.n_actions)


def compute(seed):
    env = Maze()
    return env, {n: halfway_policy(env, n, seed) for n in (0, 50)}


def main():
    parser = figure_parser(__doc__, HERE)
    args = parser.parse_args()
    env, results = compute(args.seed)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    summary = {}
    for ax, (n, (Q, length, first)) in zip(axes, results.items()):
        best = greedy_arrows(env, Q)
        with_arrow = int(best.any(-1).sum())
        draw_policy(ax, best, shade=env.wall,
                    title=f"{'Without' if n == 0 else 'With'} planning (n = {n}): greedy action in {with_arrow} states")
        for s, label in ((env.start_state, "S"), (int(env.terminal.argmax()), "G")):
            r, c = env.cell(s)
            ax.text(c + 0.5, r + 0.5, label, ha="center", va="center", fontsize=13, weight="bold", color="C1")
        summary[n] = {"states_with_greedy_action": with_arrow, "episode_1_steps": first, "episode_2_steps": length,
                      "Q": Q}
        print(f"n = {n:2d}: episode 1 took {first} steps, episode 2 {length}; halfway through it "
              f"{with_arrow} states have a greedy action")
    fig.suptitle("Figure 8.3: greedy policies halfway through the second episode (one run each, same seed)")
    save_figure(fig, args.out / "figure_8_3.png", {"seed": args.seed, **{str(n): v for n, v in summary.items()}})


if __name__ == "__main__":
    main_guard(main)()
