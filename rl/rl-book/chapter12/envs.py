"""Chapter 12's environments.

RandomWalk19   the 19-state random walk of Figure 7.2, which Figures 12.3, 12.6 and 12.8 reuse. States 0 and 20
               are the terminals, 1..19 the walk, start in the middle (10); each step goes left or right with
               probability 1/2; leaving on the left pays -1, on the right +1, every other step 0. With gamma = 1
               the true values are v(i) = i/10 - 1, from -0.9 to +0.9.
puddle world   Figure 12.14's puddle world (Sutton 1996): `step` and `sample_start` on arrays of states [n, 2],
               and `PuddleWorldEnv`, the gymnasium Env of one run built on them.
"""
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium import spaces

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.tabular import TabularEnv  # noqa: E402
from common.random_walks import RandomWalk19  # noqa: E402,F401  (shared with chapter 7)


# ----------------------------------------------------------------------------- puddle world (Sutton 1996)
# The unit square; actions move 0.05 up, down, right or left, plus N(0, 0.01^2) noise in each coordinate, clipped
# to the square. Every step costs 1, plus 400 x (0.1 - distance to a puddle's axis) inside each puddle (two
# capsules of radius 0.1 around these segments). The episode ends in the corner x + y >= 1.9; starts are uniform
# over the square outside it.
PUDDLES = np.array([[[0.10, 0.75], [0.45, 0.75]], [[0.45, 0.40], [0.45, 0.80]]])
PUDDLE_RADIUS, MOVE, NOISE, GOAL_SUM = 0.1, 0.05, 0.01, 1.9
MOVES = np.array([[0.0, MOVE], [0.0, -MOVE], [MOVE, 0.0], [-MOVE, 0.0]])  # up, down, right, left


def distance_to_segments(xy, segments=PUDDLES):
    """Distance of each point [n, 2] to each segment [k, 2, 2] -> [n, k]."""
    a, b = segments[:, 0], segments[:, 1]
    ab = b - a
    t = np.clip(((xy[:, None] - a) * ab).sum(-1) / (ab * ab).sum(-1), 0.0, 1.0)
    return np.linalg.norm(xy[:, None] - (a + t[..., None] * ab), axis=-1)


def puddle_penalty(xy):
    return (400 * np.maximum(PUDDLE_RADIUS - distance_to_segments(xy), 0.0)).sum(-1)


def step(xy, action, rng):
    """One step for each run: states [n, 2], actions [n] -> next states, rewards, done."""
    xy = np.clip(xy + MOVES[action] + rng.normal(0.0, NOISE, xy.shape), 0.0, 1.0)
    return xy, -1.0 - puddle_penalty(xy), xy.sum(-1) >= GOAL_SUM


def sample_start(n, rng):
    xy = rng.random((n, 2))
    while (bad := xy.sum(-1) >= GOAL_SUM).any():
        xy[bad] = rng.random((bad.sum(), 2))
    return xy


class PuddleWorldEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self):
        self.observation_space = spaces.Box(0.0, 1.0, (2,), dtype=np.float64)
        self.action_space = spaces.Discrete(len(MOVES))
        self.state = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = sample_start(1, self.np_random)[0]
        return self.state.copy(), {}

    def step(self, action):
        xy, reward, done = step(self.state[None], np.array([int(action)]), self.np_random)
        self.state = xy[0]
        return self.state.copy(), float(reward[0]), bool(done[0]), False, {}
