"""Chapter 7: n-step bootstrapping, vectorized over independent runs (numpy).

n_step_td_rms   n-step TD prediction (7.2) on a Markov reward process, all (n, alpha, run) at once.
n_step_control  n-step Sarsa (7.4), off-policy n-step Sarsa with importance sampling (7.11) and
                n-step tree backup (7.16), on-line, each run with its own episode clock.

Buffers hold the last n + 1 states, actions and rewards of each run, indexed by time mod (n + 1),
as in the book's boxes ("all store and access operations can take their index mod n + 1").
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.policies import epsilon_greedy, epsilon_greedy_probs  # noqa: E402


# ----------------------------------------------------------------------------- prediction (7.1)
def walk_episodes(env, runs, rng):
    """One episode of the Markov reward process per run: states [runs, T_max + 1], rewards [runs, T_max + 1]
    (rewards[:, t] is R_t, column 0 unused) and lengths T [runs]. Finished runs stay in their terminal state."""
    s = env.sample_start(runs, rng)
    states, rewards = [s], [np.zeros(runs)]
    done = env.terminal[s]
    zero = np.zeros(runs, int)
    while not done.all():
        s2, r, d = env.sample(s, zero, rng)
        s = np.where(done, s, s2)
        rewards.append(np.where(done, 0.0, r))
        states.append(s)
        done = done | d
    states = np.stack(states, 1)
    return states, np.stack(rewards, 1), env.terminal[states].argmax(1)


def n_step_td_rms(env, ns, alphas, runs, episodes, rng, v0=0.0):
    """n-step TD (undiscounted, as the book's random walk) for every (n, alpha, run).

    All (n, alpha) pairs of one run learn from the same episodes (common random numbers: the walk does not
    depend on the values), so differences between curves are not sampling noise between walks.
    Returns the RMS error over the non-terminal states after each episode: [len(ns), len(alphas), runs, episodes].
    """
    ns, alphas = np.asarray(ns), np.asarray(alphas, dtype=np.float64)
    n, alpha, run = (g.ravel() for g in np.meshgrid(ns, alphas, np.arange(runs), indexing="ij"))
    inner = ~env.terminal
    V = np.full((len(n), env.n_states), v0)
    V[:, env.terminal] = 0.0
    rms = np.zeros((len(n), episodes))
    for k in range(episodes):
        states, rewards, T = walk_episodes(env, runs, rng)
        reward_sums = np.cumsum(rewards, 1)  # reward_sums[r, t] = R_1 + ... + R_t
        T_c = T[run]
        for t in range(int((T_c + n).max()) - 1):
            tau = t - n + 1  # the time whose state is updated now
            c = np.flatnonzero((tau >= 0) & (tau < T_c))
            rc, tau_c = run[c], tau[c]
            end = np.minimum(tau_c + n[c], T_c[c])
            s_tau, s_end = states[rc, tau_c], states[rc, end]
            # G = R_{tau+1} + ... + R_{min(tau+n, T)} + V(S_{tau+n}); V(terminal) = 0 covers tau + n >= T
            G = reward_sums[rc, end] - reward_sums[rc, tau_c] + V[c, s_end]
            V[c, s_tau] += alpha[c] * (G - V[c, s_tau])
        rms[:, k] = np.sqrt(((V[:, inner] - env.true_values[inner]) ** 2).mean(1))
    return rms.reshape(len(ns), len(alphas), runs, episodes)


# ----------------------------------------------------------------------------- control (7.2-7.5)
METHODS = ("sarsa", "off_policy_sarsa", "tree_backup")


def n_step_control(env, method, n, alphas, episodes, rng, epsilon=0.1, target_epsilon=0.0, gamma=1.0,
                   max_steps=100_000):
    """n-step Sarsa, off-policy n-step Sarsa (importance sampling) or n-step tree backup, one run per alpha.

    Behaviour: epsilon-greedy in Q (ties at random). Target policy of the off-policy methods: target_epsilon-greedy
    in Q (0: greedy, tied actions sharing the probability); n-step Sarsa is on-policy (target = behaviour).
    An episode still going after max_steps steps is cut there (its last state is treated as terminal).
    Returns dict: Q [runs, S, A], returns / lengths [runs, episodes], first_episode (states, actions of run 0).
    """
    assert method in METHODS, method
    alphas = np.asarray(alphas, dtype=np.float64)
    runs, A, L = len(alphas), env.n_actions, n + 1
    rows = np.arange(runs)
    Q = np.zeros((runs, env.n_states, A))
    S_buf, A_buf, R_buf = np.zeros((runs, L), int), np.zeros((runs, L), int), np.zeros((runs, L))
    never = np.iinfo(np.int64).max // 2
    t, T = np.zeros(runs, int), np.full(runs, never)
    ep, ret = np.zeros(runs, int), np.zeros(runs)
    out = {"returns": np.zeros((runs, episodes)), "lengths": np.zeros((runs, episodes)), "first_episode": ([], [])}

    def start(r):
        S_buf[r, 0] = env.sample_start(len(r), rng)
        A_buf[r, 0] = epsilon_greedy(Q[r, S_buf[r, 0]], env.allowed[S_buf[r, 0]], epsilon, rng)
        t[r], T[r], ret[r] = 0, never, 0.0

    def probs(r, s, eps):
        return epsilon_greedy_probs(Q[r, s], env.allowed[s], eps)

    start(rows)
    live = ep < episodes
    while live.any():
        r = rows[live]
        tr, Tr = t[r], T[r]
        # act: runs whose episode is still going take A_t and observe R_{t+1}, S_{t+1}, then choose A_{t+1}
        acting = r[tr < Tr]
        if len(acting):
            ta = t[acting]
            s, a = S_buf[acting, ta % L], A_buf[acting, ta % L]
            if acting[0] == 0 and ep[0] == 0:
                out["first_episode"][0].append(int(s[0]))
                out["first_episode"][1].append(int(a[0]))
            s2, reward, done = env.sample(s, a, rng)
            done |= ta + 1 >= max_steps
            R_buf[acting, (ta + 1) % L], S_buf[acting, (ta + 1) % L] = reward, s2
            A_buf[acting, (ta + 1) % L] = epsilon_greedy(Q[acting, s2], env.allowed[s2], epsilon, rng)
            ret[acting] += reward
            T[acting] = np.where(done, ta + 1, never)
        # learn: the time tau = t - n + 1 gets its n-step update
        tr, Tr = t[r], T[r]
        tau = tr - n + 1
        u, tau = r[tau >= 0], tau[tau >= 0]
        if len(u):
            Tu = T[u]
            end = np.minimum(tau + n, Tu)
            s_tau, a_tau = S_buf[u, tau % L], A_buf[u, tau % L]
            if method == "tree_backup":
                s_end = S_buf[u, end % L]
                G = R_buf[u, end % L] + np.where(end < Tu, gamma * (probs(u, s_end, target_epsilon) * Q[u, s_end]).sum(1), 0.0)
                for k in range(n - 1, 0, -1):  # k = end - 1 down to tau + 1, each leaf weighted by pi
                    i = tau + k
                    inside = i < end
                    s_i, a_i = S_buf[u, i % L], A_buf[u, i % L]
                    pi = probs(u, s_i, target_epsilon)
                    pi_a = pi[np.arange(len(u)), a_i]
                    leaves = (pi * Q[u, s_i]).sum(1) - pi_a * Q[u, s_i, a_i]
                    G = np.where(inside, R_buf[u, i % L] + gamma * (leaves + pi_a * G), G)
                rho = 1.0
            else:
                G = np.zeros(len(u))
                for k in range(1, n + 1):
                    G += np.where(tau + k <= Tu, gamma ** (k - 1) * R_buf[u, (tau + k) % L], 0.0)
                s_n, a_n = S_buf[u, (tau + n) % L], A_buf[u, (tau + n) % L]
                G += np.where(tau + n < Tu, gamma ** n * Q[u, s_n, a_n], 0.0)
                rho = np.ones(len(u))
                if method == "off_policy_sarsa":  # rho_{tau+1 : min(tau+n, T-1)}
                    for k in range(1, n + 1):
                        i = tau + k
                        s_i, a_i = S_buf[u, i % L], A_buf[u, i % L]
                        ratio = (probs(u, s_i, target_epsilon)[np.arange(len(u)), a_i]
                                 / probs(u, s_i, epsilon)[np.arange(len(u)), a_i])
                        rho = rho * np.where(i <= Tu - 1, ratio, 1.0)
            Q[u, s_tau, a_tau] += alphas[u] * rho * (G - Q[u, s_tau, a_tau])
            # episode over once tau reaches T - 1: record and start the next one
            fin = u[tau == Tu - 1]
            if len(fin):
                out["returns"][fin, ep[fin]], out["lengths"][fin, ep[fin]] = ret[fin], T[fin]
                ep[fin] += 1
                start(fin)
                t[fin] -= 1  # the += 1 below makes it 0
        t[r] += 1
        live = ep < episodes
    out["Q"] = Q
    return out
