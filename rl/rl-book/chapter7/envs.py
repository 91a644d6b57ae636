"""Chapter 7's environments, both TabularEnvs (gymnasium Envs with their model).

RandomWalk19   Example 7.1: 19 states between two terminals, start in the middle, -1 on the left exit,
               +1 on the right exit (the 5-state walk of Example 6.2 made longer, so that n matters).
OpenGrid       Figure 7.4: an open gridworld, 0 reward on every step, +1 on entering the goal G.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.tabular import MOVES, TabularEnv, clip_move, grid_model  # noqa: E402
from common.random_walks import RandomWalk19  # noqa: E402,F401  (shared with chapter 12)


class OpenGrid(TabularEnv):
    """Figure 7.4's gridworld: no walls, actions up/right/down/left, +1 for reaching G, 0 otherwise."""
    shape, start_cell, goal_cell = (5, 7), (4, 1), (1, 5)

    def __init__(self):
        def transition(cell, a):
            cell2 = clip_move(cell, MOVES[a], self.shape)[0]
            return cell2, float(cell2 == self.goal_cell)

        P, R = grid_model(self.shape, transition)
        n = P.shape[0]
        start, terminal = np.zeros(n), np.zeros(n, bool)
        start[np.ravel_multi_index(self.start_cell, self.shape)] = 1.0
        terminal[np.ravel_multi_index(self.goal_cell, self.shape)] = True
        super().__init__(P, R, start, terminal)
