"""Sarsa, Q-learning and Expected Sarsa as the book's boxes, one run at a time, compiled with numba.

`td.control` advances all runs together in numpy, which is fast while the runs are few or the arrays small. Figure
6.3 at the book's scale needs 50,000 runs x 10 step sizes x 100 episodes per method (about 10^9 time steps) plus
10 runs of 100,000 episodes (strictly sequential within a run): numpy's per-call overhead and 500,000-row temporaries
make that 35-50 minutes. Here each run is the textbook loop (choose A, step, update, repeat), compiled to machine
code and spread over the cores with `prange`: the same algorithm at a few nanoseconds per step.

Deterministic environments only (all of chapter 6's gridworlds): transitions are the table `env._next`. Ties in the
greedy choice are broken at random, as everywhere in this folder. Each run seeds its own generator from `seed` and
its index, so results do not depend on the number of threads.
"""
import numba
import numpy as np

METHOD_IDS = {"sarsa": 0, "q_learning": 1, "expected_sarsa": 2}


@numba.njit(cache=False)
def _epsilon_greedy(q, epsilon):
    n = q.shape[0]
    if np.random.random() < epsilon:
        return np.random.randint(n)
    best, count, choice = q[0], 0, 0
    for a in range(n):  # reservoir sampling over the tied maxima: uniform among them, one pass
        if q[a] > best:
            best, count, choice = q[a], 1, a
        elif q[a] == best:
            count += 1
            if np.random.randint(count) == 0:
                choice = a
    return choice


@numba.njit(cache=False)
def _expected_value(q, epsilon):
    n = q.shape[0]
    best = q.max()
    ties = 0
    for a in range(n):
        ties += q[a] == best
    value = 0.0
    for a in range(n):
        value += q[a] * (epsilon / n + ((1 - epsilon) / ties if q[a] == best else 0.0))
    return value


@numba.njit(parallel=True, cache=False)
def _returns(next_state, reward, terminal, start, method, alphas, episodes, epsilon, gamma, seed):
    runs = alphas.shape[0]
    n_states, n_actions = next_state.shape
    out = np.zeros((runs, episodes))
    for run in numba.prange(runs):
        np.random.seed(seed * 1_000_003 + run)  # per run, so thread scheduling cannot change the numbers
        Q = np.zeros((n_states, n_actions))
        alpha = alphas[run]
        for episode in range(episodes):
            s = start
            a = _epsilon_greedy(Q[s], epsilon)
            total = 0.0
            while True:
                s2 = next_state[s, a]
                r = reward[s, a]
                total += r
                if terminal[s2]:
                    Q[s, a] += alpha * (r - Q[s, a])
                    break
                a2 = _epsilon_greedy(Q[s2], epsilon)  # Sarsa's A' (and the behaviour's next action for the others)
                if method == 0:
                    target = r + gamma * Q[s2, a2]
                elif method == 1:
                    target = r + gamma * Q[s2].max()
                else:
                    target = r + gamma * _expected_value(Q[s2], epsilon)
                Q[s, a] += alpha * (target - Q[s, a])
                if method != 0:  # Q-learning and Expected Sarsa act on the freshly updated values
                    a2 = _epsilon_greedy(Q[s2], epsilon)
                s, a = s2, a2
            out[run, episode] = total
    return out


def control_returns(env, method, alphas, episodes, seed, epsilon=0.1, gamma=1.0):
    """Sum of rewards of every episode, [runs, episodes], for each run's step size in `alphas`."""
    if method not in METHOD_IDS:
        raise ValueError(f"unknown method '{method}'; choose one of {', '.join(METHOD_IDS)}")
    if env._next is None:
        raise ValueError("td_compiled handles deterministic environments only; use td.control")
    if env.start.max() != 1.0:
        raise ValueError("td_compiled needs a single start state; use td.control")
    states = np.arange(env.n_states)[:, None]
    reward = env.R[states, np.arange(env.n_actions)[None, :], env._next]
    return _returns(env._next.astype(np.int64), reward.astype(np.float64), env.terminal.copy(),
                    int(env.start.argmax()), METHOD_IDS[method], np.asarray(alphas, np.float64), int(episodes),
                    float(epsilon), float(gamma), int(seed))
