"""Chapter 10's methods: episodic semi-gradient n-step Sarsa on mountain car (Sections 10.1-10.2) and
differential semi-gradient Sarsa for continuing tasks (Section 10.3), numpy.

Mountain car's q(s, a, w) is linear in tile-coded features, as in the book: 8 tilings of 8 x 8 tiles over
position x velocity, tiles3's asymmetric offsets, one weight vector per action (the book's tiles3 call puts
the action into the hashed tuple instead; same features). The learner runs many independent runs at once:
row i of the weights [runs, features, actions] is run i's w, each with its own step size, state and
episode counter, so every alpha of a figure and all 100 runs share one loop.

Why no hashing: with 8 tilings x 10 x 9 displaced tiles x 3 actions = 2,160 tile tuples the book's IHT of
4,096 entries never fills, so it is a one-to-one renumbering of the tiles and learning does not depend on it;
`features` numbers the same tiles directly (`grid_tiles`, tested to partition the state space exactly as the
tiles3 IHT does). A shared hash (`tiles(4096, ...)` with an int) would add ~20% collisions the book does not
have; an IHT per run would cost a table look-up per run per step for nothing.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common import mountain_car  # noqa: E402
from common.policies import argmax_random_ties  # noqa: E402
from common.tiles import grid_tiles  # noqa: E402

TILINGS = 8
# 8 tiles across each bounded dimension, in tiles3's units: x * 8 / (0.5 + 1.2), x_dot * 8 / (0.07 + 0.07).
SCALE = TILINGS / np.array([mountain_car.POSITION_BOUNDS[1] - mountain_car.POSITION_BOUNDS[0],
                            mountain_car.VELOCITY_BOUNDS[1] - mountain_car.VELOCITY_BOUNDS[0]])
# grid_tiles wants coordinates >= 0: shift by a whole number of tiles, which leaves tiles3's tiles unchanged.
SHIFT = np.ceil(-np.array([mountain_car.POSITION_BOUNDS[0], mountain_car.VELOCITY_BOUNDS[0]]) * SCALE)
TILES_PER_DIM = np.ceil(np.array([mountain_car.POSITION_BOUNDS[1], mountain_car.VELOCITY_BOUNDS[1]]) * SCALE
                        + SHIFT).astype(int)
N_FEATURES = TILINGS * int(np.prod(TILES_PER_DIM + 1))


def tile_units(position, velocity):
    """States in tiles3's units, shifted to be >= 0: arrays [n] -> [n, 2]."""
    return np.stack([position, velocity], -1) * SCALE + SHIFT


# grid_tiles reads each coordinate only through floor(coordinate * TILINGS), so its output is a function of
# that integer pair: tabulate it once and look states up (exactly grid_tiles, ~10x faster in the inner loop).
_CELLS = (TILES_PER_DIM + 1) * TILINGS
_TABLE = grid_tiles((np.stack(np.meshgrid(*map(np.arange, _CELLS), indexing="ij"), -1).reshape(-1, 2) + 0.5)
                    / TILINGS, TILINGS, TILES_PER_DIM)


def features(position, velocity):
    """Active tile indices [n, TILINGS] (in [0, N_FEATURES)) of states given as arrays position, velocity [n]."""
    cell = np.floor(tile_units(position, velocity) * TILINGS).astype(np.int64)
    return _TABLE[cell[:, 0] * _CELLS[1] + cell[:, 1]]


def q_values(w, active):
    """q(s, a, w) for all actions [n, A]: w [F, A] (one run) or [runs * F, A] with active ids offset by run * F."""
    return w[active].sum(1)


def cost_to_go(w, resolution=60):
    """-max_a q(s, a, w) on a position x velocity grid (Figure 10.1): positions, velocities, cost [vel, pos]."""
    positions = np.linspace(*mountain_car.POSITION_BOUNDS, resolution)
    velocities = np.linspace(*mountain_car.VELOCITY_BOUNDS, resolution)
    x, v = np.meshgrid(positions, velocities)
    active = features(x.ravel(), v.ravel())
    q = w[active].sum(1)  # one weight vector [F, A]
    return positions, velocities, -q.max(1).reshape(x.shape)


