"""Chapter 3: value functions from the Bellman equations, for a finite MDP given by (P, r).

v_pi solves the linear system (3.14):  v = r_pi + gamma P_pi v.
v* solves the nonlinear system (3.19): v(s) = max_a [r(s,a) + gamma sum_s' p(s'|s,a) v(s')];
we solve it by applying its right-hand side until it stops changing (a contraction for gamma < 1).
"""
import numpy as np


def q_from_v(P, r, v, gamma):
    """q(s, a) = r(s, a) + gamma * sum_s' p(s'|s, a) v(s')  -- the one-step look-ahead of (3.13)/(3.20)."""
    return r + gamma * P @ v


def solve_v_pi(P, r, pi, gamma):
    """Exact v_pi for the stochastic policy pi[s, a], by one linear solve."""
    P_pi = np.einsum("sa,sat->st", pi, P)
    r_pi = (pi * r).sum(1)
    return np.linalg.solve(np.eye(len(r_pi)) - gamma * P_pi, r_pi)


def solve_v_star(P, r, gamma, allowed=None, tol=1e-12):
    """v* and q* from the Bellman optimality equation, iterated to a fixed point."""
    v = np.zeros(P.shape[0])
    while True:
        q = q_from_v(P, r, v, gamma)
        if allowed is not None:
            q = np.where(allowed, q, -np.inf)
        v_new = q.max(1)
        if np.max(np.abs(v_new - v)) < tol:
            return v_new, q
        v = v_new


def optimal_actions(q, atol=1e-9):
    """Boolean [s, a]: every action that attains max_a q(s, a) -- optimal policies share v*, not a tie-break."""
    return q >= q.max(1, keepdims=True) - atol
