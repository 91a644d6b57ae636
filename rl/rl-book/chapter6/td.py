"""Chapter 6: temporal-difference prediction and control, vectorized over independent runs.

Every method advances all runs by one time step per loop iteration: runs are rows of V[run, s] or
Q[run, s, a], each with its own step size, state and episode counter. Runs are independent (own
random numbers, own table), so the result is that of the book's loops run one after another.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.policies import argmax_random_ties, epsilon_greedy, epsilon_greedy_probs  # noqa: E402,F401


# ----------------------------------------------------------------------------- prediction (6.1-6.3)
def predict(env, method, alphas, episodes, rng, v0=0.5, gamma=1.0):
    """Constant-alpha TD(0) (6.2) or constant-alpha every-visit MC (6.1) on a Markov reward process.

    alphas: step size per run. Any rewards, any discount gamma, episodes of any length (the MC trajectory
    buffer grows as needed). Returns the value tables after 0, 1, ..., episodes episodes: [runs, episodes+1, S].
    """
    assert method in ("td", "mc"), method
    runs, S = len(alphas), env.n_states
    rows = np.arange(runs)
    V = np.full((runs, S), v0)
    V[:, env.terminal] = 0.0
    history = np.zeros((runs, episodes + 1, S))
    history[:, 0] = V
    s = env.sample_start(runs, rng)
    ep = np.zeros(runs, int)
    states, rewards, length = np.zeros((runs, 64), int), np.zeros((runs, 64)), np.zeros(runs, int)
    zero = np.zeros(runs, int)
    while (ep < episodes).any():
        active = ep < episodes
        s2, r, done = env.sample(s, zero, rng)
        if method == "td":
            target = r + gamma * np.where(done, 0.0, V[rows, s2])
            V[rows, s] += np.where(active, alphas * (target - V[rows, s]), 0.0)
        else:
            if length.max() == states.shape[1]:  # grow the trajectory buffers rather than wrap around
                states = np.concatenate([states, np.zeros_like(states)], axis=1)
                rewards = np.concatenate([rewards, np.zeros_like(rewards)], axis=1)
            states[rows, length], rewards[rows, length] = s, r
            length += 1
            ended = np.nonzero(done & active)[0]
            if len(ended):
                T = length[ended]
                G = np.zeros((len(ended), T.max()))
                g = np.zeros(len(ended))
                for t in range(T.max() - 1, -1, -1):  # G_t = R_{t+1} + gamma G_{t+1}, backwards
                    inside = t < T
                    g = np.where(inside, rewards[ended, t] + gamma * g, 0.0)
                    G[:, t] = g
                for t in range(T.max()):  # every visit, in the order the episode made them
                    e = t < T
                    st = states[ended[e], t]
                    V[ended[e], st] += alphas[ended[e]] * (G[e, t] - V[ended[e], st])
            length[done] = 0
        finished = np.nonzero(done & active)[0]
        ep[finished] += 1
        history[finished, ep[finished]] = V[finished]
        s = np.where(done, env.sample_start(runs, rng), s2)
    return history


def batch_predict(env, method, episodes, rng, runs, alpha=1e-3, theta=1e-6):
    """Batch updating (Section 6.3, Figure 6.2): after each new episode, sweep all episodes seen so far
    with increments summed over the batch and applied together, until no value moves more than theta.

    The batch is kept as counts, which is all the sums need: TD uses transition counts N[s, s'] and
    reward sums; MC uses visit counts and return sums. Returns values after each episode [runs, episodes, S].
    """
    S = env.n_states
    V = np.full((runs, S), 0.5)
    V[:, env.terminal] = 0.0
    N_trans, R_trans = np.zeros((runs, S, S)), np.zeros((runs, S, S))
    N_visit, G_visit = np.zeros((runs, S)), np.zeros((runs, S))
    history = np.zeros((runs, episodes, S))
    rows = np.arange(runs)
    zero = np.zeros(runs, int)
    for k in range(episodes):
        s, done, visited = env.sample_start(runs, rng), np.zeros(runs, bool), []
        G = np.zeros(runs)
        while not done.all():  # one more episode for every run (finished runs stand still)
            s2, r, d = env.sample(s, zero, rng)
            live = ~done
            np.add.at(N_trans, (rows[live], s[live], s2[live]), 1.0)
            np.add.at(R_trans, (rows[live], s[live], s2[live]), r[live])
            visited.append((s.copy(), live))
            G += np.where(live, r, 0.0)
            done |= d
            s = np.where(done, s, s2)
        for st, live in visited:  # every-visit MC, gamma = 1, reward only at the end: every return is G
            np.add.at(N_visit, (rows[live], st[live]), 1.0)
            np.add.at(G_visit, (rows[live], st[live]), G[live])
        while True:
            if method == "td":
                inc = alpha * (R_trans.sum(2) + np.einsum("rst,rt->rs", N_trans, V) - N_trans.sum(2) * V)
            else:
                inc = alpha * (G_visit - N_visit * V)
            V += inc
            if np.abs(inc).max() < theta:
                break
        history[:, k] = V
    return history


# ----------------------------------------------------------------------------- control (6.4-6.7)
METHODS = ("sarsa", "q_learning", "expected_sarsa", "double_q")


def control(env, method, alphas, episodes, rng, epsilon=0.1, gamma=1.0):
    """Sarsa (6.7), Q-learning (6.8), Expected Sarsa (6.9) or Double Q-learning (Section 6.7), on-line, epsilon-greedy.

    alphas: step size per run (so step sizes and methods' runs share one loop). Returns a dict:
    returns / lengths / first_action [runs, episodes] (sum of rewards, time steps, first action of each
    episode), end_step [runs, episodes] (total time steps when each episode ended), Q [runs, S, A].
    """
    assert method in METHODS, method
    alphas = np.asarray(alphas, dtype=np.float64)
    runs, S, A = len(alphas), env.n_states, env.n_actions
    Q = np.zeros((runs, S, A))
    Q2 = np.zeros((runs, S, A)) if method == "double_q" else None
    allowed = env.allowed
    out = {k: np.zeros((runs, episodes)) for k in ("returns", "lengths", "first_action", "end_step")}
    s = env.sample_start(runs, rng)
    behaviour = (lambda r, st: Q[r, st] + Q2[r, st]) if Q2 is not None else (lambda r, st: Q[r, st])
    a = epsilon_greedy(behaviour(np.arange(runs), s), allowed[s], epsilon, rng)
    out["first_action"][:, 0] = a
    ep, ret, steps, total = np.zeros(runs, int), np.zeros(runs), np.zeros(runs, int), 0
    idx = np.arange(runs)
    while len(idx):
        total += 1
        si, ai, alpha = s[idx], a[idx], alphas[idx]
        s2, r, done = env.sample(si, ai, rng)
        if method == "sarsa":  # A' is chosen before the update, as in the book's box
            a2 = epsilon_greedy(Q[idx, s2], allowed[s2], epsilon, rng)
            target = r + gamma * np.where(done, 0.0, Q[idx, s2, a2])
        elif method == "q_learning":
            target = r + gamma * np.where(done, 0.0, np.where(allowed[s2], Q[idx, s2], -np.inf).max(1))
        elif method == "expected_sarsa":
            pi = epsilon_greedy_probs(Q[idx, s2], allowed[s2], epsilon)
            target = r + gamma * np.where(done, 0.0, (pi * Q[idx, s2]).sum(1))
        if method == "double_q":  # a fair coin picks which table learns; the other one evaluates its argmax
            first = rng.random(len(idx)) < 0.5
            learn, judge = np.where(first[:, None], Q[idx, s2], Q2[idx, s2]), np.where(first[:, None], Q2[idx, s2], Q[idx, s2])
            best = argmax_random_ties(np.where(allowed[s2], learn, -np.inf), rng)
            target = r + gamma * np.where(done, 0.0, judge[np.arange(len(idx)), best])
            for table, rows in ((Q, idx[first]), (Q2, idx[~first])):
                sel = first if table is Q else ~first
                table[rows, si[sel], ai[sel]] += alpha[sel] * (target[sel] - table[rows, si[sel], ai[sel]])
        else:
            Q[idx, si, ai] += alpha * (target - Q[idx, si, ai])
        if method != "sarsa":  # the next action sees the freshly updated values
            a2 = epsilon_greedy(behaviour(idx, s2), allowed[s2], epsilon, rng)
        ret[idx] += r
        steps[idx] += 1
        s[idx], a[idx] = s2, a2
        # episode ends: record, restart the run (its next first action is chosen from the start state)
        fin = idx[done]
        if len(fin):
            e = ep[fin]
            out["returns"][fin, e], out["lengths"][fin, e] = ret[fin], steps[fin]
            out["end_step"][fin, e] = total
            ret[fin], steps[fin] = 0.0, 0
            ep[fin] += 1
            s[fin] = env.sample_start(len(fin), rng)
            a[fin] = epsilon_greedy(behaviour(fin, s[fin]), allowed[s[fin]], epsilon, rng)
            more = fin[ep[fin] < episodes]
            out["first_action"][more, ep[more]] = a[more]
            idx = idx[ep[idx] < episodes]
    out["Q"] = Q if Q2 is None else (Q + Q2) / 2
    return out


def greedy_path(env, Q, max_steps=100):
    """States visited by the greedy policy of Q [S, A] from the start (ties: first action), until the end or max_steps."""
    s = int(np.argmax(env.start))
    path = [s]
    rng = np.random.default_rng(0)  # deterministic models ignore it
    while not env.terminal[s] and len(path) <= max_steps:
        s = int(env.sample(np.array([s]), np.array([int(np.argmax(Q[s]))]), rng)[0][0])
        path.append(s)
    return path
