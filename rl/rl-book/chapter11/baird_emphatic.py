"""Figure 11.6: one-step emphatic TD in expectation on Baird's counterexample (alpha = 0.03, interest 1 in
every state): the weights and sqrt(VE), sqrt(PBE) over 1,000 sweeps.

    python rl/rl-book/chapter11/baird_emphatic.py [--sweeps 1000]
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from baird_divergence import baird, plot_weights  # noqa: E402
from baird_tdc import plot_errors  # noqa: E402
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import W0  # noqa: E402
from off_policy import expected_emphatic_td, projected_bellman_error, value_error  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402

ALPHA = 0.03


def compute(sweeps):
    problem = baird()
    history = expected_emphatic_td(problem, W0, ALPHA, sweeps)
    return {"weights": history, "sqrt_ve": np.sqrt(value_error(problem, history)),
            "sqrt_pbe": np.sqrt(projected_bellman_error(problem, history))}


def main():
    parser = figure_parser(__doc__, HERE)
    parser.allow_abbrev = False
    parser.add_argument("--sweeps", type=positive_int, default=1000)
    args = parser.parse_args()
    res = compute(args.sweeps)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    plot_errors(ax, res)
    plot_weights(ax, res["weights"], "Sweeps", f"Figure 11.6: expected emphatic TD on Baird's counterexample, α = {ALPHA}")
    final = {"weights": res["weights"][-1], "sqrt_ve": res["sqrt_ve"][-1], "sqrt_pbe": res["sqrt_pbe"][-1],
             "max_abs_weight": np.abs(res["weights"]).max()}
    save_figure(fig, args.out / "figure_11_6.png", {"alpha": ALPHA, "final": final, "curves": res})
    print({k: np.round(v, 3).tolist() for k, v in final.items()})


if __name__ == "__main__":
    main_guard(main)()
