"""Chapter 4: dynamic programming on a finite MDP given by its model (P[s, a, s'], r[s, a]).

Policies are arrays: stochastic pi[s, a] for evaluation, deterministic actions[s] for iteration.
Every sweep is matrix algebra over all states ("two-array", synchronous), except in_place=True,
which updates states one after another and uses new values as soon as they exist (Section 4.1).
"""
import numpy as np


def q_values(P, r, v, gamma, allowed=None):
    """q(s, a) = r(s, a) + gamma sum_s' p(s'|s, a) v(s'); -inf where an action is not allowed."""
    q = r + gamma * (P @ v)
    return q if allowed is None else np.where(allowed, q, -np.inf)


def evaluate_policy(P, r, pi, gamma, theta=1e-10, in_place=False, v=None, max_sweeps=None, history=None):
    """Iterative policy evaluation (4.5) until the largest change in a sweep is below theta.

    Returns (v, sweeps). `history`, if a list, receives v after every sweep (v_1, v_2, ...).
    """
    P_pi = np.einsum("sa,sat->st", pi, P)
    r_pi = (pi * r).sum(1)
    v = np.zeros(len(r_pi)) if v is None else v.astype(np.float64).copy()
    sweeps = 0
    while max_sweeps is None or sweeps < max_sweeps:
        if in_place:
            delta = 0.0
            for s in range(len(v)):
                new = r_pi[s] + gamma * P_pi[s] @ v
                delta = max(delta, abs(new - v[s]))
                v[s] = new
        else:
            new = r_pi + gamma * P_pi @ v
            delta = np.max(np.abs(new - v))
            v = new
        sweeps += 1
        if history is not None:
            history.append(v.copy())
        if delta < theta:
            break
    return v, sweeps


def greedy(q, atol=1e-9):
    """Boolean [s, a]: the actions within atol of the best (ties are real; the book draws them all)."""
    return q >= q.max(1, keepdims=True) - atol


def policy_iteration(P, r, gamma, actions, allowed=None, theta=1e-6, atol=1e-9):
    """Policy iteration (Section 4.3) from the deterministic policy `actions[s]`.

    Evaluation starts from the previous policy's v, as in the book's box. Improvement keeps the old
    action unless another is better by more than atol, so the loop can't cycle between equally good
    policies (Exercise 4.4). Returns the list of policies pi_0 ... pi_final and their value functions.
    """
    n_states, n_actions = r.shape
    policies, values, v = [np.asarray(actions)], [], None
    while True:
        pi = np.eye(n_actions)[policies[-1]]
        v, _ = evaluate_policy(P, r, pi, gamma, theta=theta, v=v)
        values.append(v)
        q = q_values(P, r, v, gamma, allowed)
        old = policies[-1]
        improved = np.where(q[np.arange(n_states), old] >= q.max(1) - atol, old, q.argmax(1))
        if np.array_equal(improved, old):
            return policies, values
        policies.append(improved)


def value_iteration(P, r, gamma, allowed=None, theta=1e-10, in_place=True, history=None):
    """Value iteration (4.10) until a sweep changes no value by more than theta; returns (v, q, sweeps).

    in_place=True follows the book's box (states swept in index order, new values used at once).
    """
    v = np.zeros(r.shape[0])
    sweeps = 0
    while True:
        if in_place:
            delta = 0.0
            for s in range(len(v)):
                q_s = r[s] + gamma * P[s] @ v
                new = q_s[allowed[s]].max() if allowed is not None else q_s.max()
                delta = max(delta, abs(new - v[s]))
                v[s] = new
        else:
            new = q_values(P, r, v, gamma, allowed).max(1)
            delta = np.max(np.abs(new - v))
            v = new
        sweeps += 1
        if history is not None:
            history.append(v.copy())
        if delta < theta:
            return v, q_values(P, r, v, gamma, allowed), sweeps
