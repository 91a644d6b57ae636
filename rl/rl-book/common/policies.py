"""Action selection that every chapter shares, vectorized over rows (runs, or states).

The book's "greedy" means: among the actions of highest value pick one, ties broken at random. A plain
`np.argmax` always takes the first of tied actions, which biases early learning (all values start equal).
"""
import numpy as np


def argmax_random_ties(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row-wise argmax of values [n, A] that breaks ties uniformly at random."""
    is_max = values == values.max(axis=1, keepdims=True)
    return np.argmax(is_max * rng.random(values.shape), axis=1)


def epsilon_greedy(Q_s, allowed_s, epsilon, rng):
    """Rows of Q_s [n, A]: greedy (ties broken at random) w.p. 1 - epsilon, else a random allowed action."""
    all_allowed = allowed_s.all()
    values = Q_s if all_allowed else np.where(allowed_s, Q_s, -np.inf)
    greedy = argmax_random_ties(values, rng)
    if all_allowed:
        explore = rng.integers(0, Q_s.shape[1], len(Q_s))
    else:
        explore = np.argmax(allowed_s * rng.random(values.shape), axis=1)
    return np.where(rng.random(len(Q_s)) < epsilon, explore, greedy)


def epsilon_greedy_probs(Q_s, allowed_s, epsilon):
    """pi(a|s) of the epsilon-greedy policy for each row (ties share the greedy mass), e.g. for Expected Sarsa."""
    values = np.where(allowed_s, Q_s, -np.inf)
    best = values == values.max(1, keepdims=True)
    return epsilon * allowed_s / allowed_s.sum(1, keepdims=True) + (1 - epsilon) * best / best.sum(1, keepdims=True)
