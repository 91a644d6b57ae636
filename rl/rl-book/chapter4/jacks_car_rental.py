"""Figure 4.2: policy iteration on Jack's car rental, with Poisson requests AND Poisson returns.

    python rl/rl-book/chapter4/jacks_car_rental.py

The model P is exact (441 states x 11 moves x 441 next states, built from two 21x21 per-location
transition matrices); each evaluation sweep is one matrix-vector product, so the whole policy
iteration runs in well under a second after the ~2 s model build.
"""
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.plots import plt, save_figure  # noqa: E402
from common.script import figure_parser  # noqa: E402
from dp import policy_iteration  # noqa: E402
from envs import JacksCarRental  # noqa: E402
from shared.cli import main_guard  # noqa: E402

GAMMA = 0.9


TRUNCATION = 11  # where the widely used reimplementations cut the Poisson distributions off


def compute(theta=1e-6, poisson_bound=None):
    """Policies pi_0 .. pi_k and v_pi_k of policy iteration. poisson_bound=11 is the truncated variant that explains
    most of the gap between our exact v (421-637) and the surface the book draws (about 420-612)."""
    env = JacksCarRental()
    P, r = (env.P, env.r) if poisson_bound is None else env.model(poisson_bound)
    zero = np.full(env.n_states, env.max_move)                    # action index of "move 0 cars"
    policies, values = policy_iteration(P, r, GAMMA, zero, env.allowed, theta=theta)
    n = env.max_cars + 1
    # [cars at 1st, cars at 2nd] -> cars moved from 1st to 2nd
    return [p.reshape(n, n) - env.max_move for p in policies], values[-1].reshape(n, n)


def main():
    args = figure_parser(__doc__, HERE).parse_args()
    t0 = time.perf_counter()
    policies, v = compute()
    seconds = time.perf_counter() - t0
    print(f"policy iteration: {len(policies) - 1} improvements, pi_{len(policies) - 1} stable; {seconds:.1f} s")
    print(f"v_pi{len(policies) - 1}: min {v.min():.1f}, max {v.max():.1f}")
    _, v_cut = compute(poisson_bound=TRUNCATION)
    print(f"variant, requests and returns >= {TRUNCATION} dropped: v from {v_cut.min():.1f} to {v_cut.max():.1f}")

    fig = plt.figure(figsize=(13, 8.5))
    fig.subplots_adjust(hspace=0.35)
    cmap = plt.get_cmap("RdBu_r", 11)
    policy_axes = []
    for i, p in enumerate(policies):
        ax = fig.add_subplot(2, 3, i + 1)
        im = ax.imshow(p, origin="lower", cmap=cmap, vmin=-5.5, vmax=5.5)
        ax.contour(p, levels=np.arange(-5.5, 6), colors="k", linewidths=0.5)
        ax.set_title(f"$\\pi_{i}$")
        ax.set_xlabel("#cars at second location")
        ax.set_ylabel("#cars at first location")
        ax.grid(False)
        policy_axes.append(ax)
    ax = fig.add_subplot(2, 3, 6, projection="3d", computed_zorder=False)
    n2, n1 = np.meshgrid(np.arange(v.shape[1]), np.arange(v.shape[0]))
    ax.plot_surface(n2, n1, v, cmap="viridis")
    ax.set_xlabel("#cars at second")
    ax.set_ylabel("#cars at first")
    ax.set_title(f"$v_{{\\pi_{len(policies) - 1}}}$: {v.min():.0f} to {v.max():.0f}\n"
                 f"(Poissons cut at {TRUNCATION}: {v_cut.min():.0f} to {v_cut.max():.0f}; book: ~420 to ~612)", fontsize=9)
    fig.colorbar(im, ax=fig.axes, ticks=range(-5, 6), orientation="horizontal", fraction=0.025, pad=0.08,
                 label="cars moved overnight, first -> second")
    fig.suptitle("Figure 4.2: policy iteration on Jack's car rental (Poisson requests and returns)")
    save_figure(fig, args.out / "figure_4_2.png",
                {"policies_rows_cars_at_first_cols_cars_at_second": policies, "v_final": v.round(2),
                 "improvements": len(policies) - 1, "v_range": [v.min(), v.max()],
                 f"v_range_poisson_cut_at_{TRUNCATION}": [v_cut.min(), v_cut.max()]})


if __name__ == "__main__":
    main_guard(main)()
