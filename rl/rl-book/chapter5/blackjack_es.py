"""Figure 5.2: the optimal blackjack policy and state values found by Monte Carlo ES.

    python rl/rl-book/chapter5/blackjack_es.py [--episodes 5000000] [--batch 10000] [--off-policy]

Exploring starts: each episode begins in a uniformly random state (sum 12-21, dealer card, usable ace)
with a random first action. The greedy policy is improved after every --batch episodes (the book:
after every episode). --off-policy also runs off-policy MC control (Section 5.7, random behaviour policy)
and reports how often it agrees with MC ES.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from mc import monte_carlo_es, off_policy_mc_control  # noqa: E402
from plots import policy_map, value_surface  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--episodes", type=positive_int, default=5_000_000)
    parser.add_argument("--batch", type=positive_int, default=10_000, help="episodes between policy improvements")
    parser.add_argument("--off-policy", action="store_true", help="also run off-policy MC control and compare")
    args = parser.parse_args()
    episodes = 200_000 if args.quick else args.episodes
    rng = np.random.default_rng(args.seed)
    Q, hit = monte_carlo_es(episodes, rng, batch=args.batch)
    V = Q.max(-1)[12:, 1:]
    pi = hit[11:, 1:]  # from sum 11 (always hit) so the map starts where the book's does
    data = {"seed": args.seed, "episodes": episodes, "batch": args.batch,
            "hit_usable_ace_rows_sum_11_21": pi[..., 1].astype(int), "hit_no_usable_ace": pi[..., 0].astype(int),
            "v_usable_ace_rows_sum_12_21": V[..., 1], "v_no_usable_ace": V[..., 0]}
    if args.off_policy:
        _, hit_off = off_policy_mc_control(episodes, rng, batch=args.batch)
        data["off_policy_agreement"] = float((hit_off[12:, 1:] == hit[12:, 1:]).mean())
        print(f"off-policy MC control agrees with MC ES on {data['off_policy_agreement']:.1%} of states")
    fig = plt.figure(figsize=(10, 9))
    fig.subplots_adjust(hspace=0.3)
    for row, usable in enumerate((1, 0)):
        label = "usable ace" if usable else "no usable ace"
        policy_map(fig.add_subplot(2, 2, 2 * row + 1), pi[..., usable], f"$\\pi_*$, {label}")
        value_surface(fig.add_subplot(2, 2, 2 * row + 2, projection="3d"), V[..., usable], f"$v_*$, {label}")
    fig.suptitle(f"Figure 5.2: Monte Carlo ES, {episodes:,} episodes")
    save_figure(fig, args.out / "figure_5_2.png", data)


if __name__ == "__main__":
    main_guard(main)()
