"""Figure 4.1: iterative policy evaluation of the equiprobable random policy on the 4x4 gridworld.

    python rl/rl-book/chapter4/small_gridworld.py

Left column: v_k for k = 0, 1, 2, 3, 10 and infinity (synchronous "two-array" sweeps, as in the figure);
right column: the greedy policy with respect to v_k (every maximizing action drawn).
Also compares two-array with in-place evaluation: sweeps needed until no value changes by more than theta
(figure_4_1_in_place.png).
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import draw_policy, draw_values, plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from dp import evaluate_policy, greedy, q_values  # noqa: E402
from envs import GridWorld41  # noqa: E402
from shared.cli import main_guard  # noqa: E402

KS = [0, 1, 2, 3, 10]


def compute(theta=1e-4):
    env = GridWorld41()
    pi = np.full((env.n_states, env.n_actions), 0.25)
    history = [np.zeros(env.n_states)]
    v_inf, sweeps = evaluate_policy(env.P, env.r, pi, 1.0, theta=1e-12, history=history)
    values = {k: history[k] for k in KS} | {"inf": v_inf}
    policies = {k: greedy(q_values(env.P, env.r, v, 1.0), atol=1e-9) for k, v in values.items()}
    # In-place vs two-array at the book's theta; errors against v_pi per sweep for the comparison plot.
    errors = {}
    counts = {}
    for in_place in (False, True):
        h = []
        _, counts[in_place] = evaluate_policy(env.P, env.r, pi, 1.0, theta=theta, in_place=in_place, history=h)
        errors[in_place] = [float(np.max(np.abs(v - v_inf))) for v in h]
    return env, values, policies, counts, errors


def main():
    args = figure_parser(__doc__, HERE).parse_args()
    env, values, policies, counts, errors = compute()
    print("v_inf:\n" + np.array2string(values["inf"].reshape(env.shape), precision=1))
    print(f"sweeps to theta=1e-4: two-array {counts[False]}, in-place {counts[True]}")

    shade = env.terminal.reshape(env.shape)
    fig, axes = plt.subplots(len(values), 2, figsize=(5.2, 2.6 * len(values)))
    for row, (k, v) in enumerate(values.items()):
        draw_values(axes[row, 0], v.reshape(env.shape), f"$v_k$, k = {'∞' if k == 'inf' else k}", shade=shade, fontsize=9)
        draw_policy(axes[row, 1], policies[k].reshape(*env.shape, 4), "greedy policy w.r.t. $v_k$", shade=shade)
    fig.suptitle("Figure 4.1: random-policy evaluation, 4x4 gridworld")
    fig.tight_layout()
    save_figure(fig, args.out / "figure_4_1.png",
                {"v_k": {str(k): v.reshape(env.shape) for k, v in values.items()},
                 "greedy_up_right_down_left": {str(k): p.reshape(*env.shape, 4).astype(int) for k, p in policies.items()}})

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for in_place, label in ((False, "two-array (synchronous)"), (True, "in-place")):
        ax.semilogy(np.arange(1, len(errors[in_place]) + 1), errors[in_place], label=f"{label}: {counts[in_place]} sweeps")
    ax.set_xlabel("sweep k")
    ax.set_ylabel("max |v_k - v_π|")
    ax.set_title("Policy evaluation, 4x4 gridworld: in-place converges faster")
    ax.legend()
    save_figure(fig, args.out / "figure_4_1_in_place.png",
                {"theta": 1e-4, "sweeps_two_array": counts[False], "sweeps_in_place": counts[True],
                 "max_error_two_array": errors[False], "max_error_in_place": errors[True]})


if __name__ == "__main__":
    main_guard(main)()
