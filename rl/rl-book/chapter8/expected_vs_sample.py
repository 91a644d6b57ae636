"""Figure 8.7: expected vs sample updates: RMS error of the value estimate vs number of max computations.

    python rl/rl-book/chapter8/expected_vs_sample.py [--instances 100]

One state-action pair with b equally likely successors whose values max_a' Q(s', a') are N(0, 1) and exact;
the estimate starts off by 1. An expected update computes all b maxes and leaves no error. Sample updates
compute one max each, with alpha = 1/t (each successor value enters an average), so after t of them the
error is sqrt((b - 1) / (b t)) on average (the book's formula, drawn dashed). RMS over --instances instances.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from planning import sample_update_errors  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402

BRANCHING = (2, 10, 100, 1000, 10_000)


def compute(instances, rng):
    return {b: sample_update_errors(b, instances, rng)[1] for b in BRANCHING}


def main():
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--instances", type=positive_int, default=100)
    args = parser.parse_args()
    instances = 20 if args.quick else args.instances
    errors = compute(instances, np.random.default_rng(args.seed))
    fig, ax = plt.subplots(figsize=(6.2, 4.3))
    for i, (b, err) in enumerate(errors.items()):
        t = np.arange(len(err))
        ax.plot(t / b, err, color=f"C{i}", label=f"b = {b:,}")
        ax.plot(t[1:] / b, np.sqrt((b - 1) / (b * t[1:])), ":", color=f"C{i}", lw=1)
        print(f"b = {b:6,}: RMS error after b/10 sample updates {err[max(b // 10, 1)]:.3f}, "
              f"after b {err[b]:.3f}, after 2b {err[-1]:.3f} (formula at b: {np.sqrt((b - 1) / b**2):.3f})")
    ax.plot([0, 1, 1, 2], [1, 1, 0, 0], color="k", lw=2, label="expected update (any b)")
    ax.set_xlim(0, 2)
    ax.set_ylim(0, 1.05)
    ax.set_xticks([0, 1, 2], ["0", "1b", "2b"])
    ax.set_xlabel("Number of max_a' Q(s', a') computations")
    ax.set_ylabel("RMS error in value estimate")
    ax.set_title(f"Figure 8.7: sample updates (solid; dotted: sqrt((b-1)/(bt))) vs expected,\n"
                 f"RMS over {instances} instances per branching factor b", fontsize=10)
    ax.legend(title="sample updates", fontsize=8)
    save_figure(fig, args.out / "figure_8_7.png",
                {"seed": args.seed, "instances": instances,
                 # every b/100-th point of each curve: t = 0, b/100, ..., 2b sample updates
                 "rms_error_at_t_over_b": {"t_over_b": np.linspace(0, 2, 201),
                                           **{str(b): e[np.round(np.linspace(0, 2 * b, 201)).astype(int)]
                                              for b, e in errors.items()}}})


if __name__ == "__main__":
    main_guard(main)()
