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


class RandomWalk19(TabularEnv):
    """States 0 (left end), 1..19, 20 (right end). One action: the walk is a Markov reward process."""
    n_inner = 19

    def __init__(self):
        n = self.n_inner + 2
        P, R = np.zeros((n, 1, n)), np.zeros((n, 1, n))
        for s in range(1, n - 1):
            P[s, 0, [s - 1, s + 1]] = 0.5
        R[1, 0, 0], R[n - 2, 0, n - 1] = -1.0, 1.0
        terminal = np.zeros(n, bool)
        terminal[[0, n - 1]] = True
        start = np.zeros(n)
        start[n // 2] = 1.0
        super().__init__(P, R, start, terminal)
        # gamma = 1: v(s) = P(right exit) - P(left exit) = 2 s / (n - 1) - 1, i.e. -0.9, -0.8, ..., 0.9
        self.true_values = np.where(self.terminal, 0.0, 2.0 * np.arange(n) / (n - 1) - 1.0)


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
