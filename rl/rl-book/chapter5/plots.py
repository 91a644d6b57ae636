"""Blackjack plots as the book draws them: value surfaces over (dealer showing, player sum) and policy maps."""
import numpy as np

SUMS, DEALER = np.arange(12, 22), np.arange(1, 11)


def value_surface(ax, V, title):
    """V[player sum 12..21, dealer card 1..10] as a 3D surface, like Figures 5.1 and 5.2."""
    d, s = np.meshgrid(DEALER, SUMS)
    ax.plot_surface(d, s, V, cmap="viridis", vmin=-1, vmax=1, linewidth=0.2, edgecolor="k")
    ax.set_zlim(-1, 1)
    ax.set_xlabel("Dealer showing")
    ax.set_ylabel("Player sum")
    ax.set_xticks([1, 10], ["A", "10"])
    ax.set_yticks([12, 21])
    ax.set_zticks([-1, 1])
    ax.set_title(title)
    ax.view_init(elev=30, azim=-120)


def policy_map(ax, hit, title):
    """hit[player sum 11..21, dealer card 1..10]: HIT (dark) / STICK (light) regions, like Figure 5.2."""
    ax.imshow(hit, origin="lower", cmap="Greys", vmin=-0.5, vmax=1.8, extent=(0.5, 10.5, 10.5, 21.5), aspect="auto")
    ax.set_xticks(DEALER, ["A"] + [str(i) for i in range(2, 11)])
    ax.set_yticks(np.arange(11, 22))
    ax.set_xlabel("Dealer showing")
    ax.set_ylabel("Player sum")
    ax.grid(False)
    ax.text(5.5, 19.5, "STICK", ha="center", fontsize=12)
    ax.text(8.5, 12.5, "HIT", ha="center", fontsize=12, color="w")
    ax.set_title(title)