def n_step_return(reward_ring, tau, T, q_boot):
    """G_{tau:tau+n} = R_{tau+1} + ... + R_{min(tau+n, T)}, plus q(S_{tau+n}, A_{tau+n}) if tau + n < T (gamma = 1),
    for each row: reward_ring [rows, n + 1] holds R_t in slot t % (n + 1); tau, T, q_boot [rows]."""
    n = reward_ring.shape[1] - 1
    k = tau[:, None] + np.arange(1, n + 1)
    rewards = np.take_along_axis(reward_ring, k % (n + 1), 1)
    return np.where(k <= T[:, None], rewards, 0.0).sum(1) + np.where(tau + n < T, q_boot, 0.0)


def n_step_sarsa(alphas, n, episodes, rng, snapshots=(), max_steps=10_000):
    """Episodic semi-gradient n-step Sarsa (Section 10.2; n = 1 is Section 10.1's one-step Sarsa) on mountain
    car, greedy (epsilon = 0: w = 0 is optimistic since every reward is -1), gamma = 1, ties broken at random.

    alphas [runs]: each run's step size per tiling (the book's alpha / 8 is alphas = 0.5 / 8, say).
    snapshots: (episode, step) pairs, counted from 1, at which to copy run 0's weights; step None means at
    the end of that episode. Returns a dict: steps [runs, episodes] (time steps of each episode),
    truncated [runs, episodes], w [runs, F, A], snapshots {(episode, step): w of run 0}.

    max_steps: a safety stop the book does not have. Now and then (about one run in a few hundred, early
    on) the greedy car gets stuck dithering at the bottom of the valley: the three actions' values there sink
    together, the greedy action flips every few steps and the car never builds up speed, for tens of
    thousands of steps. Such an episode is cut at max_steps (its pending n-step updates dropped) and
    reported in `truncated`.
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    runs, A = len(alphas), mountain_car.N_ACTIONS
    w = np.zeros((runs * N_FEATURES, A))  # run i's weights are rows i * F ... (i + 1) * F - 1
    w_flat = w.reshape(-1)
    offset = (np.arange(runs) * N_FEATURES)[:, None]
    wanted, saved = set(snapshots), {}
    # Ring buffers over the last n + 1 time steps, slot t % (n + 1): active feature ids of S_t (offset to
    # the run's rows of w), A_t and R_t.
    buf_active = np.zeros((runs, n + 1, TILINGS), np.int64)
    buf_action = np.zeros((runs, n + 1), np.int64)
    buf_reward = np.zeros((runs, n + 1))
    steps_out = np.zeros((runs, episodes), np.int64)
    truncated = np.zeros((runs, episodes), bool)
    episode = np.zeros(runs, np.int64)
    never = np.iinfo(np.int64).max
    t = np.zeros(runs, np.int64)
    T = np.full(runs, never)  # terminal time of the current episode, once known
    position, velocity = np.zeros(runs), np.zeros(runs)
    rows = np.arange(runs)

    def start_episodes(idx):
        position[idx], velocity[idx] = mountain_car.sample_start(len(idx), rng)
        t[idx], T[idx] = 0, never
        active = features(position[idx], velocity[idx]) + offset[idx]
        buf_active[idx, 0] = active
        buf_action[idx, 0] = argmax_random_ties(q_values(w, active), rng)

    start_episodes(rows)
    # Every run steps on every pass, also while flushing its last n - 1 updates (after T) and after its last
    # episode: those steps touch nothing that is read (slot (t + 1) % (n + 1) is S_{tau-1}'s, done with), and
    # whole-array operations beat selecting the runs that need them.
    while episode.min() < episodes:
        # act: A_t, observe R_{t+1}, S_{t+1}, choose A_{t+1} greedily
        nxt = (t + 1) % (n + 1)
        position, velocity, reward, done = mountain_car.step(position, velocity, buf_action[rows, t % (n + 1)])
        buf_reward[rows, nxt] = reward
        active = features(position, velocity) + offset
        buf_active[rows, nxt] = active
        buf_action[rows, nxt] = argmax_random_ties(q_values(w, active), rng)
        T = np.where(done & (T == never), t + 1, T)
        # learn: update S_tau, A_tau towards the n-step return, tau = t - n + 1
        tau = t - n + 1
        boot_slot = (tau + n) % (n + 1)
        boot = w_flat[buf_active[rows, boot_slot] * A + buf_action[rows, boot_slot][:, None]].sum(1)
        G = n_step_return(buf_reward, tau, T, boot)
        slot = tau % (n + 1)
        ids = buf_active[rows, slot] * A + buf_action[rows, slot][:, None]
        alpha = np.where(tau >= 0, alphas, 0.0)  # nothing to update in an episode's first n - 1 steps
        # one active feature per tiling, all distinct: fancy-index += adds to each exactly once
        w_flat[ids] += (alpha * (G - w_flat[ids].sum(1)))[:, None]
        t += 1
        ended = tau == T - 1  # the episode's last update is done
        if wanted and (episode[0] + 1, int(t[0])) in wanted and t[0] <= T[0]:
            saved[(episode[0] + 1, int(t[0]))] = w[:N_FEATURES].copy()
        stuck = (t >= max_steps) & (T == never)
        if stuck.any():
            T[stuck] = max_steps
            idx = rows[stuck & (episode < episodes)]
            truncated[idx, episode[idx]] = True
            ended |= stuck
        if ended.any():
            idx = rows[ended & (episode < episodes)]
            steps_out[idx, episode[idx]] = T[idx]
            if wanted and ended[0] and (episode[0] + 1, None) in wanted:
                saved[(episode[0] + 1, None)] = w[:N_FEATURES].copy()
            episode[ended] += 1
            start_episodes(rows[ended])
    return {"steps": steps_out, "truncated": truncated, "w": w.reshape(runs, N_FEATURES, A), "snapshots": saved}


# ----------------------------------------------------------------------------- continuing tasks (10.3)
def differential_sarsa(env, steps, rng, alpha=0.01, beta=0.01, epsilon=0.1):
    """Differential semi-gradient Sarsa (Section 10.3) with one-hot features (a table q[s, a]) on a
    TabularEnv, one run, epsilon-greedy with random ties. Returns q [S, A] and the average-reward estimate R_bar.

    One run of millions of steps is a sequential loop, so it runs on Python floats: transitions are drawn
    from the env's model by inverse CDF (uniforms drawn in blocks), which costs ~1 us a step instead of the
    ~20 us of numpy calls on one-element arrays.
    """
    from bisect import bisect_right
    S, A = env.n_states, env.n_actions
    cdf = [[list(row) for row in per_s] for per_s in env._cdf]
    reward = env.R.tolist()
    allowed = [np.flatnonzero(row).tolist() for row in env.allowed]
    q = [[0.0] * A for _ in range(S)]
    r_bar = 0.0

    def choose(s, u_explore, u_pick):
        acts = allowed[s]
        if u_explore < epsilon:
            return acts[int(u_pick * len(acts))]
        values = [q[s][a] for a in acts]
        best = [a for a, v in zip(acts, values) if v == max(values)]
        return best[int(u_pick * len(best))]

    s = int(env.sample_start(1, rng)[0])
    a = choose(s, *rng.random(2))
    block = 100_000
    for start in range(0, steps, block):
        u_next, u_explore, u_pick = rng.random((3, min(block, steps - start))).tolist()
        for i, u in enumerate(u_next):
            s2 = min(bisect_right(cdf[s][a], u), S - 1)
            a2 = choose(s2, u_explore[i], u_pick[i])
            delta = reward[s][a][s2] - r_bar + q[s2][a2] - q[s][a]
            r_bar += beta * delta
            q[s][a] += alpha * delta
            s, a = s2, a2
    return np.array(q), r_bar


def relative_value_iteration(env, sweeps=10_000, tol=1e-12):
    """The optimal average reward r* and differential action values q*(s, a) of a unichain TabularEnv
    (pinned so that max_a q*(s_0, a) = 0); the exact answer that differential Sarsa estimates."""
    r = np.where(env.allowed, env.r, -np.inf)
    h = np.zeros(env.n_states)
    for _ in range(sweeps):
        q = r + env.P @ h
        v = q.max(1)
        gain = v[0]
        if np.abs(v - gain - h).max() < tol:
            break
        h = v - gain
    return gain, q - gain
