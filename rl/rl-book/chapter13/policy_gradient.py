"""Chapter 13: policy-gradient methods with a softmax policy in linear action preferences, vectorized over runs.

    pi(a | s, theta) = softmax_a(theta . x(s, a))      grad ln pi(a | s) = x(s, a) - sum_b pi(b | s) x(s, b)

reinforce        REINFORCE (Section 13.3) and REINFORCE with baseline (13.4; v(s, w) = w . phi(s)),
                 each run with its own step sizes, so step sizes and runs share one loop.
actor_critic     one-step actor-critic (13.5), episodic.
state_values     exact v_pi of a TabularEnv for a given pi[s, a] (one linear solve), e.g. J(theta) = v_pi(s0).

All runs advance together, one time step per loop iteration, but on their own clocks: REINFORCE must wait for
the end of an episode before it can learn, and its updates at t = 0 .. T-1 are sequential (each one changes pi
for the next), so a run that has just finished an episode spends the next T iterations updating while the
others keep acting. That keeps every run busy instead of waiting for the longest episode of all.
"""
import numpy as np


def softmax_policy(theta, x_s, min_prob=0.0):
    """pi[n, A] for parameters theta [n, d] and features x_s [n, A, d].

    min_prob > 0 floors every action's probability (the mass above the floor is shared in proportion to the
    softmax), as the widely used reproduction of Figures 13.1-13.2 does with 0.05: it guarantees that every
    episode of the short corridor ends (a policy with p(right) ~ 1 cycles between states 0 and 1 forever)."""
    h = np.einsum("nad,nd->na", x_s, theta)
    e = np.exp(h - h.max(1, keepdims=True))
    pi = e / e.sum(1, keepdims=True)
    if min_prob > 0:
        low = pi < min_prob
        rest = np.where(low, 0.0, pi)
        pi = np.where(low, min_prob, rest / rest.sum(1, keepdims=True) * (1 - min_prob * low.sum(1, keepdims=True)))
    return pi


def grad_log_pi(theta, x_s, a, min_prob=0.0):
    """x(s, a) - sum_b pi(b | s) x(s, b) for each row: [n, d] (grad_theta ln pi(a | s) where pi is not floored)."""
    pi = softmax_policy(theta, x_s, min_prob)
    return x_s[np.arange(len(a)), a] - np.einsum("na,nad->nd", pi, x_s)


def sample_actions(pi, rng):
    return np.minimum((pi.cumsum(1) < rng.random((len(pi), 1))).sum(1), pi.shape[1] - 1)


def state_values(env, pi):
    """v_pi [..., S] for policies pi [..., S, A], by solving (I - P_pi) v = r_pi on the non-terminal states
    (gamma = 1: every episode must end)."""
    inner = ~env.terminal
    P_pi = np.einsum("...sa,sat->...st", pi, env.P)[..., inner, :][..., inner]
    r_pi = (pi * env.r).sum(-1)[..., inner]
    v = np.zeros(pi.shape[:-1])
    v[..., inner] = np.linalg.solve(np.eye(inner.sum()) - P_pi, r_pi[..., None])[..., 0]
    return v


