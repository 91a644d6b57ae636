"""Chapter 12: eligibility traces, for linear prediction and control, vectorized over learners.

Features are binary, given as the indices of the active features of each state, `active[s] -> (k,)`: one index
per state is the tabular case (one-hot features, the random walk), several per state is coarse or tile coding.
Then w.x(s) = w[active[s]].sum(), and adding x to a trace is `z[active[s]] += 1`.

A *learner* is one (lambda, alpha, run) triple. Every learner has its own rows w[n], z[n]; all of them advance
one time step per loop iteration. Prediction doesn't act, so the learners of one run share its experience:
`walk_episodes` draws each run's episodes once and every (lambda, alpha) learns from the same ones (common random
numbers: the curves differ by the method, not by luck).

    offline_lambda_return   the off-line lambda-return algorithm (12.4), updates at the end of each episode
    td_lambda               semi-gradient TD(lambda) (12.5-12.7), accumulating or replacing traces, or
                            true online TD(lambda) with dutch traces (the box in Section 12.5)
    sarsa_lambda            Sarsa(lambda) on mountain car (Section 12.7), accumulating / replacing (optionally
                            clearing the other actions' traces) / dutch traces (true online Sarsa(lambda)),
                            with traces kept lazily (LazyTraces) so that a step costs O(active features)
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common import mountain_car  # noqa: E402
from common.policies import argmax_random_ties  # noqa: E402
from common.tiles import grid_tiles  # noqa: E402


# ----------------------------------------------------------------------------- experience
def walk_episodes(env, runs, episodes, rng):
    """Draw `episodes` episodes for each of `runs` runs of a Markov reward process (a one-action TabularEnv).

    Returns a list with one dict per episode of [runs, T] arrays (T: the longest episode among the runs):
    s, r, s2 (state, reward, next state), done (the step ends the episode) and valid (False on the padding).
    """
    out = []
    zero = np.zeros(runs, int)
    for _ in range(episodes):
        s, live = env.sample_start(runs, rng), np.ones(runs, bool)
        steps = []
        while live.any():
            s2, r, done = env.sample(s, zero, rng)
            steps.append((s, np.where(live, r, 0.0), s2, done & live, live))
            live = live & ~done
            s = np.where(live, s2, s)
        s, r, s2, done, valid = (np.stack(x, axis=1) for x in zip(*steps))
        out.append(dict(s=s, r=r, s2=s2, done=done, valid=valid))
    return out


def as_stream(episodes):
    """Each run's episodes one after another, padded at the end: dict of [runs, T_total] arrays.

    Online methods walk through this stream, so a run that finishes an episode starts its next one at once
    instead of waiting for the slowest run (about 3x fewer loop iterations than episode by episode)."""
    runs = episodes[0]["s"].shape[0]
    per_run = [{k: np.concatenate([e[k][i][e["valid"][i]] for e in episodes]) for k in ("s", "r", "s2", "done")}
               for i in range(runs)]
    T = max(len(p["s"]) for p in per_run)
    stream = {k: np.zeros((runs, T), dtype=per_run[0][k].dtype) for k in ("s", "r", "s2", "done")}
    stream["valid"] = np.zeros((runs, T), bool)
    for i, p in enumerate(per_run):
        for k, v in p.items():
            stream[k][i, :len(v)] = v
        stream["valid"][i, :len(p["s"])] = True
    return stream


def learner_grid(lambdas, alphas, runs):
    """All (lambda, alpha, run) combinations as flat arrays [L * A * runs], run index fastest."""
    lam, alpha, run = np.meshgrid(lambdas, alphas, np.arange(runs), indexing="ij")
    return lam.ravel(), alpha.ravel(), run.ravel()


# ----------------------------------------------------------------------------- the methods
def lambda_returns(r, v_next, done, valid, lam, gamma=1.0):
    """G^lambda_t of every step of one episode by the backward recursion (a rewriting of 12.2-12.3):

        G^lambda_t = R_{t+1} + gamma [(1 - lambda) v(S_{t+1}) + lambda G^lambda_{t+1}],   G^lambda_{T-1} = R_T.

    r, v_next, done, valid: [n, T]; lam: [n]. v_next must be 0 where the step ends the episode."""
    G = np.zeros_like(v_next)
    g_next = np.zeros(v_next.shape[0])
    for t in reversed(range(v_next.shape[1])):
        g_next = np.where(valid[:, t], r[:, t] + gamma * np.where(
            done[:, t], 0.0, (1 - lam) * v_next[:, t] + lam * g_next), 0.0)
        G[:, t] = g_next
    return G


def offline_lambda_return(episodes, active, n_features, lam, alpha, run, gamma=1.0):
    """Off-line lambda-return algorithm (12.4): nothing changes during an episode; at its end, the lambda-returns
    are computed with the episode's weights and w <- w + alpha [G^lambda_t - v(S_t, w)] x(S_t) for t = 0 ... T-1.

    lam, alpha, run: per learner [n]. Returns the weights after each episode [n, episodes, n_features]."""
    n = len(lam)
    w = np.zeros((n, n_features))
    w_flat, base = w.reshape(-1), np.arange(n)[:, None] * n_features  # feature i of learner k: w_flat[base[k] + i]
    history = np.zeros((n, len(episodes), n_features))
    for k, ep in enumerate(episodes):
        s, r, s2, done, valid = (ep[key][run] for key in ("s", "r", "s2", "done", "valid"))
        v_next = np.where(done, 0.0, w_flat.take(base[:, :, None] + active[s2]).sum(-1))
        G = lambda_returns(r, v_next, done, valid, lam, gamma)
        for t in range(s.shape[1]):
            ids = base + active[s[:, t]]
            error = G[:, t] - w_flat.take(ids).sum(1)
            w_flat[ids] += np.where(valid[:, t], alpha * error, 0.0)[:, None]
        history[:, k] = w
    return history


def td_lambda(stream, active, n_features, lam, alpha, run, episodes, gamma=1.0, trace="accumulating"):
    """Semi-gradient TD(lambda) (12.5-12.7) with accumulating or replacing traces, or true online TD(lambda)
    (Section 12.5) with dutch traces:

        accumulating:  z <- gamma lambda z + x;   w <- w + alpha delta z
        replacing:     z <- gamma lambda z, then z_i <- 1 for the active features i
        dutch (true online):  z <- gamma lambda z + (1 - alpha gamma lambda z.x) x
                              w <- w + alpha (delta + V - V_old) z - alpha (V - V_old) x,   V_old <- V'

    stream: `as_stream(walk_episodes(...))`; lam, alpha, run: per learner [n].
    Returns the weights after each episode [n, episodes, n_features]."""
    assert trace in ("accumulating", "replacing", "dutch"), trace
    n = len(lam)
    rows = np.arange(n)[:, None]
    w, z = np.zeros((n, n_features)), np.zeros((n, n_features))
    v_old = np.zeros(n)
    episode = np.zeros(n, int)
    history = np.zeros((n, episodes, n_features))
    decay = (gamma * lam)[:, None]
    for t in range(stream["s"].shape[1]):
        s, r, s2, done, valid = (stream[key][run, t] for key in ("s", "r", "s2", "done", "valid"))
        idx, idx2 = active[s], active[s2]
        v = w[rows, idx].sum(1)
        v_next = np.where(done, 0.0, w[rows, idx2].sum(1))
        delta = r + gamma * v_next - v
        step = np.where(valid, alpha, 0.0)
        if trace == "dutch":
            zx = z[rows, idx].sum(1)
            z *= decay
            z[rows, idx] += (1 - step * gamma * lam * zx)[:, None]
            w += (step * (delta + v - v_old))[:, None] * z
            w[rows, idx] -= (step * (v - v_old))[:, None]
            v_old = v_next
        else:
            z *= decay
            if trace == "accumulating":
                z[rows, idx] += 1.0
            else:
                z[rows, idx] = 1.0
            w += (step * delta)[:, None] * z
        # an episode ends: keep the weights, start the next episode with empty traces
        ended = np.nonzero(done)[0]
        history[ended, episode[ended]] = w[ended]
        episode[ended] += 1
        z[ended] = 0.0
        v_old[ended] = 0.0
    return history


def rms_error(history, env, active):
    """RMS error over the non-terminal states of each weight vector [..., n_features] -> [...]."""
    inner = np.nonzero(~env.terminal)[0]
    values = history[..., active[inner]].sum(-1)
    return np.sqrt(((values - env.true_values[inner]) ** 2).mean(-1))


# ----------------------------------------------------------------------------- control: Sarsa(lambda) on mountain car
def chapter10_sarsa():
    """Chapter 10's tile coding of mountain car (8 tilings of 8 x 8 tiles, tiles3's offsets): features(), N_FEATURES."""
    from shared.imports import load_module
    return load_module(Path(__file__).resolve().parents[1] / "chapter10" / "sarsa.py")


class MountainCarTask:
    """Mountain car (common/mountain_car.py) with chapter 10's tile coding, states as arrays [n, 2]."""
    n_actions = mountain_car.N_ACTIONS

    def __init__(self):
        self.tile_coding = chapter10_sarsa()
        self.tilings, self.n_features = self.tile_coding.TILINGS, self.tile_coding.N_FEATURES

    def sample_start(self, n, rng):
        return np.stack(mountain_car.sample_start(n, rng), -1)

    def step(self, state, action, rng):
        position, velocity, reward, done = mountain_car.step(state[:, 0], state[:, 1], action)
        return np.stack([position, velocity], -1), reward, done

    def features(self, state):
        return self.tile_coding.features(state[:, 0], state[:, 1])


