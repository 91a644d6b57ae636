"""Chapter 9: on-policy prediction with linear function approximation, vectorized.

The policy is fixed, so the episodes do not depend on the weights: `walk_episodes` draws all of them up front
(every walk advances in one numpy step), and each method then replays them in the book's order of updates.

Features of the 1,000-state random walk, dense tables X[s, :] over states 0..1001 (terminal rows are zero):
    aggregation(groups)   one-hot group of 1000 / groups consecutive states (Section 9.3)
    polynomial(order)     1, s, s^2, ..., s^order with s scaled to [0, 1] (9.17)
    fourier(order)        cos(i pi s), i = 0..order (9.18)
    tile_coding(...)      tilings of tiles `width` states wide, offset from each other (Section 9.5.4);
                          tile_indices(...) gives the same as the active tiles' indices

Methods (w: [rows, features], every row its own run / step size / feature set):
    gradient_mc_aggregation  gradient MC (p. 202) with state aggregation, in closed form per episode
    td0_aggregation          semi-gradient TD(0) (p. 203), each episode's updates composed into one affine map
    nstep_td_aggregation     n-step semi-gradient TD (p. 209), rows over (n, alpha, run)
    gradient_mc              gradient MC with any linear features, rows over (feature set, run)
    gradient_mc_binary       the same for binary features given by their active indices (tile coding)
    coarse_coding            Example 9.3: supervised learning of a function with interval features
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.tiles import grid_tiles  # noqa: E402

N_INNER = 1000


# ----------------------------------------------------------------------------- episodes
class Episodes:
    """Many episodes of the walk, stored flat: the states of episode k are states[start[k]:start[k + 1]]
    (S_0 .. S_{T-1}, terminal left out) and its return is G[k] (-1 or +1: the only reward is the last)."""

    def __init__(self, states, start, G):
        self.states, self.start, self.G = states, start, G
        self.length = np.diff(start)

    def __len__(self):
        return len(self.G)

    def padded(self):
        """states [episodes, max length] padded with the terminal the episode ended in (value 0)."""
        T = self.length
        out = np.empty((len(T), T.max()), np.int32)
        out[:] = np.where(self.G > 0, N_INNER + 1, 0)[:, None]
        mask = np.arange(T.max()) < T[:, None]
        out[mask] = self.states
        return out


def walk_episodes(env, n, rng):
    """n independent episodes of the random walk, all advanced together one time step per numpy call."""
    s = np.full(n, env.start_state)
    alive = np.arange(n)
    ids, visited, G = [], [], np.zeros(n)
    while len(alive):
        ids.append(alive)
        visited.append(s)
        s2, r, done = env.sample(s, np.zeros(len(s), int), rng)
        G[alive[done]] = r[done]
        alive, s = alive[~done], s2[~done]
    ids, visited = np.concatenate(ids), np.concatenate(visited)
    order = np.argsort(ids, kind="stable")  # episode by episode, in time order within each
    start = np.concatenate([[0], np.cumsum(np.bincount(ids, minlength=n))])
    return Episodes(visited[order].astype(np.int32), start, G)


# ----------------------------------------------------------------------------- features
def scaled_states():
    return np.arange(N_INNER + 2) - 1.0  # state s -> s - 1 in [0, 999] for the inner states


def _zero_terminals(X):
    X[[0, -1]] = 0.0
    return X


def aggregation(groups):
    X = np.zeros((N_INNER + 2, groups))
    X[np.arange(1, N_INNER + 1), np.arange(N_INNER) // (N_INNER // groups)] = 1.0
    return X


def polynomial(order):
    x = scaled_states() / (N_INNER - 1)
    return _zero_terminals(x[:, None] ** np.arange(order + 1))


def fourier(order):
    x = scaled_states() / (N_INNER - 1)
    return _zero_terminals(np.cos(np.pi * x[:, None] * np.arange(order + 1)))


def tile_indices(num_tilings, width=200):
    """Active tiles [states, num_tilings] and the number of tiles: num_tilings tilings of tiles `width` states
    wide, each offset width / num_tilings states from the last (50 tilings of 200: offsets of 4 states, Figure
    9.10); one tiling is state aggregation into groups of `width`. Terminal rows are meaningless."""
    tiles_per_tiling = N_INNER // width
    x = np.clip(scaled_states(), 0, N_INNER - 1)[:, None] / width
    return grid_tiles(x, num_tilings, [tiles_per_tiling]), num_tilings * (tiles_per_tiling + 1)


def tile_coding(num_tilings, width=200):
    """The same tilings as a dense feature table X [states, tiles]."""
    active, n_features = tile_indices(num_tilings, width)
    X = np.zeros((N_INNER + 2, n_features))
    X[np.arange(N_INNER + 2)[:, None], active] = 1.0
    return _zero_terminals(X)


def _weighted_rms(w, X, env, d):
    """sqrt(sum_s d(s) (x(s) . w - v(s))^2) for w [..., features], as a quadratic form in w (no [..., states])."""
    v = env.true_values
    Q, b, c = X.T @ (d[:, None] * X), X.T @ (d * v), (d * v * v).sum()
    squared = np.einsum("...f,fg,...g->...", w, Q, w) - 2 * w @ b + c
    return np.sqrt(np.maximum(squared, 0.0))


def value_error(w, X, env):
    """sqrt(VE) of (9.1): the mu-weighted RMS error of x(s) . w against v_pi."""
    return _weighted_rms(w, X, env, env.mu)


def rms_error(w, X, env):
    """Unweighted RMS error over the 1,000 states (Figures 7.2 and 9.2)."""
    return _weighted_rms(w, X, env, (~env.terminal).astype(float) / N_INNER)


# ----------------------------------------------------------------------------- fixed points
def mc_solution(X, env):
    """The minimum of VE: the mu-weighted least-squares fit of v_pi, where gradient MC converges."""
    D = env.mu
    return np.linalg.lstsq(X.T @ (D[:, None] * X), X.T @ (D * env.true_values), rcond=None)[0]


def td_fixed_point(X, env, gamma=1.0, P=None, r=None, d=None):
    """w_TD of (9.12): A w = b with A = E[x_t (x_t - gamma x_{t+1})^T], b = E[R_{t+1} x_t], the expectations
    under the on-policy distribution. The walk's model by default; P [S, S], r [S], d [S] for another chain."""
    P = env.P[:, 0] if P is None else P
    r = env.r[:, 0] if r is None else r
    d = env.mu if d is None else d
    A = X.T @ (d[:, None] * (X - gamma * P @ X))
    b = X.T @ (d * r)
    return np.linalg.lstsq(A, b, rcond=None)[0]


