"""Example 13.1: the short corridor with switched actions. J(p) = v(s0) for the policy that goes right with
probability p in every state (the agent cannot tell the states apart), computed exactly from the model.

    python rl/rl-book/chapter13/short_corridor.py

Book: the optimum is about -11.6 at p(right) about 0.59; epsilon-greedy (epsilon = 0.1) can only choose
p = 0.05 (greedy left, about -82) or p = 0.95 (greedy right, about -44).
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import LEFT, RIGHT, ShortCorridor  # noqa: E402
from policy_gradient import state_values  # noqa: E402
from shared.cli import main_guard  # noqa: E402

EPSILON = 0.1
BOOK = {"optimum": -11.6, "p_optimum": 0.59, "eps_greedy_left": -82, "eps_greedy_right": -44}


def start_value(p_right):
    """J = v_pi(s0) for each probability of right in the array p_right (exact)."""
    p_right = np.asarray(p_right, dtype=np.float64)
    pi = np.zeros(p_right.shape + (4, 2))
    pi[..., LEFT], pi[..., RIGHT] = (1 - p_right)[..., None], p_right[..., None]
    return state_values(ShortCorridor(), pi)[..., 0]


def initial_theta(p_right):
    """theta with x(right) = [1, 0], x(left) = [0, 1] and pi(right) = p_right (symmetric preferences)."""
    half = np.log(p_right / (1 - p_right)) / 2
    return np.array([half, -half])


def compute():
    p = np.linspace(0.01, 0.99, 9801)
    J = start_value(p)
    return {"p": p, "J": J, "p_optimum": p[J.argmax()], "optimum": J.max(),
            "eps_greedy_left": start_value(EPSILON / 2), "eps_greedy_right": start_value(1 - EPSILON / 2)}


def main():
    parser = figure_parser(__doc__, HERE)
    parser.allow_abbrev = False
    args = parser.parse_args()
    res = compute()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(res["p"], res["J"], color="k")
    ax.plot(res["p_optimum"], res["optimum"], "o", color="tab:green",
            label=f"optimal stochastic policy: {res['optimum']:.2f} at p = {res['p_optimum']:.3f}")
    ax.plot(EPSILON / 2, res["eps_greedy_left"], "s", color="tab:red",
            label=f"ε-greedy left (p = 0.05): {res['eps_greedy_left']:.1f}")
    ax.plot(1 - EPSILON / 2, res["eps_greedy_right"], "s", color="tab:blue",
            label=f"ε-greedy right (p = 0.95): {res['eps_greedy_right']:.1f}")
    ax.set_ylim(-100, 0)
    ax.set_xlabel("probability of right action")
    ax.set_ylabel("J(θ) = v_π(S)")
    ax.set_title("Example 13.1: short corridor with switched actions")
    ax.legend(loc="lower center")
    save_figure(fig, args.out / "example_13_1.png",
                {k: v for k, v in res.items() if k not in ("p", "J")} | {"book": BOOK})
    print({k: round(float(v), 4) for k, v in res.items() if k not in ("p", "J")})


if __name__ == "__main__":
    main_guard(main)()
