"""Figure 10.1: the cost-to-go function -max_a q(s, a, w) that one run of semi-gradient Sarsa learns on mountain car.

    python rl/rl-book/chapter10/cost_to_go.py [--episodes 9000]

One run of one-step semi-gradient Sarsa, 8 tilings of 8 x 8 tiles, alpha = 0.5 / 8, greedy, w = 0 (optimistic:
every reward is -1). Panels as the book's: step 428 of the first episode, then after episodes 12, 104, 1000 and
9000. The first episode's spiral: every state the car visits gets costlier, pushing it elsewhere, until it
has swung back and forth enough to get out.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from sarsa import cost_to_go, n_step_sarsa  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402

BOOK_PANELS = [(1, 428), (12, None), (104, None), (1000, None), (9000, None)]


def compute(episodes, rng):
    panels = [(e, s) for e, s in BOOK_PANELS if e <= episodes]
    out = n_step_sarsa(np.array([0.5 / 8]), 1, episodes, rng, snapshots=panels)
    return panels, out


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--episodes", type=positive_int, default=9000)
    args = parser.parse_args()
    episodes = 104 if args.quick else args.episodes
    panels, out = compute(episodes, np.random.default_rng(args.seed))
    fig = plt.figure(figsize=(3.3 * len(panels), 3.6))
    data = {"seed": args.seed, "episodes": episodes, "steps_per_episode": out["steps"][0],
            "truncated_episodes": int(out["truncated"].sum()), "panels": []}
    for i, (episode, step) in enumerate(panels):
        positions, velocities, cost = cost_to_go(out["snapshots"][(episode, step)], resolution=40)
        ax = fig.add_subplot(1, len(panels), i + 1, projection="3d")
        x, v = np.meshgrid(positions, velocities)
        ax.plot_surface(x, v, cost, cmap="viridis", linewidth=0, antialiased=False)
        ax.set_title(f"Step {step}" if step else f"Episode {episode}")
        ax.set_xlabel("Position", fontsize=8)
        ax.set_ylabel("Velocity", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.view_init(elev=35, azim=-120)
        data["panels"].append({"episode": episode, "step": step, "cost_to_go_max": cost.max(),
                               "cost_to_go_min": cost.min()})
        print(f"{'step ' + str(step) if step else 'episode ' + str(episode)}: cost-to-go "
              f"{cost.min() + 0.0:.1f} ... {cost.max():.1f}")
    last = out["steps"][0, -100:]
    print(f"steps per episode over the last 100 episodes: mean {last.mean():.0f}, min {last.min()}")
    data["mean_steps_last_100_episodes"] = last.mean()
    fig.suptitle("Figure 10.1: mountain car cost-to-go -max_a q(s, a, w), one run of semi-gradient Sarsa "
                 "(8 tilings, α = 0.5/8)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, args.out / "figure_10_1.png", data)


if __name__ == "__main__":
    main_guard(main)()