# ----------------------------------------------------------------------------- aggregation methods
def group_counts(episodes, groups):
    """Visits of each episode to each group: [episodes, groups]."""
    episode = np.repeat(np.arange(len(episodes)), episodes.length)
    group = (episodes.states - 1) // (N_INNER // groups)
    return np.bincount(episode * groups + group, minlength=len(episodes) * groups).reshape(-1, groups)


def gradient_mc_aggregation(episodes, groups, alpha, runs=1):
    """Gradient MC with state aggregation, gamma = 1: every update of an episode moves one group's weight
    towards the same return G, so the k visits to group g compose to w_g <- G + (1 - alpha)^k (w_g - G),
    exactly the k updates of the book's loop. runs * E episodes, run r's are r*E .. (r+1)*E - 1.
    Returns w after each episode: [episodes + 1, groups] for one run, else [runs, E + 1, groups]."""
    E = len(episodes) // runs
    keep = ((1.0 - alpha) ** group_counts(episodes, groups)).reshape(runs, E, groups)
    G = episodes.G.reshape(runs, E, 1)
    w = np.zeros((runs, E + 1, groups))
    for k in range(E):
        w[:, k + 1] = G[:, k] + keep[:, k] * (w[:, k] - G[:, k])
    return w[0] if runs == 1 else w


