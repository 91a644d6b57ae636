"""Example 3.5: the 5x5 gridworld with the special states A (-> A', +10) and B (-> B', +5)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.tabular import MOVES, TabularEnv, clip_move, grid_model  # noqa: E402


class GridWorld35(TabularEnv):
    """Every action from A jumps to A' with reward +10, from B to B' with +5; bumping a wall costs -1.

    A continuing task (no terminal state); the start distribution is uniform so that the Env can run.
    """
    shape = (5, 5)
    A, A_PRIME, B, B_PRIME = (0, 1), (4, 1), (0, 3), (2, 3)

    def __init__(self):
        def transition(cell, a):
            if cell == self.A:
                return self.A_PRIME, 10.0
            if cell == self.B:
                return self.B_PRIME, 5.0
            cell2, bumped = clip_move(cell, MOVES[a], self.shape)
            return cell2, -1.0 if bumped else 0.0

        P, R = grid_model(self.shape, transition)
        n = P.shape[0]
        super().__init__(P, R, start=[1 / n] * n, terminal=[False] * n)
