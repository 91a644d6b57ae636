"""Chapter 10's tabular environment: the access-control queuing task (Example 10.2).

Mountain car, the chapter's other environment, is shared with chapter 12: common/mountain_car.py.
"""
import sys
from pathlib import Path

import numpy as np
from scipy.stats import binom

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.tabular import TabularEnv  # noqa: E402


class AccessControl(TabularEnv):
    """k servers; customers queue, each with a priority 1, 2, 4 or 8 (equally likely), the reward paid if the
    customer is accepted. Each step the customer at the head is accepted (if a server is free) or rejected
    (reward 0), and then every busy server becomes free with probability p_free. A continuing task.

    State s = free_servers * 4 + priority index; actions 0 = reject, 1 = accept (not allowed with no free
    server: that customer is always rejected). The model P[s, a, s'] is written from the binomial number of
    servers freed; `sample` plays the story instead (binomial draws), so a test can check one against the other.
    """
    REJECT, ACCEPT = 0, 1

    def __init__(self, servers=10, priorities=(1, 2, 4, 8), p_free=0.06):
        self.servers, self.p_free = servers, p_free
        self.priorities = np.array(priorities, dtype=np.float64)
        n_prio = len(priorities)
        n = (servers + 1) * n_prio
        free, prio = np.divmod(np.arange(n), n_prio)
        P, R = np.zeros((n, 2, n)), np.zeros((n, 2, n))
        for s in range(n):
            for a in (self.REJECT, self.ACCEPT):
                accepted = a == self.ACCEPT and free[s] > 0
                busy = servers - free[s] + accepted
                freed = binom.pmf(np.arange(busy + 1), busy, p_free)        # how many of the busy finish
                for next_free, p in zip(servers - busy + np.arange(busy + 1), freed):
                    P[s, a, next_free * n_prio: (next_free + 1) * n_prio] = p / n_prio
                R[s, a] = self.priorities[prio[s]] if accepted else 0.0
        allowed = np.ones((n, 2), bool)
        allowed[free == 0, self.ACCEPT] = False
        super().__init__(P, R, np.full(n, 1 / n), np.zeros(n, bool), allowed)
        self.free, self.priority_index = free, prio

    def sample(self, s, a, rng):
        s, a = np.asarray(s), np.asarray(a)
        free, prio = np.divmod(s, len(self.priorities))
        accepted = (a == self.ACCEPT) & (free > 0)
        busy = self.servers - free + accepted
        next_free = self.servers - busy + rng.binomial(busy, self.p_free)
        s2 = next_free * len(self.priorities) + rng.integers(0, len(self.priorities), np.shape(s))
        return s2, np.where(accepted, self.priorities[prio], 0.0), np.zeros(np.shape(s), bool)