def _episode_maps(S, T, G, groups, alpha):
    """The affine maps of TD(0)'s updates along each episode (rows of S, padded with the terminal)."""
    order = np.argsort(-T, kind="stable")                   # longest first: the live episodes are a prefix
    S, T, G = S[order], T[order], G[order]
    K = len(T)
    group = np.where((S >= 1) & (S <= N_INNER), (S - 1) // (N_INNER // groups), groups)  # terminal -> row `groups`
    M = np.broadcast_to(np.eye(groups + 2), (K, groups + 2, groups + 2)).copy()
    M[:, groups, groups] = 0.0                               # the terminal's value is 0 whatever w is
    rows = M.reshape(-1, groups + 2)                         # row g of map k is rows[k * (groups + 2) + g]
    for t in range(T[0]):
        n = np.searchsorted(-T, -t, side="left")             # episodes 0..n-1 have T > t
        base = np.arange(n) * (groups + 2)
        g = base + group[:n, t]
        g2 = base + (group[:n, t + 1] if t + 1 < S.shape[1] else groups)
        r = np.where(T[:n] == t + 1, G[:n], 0.0)
        # left-multiply by this update's map: only row g changes
        rows[g] += alpha * (rows[g2] + r[:, None] * rows[base + groups + 1] - rows[g])
    M[order] = M.copy()
    return M


def td0_aggregation(episodes, groups, alpha, chunk=8000):
    """Semi-gradient TD(0) with state aggregation over a long single run, returns w after each episode.

    Each TD(0) update is affine in w: w_g <- w_g + alpha (R + w_{g'} - w_g). One episode's updates, applied in
    time order, compose into one affine map M_k (on [w, 0, 1]: the extra rows hold the terminal's value 0 and
    the constant 1); all episodes' maps are built at once, one time step per numpy call, then applied in turn."""
    K, S = len(episodes), episodes.padded()
    M = np.empty((K, groups + 2, groups + 2))
    for k in range(0, K, chunk):       # a chunk's maps stay in cache while its time steps run
        T, G = episodes.length[k:k + chunk], episodes.G[k:k + chunk]
        M[k:k + chunk] = _episode_maps(S[k:k + chunk, :T.max() + 1], T, G, groups, alpha)
    w = np.zeros((K + 1, groups + 2))
    w[0, -1] = 1.0
    for k in range(K):
        w[k + 1] = M[k] @ w[k]
    return w[:, :groups]


def nstep_td_aggregation(episodes_per_run, groups, ns, alphas):
    """n-step semi-gradient TD (gamma = 1) with state aggregation, for every (n, alpha, run) at once.

    episodes_per_run: list over runs of Episodes (the same episodes for every n and alpha of a run).
    With rewards only on termination, G_{t:t+n} is the final reward if t + n >= T, else w_{g(S_{t+n})}; the
    updates of an episode happen in order t = 0, 1, ..., T - 1, each with the weights as they are then.
    Returns w after each episode, [len(ns), len(alphas), runs, episodes + 1, groups]."""
    runs, E = len(episodes_per_run), len(episodes_per_run[0])
    n_row, a_row, run_row = (x.ravel() for x in np.meshgrid(ns, alphas, np.arange(runs), indexing="ij"))
    w = np.zeros((len(n_row), groups + 1))                 # column `groups`: padding past the end, never read
    flat = w.reshape(-1)
    row_base = np.arange(len(n_row)) * (groups + 1)
    history = np.zeros((len(n_row), E + 1, groups))
    for e in range(E):
        T = np.array([eps.length[e] for eps in episodes_per_run])
        G = np.array([eps.G[e] for eps in episodes_per_run], dtype=float)[run_row]
        group = np.full((runs, T.max() + 1), groups)
        for r, eps in enumerate(episodes_per_run):
            group[r, :T[r]] = (eps.states[eps.start[e]:eps.start[e + 1]] - 1) // (N_INNER // groups)
        T_row = T[run_row]
        at = run_row * group.shape[1]                       # row's run in the flattened group table
        group = group.reshape(-1)
        for t in range(T.max()):
            ahead = np.minimum(t + n_row, T_row)
            g = row_base + group[at + t]
            target = np.where(ahead == T_row, G, flat[row_base + group[at + ahead]])
            flat[g] += np.where(t < T_row, a_row * (target - flat[g]), 0.0)
        history[:, e + 1] = w[:, :groups]
    return history.reshape(len(ns), len(alphas), runs, E + 1, groups)


# ----------------------------------------------------------------------------- gradient MC, any features
def _update_streams(episodes, runs, checkpoints):
    """Each run's gradient-MC updates as one stream: the visited states, episode after episode, with their
    episode's return. Returns stream and G [max updates, runs] (padded with state 0, a terminal), the number of
    updates per run, and {update index: [(run, checkpoint)]}: when to copy the weights, i.e. when run r has
    completed checkpoints[p] episodes."""
    E = len(episodes) // runs
    first = episodes.start[np.arange(runs + 1) * E]        # run r's updates: first[r] .. first[r + 1]
    U = np.diff(first)
    stream = np.zeros((U.max(), runs), np.int32)
    G = np.zeros((U.max(), runs))
    G_of_update = np.repeat(episodes.G, episodes.length)
    for r in range(runs):
        stream[:U[r], r] = episodes.states[first[r]:first[r + 1]]
        G[:U[r], r] = G_of_update[first[r]:first[r + 1]]
    done_after = np.concatenate([np.zeros((runs, 1), int), episodes.start[1:].reshape(runs, E) - first[:-1, None]], 1)
    snapshots = {}
    for r in range(runs):
        for p, k in enumerate(checkpoints):
            snapshots.setdefault(int(done_after[r, k]), []).append((r, p))
    return stream, G, U, snapshots


def gradient_mc(episodes, runs, feature_sets, alphas, checkpoints, chunk=1024):
    """Gradient Monte Carlo (p. 202) with linear features, gamma = 1, rows over (feature set, run).

    episodes: runs * E episodes, run r's are r*E .. (r+1)*E - 1 (every feature set sees the same episodes).
    feature_sets: list of X [states, F_c] (zero-padded to the widest); alphas: step size per feature set.
    Every row advances one update of the book's loop per numpy step. Returns the weights when each
    checkpoint's number of episodes is complete: [sets, runs, len(checkpoints), F].
    """
    stream, G, U, snapshots = _update_streams(episodes, runs, checkpoints)
    F = max(X.shape[1] for X in feature_sets)
    X = np.stack([np.pad(Xc, ((0, 0), (0, F - Xc.shape[1]))) for Xc in feature_sets], 1)  # [S, C, F]
    w = np.zeros((runs, len(feature_sets), F))
    weights = np.zeros((runs, len(checkpoints), len(feature_sets), F))
    alpha = np.asarray(alphas, dtype=float)
    for u0 in range(0, U.max(), chunk):
        xs = X[stream[u0:u0 + chunk]]                       # [chunk, runs, C, F]; padding has x = 0: no update
        for i, x in enumerate(xs):
            for r, p in snapshots.get(u0 + i, ()):
                weights[r, p] = w[r]
            error = G[u0 + i, :, None] - np.einsum("rcf,rcf->rc", w, x)
            error *= alpha
            w += x * error[..., None]
    for r, p in snapshots.get(int(U.max()), ()):
        weights[r, p] = w[r]
    return weights.transpose(2, 0, 1, 3)


def gradient_mc_binary(episodes, runs, active, n_features, alpha, checkpoints, chunk=1024):
    """Gradient MC with binary features given by their indices, active [states, k] (tile coding: one per
    tiling): v(s) = sum of the k active weights, each moved by alpha (G - v(s)). Same stream as gradient_mc,
    without multiplying by the zeros. Returns [runs, len(checkpoints), n_features]."""
    stream, G, U, snapshots = _update_streams(episodes, runs, checkpoints)
    active = np.where(np.arange(len(active))[:, None] == 0, n_features, active)   # padding -> a spare weight
    w = np.zeros((runs, n_features + 1))
    flat = w.reshape(-1)
    offset = (np.arange(runs) * (n_features + 1))[:, None]
    weights = np.zeros((runs, len(checkpoints), n_features))
    for u0 in range(0, U.max(), chunk):
        indices = active[stream[u0:u0 + chunk]] + offset    # [chunk, runs, k], distinct within a row
        for i, idx in enumerate(indices):
            for r, p in snapshots.get(u0 + i, ()):
                weights[r, p] = w[r, :n_features]
            flat[idx] += (alpha * (G[u0 + i] - flat[idx].sum(1)))[:, None]
    for r, p in snapshots.get(int(U.max()), ()):
        weights[r, p] = w[r, :n_features]
    return weights


# ----------------------------------------------------------------------------- coarse coding (Example 9.3)
def square_wave(x):
    return ((x >= 0.5) & (x < 1.5)).astype(float)


def interval_features(x, width, n_features=50, low=0.0, high=2.0):
    """Binary features [len(x), n]: x lies in interval i, of the given width, centred at c_i; the centres are
    spread evenly so that every point of [low, high) is covered by about as many intervals as any other."""
    centres = np.linspace(low - width / 2, high + width / 2, n_features)
    return (np.abs(np.asarray(x)[:, None] - centres) < width / 2).astype(float)


def coarse_coding(widths, n_examples, snapshots, rng, grid, n_features=50):
    """Linear learning of the square wave on [0, 2) with interval features, alpha = 0.2 / (features present
    at one time) as in Example 9.3; the same random examples for every width. Returns the approximations
    on `grid` after each snapshot count of examples: [len(widths), len(snapshots), len(grid)]."""
    xs = rng.uniform(0.0, 2.0, n_examples)
    out = np.zeros((len(widths), len(snapshots), len(grid)))
    for i, width in enumerate(widths):
        features = interval_features(xs, width, n_features)
        alpha = 0.2 / features.sum(1).mean()
        w = np.zeros(n_features)
        done = 0
        for j, k in enumerate(snapshots):
            for x_t, y_t in zip(features[done:k], square_wave(xs[done:k])):
                w += alpha * (y_t - w @ x_t) * x_t
            done = k
            out[i, j] = interval_features(grid, width, n_features) @ w
    return out
