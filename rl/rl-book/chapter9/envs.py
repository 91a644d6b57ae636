"""Chapter 9's environment: the 1,000-state random walk (Example 9.1), a TabularEnv with its model.

States 1..1000 in a row, terminals 0 (left) and 1001 (right); every episode starts in state 500. Each step
jumps to one of the 100 states to the left or the 100 to the right, all 200 equally likely; a jump past an end
terminates there (the probability of the missing neighbours goes to termination), with reward -1 on the left
and +1 on the right, 0 otherwise; gamma = 1. The policy is fixed (one action): this is a prediction problem.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.tabular import TabularEnv  # noqa: E402


class RandomWalk1000(TabularEnv):
    n_inner, max_jump, start_state = 1000, 100, 500

    def __init__(self):
        n = self.n_inner + 2
        left, right = 0, n - 1
        P, R = np.zeros((n, 1, n)), np.zeros((n, 1, n))
        jumps = np.concatenate([np.arange(-self.max_jump, 0), np.arange(1, self.max_jump + 1)])
        inner = np.arange(1, n - 1)
        targets = np.clip(inner[:, None] + jumps, left, right)  # jumps past an end land on its terminal
        np.add.at(P, (inner[:, None], 0, targets), 1.0 / len(jumps))
        R[:, 0, left], R[:, 0, right] = -1.0, 1.0
        terminal = np.zeros(n, bool)
        terminal[[left, right]] = True
        start = np.zeros(n)
        start[self.start_state] = 1.0
        super().__init__(P, R, start, terminal)
        self.inner = np.arange(1, n - 1)
        self.true_values = self._true_values()
        self.mu = self._on_policy_distribution()

    def sample(self, s, a, rng):
        """The walk's own sampler (the model's inverse CDF over 1,002 states would be 100x slower): a jump of
        1..100 to either side, clipped to the terminals. The tests check it against the model P, R."""
        s = np.asarray(s)
        jump = rng.integers(1, self.max_jump + 1, size=s.shape) * rng.choice([-1, 1], size=s.shape)
        s2 = np.where(self.terminal[s], s, np.clip(s + jump, 0, self.n_states - 1))
        return s2, self.R[s, 0, s2], self.terminal[s2]

    def _true_values(self):
        """v_pi, solving the Bellman equation v = r + P v over the inner states exactly (DP to convergence)."""
        inner = self.inner
        P = self.P[inner][:, 0][:, inner]
        v = np.zeros(self.n_states)
        v[inner] = np.linalg.solve(np.eye(len(inner)) - P, self.r[inner, 0])
        return v

    def _on_policy_distribution(self):
        """mu(s) of (9.2)-(9.3): expected visits eta = h + eta P per episode, normalized over the inner states."""
        inner = self.inner
        P = self.P[inner][:, 0][:, inner]
        eta = np.linalg.solve(np.eye(len(inner)) - P.T, self.start[inner])
        mu = np.zeros(self.n_states)
        mu[inner] = eta / eta.sum()
        return mu
