"""Figure 5.1: first-visit MC prediction of the policy that sticks only on 20 or 21.

    python rl/rl-book/chapter5/blackjack_prediction.py [--episodes 500000]

Approximate state-value functions after 10,000 and after 500,000 episodes, usable ace (top) and
no usable ace (bottom). All episodes are played at once by VectorBlackjack (the book's rules,
checked against gymnasium's Blackjack-v1 in the tests).
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import VectorBlackjack  # noqa: E402
from mc import first_visit_mc_prediction, stick_on  # noqa: E402
from plots import value_surface  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402


def compute(episodes, rng, early=10_000):
    states, _, valid, reward = VectorBlackjack().play(stick_on(20), episodes, rng)
    V_early, _ = first_visit_mc_prediction(states[:early], valid[:early], reward[:early])
    V_all, _ = first_visit_mc_prediction(states, valid, reward)
    return V_early[12:, 1:], V_all[12:, 1:]   # [sum 12..21, dealer 1..10, usable]


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--episodes", type=positive_int, default=500_000)
    args = parser.parse_args()
    episodes = 20_000 if args.quick else args.episodes
    early = min(10_000, episodes)
    V_early, V_all = compute(episodes, np.random.default_rng(args.seed), early)
    print(f"v(sum 21, dealer 10, no usable ace) after {episodes}: {V_all[9, 9, 0]:.3f}")
    fig = plt.figure(figsize=(10, 8.5))
    for col, (V, n) in enumerate(((V_early, early), (V_all, episodes))):
        for row, usable in enumerate((1, 0)):
            ax = fig.add_subplot(2, 2, 2 * row + col + 1, projection="3d")
            value_surface(ax, V[..., usable], f"After {n:,} episodes, {'usable' if usable else 'no usable'} ace")
    fig.suptitle("Figure 5.1: the policy that sticks only on 20 or 21, first-visit MC")
    save_figure(fig, args.out / "figure_5_1.png",
                {"seed": args.seed, "episodes": [early, episodes], "rows_player_sum_12_21_cols_dealer_A_10": True,
                 "usable_ace": {"early": V_early[..., 1], "final": V_all[..., 1]},
                 "no_usable_ace": {"early": V_early[..., 0], "final": V_all[..., 0]}})


if __name__ == "__main__":
    main_guard(main)()
