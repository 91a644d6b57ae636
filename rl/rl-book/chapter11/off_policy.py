"""Chapter 11: off-policy prediction with linear function approximation, v(s) = w . x(s).

Sample-based methods follow one stream of behaviour experience per run (arrays [runs, d]):
    semi_gradient_td   semi-gradient off-policy TD(0) (11.2):  w += alpha rho delta x
    tdc                TDC / GTD(0) (11.30):  w += alpha rho (delta x - gamma x' (x . v)),  v += beta rho (delta - v . x) x
Expected (deterministic) versions replace each sample by its expectation under the behaviour's state
distribution mu and the model (this is what the book's "expected" curves iterate):
    semi_gradient_dp         (Section 11.2)  w += alpha / |S| sum_s (E_pi[R + gamma v(S') | s] - v(s)) x(s)
    expected_tdc             the expectation of TDC's two updates
    expected_emphatic_td     (11.7) w += alpha sum_s mu(s) m(s) delta_bar(s) x(s), with m(s) = E[M_t | S_t = s]
and the two errors the book plots: VE(w) = ||v_w - v_pi||^2_mu and PBE(w) = ||Pi delta_bar_w||^2_mu.
A `Problem` bundles the environment, features, policies and gamma.
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class Problem:
    env: object          # a TabularEnv (model P, r)
    X: np.ndarray        # features [S, d]
    behaviour: np.ndarray  # b(a | s) [S, A]
    target: np.ndarray   # pi(a | s) [S, A]
    gamma: float

    @property
    def P_pi(self):
        return np.einsum("sa,sat->st", self.target, self.env.P)

    @property
    def r_pi(self):
        return (self.target * self.env.r).sum(1)

    @property
    def mu(self):
        """The behaviour policy's stationary state distribution (left eigenvector of P_b for eigenvalue 1)."""
        P_b = np.einsum("sa,sat->st", self.behaviour, self.env.P)
        vals, vecs = np.linalg.eig(P_b.T)
        d = np.real(vecs[:, np.argmin(np.abs(vals - 1))])
        return d / d.sum()

    def v_pi(self):
        return np.linalg.solve(np.eye(len(self.X)) - self.gamma * self.P_pi, self.r_pi)

    def expected_td_error(self, w):
        """delta_bar(s) = E_pi[R + gamma v(S') - v(s) | s] for each row of w [..., d]: [..., S]."""
        v = w @ self.X.T
        return self.r_pi + self.gamma * v @ self.P_pi.T - v


def value_error(problem, w):
    """VE(w) for each row of w [..., d]."""
    return ((w @ problem.X.T - problem.v_pi()) ** 2 * problem.mu).sum(-1)


def projected_bellman_error(problem, w):
    """PBE(w) = (X^T D delta_bar)^T (X^T D X)^+ (X^T D delta_bar); the pseudo-inverse because Baird's 8 features
    span only 7 states (the projection is still well defined)."""
    D = problem.mu
    XtD_delta = (problem.expected_td_error(w) * D) @ problem.X
    return np.einsum("...i,ij,...j->...", XtD_delta, np.linalg.pinv(problem.X.T @ (D[:, None] * problem.X)), XtD_delta)


# ----------------------------------------------------------------------------- sample-based
def _transitions(problem, s, rng):
    """A ~ b(. | S), S' ~ P(. | S, A) for every run: returns a, s2, reward, rho."""
    a = np.minimum((problem.behaviour[s].cumsum(1) < rng.random((len(s), 1))).sum(1), problem.behaviour.shape[1] - 1)
    s2, reward, _ = problem.env.sample(s, a, rng)
    rho = problem.target[s, a] / problem.behaviour[s, a]
    return a, s2, reward, rho


