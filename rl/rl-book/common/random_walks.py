"""The 19-state random walk (Example 7.1), shared by chapters 7 and 12 (Figures 7.2, 12.3, 12.6, 12.8)."""
import numpy as np

from common.tabular import TabularEnv


class RandomWalk19(TabularEnv):
    """States 0 (left end), 1..19, 20 (right end); start in the middle (10); each step goes left or right with
    probability 1/2; leaving on the left pays -1, on the right +1, every other step 0. One action: the walk is a
    Markov reward process. With gamma = 1, v(s) = P(right exit) - P(left exit) = s / 10 - 1: -0.9, ..., 0.9."""
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
        self.true_values = np.where(self.terminal, 0.0, 2.0 * np.arange(n) / (n - 1) - 1.0)
