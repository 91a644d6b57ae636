"""Figure 5.3: ordinary vs weighted importance sampling for one blackjack state (Example 5.4).

    python rl/rl-book/chapter5/importance_sampling.py [--runs 100] [--episodes 10000]

State: dealer shows 2, player sum 13 with a usable ace. Behaviour policy: hit or stick with
probability 1/2; target policy: stick only on 20 or 21, whose value there is -0.27726. Mean squared
error of both estimates over --runs independent runs, after 1 ... --episodes episodes (log axis).
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import VectorBlackjack  # noqa: E402
from mc import importance_ratios, is_estimates, stick_on  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402

TRUE_VALUE = -0.27726
START = (13, 1, 2)  # player sum, usable ace, dealer card


def compute(runs, episodes, rng):
    n = runs * episodes
    behaviour, target = np.full((22, 11, 2), 0.5), stick_on(20)
    states, actions, valid, reward = VectorBlackjack().play(behaviour, n, rng, start=START)
    rho = importance_ratios(states, actions, valid, target, behaviour)
    ordinary, weighted = is_estimates(rho.reshape(runs, episodes), reward.reshape(runs, episodes))
    return ((ordinary - TRUE_VALUE) ** 2).mean(0), ((weighted - TRUE_VALUE) ** 2).mean(0), rho, reward


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=100)
    parser.add_argument("--episodes", type=positive_int, default=10_000)
    args = parser.parse_args()
    runs, episodes = (100, 1000) if args.quick else (args.runs, args.episodes)
    mse_ord, mse_w, rho, reward = compute(runs, episodes, np.random.default_rng(args.seed))
    pooled = (rho * reward).mean()
    print(f"MSE after 10 episodes: ordinary {mse_ord[9]:.3f}, weighted {mse_w[9]:.3f}; "
          f"ordinary IS over all {rho.size:,} episodes: {pooled:.4f} (true {TRUE_VALUE})")
    x = np.arange(1, episodes + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogx(x, mse_ord, color="#2ca02c", label="Ordinary importance sampling")
    ax.semilogx(x, mse_w, color="#d62728", label="Weighted importance sampling")
    ax.set_ylim(0, 5)
    ax.set_xlabel("Episodes (log scale)")
    ax.set_ylabel(f"Mean square error\n(average over {runs} runs)")
    ax.set_title("Figure 5.3: off-policy estimation of one blackjack state")
    ax.legend()
    keep = np.unique(np.geomspace(1, episodes, 200).astype(int)) - 1
    save_figure(fig, args.out / "figure_5_3.png",
                {"seed": args.seed, "runs": runs, "true_value": TRUE_VALUE, "episodes": keep + 1,
                 "mse_ordinary": mse_ord[keep], "mse_weighted": mse_w[keep], "ordinary_is_all_episodes": pooled})


if __name__ == "__main__":
    main_guard(main)()
