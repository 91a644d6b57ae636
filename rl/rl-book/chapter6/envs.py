"""Chapter 6's environments, all TabularEnvs (gymnasium Envs with an explicit model).

RandomWalk           Example 6.2: states A-E between two terminals, start C, +1 on the right exit.
WindyGridworld       Example 6.5: 7x10, upward wind per column, -1 per step until the goal.
make_cliff_walking   Example 6.6: gymnasium's CliffWalking-v1 (the book's rules; tests check them), as a model.
MaximizationBias     Example 6.7: A -> right ends (0); A -> left -> B, whose many actions end with N(-0.1, 1).
"""
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.tabular import MOVES, TabularEnv, clip_move, grid_model  # noqa: E402


class RandomWalk(TabularEnv):
    """States 0 (left end), 1..5 = A..E, 6 (right end). One action: the walk is a Markov reward process."""
    n_inner = 5

    def __init__(self):
        n = self.n_inner + 2
        P, R = np.zeros((n, 1, n)), np.zeros((n, 1, n))
        for s in range(1, n - 1):
            P[s, 0, [s - 1, s + 1]] = 0.5
        R[n - 2, 0, n - 1] = 1.0
        terminal = np.zeros(n, bool)
        terminal[[0, n - 1]] = True
        start = np.zeros(n)
        start[n // 2] = 1.0
        super().__init__(P, R, start, terminal)
        self.true_values = np.arange(n) / (n - 1.0)
        self.true_values[-1] = 0.0


class WindyGridworld(TabularEnv):
    shape, start_cell, goal_cell = (7, 10), (3, 0), (3, 7)
    wind = np.array([0, 0, 0, 1, 1, 1, 2, 2, 1, 0])

    def __init__(self):
        def transition(cell, a):
            # the wind of the column the agent leaves pushes it up; the grid's edges stop both
            blown = (max(cell[0] - self.wind[cell[1]], 0), cell[1])
            return clip_move(blown, MOVES[a], self.shape)[0], -1.0

        P, R = grid_model(self.shape, transition)
        n = P.shape[0]
        start, terminal = np.zeros(n), np.zeros(n, bool)
        start[np.ravel_multi_index(self.start_cell, self.shape)] = 1.0
        terminal[np.ravel_multi_index(self.goal_cell, self.shape)] = True
        super().__init__(P, R, start, terminal)


def make_cliff_walking():
    """gymnasium's CliffWalking-v1 as a TabularEnv: same transitions, vectorized over runs."""
    env = TabularEnv.from_toy_text(gym.make("CliffWalking-v1"))
    env.shape = (4, 12)
    return env


class MaximizationBias(TabularEnv):
    """States 0 = A, 1 = B, 2 = terminal. In A: action 0 = left (to B), 1 = right (end); in B: n_b actions."""
    A, B, END, LEFT, RIGHT = 0, 1, 2, 0, 1

    def __init__(self, n_b=10, mean=-0.1, std=1.0):
        self.mean, self.std = mean, std
        P, R = np.zeros((3, n_b, 3)), np.zeros((3, n_b, 3))
        P[self.A, :, self.END] = 1.0
        P[self.A, self.LEFT] = [0, 1, 0]
        P[self.B, :, self.END] = 1.0
        R[self.B, :, self.END] = mean  # mean reward, for planning (and in r, computed from R); sample() adds the noise
        allowed = np.ones((3, n_b), bool)
        allowed[self.A, 2:] = False
        super().__init__(P, R, start=[1, 0, 0], terminal=[False, False, True], allowed=allowed)

    def sample(self, s, a, rng):
        s2, r, done = super().sample(s, a, rng)
        return s2, r + np.where(s == self.B, self.std * rng.standard_normal(np.shape(s)), 0.0), done