def reinforce(env, x, alphas, episodes, rng, theta0, gamma=1.0, baseline_alphas=None, phi=None, min_prob=0.0):
    """REINFORCE, or REINFORCE with baseline when baseline_alphas (per run) and value features phi [S, k] are given.

    x: policy features [S, A, d]; alphas: policy step size per run; theta0 [d]: initial parameters of every run;
    min_prob: see softmax_policy.
    Returns dict: returns [runs, episodes] (sum of rewards), theta [runs, episodes + 1, d] (at each episode's start
    and after the last), w [runs, k] (baseline weights, if any).
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    runs, d = len(alphas), x.shape[2]
    with_baseline = baseline_alphas is not None
    theta = np.tile(np.asarray(theta0, dtype=np.float64), (runs, 1))
    w = np.zeros((runs, phi.shape[1])) if with_baseline else None
    out = {"returns": np.zeros((runs, episodes)), "theta": np.zeros((runs, episodes + 1, d))}
    out["theta"][:, 0] = theta
    cap = 256
    states, actions = np.zeros((runs, cap), int), np.zeros((runs, cap), int)
    discounted_sum = np.zeros((runs, cap + 1))  # D_t = R_1 + gamma R_2 + ... + gamma^(t-1) R_t; gamma^t G_t = D_T - D_t
    t, T, k = np.zeros(runs, int), np.zeros(runs, int), np.zeros(runs, int)
    acting, ep = np.ones(runs, bool), np.zeros(runs, int)
    undiscounted = np.zeros(runs)
    s = env.sample_start(runs, rng)
    while (ep < episodes).any():
        # runs that are learning from their last episode take the next of its updates, t = k
        u = np.flatnonzero(~acting)
        if len(u):
            ku, su, au = k[u], states[u, k[u]], actions[u, k[u]]
            discounted_G = discounted_sum[u, T[u]] - discounted_sum[u, ku]  # gamma^k G_k
            grad = grad_log_pi(theta[u], x[su], au, min_prob)
            if with_baseline:
                delta = discounted_G / gamma ** ku - (w[u] * phi[su]).sum(1)
                w[u] += (baseline_alphas[u] * delta)[:, None] * phi[su]
                theta[u] += (alphas[u] * gamma ** ku * delta)[:, None] * grad
            else:
                theta[u] += (alphas[u] * discounted_G)[:, None] * grad
            k[u] += 1
            done = u[k[u] == T[u]]
            out["theta"][done, ep[done] + 1] = theta[done]
            out["returns"][done, ep[done]] = undiscounted[done]
            ep[done] += 1
            acting[done], t[done], undiscounted[done] = True, 0, 0.0
            s[done] = env.sample_start(len(done), rng)
        # the others act
        a_idx = np.flatnonzero(acting & (ep < episodes) & ~np.isin(np.arange(runs), u))
        if len(a_idx):
            if t[a_idx].max() >= cap:  # a long episode: double the buffers
                states, actions = (np.concatenate([b, np.zeros_like(b)], 1) for b in (states, actions))
                discounted_sum = np.concatenate([discounted_sum, np.zeros((runs, cap))], 1)
                cap *= 2
            sa, ta = s[a_idx], t[a_idx]
            a = sample_actions(softmax_policy(theta[a_idx], x[sa], min_prob), rng)
            s2, r, end = env.sample(sa, a, rng)
            states[a_idx, ta], actions[a_idx, ta] = sa, a
            discounted_sum[a_idx, ta + 1] = discounted_sum[a_idx, ta] + gamma ** ta * r
            undiscounted[a_idx] += r
            t[a_idx] += 1
            s[a_idx] = s2
            fin = a_idx[end]
            acting[fin], T[fin], k[fin] = False, t[fin], 0
    out["w"] = w
    return out


def actor_critic(env, x, phi, alphas_theta, alphas_w, episodes, rng, theta0, gamma=1.0, min_prob=0.0):
    """One-step actor-critic (episodic, Section 13.5): delta = R + gamma v(S') - v(S), v(s) = w . phi(s).

    Returns dict: returns [runs, episodes], theta [runs, episodes + 1, d], w [runs, k]."""
    alphas_theta, alphas_w = np.asarray(alphas_theta, dtype=np.float64), np.asarray(alphas_w, dtype=np.float64)
    runs, d = len(alphas_theta), x.shape[2]
    theta = np.tile(np.asarray(theta0, dtype=np.float64), (runs, 1))
    w = np.zeros((runs, phi.shape[1]))
    out = {"returns": np.zeros((runs, episodes)), "theta": np.zeros((runs, episodes + 1, d))}
    out["theta"][:, 0] = theta
    s, I = env.sample_start(runs, rng), np.ones(runs)
    ep, undiscounted = np.zeros(runs, int), np.zeros(runs)
    idx = np.arange(runs)
    while len(idx):
        si = s[idx]
        a = sample_actions(softmax_policy(theta[idx], x[si], min_prob), rng)
        s2, r, end = env.sample(si, a, rng)
        v, v2 = (w[idx] * phi[si]).sum(1), np.where(end, 0.0, (w[idx] * phi[s2]).sum(1))
        delta = r + gamma * v2 - v
        grad = grad_log_pi(theta[idx], x[si], a, min_prob)
        w[idx] += (alphas_w[idx] * delta)[:, None] * phi[si]
        theta[idx] += (alphas_theta[idx] * I[idx] * delta)[:, None] * grad
        I[idx] *= gamma
        undiscounted[idx] += r
        s[idx] = s2
        fin = idx[end]
        out["returns"][fin, ep[fin]] = undiscounted[fin]
        out["theta"][fin, ep[fin] + 1] = theta[fin]
        ep[fin] += 1
        s[fin], I[fin], undiscounted[fin] = env.sample_start(len(fin), rng), 1.0, 0.0
        idx = idx[ep[idx] < episodes]
    out["w"] = w
    return out
