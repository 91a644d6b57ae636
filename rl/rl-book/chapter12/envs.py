"""Chapter 12's environment: the 19-state random walk of Figure 7.2, which Figures 12.3, 12.6 and 12.8 reuse.

States 0 and 20 are the terminals, 1..19 the walk, start in the middle (10); each step goes left or right with
probability 1/2; leaving on the left pays -1, on the right +1, every other step 0. With gamma = 1 the true values
are v(i) = i/10 - 1, from -0.9 to +0.9.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.tabular import TabularEnv  # noqa: E402


class RandomWalk19(TabularEnv):
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
        self.true_values = np.where(terminal, 0.0, np.arange(n) / (n // 2) - 1.0)
