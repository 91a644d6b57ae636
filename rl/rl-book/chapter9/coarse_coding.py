"""Figure 9.8 (Example 9.3): feature width's effect on generalization, coarse coding of a square wave.

    python rl/rl-book/chapter9/coarse_coding.py

Linear learning of a square wave on [0, 2) (1 on [0.5, 1.5), else 0) from uniformly drawn examples, with 50
interval features of width 0.2 (narrow), 0.4 (medium) or 1.0 (broad), alpha = 0.2 / (features present at
once). The learned function after 10, 40, 160, 640, 2560 and 10240 examples: broad features generalize
widely at first, but all three end up with nearly the same function, its fine detail set by the density of
features, not their width.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from shared.cli import main_guard  # noqa: E402
import approx  # noqa: E402

WIDTHS = {"narrow": 0.2, "medium": 0.4, "broad": 1.0}
EXAMPLES = (10, 40, 160, 640, 2560, 10240)
GRID = np.linspace(0.0, 2.0, 401, endpoint=False)


def compute(rng, examples=EXAMPLES):
    learned = approx.coarse_coding(list(WIDTHS.values()), examples[-1], examples, rng, GRID)
    errors = np.abs(learned - approx.square_wave(GRID)).mean(-1)         # [width, snapshot]
    return learned, errors


def main():
    parser = figure_parser(__doc__, HERE)
    args = parser.parse_args()
    examples = EXAMPLES[:4] if args.quick else EXAMPLES
    learned, errors = compute(np.random.default_rng(args.seed), examples)
    fig, axes = plt.subplots(len(examples), len(WIDTHS), figsize=(9, 1.4 * len(examples) + 1), sharex=True,
                             sharey=True)
    target = approx.square_wave(GRID)
    for j, (name, width) in enumerate(WIDTHS.items()):
        axes[0, j].set_title(f"{name} features (width {width})")
        for i, n in enumerate(examples):
            ax = axes[i, j]
            ax.plot(GRID, target, color="0.6", lw=1)
            ax.plot(GRID, learned[j, i], "b", lw=1.2)
            ax.set_ylim(-0.3, 1.4)
            ax.set_yticks([0, 1])
            if j == 0:
                ax.set_ylabel(f"{n:,}", rotation=0, labelpad=22)
        axes[-1, j].plot([0.9 - width / 2, 0.9 + width / 2], [-0.15, -0.15], "k", lw=3, solid_capstyle="butt")
    fig.text(0.01, 0.5, "# examples", rotation=90, va="center")
    fig.suptitle("Figure 9.8: feature width vs generalization (grey: desired function, blue: approximation;\n"
                 "bar at the bottom: one feature's interval)", y=1.0)
    save_figure(fig, args.out / "figure_9_8.png",
                {"seed": args.seed, "widths": WIDTHS, "examples": examples, "x": GRID, "learned": learned,
                 "mean_abs_error": {name: errors[j] for j, name in enumerate(WIDTHS)}})
    print("mean |error| after", examples, {name: np.round(errors[j], 3) for j, name in enumerate(WIDTHS)})


if __name__ == "__main__":
    main_guard(main)()