def semi_gradient_td(problem, w0, alpha, steps, runs, rng):
    """Weights after each step: [runs, steps + 1, d]."""
    X, gamma = problem.X, problem.gamma
    w = np.tile(np.asarray(w0, dtype=np.float64), (runs, 1))
    history = [w.copy()]
    s = problem.env.sample_start(runs, rng)
    for _ in range(steps):
        _, s2, reward, rho = _transitions(problem, s, rng)
        delta = reward + gamma * (w * X[s2]).sum(1) - (w * X[s]).sum(1)
        w += (alpha * rho * delta)[:, None] * X[s]
        history.append(w.copy())
        s = s2
    return np.stack(history, 1)


def tdc(problem, w0, alpha, beta, steps, runs, rng, v0=None):
    """TDC with the secondary weights v starting at v0 (default 0). Weights after each step: [runs, steps + 1, d]."""
    X, gamma = problem.X, problem.gamma
    w = np.tile(np.asarray(w0, dtype=np.float64), (runs, 1))
    v = np.zeros_like(w) if v0 is None else np.tile(np.asarray(v0, dtype=np.float64), (runs, 1))
    history = [w.copy()]
    s = problem.env.sample_start(runs, rng)
    for _ in range(steps):
        _, s2, reward, rho = _transitions(problem, s, rng)
        x, x2 = X[s], X[s2]
        delta = reward + gamma * (w * x2).sum(1) - (w * x).sum(1)
        v_x = (v * x).sum(1)
        w += (alpha * rho)[:, None] * (delta[:, None] * x - gamma * x2 * v_x[:, None])
        v += (beta * rho * (delta - v_x))[:, None] * x
        history.append(w.copy())
        s = s2
    return np.stack(history, 1)


# ----------------------------------------------------------------------------- expected updates
def semi_gradient_dp(problem, w0, alpha, sweeps):
    """Synchronous semi-gradient DP, every state weighted 1/|S| as in the book. Weights after each sweep."""
    w = np.asarray(w0, dtype=np.float64).copy()
    history = [w.copy()]
    for _ in range(sweeps):
        w = w + alpha / len(problem.X) * problem.expected_td_error(w) @ problem.X
        history.append(w)
    return np.stack(history)


def expected_tdc(problem, w0, alpha, beta, sweeps, v0=None):
    """TDC's updates in expectation under mu: with E_b[rho | s] = 1 and E_b[rho f(S') | s] = E_pi[f(S') | s],
    w += alpha (X^T D delta_bar - gamma (P_pi X)^T D X v),   v += beta (X^T D delta_bar - X^T D X v)."""
    X, D, gamma = problem.X, problem.mu, problem.gamma
    next_features = problem.P_pi @ X  # E_pi[x(S') | s]
    w = np.asarray(w0, dtype=np.float64).copy()
    v = np.zeros(X.shape[1]) if v0 is None else np.asarray(v0, dtype=np.float64).copy()
    history = [w.copy()]
    for _ in range(sweeps):
        XtD_delta = (problem.expected_td_error(w) * D) @ X
        v_x = X @ v
        w, v = (w + alpha * (XtD_delta - gamma * (D * v_x) @ next_features),
                v + beta * (XtD_delta - (D * v_x) @ X))
        history.append(w)
    return np.stack(history)


def expected_emphatic_td(problem, w0, alpha, sweeps, interest=None):
    """One-step emphatic TD in expectation. M_t = gamma rho_{t-1} M_{t-1} + I(S_t), so m(s) = E[M_t | S_t = s]
    follows m'(s') = I(s') + gamma sum_s mu(s) P_pi(s' | s) m(s) / mu(s') (b rho = pi), starting from M_0 = I;
    the update is w += alpha sum_s mu(s) m(s) delta_bar(s) x(s). Returns weights after each sweep."""
    X, D, gamma = problem.X, problem.mu, problem.gamma
    interest = np.ones(len(X)) if interest is None else np.asarray(interest, dtype=np.float64)
    w, m = np.asarray(w0, dtype=np.float64).copy(), interest.copy()
    history = [w.copy()]
    for _ in range(sweeps):
        w = w + alpha * (D * m * problem.expected_td_error(w)) @ X
        m = interest + gamma * ((D * m) @ problem.P_pi) / D
        history.append(w)
    return np.stack(history)