class PuddleWorldTask:
    """Puddle world (envs.py) with 5 tilings of 5 x 5 tiles over the unit square (Sutton 1996)."""

    def __init__(self, tilings=5, tiles=5):
        from shared.imports import load_module
        self.world = load_module(Path(__file__).resolve().parent / "envs.py")
        self.n_actions = len(self.world.MOVES)
        self.tilings, self.tiles = tilings, tiles
        self.n_features = tilings * (tiles + 1) ** 2

    def sample_start(self, n, rng):
        return self.world.sample_start(n, rng)

    def step(self, state, action, rng):
        return self.world.step(state, action, rng)

    def features(self, state):
        return grid_tiles(state * self.tiles, self.tilings, self.tiles)


class LazyTraces:
    """Weights w and a decaying trace z for many learners, where a time step costs O(active features), not O(d).

    The dense updates z <- gamma lambda z and w <- w + alpha delta z touch every feature at every step (d = 2,160
    per learner on mountain car). Instead z = c u with a per-learner scale c (decaying is c <- gamma lambda c) and
    w = W + u (D - E): D accumulates sum(alpha delta c) over time, E_i holds D at the last time u_i changed. Only
    the features whose trace changes are touched ("materialized": W_i, E_i brought up to date). When c gets tiny
    the learner is rebased (w written out, c = 1), so that u = z / c never grows beyond 1 / REBASE_BELOW.
    (W, U, E) of a feature sit side by side as one 24-byte record, so one gather fetches all three (numpy's
    take on a record array is ~4x faster than fancy-indexing rows of a float array).
    """
    REBASE_BELOW = 1e-8

    def __init__(self, n, d):
        self.d = d
        self.WUE = np.zeros((n, d, 3))
        self.records = self.WUE.reshape(-1, 3).view("V24").reshape(-1)
        self.c, self.D = np.ones(n), np.zeros(n)

    def ids(self, rows, features):
        return rows[:, None] * self.d + features

    def read(self, rows, ids):
        """Current w and u at features ids [n, k] of learners rows [n]."""
        g = self.records.take(ids).view(np.float64).reshape(*ids.shape, 3)
        return g[..., 0] + g[..., 1] * (self.D[rows][:, None] - g[..., 2]), g[..., 1]

    def write(self, ids, w, u, e):
        self.records[ids] = np.stack(np.broadcast_arrays(w, u, e), -1).view("V24")[..., 0]

    def rebase(self, rows, keep_traces=True):
        """Write w out for these learners; keep z (as u = z, c = 1) or clear it (a new episode)."""
        block = self.WUE[rows]
        block[..., 0] += block[..., 1] * (self.D[rows][:, None] - block[..., 2])
        block[..., 1] = block[..., 1] * self.c[rows][:, None] if keep_traces else 0.0
        block[..., 2] = 0.0
        self.WUE[rows] = block
        self.D[rows], self.c[rows] = 0.0, 1.0

    def w(self):
        return self.WUE[..., 0] + self.WUE[..., 1] * (self.D[:, None] - self.WUE[..., 2])


