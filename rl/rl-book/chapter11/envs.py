"""Chapter 11's environment: Baird's counterexample (Example 11.1), a TabularEnv (a gymnasium Env with its model).

Seven states; action 0 = dashed (to one of the six upper states, uniformly), action 1 = solid (to the seventh,
lower state); reward 0 always, no end (a continuing task, gamma = 0.99). The behaviour policy takes dashed with
probability 6/7, so its next state is uniform over all seven; the target policy always takes solid.
Linear features (8 weights): v(upper i) = 2 w_i + w_8, v(lower) = w_7 + 2 w_8.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.tabular import TabularEnv  # noqa: E402

DASHED, SOLID = 0, 1
LOWER = 6
GAMMA = 0.99
FEATURES = np.zeros((7, 8))
FEATURES[np.arange(6), np.arange(6)] = 2.0
FEATURES[:6, 7] = 1.0
FEATURES[LOWER, 6], FEATURES[LOWER, 7] = 1.0, 2.0
BEHAVIOUR = np.tile([6 / 7, 1 / 7], (7, 1))  # b(a | s)
TARGET = np.tile([0.0, 1.0], (7, 1))  # pi(a | s)
W0 = np.array([1.0, 1, 1, 1, 1, 1, 10, 1])  # the book's initial weights


class BairdCounterexample(TabularEnv):
    def __init__(self):
        P = np.zeros((7, 2, 7))
        P[:, DASHED, :6] = 1 / 6
        P[:, SOLID, LOWER] = 1.0
        super().__init__(P, np.zeros_like(P), start=np.full(7, 1 / 7), terminal=np.zeros(7, bool))
