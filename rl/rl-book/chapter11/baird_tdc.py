"""Figure 11.5: TDC (one run, 1,000 steps) and expected TDC (1,000 sweeps) on Baird's counterexample,
alpha = 0.005, beta = 0.05: the weights, sqrt(VE) and sqrt(PBE).

    python rl/rl-book/chapter11/baird_tdc.py [--steps 1000]
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from baird_divergence import baird, plot_weights  # noqa: E402
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from envs import W0  # noqa: E402
from off_policy import expected_tdc, projected_bellman_error, tdc, value_error  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402

ALPHA, BETA = 0.005, 0.05


def compute(steps, rng):
    problem = baird()
    out = {}
    for name, history in (("tdc", tdc(problem, W0, ALPHA, BETA, steps, 1, rng)[0]),
                          ("expected_tdc", expected_tdc(problem, W0, ALPHA, BETA, steps))):
        out[name] = {"weights": history, "sqrt_ve": np.sqrt(value_error(problem, history)),
                     "sqrt_pbe": np.sqrt(projected_bellman_error(problem, history))}
    return out


def plot_errors(ax, res):
    ax.plot(res["sqrt_ve"], "k-", lw=1.6, label="√VE")
    ax.plot(res["sqrt_pbe"], "k--", lw=1.6, label="√PBE")


def main():
    parser = figure_parser(__doc__, HERE)
    parser.allow_abbrev = False
    parser.add_argument("--steps", type=positive_int, default=1000)
    args = parser.parse_args()
    res = compute(args.steps, np.random.default_rng(args.seed))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, name, xlabel, title in ((axes[0], "tdc", "Steps", "TDC"), (axes[1], "expected_tdc", "Sweeps", "Expected TDC")):
        plot_errors(ax, res[name])
        plot_weights(ax, res[name]["weights"], xlabel, title)
    fig.suptitle(f"Figure 11.5: TDC on Baird's counterexample, α = {ALPHA}, β = {BETA}")
    final = {k: {"weights": r["weights"][-1], "sqrt_ve": r["sqrt_ve"][-1], "sqrt_pbe": r["sqrt_pbe"][-1]}
             for k, r in res.items()}
    save_figure(fig, args.out / "figure_11_5.png", {"seed": args.seed, "alpha": ALPHA, "beta": BETA, "final": final,
                                                     "curves": res})
    print({k: {m: np.round(v, 3).tolist() for m, v in f.items()} for k, f in final.items()})


if __name__ == "__main__":
    main_guard(main)()
