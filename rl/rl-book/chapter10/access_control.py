"""Figure 10.5: the access-control queuing task solved by differential semi-gradient Sarsa.

    python rl/rl-book/chapter10/access_control.py [--steps 2000000]

10 servers, priorities 1, 2, 4, 8, p_free = 0.06; tabular differential Sarsa with alpha = 0.01, beta = 0.01,
epsilon = 0.1, one run of --steps steps, as in the book. Top: the learned greedy policy (accept or reject, by
priority and number of free servers). Bottom: the differential value of the best action. For reference the
exact optimal policy and average reward r* come from relative value iteration on the env's model.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import AccessControl  # noqa: E402
from sarsa import differential_sarsa, relative_value_iteration  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402


def greedy_tables(env, q):
    """accept[priority, free], best value[priority, free] of the greedy policy (reject where no server is free),
    and tie[priority, free]: both values equal, i.e. the state was never visited (q = 0)."""
    q = np.where(env.allowed, q, -np.inf)
    shape = (env.servers + 1, len(env.priorities))
    tie = (q[:, env.ACCEPT] == q[:, env.REJECT]).reshape(shape).T
    return (q[:, env.ACCEPT] > q[:, env.REJECT]).reshape(shape).T, q.max(1).reshape(shape).T, tie


def compute(steps, rng):
    env = AccessControl()
    q, r_bar = differential_sarsa(env, steps, rng, alpha=0.01, beta=0.01, epsilon=0.1)
    r_star, q_star = relative_value_iteration(env)
    return env, q, r_bar, r_star, q_star


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--steps", type=positive_int, default=2_000_000)
    args = parser.parse_args()
    steps = 200_000 if args.quick else args.steps
    env, q, r_bar, r_star, q_star = compute(steps, np.random.default_rng(args.seed))
    accept, best, tie = greedy_tables(env, q)
    optimal_accept = greedy_tables(env, q_star)[0]
    fig, (ax_policy, ax_value) = plt.subplots(2, 1, figsize=(7, 8), gridspec_kw={"height_ratios": [2, 3]})
    n_prio = len(env.priorities)
    shown = accept[::-1, 1:]  # priorities 8 ... 1 top to bottom, 1 ... 10 free servers
    ax_policy.imshow(np.where(tie[::-1, 1:], 0.5, shown), cmap="Greys_r", vmin=-0.6, vmax=1.3, aspect="auto")
    for (i, j), a in np.ndenumerate(shown):
        differs = a != optimal_accept[::-1, 1:][i, j]
        label = "unvisited" if tie[::-1, 1:][i, j] else ("ACCEPT" if a else "REJECT") + ("*" if differs else "")
        ax_policy.text(j, i, label, ha="center", va="center", fontsize=6, color="k" if a else "w")
    ax_policy.set_xticks(range(env.servers), range(1, env.servers + 1))
    ax_policy.set_yticks(range(n_prio), [f"{p:g}" for p in env.priorities[::-1]])
    ax_policy.set_xlabel("Number of free servers")
    ax_policy.set_ylabel("Priority")
    ax_policy.set_title("Policy (* = differs from the optimal policy of the model; unvisited: q never updated)",
                        fontsize=9)
    for i, p in enumerate(env.priorities[::-1]):
        ax_value.plot(range(env.servers + 1), best[n_prio - 1 - i], "-o", ms=3, label=f"priority {p:g}")
    ax_value.set_xlabel("Number of free servers")
    ax_value.set_ylabel("Differential value of best action")
    ax_value.set_title("Value function", fontsize=10)
    ax_value.legend()
    fig.suptitle(f"Figure 10.5: access control, differential semi-gradient Sarsa, {steps:,} steps\n"
                 f"learned R̄ = {r_bar:.2f} (optimal average reward r* = {r_star:.2f})", fontsize=11)
    fig.tight_layout()
    print(f"R_bar = {r_bar:.3f}, optimal r* = {r_star:.3f}")
    for i in range(n_prio - 1, -1, -1):
        print(f"priority {env.priorities[i]:g}: accept with free servers "
              f"{[k for k in range(1, env.servers + 1) if accept[i, k]]} (optimal: "
              f"{[k for k in range(1, env.servers + 1) if optimal_accept[i, k]]})")
    save_figure(fig, args.out / "figure_10_5.png", {
        "seed": args.seed, "steps": steps, "r_bar": r_bar, "optimal_average_reward": r_star,
        "priorities": env.priorities, "accept[priority, free_servers]": accept,
        "optimal_accept[priority, free_servers]": optimal_accept, "unvisited[priority, free_servers]": tie,
        "best_value[priority, free_servers]": best})


if __name__ == "__main__":
    main_guard(main)()