def sarsa_lambda(alphas, lambdas, episodes, rng, trace="replacing", clear_other_actions=False,
                 max_steps_per_episode=1000, task=None):
    """Sarsa(lambda) (the box in Section 12.7), or true online Sarsa(lambda) (trace="dutch"), on mountain car
    (task None: MountainCarTask()) or another task with tile-coded binary features; greedy (w = 0 is
    optimistic: every reward is negative), gamma = 1.

    alphas, lambdas: per learner [n]; alphas are the step size per tiling (the book's "alpha" on the axis
    alpha x 8 is alphas * 8). trace: "accumulating" (z_i += 1), "replacing" (z_i = 1), "dutch" (true online).
    clear_other_actions: with replacing traces, zero the traces of the state's other actions (Figure 12.11).
    A learner that needs more than max_steps_per_episode x episodes steps in all, or whose q values pass 1e6
    in size (divergence: accumulating traces at large alpha), is stopped: its remaining episodes are inf (off the
    book's axes). Returns {"steps": [n, episodes] time steps per episode, "returns": [n, episodes] sums of rewards
    (-inf where stopped), "w": [n, d]}.
    """
    assert trace in ("accumulating", "replacing", "dutch"), trace
    task = MountainCarTask() if task is None else task
    alphas, decay = np.asarray(alphas, float), np.asarray(lambdas, float)  # gamma = 1: gamma lambda = lambda
    if trace == "dutch" and (decay == 0).any():
        raise ValueError("true online Sarsa(lambda) here needs lambda > 0 (lambda = 0 is plain Sarsa)")
    n, A, TILINGS = len(alphas), task.n_actions, task.tilings
    lazy = LazyTraces(n, task.n_features * A)
    actions = np.arange(A)
    steps, returns = np.full((n, episodes), np.inf), np.full((n, episodes), -np.inf)
    episode, t, total, G = np.zeros(n, int), np.zeros(n, int), np.zeros(n, int), np.zeros(n)
    state = np.zeros((n, 2))
    tiles, action, q_old = np.zeros((n, TILINGS), int), np.zeros(n, int), np.zeros(n)

    def q_all(rows, tile_ids):  # q(s, a) for every action [len(rows), A]
        ids = lazy.ids(rows, (tile_ids[:, None, :] * A + actions[:, None]).reshape(len(rows), -1))
        return lazy.read(rows, ids)[0].reshape(len(rows), A, TILINGS).sum(-1)

    def start(rows):
        state[rows] = task.sample_start(len(rows), rng)
        tiles[rows] = task.features(state[rows])
        action[rows] = argmax_random_ties(q_all(rows, tiles[rows]), rng)
        t[rows], q_old[rows], G[rows] = 0, 0.0, 0.0

    live = np.arange(n)
    start(live)
    while len(live):
        idx = live
        alpha, lam, c, D = alphas[idx], decay[idx], lazy.c[idx], lazy.D[idx]
        x = lazy.ids(idx, tiles[idx] * A + action[idx][:, None])  # the features of (S, A)
        state[idx], reward, done = task.step(state[idx], action[idx], rng)
        tiles_next = task.features(state[idx])
        q_next = q_all(idx, tiles_next)
        action_next = argmax_random_ties(q_next, rng)
        q_next_a = np.where(done, 0.0, q_next[np.arange(len(idx)), action_next])
        w_x, u_x = lazy.read(idx, x)
        q = w_x.sum(1)
        delta = reward + q_next_a - q
        if trace == "dutch":
            # z <- lambda z + (1 - alpha lambda z.x) x ;  w <- w + alpha (delta + Q - Q_old) z - alpha (Q - Q_old) x
            c_new = c * lam
            u_x = u_x + ((1 - alpha * lam * c * u_x.sum(1)) / c_new)[:, None]
            lazy.write(x, w_x - (alpha * (q - q_old[idx]))[:, None], u_x, D[:, None])
            lazy.D[idx] = D + alpha * (delta + q - q_old[idx]) * c_new
            lazy.c[idx] = c_new
            q_old[idx] = q_next_a
        else:
            if clear_other_actions:
                others = (tiles[idx][:, None, :] * A + actions[:, None])[action[idx][:, None] != actions]
                others = lazy.ids(idx, others.reshape(len(idx), -1))
                lazy.write(others, lazy.read(idx, others)[0], 0.0, D[:, None])
            u_x = u_x + (1 / c)[:, None] if trace == "accumulating" else (1 / c)[:, None]
            step = alpha * delta * c  # w <- w + alpha delta z, then z <- gamma lambda z
            # lambda = 0: only x has a trace, and it decays to 0 right away: write w out (no O(d) rebase)
            zero = (lam == 0)[:, None]
            lazy.write(x, np.where(zero, w_x + step[:, None] * u_x, w_x), np.where(zero, 0.0, u_x),
                       np.where(zero, 0.0, D[:, None]))
            lazy.D[idx] = np.where(lam == 0, 0.0, D + step)
            lazy.c[idx] = np.where(lam == 0, 1.0, c * lam)
        tiles[idx], action[idx] = tiles_next, action_next
        t[idx] += 1
        total[idx] += 1
        G[idx] += reward
        tiny = idx[lazy.c[idx] < lazy.REBASE_BELOW]
        if len(tiny):
            lazy.rebase(tiny)
        ended = idx[done]
        if len(ended):
            steps[ended, episode[ended]], returns[ended, episode[ended]] = t[ended], G[ended]
            episode[ended] += 1
            lazy.rebase(ended, keep_traces=False)
            start(ended)
        diverged = np.zeros(n, bool)
        # accumulating traces at large alpha: w grows without bound (to 1e268 and beyond before it overflows); a
        # learning agent's q is minus the steps to go, never near -1e6
        diverged[idx] = ~(np.abs(q_next) < 1e6).all(1)
        live = live[(episode[live] < episodes) & (total[live] <= max_steps_per_episode * episodes) & ~diverged[live]]
    return {"steps": steps, "returns": returns, "w": lazy.w()}
