"""Figure helpers shared by the chapters: numbers in grid cells and policy arrows, as the book draws them."""
import numpy as np
from shared.plotting import plt, save_figure  # noqa: F401  (sets the repo style)

from common.tabular import MOVES


def grid_axes(ax, shape, title=None):
    ax.set_xlim(0, shape[1])
    ax.set_ylim(shape[0], 0)
    ax.set_xticks(range(shape[1] + 1))
    ax.set_yticks(range(shape[0] + 1))
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.tick_params(length=0)
    ax.grid(True, color="k", alpha=1.0, linewidth=0.8)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)


def draw_values(ax, values, title=None, fmt="{:.1f}", shade=None, fontsize=11):
    """Write values[row, col] in the cells, like the book's Figures 3.2, 3.5 and 4.1."""
    values = np.asarray(values)
    grid_axes(ax, values.shape, title)
    for (r, c), v in np.ndenumerate(values):
        if shade is not None and shade[r, c]:
            ax.add_patch(plt.Rectangle((c, r), 1, 1, color="0.85"))
        ax.text(c + 0.5, r + 0.5, fmt.format(v + 0.0), ha="center", va="center", fontsize=fontsize)


def draw_policy(ax, best, title=None, shade=None):
    """best[row, col, a] True for each greedy action: arrows from the cell centre, ties all drawn."""
    best = np.asarray(best)
    grid_axes(ax, best.shape[:2], title)
    for r in range(best.shape[0]):
        for c in range(best.shape[1]):
            if shade is not None and shade[r, c]:
                ax.add_patch(plt.Rectangle((c, r), 1, 1, color="0.85"))
                continue
            for a in np.nonzero(best[r, c])[0]:
                dr, dc = MOVES[a] * 0.42
                ax.annotate("", xy=(c + 0.5 + dc, r + 0.5 + dr), xytext=(c + 0.5, r + 0.5),
                            arrowprops=dict(arrowstyle="-|>", lw=1.0, color="k", mutation_scale=9))


def steps_per_episode_axes(ax, runs):
    """The book's mountain-car learning-curve axes (Figures 10.2, 10.3): steps per episode on a log scale."""
    ax.set_yscale("log")
    ax.set_yticks([100, 200, 400, 1000, 2000, 4000])
    ax.set_yticklabels(["100", "200", "400", "1000", "2000", "4000"])
    ax.set_ylim(90, 4000)
    ax.set_xlabel("Episode")
    ax.set_ylabel(f"Steps per episode (log scale)\naveraged over {runs} runs")
