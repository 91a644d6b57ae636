"""Chapter 13's environment: the short corridor with switched actions (Example 13.1), a TabularEnv
(a gymnasium Env with its model).

States 0 (start), 1, 2 and 3 (terminal, the goal); actions 0 = left, 1 = right; -1 per step. In states 0 and
2 the actions move as labelled (left in 0 stays in 0); in state 1 they are switched. The agent cannot tell
the states apart: its policy sees the same features in every state (`POLICY_FEATURES`), so the best it can
do is a stochastic policy.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.tabular import TabularEnv  # noqa: E402

LEFT, RIGHT = 0, 1


class ShortCorridor(TabularEnv):
    n_states, goal = 4, 3
    # where (left, right) lead from each non-terminal state
    moves = {0: (0, 1), 1: (2, 0), 2: (1, 3)}

    def __init__(self):
        P, R = np.zeros((4, 2, 4)), np.full((4, 2, 4), -1.0)
        for s, targets in self.moves.items():
            for a, s2 in enumerate(targets):
                P[s, a, s2] = 1.0
        super().__init__(P, R, start=[1, 0, 0, 0], terminal=[False, False, False, True])


# x(s, right) = [1, 0], x(s, left) = [0, 1] in every state (the book's features)
POLICY_FEATURES = np.tile(np.array([[0.0, 1.0], [1.0, 0.0]]), (4, 1, 1))
