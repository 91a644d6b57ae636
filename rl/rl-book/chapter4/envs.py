"""Chapter 4's MDPs, each a gymnasium Env that also carries its model (P, r) for dynamic programming.

GridWorld41      Example 4.1: 4x4 grid, two terminal corners, reward -1 per step.
JacksCarRental   Example 4.2: two locations, Poisson requests (3, 4) and Poisson returns (3, 2).
Gambler          Example 4.3: reach $100 by staking on coin flips that come up heads with p_h.
"""
import sys
from pathlib import Path

import numpy as np
from scipy.stats import poisson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.tabular import MOVES, TabularEnv, clip_move, grid_model  # noqa: E402


class GridWorld41(TabularEnv):
    shape = (4, 4)

    def __init__(self):
        P, R = grid_model(self.shape, lambda cell, a: (clip_move(cell, MOVES[a], self.shape)[0], -1.0))
        terminal = np.zeros(16, bool)
        terminal[[0, 15]] = True
        super().__init__(P, R, start=~terminal / (~terminal).sum(), terminal=terminal)


class JacksCarRental(TabularEnv):
    """State (cars at 1st, cars at 2nd) -> index n1 * 21 + n2; action a in -5..5 -> index a + 5 (a > 0 moves 1st -> 2nd).

    Each night a cars move at $2 each (a move the lot can't supply is not allowed; the Env clips it).
    Next day location i rents min(requests_i, cars_i) at $10, requests ~ Poisson(3), Poisson(4);
    returns ~ Poisson(3), Poisson(2) become available the day after; more than 20 cars at a location vanish.
    The model is exact: the Poisson tails are folded into the capped outcomes, not cut off.
    """
    max_cars, max_move, rent, move_cost = 20, 5, 10.0, 2.0
    requests, returns = (3, 4), (3, 2)

    def __init__(self):
        P, r = self.model()
        n = self.max_cars + 1
        super().__init__(P, np.broadcast_to(r[..., None], P.shape), start=np.full(n * n, 1 / n**2),
                         terminal=np.zeros(n * n, bool), allowed=self.allowed)

    def model(self, poisson_bound=None):
        """(P [441, 11, 441], expected reward r [441, 11]); sets self.allowed and self.moved.

        poisson_bound=None is the exact model. poisson_bound=k is the variant of the widely used reimplementations:
        requests and returns of k or more cars are dropped (their probability mass is lost, rows of P sum to < 1)."""
        n = self.max_cars + 1
        moves = np.arange(-self.max_move, self.max_move + 1)
        T, rented = zip(*(self.location_model(q, r, poisson_bound) for q, r in zip(self.requests, self.returns)))
        n1, n2 = np.divmod(np.arange(n * n), n)
        self.allowed = (n1[:, None] >= moves) & (n2[:, None] >= -moves)
        self.moved = np.clip(moves, -n2[:, None], n1[:, None])           # what the lots can supply
        m1 = np.minimum(n1[:, None] - self.moved, self.max_cars)          # morning counts, 441 x 11
        m2 = np.minimum(n2[:, None] + self.moved, self.max_cars)
        # The two locations are independent given the morning counts: P is an outer product.
        P = np.einsum("sai,saj->saij", T[0][m1], T[1][m2]).reshape(n * n, len(moves), n * n)
        r = self.rent * (rented[0][m1] + rented[1][m2]) - self.move_cost * np.abs(self.moved)
        return P, r

    def location_model(self, lam_request, lam_return, poisson_bound=None):
        """T[m, n]: P(n cars at the end of a day that began with m) and rented[m]: expected cars rented."""
        N = self.max_cars + 1
        T, rented = np.zeros((N, N)), np.zeros(N)
        if poisson_bound is not None:  # the truncated variant: k = 0 .. bound-1 only, nothing folded in
            p_request = poisson.pmf(np.arange(poisson_bound), lam_request)
            p_return = poisson.pmf(np.arange(poisson_bound), lam_return)
            for m in range(N):
                for k, pk in enumerate(p_request):
                    left = m - min(k, m)
                    rented[m] += pk * min(k, m)
                    np.add.at(T[m], np.minimum(left + np.arange(poisson_bound), self.max_cars), pk * p_return)
            return T, rented
        for m in range(N):
            p_rent = poisson.pmf(np.arange(m + 1), lam_request)
            p_rent[m] = poisson.sf(m - 1, lam_request)                     # demand >= m rents all m
            rented[m] = p_rent @ np.arange(m + 1)
            for k in range(m + 1):
                left = m - k
                p_ret = poisson.pmf(np.arange(N - left), lam_return)
                p_ret[-1] = poisson.sf(N - left - 2, lam_return)           # returns beyond 20 vanish
                T[m, left:] += p_rent[k] * p_ret
        return T, rented

    def step(self, action):
        """A real day, sampled: requests and returns drawn from their Poissons (the model only has their mean effect)."""
        n1, n2 = divmod(self.s, self.max_cars + 1)
        moved = int(self.moved[self.s, action])
        cars = [min(n1 - moved, self.max_cars), min(n2 + moved, self.max_cars)]
        reward = -self.move_cost * abs(moved)
        for i in range(2):
            rented = min(cars[i], int(self.np_random.poisson(self.requests[i])))
            reward += self.rent * rented
            cars[i] = min(cars[i] - rented + int(self.np_random.poisson(self.returns[i])), self.max_cars)
        self.s = cars[0] * (self.max_cars + 1) + cars[1]
        return self.s, float(reward), False, False, {}


class Gambler(TabularEnv):
    """Capital s in 0..100 (0 and 100 terminal); action = stake in 0..50, allowed 1..min(s, 100 - s).

    Reward +1 on reaching $100, else 0; undiscounted. The book also lists stake 0, but staking 0 leaves
    v unchanged, so it would tie with every optimal action without ever finishing the episode; we leave it out.
    """
    goal = 100

    def __init__(self, p_heads=0.4):
        self.p_heads = p_heads
        n_s, n_a = self.goal + 1, self.goal // 2 + 1
        s, a = np.arange(n_s)[:, None], np.arange(n_a)[None, :]
        max_stake = np.minimum(s, self.goal - s)
        allowed = (a >= 1) & (a <= max_stake)
        stake = np.clip(a, 1, np.maximum(max_stake, 1))                   # the Env clips a stake it can't take
        P, R = np.zeros((n_s, n_a, n_s)), np.zeros((n_s, n_a, n_s))
        rows = np.broadcast_to(s, stake.shape)
        cols = np.broadcast_to(a, stake.shape)
        win, lose = np.minimum(rows + stake, self.goal), np.maximum(rows - stake, 0)
        np.add.at(P, (rows, cols, win), p_heads)
        np.add.at(P, (rows, cols, lose), 1 - p_heads)
        R[:, :, self.goal] = 1.0
        terminal = np.zeros(n_s, bool)
        terminal[[0, self.goal]] = True
        allowed[terminal] = True                                           # any action: absorbing anyway
        super().__init__(P, R, start=~terminal / (~terminal).sum(), terminal=terminal, allowed=allowed)
