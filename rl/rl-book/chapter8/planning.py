"""Chapter 8: planning and learning with tabular methods, vectorized over independent runs (or tasks).

dyna_q                 Tabular Dyna-Q (Section 8.2 box) and Dyna-Q+ (Section 8.3), every run its own Q and model
prioritized_sweeping   the Section 8.4 box (one run; a priority queue is sequential by nature)
greedy_path_length     follow the greedy policy from the start: how many steps to the goal (or None)
sample_update_errors   Figure 8.7: RMS error of sample vs expected updates per max-computation
random_tasks, trajectory_sampling   Figure 8.8: uniform vs on-policy distribution of expected updates

Runs are rows: Q[run, s, a], the model tables model_next[run, s, a], model_reward[run, s, a] and the list of
(s, a) pairs each run has observed. One loop iteration advances every run by one real step and then by each
of its planning steps, so the result is that of the book's loops run one after another.
"""
import heapq
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.policies import argmax_random_ties, epsilon_greedy  # noqa: E402


# ----------------------------------------------------------------------------- Dyna-Q and Dyna-Q+ (8.2, 8.3)
def dyna_q(env, planning_steps, runs, rng, episodes=None, steps=None, alpha=0.1, gamma=0.95, epsilon=0.1,
           kappa=0.0, change_at=None, record_episode=None, stop_when=None):
    """Dyna-Q (kappa = 0) or Dyna-Q+ (kappa > 0) on a deterministic TabularEnv, `runs` runs in lockstep.

    Runs for `episodes` episodes per run, or for `steps` time steps in total (episodes restart at the start).
    Dyna-Q plans with (s, a) pairs drawn uniformly from those the run has observed. Dyna-Q+ adds the bonus
    kappa * sqrt(tau) to the modelled reward in planning (tau: steps since (s, a) was last tried in the real
    environment) and, as the book's footnote says, also plans with actions never tried from a visited state,
    modelled as leading back to that state with reward 0 (their tau counts from the state's first visit).
    change_at: the step at which `env.set_phase(True)` changes the world (Figures 8.4, 8.5).
    record_episode: copies of run 0's Q at every step of that episode (Figure 8.3).
    stop_when(Q_rows, run_ids) -> bool mask: called for runs that just finished an episode; runs it
    approves stop, and their update counts are reported (Example 8.4).
    """
    S, A = env.n_states, env.n_actions
    rows = np.arange(runs)
    Q = np.zeros((runs, S, A))
    Qf = Q.reshape(-1)  # flat view: run r, state s, action a -> (r * S + s) * A + a
    model_next = np.tile(np.arange(S)[:, None], (runs, 1, A)).reshape(-1)  # untried: stay (Dyna-Q+'s footnote)
    model_reward = np.zeros(runs * S * A)
    last_tried = np.zeros(runs * S * A)
    # what each run may plan with: observed (s, a) pairs for Dyna-Q, visited states for Dyna-Q+
    plus = kappa > 0
    known = np.zeros((runs, S * A if not plus else S), bool)
    known_list = np.zeros((runs, S * A if not plus else S), int)
    n_known = np.zeros(runs, int)
    allowed = np.ones((runs, A), bool)

    s = env.sample_start(runs, rng)
    episode_steps, episode_len = [[] for _ in range(runs)], np.zeros(runs, int)
    rewards = [] if steps is not None else None
    active = np.ones(runs, bool)
    n_episodes = np.zeros(runs, int)
    seen_reward = np.zeros(runs, bool)
    updates = np.zeros(runs, np.int64)
    updates_when_stopped = np.full(runs, -1, np.int64)
    snapshots = []
    visits_after_change = np.zeros((runs, S), int)  # real entries into each state once the world has changed
    t = 0
    while active.any() and (steps is None or t < steps):
        if change_at is not None and t == change_at:
            env.set_phase(True)
        if plus:  # first visit: the state's untried actions enter planning with tau counted from now
            new = ~known[rows, s]
            if new.any():
                r_new = rows[new]
                known[r_new, s[new]] = True
                known_list[r_new, n_known[r_new]] = s[new]
                n_known[r_new] += 1
                flat = ((r_new * S + s[new]) * A)[:, None] + np.arange(A)
                last_tried[flat] = t
        a = epsilon_greedy(Q[rows, s], allowed, epsilon, rng)
        s2, r, done = env.sample(s, a, rng)
        i = (rows * S + s) * A + a
        # direct RL: one-step tabular Q-learning (terminal states keep Q = 0, so no special case)
        target = r + gamma * Q[rows, s2].max(1)
        Qf[i] += np.where(active, alpha * (target - Qf[i]), 0.0)
        # model learning (deterministic environment: remember the last outcome)
        model_next[i], model_reward[i], last_tried[i] = s2, r, t
        if not plus:
            pair = s * A + a
            new = active & ~known[rows, pair]
            known[rows[new], pair[new]] = True
            known_list[rows[new], n_known[new]] = pair[new]
            n_known[new] += 1
        # planning: n one-step Q-learning updates on simulated experience. Until a run has seen a nonzero
        # reward (its Q and its model's rewards are all 0) and if kappa = 0, every planning update leaves Q at 0:
        # skipping them when that holds for all active runs changes nothing but the speed (long first episodes).
        seen_reward |= r != 0
        n_plan = planning_steps if plus or (seen_reward & active).any() else 0
        uniforms = rng.random((n_plan, runs))
        for k in range(n_plan):
            pick = (uniforms[k] * n_known).astype(int)
            if plus:
                ps = known_list[rows, pick]
                j = (rows * S + ps) * A + rng.integers(0, A, runs)
            else:
                j = rows * S * A + known_list[rows, pick]
            reward = model_reward[j]
            if plus:
                reward = reward + kappa * np.sqrt(t - last_tried[j])
            nxt = (rows * S + model_next[j])[:, None] * A + np.arange(A)
            Qf[j] += np.where(active, alpha * (reward + gamma * Qf[nxt].max(1) - Qf[j]), 0.0)
        updates += active * (1 + planning_steps)
        if record_episode is not None and len(episode_steps[0]) == record_episode - 1:
            snapshots.append(Q[0].copy())
        if rewards is not None:
            rewards.append(r)
        episode_len += active
        if change_at is not None and t >= change_at:
            visits_after_change[rows, s2] += 1
        s = np.where(done, env.sample_start(runs, rng), s2)
        for run in np.nonzero(done & active)[0]:
            episode_steps[run].append(int(episode_len[run]))
        episode_len[done] = 0
        finished = done & active
        n_episodes += finished
        if episodes is not None:
            active &= n_episodes < episodes
        if stop_when is not None and finished.any():
            ids = np.nonzero(finished)[0]
            ok = ids[stop_when(Q[ids], ids)]
            updates_when_stopped[ok] = updates[ok]
            active[ok] = False
        t += 1
    out = {"Q": Q, "updates": updates, "updates_when_stopped": updates_when_stopped, "steps": t}
    if change_at is not None:
        env.set_phase(False)
        out["visits_after_change"] = visits_after_change
    if episodes is not None:
        out["episode_steps"] = np.array([e[:episodes] + [0] * (episodes - len(e)) for e in episode_steps])
    if rewards is not None:
        out["rewards"] = np.array(rewards).T  # [runs, steps]
    if record_episode is not None:
        out["snapshots"] = snapshots
    return out


def greedy_path_length(env, Q, rng, max_steps):
    """Steps the greedy policy of each Q [n, S, A] takes from the start to a goal, ties broken at random;
    max_steps + 1 where it doesn't arrive within max_steps."""
    n = len(Q)
    rows = np.arange(n)
    s = env.sample_start(n, rng)
    length = np.full(n, max_steps + 1)
    arrived = np.zeros(n, bool)
    for k in range(1, max_steps + 1):
        s = env.sample(s, argmax_random_ties(Q[rows, s], rng), rng)[0]
        now = env.terminal[s] & ~arrived
        length[now], arrived = k, arrived | now
        if arrived.all():
            break
    return length


# ----------------------------------------------------------------------------- prioritized sweeping (8.4)
def prioritized_sweeping(env, rng, planning_steps=5, alpha=0.5, gamma=0.95, epsilon=0.1, theta=1e-4,
                         stop_when=None, max_updates=10**8):
    """The book's prioritized sweeping box for one run on a deterministic maze; returns the number of Q updates
    and of real steps made by the time stop_when(Q) first holds at the end of an episode.

    Real experience enters only through the queue (the box's steps (d)-(f)); every Q update counts, whether
    triggered by the real step or by planning. A pair already queued keeps its highest priority (stale heap
    entries are skipped when popped). Q is a list of Python lists: a queue is one-at-a-time work, and plain
    floats are several times faster than numpy scalars here.
    """
    S, A = env.n_states, env.n_actions
    Q = [[0.0] * A for _ in range(S)]
    model = {}  # (s, a) -> (reward, next state)
    predecessors = [set() for _ in range(S)]
    queue, queued = [], {}  # heap of (-priority, s, a); queued[(s, a)] = its current priority

    def push(s, a, priority):
        if priority > theta and priority > queued.get((s, a), 0.0):
            queued[(s, a)] = priority
            heapq.heappush(queue, (-priority, s, a))

    updates = steps = 0
    s = int(env.sample_start(1, rng)[0])
    while updates < max_updates:
        steps += 1
        q_s = Q[s]
        if rng.random() < epsilon:
            a = int(rng.integers(A))
        else:  # greedy, ties broken at random
            best = max(q_s)
            ties = [b for b in range(A) if q_s[b] == best]
            a = ties[int(rng.integers(len(ties)))] if len(ties) > 1 else ties[0]
        s2, r, done = (x[0] for x in env.sample(np.array([s]), np.array([a]), rng))
        s2, r = int(s2), float(r)
        model[(s, a)] = (r, s2)
        predecessors[s2].add((s, a))
        push(s, a, abs(r + gamma * max(Q[s2]) - q_s[a]))
        for _ in range(planning_steps):
            while queue and -queue[0][0] != queued.get(queue[0][1:]):
                heapq.heappop(queue)  # stale entry: the pair was re-queued with a higher priority
            if not queue:
                break
            _, ps, pa = heapq.heappop(queue)
            del queued[(ps, pa)]
            pr, pn = model[(ps, pa)]
            Q[ps][pa] += alpha * (pr + gamma * max(Q[pn]) - Q[ps][pa])
            updates += 1
            target_of_ps = gamma * max(Q[ps])
            for (qs, qa) in predecessors[ps]:
                push(qs, qa, abs(model[(qs, qa)][0] + target_of_ps - Q[qs][qa]))
        if done:
            if stop_when is not None and stop_when(np.array(Q)):
                return updates, steps
            s = int(env.sample_start(1, rng)[0])
        else:
            s = s2
    return updates, steps


# ----------------------------------------------------------------------------- expected vs sample updates (8.5)
def sample_update_errors(b, instances, rng, computations_per_b=2.0):
    """Figure 8.7: a state-action pair with b equally likely successors whose values are N(0, 1); the estimate
    starts with error 1. An expected update costs b max-computations and leaves no error; a sample update costs
    one and, with alpha = 1/t (sample averaging), leaves error sqrt((b - 1) / (b t)) on average.

    Returns t = 0..T computations and the RMS error over instances after t sample updates, T = computations_per_b * b.
    """
    T = int(round(computations_per_b * b))
    errors = np.zeros((instances, T + 1))
    for i in range(instances):
        successor_values = rng.standard_normal(b)
        true_value = successor_values.mean()
        samples = successor_values[rng.integers(0, b, T)]
        estimate = np.cumsum(samples) / np.arange(1, T + 1)  # Q <- Q + (1/t)(sample - Q), so Q_t = mean of t samples
        errors[i, 0] = 1.0  # by construction: the initial estimate is off by 1
        errors[i, 1:] = estimate - true_value
    return np.arange(T + 1), np.sqrt((errors ** 2).mean(0))


# ----------------------------------------------------------------------------- trajectory sampling (8.6)
def random_tasks(n_tasks, n_states, branching, rng, n_actions=2):
    """Figure 8.8's tasks: from each (s, a), b successors drawn uniformly from all states, equally likely, each
    with its own reward ~ N(0, 1); after every transition the episode ends with probability 0.1."""
    successors = rng.integers(0, n_states, (n_tasks, n_states, n_actions, branching))
    rewards = rng.standard_normal((n_tasks, n_states, n_actions, branching))
    return successors, rewards


def _expected_update(Q, successors, rewards, tasks, s, a, continue_prob):
    """Q(s, a) <- sum over successors of p (r + continue_prob * max_a' Q(s', a')), in place, for each task."""
    nxt = successors[tasks, s, a]  # [tasks, b]
    Q[tasks, s, a] = (rewards[tasks, s, a] + continue_prob * Q[tasks[:, None], nxt].max(-1)).mean(-1)


def greedy_start_value(Q, successors, rewards, continue_prob, v0=None, tol=1e-3):
    """v_pi(start = 0) of the greedy policy of each task's Q, and v_pi of every state for the next call.

    b = 1: the greedy policy is a deterministic chain, so its value is a discounted sum along the chain,
    computed by doubling: after k rounds, value[s] sums the first 2^k rewards from s and jump[s] is where the
    2^k-th step lands (stopping once 0.9^(2^k) < 1e-12, i.e. 512 steps). b > 1: iterative policy
    evaluation, warm-started from v0 (the previous evaluation), to a largest change below tol.
    """
    n_tasks, S = Q.shape[:2]
    tasks, states = np.arange(n_tasks)[:, None], np.arange(S)[None]
    pi = Q.argmax(-1)
    offset = (tasks * S)[..., None]
    flat_next = successors[tasks, states, pi] + offset  # [tasks, S, b] into v.ravel()
    expected_reward = rewards[tasks, states, pi].mean(-1)
    if successors.shape[-1] == 1:
        value, jump, weight = expected_reward.ravel(), flat_next.ravel(), continue_prob
        while weight > 1e-12:
            value, jump, weight = value + weight * value[jump], jump[jump], weight * weight
        value = value.reshape(n_tasks, S)
        return value[:, 0], value
    v = np.zeros((n_tasks, S)) if v0 is None else v0
    while True:
        v_new = expected_reward + continue_prob * np.take(v, flat_next).mean(-1)
        if np.abs(v_new - v).max() < tol:
            return v_new[:, 0], v_new
        v = v_new


def trajectory_sampling(successors, rewards, distribution, n_updates, eval_every, rng, epsilon=0.1,
                        terminate_prob=0.1):
    """Expected updates, either cycling through all (s, a) in order ('uniform') or at the (s, a) met along
    epsilon-greedy episodes from the start state 0 ('on_policy'); every task in lockstep.

    Returns the update counts 0, eval_every, ... and the mean over tasks of the greedy policy's start value.
    """
    n_tasks, S, A, _ = successors.shape
    tasks = np.arange(n_tasks)
    continue_prob = 1.0 - terminate_prob
    Q = np.zeros((n_tasks, S, A))
    s = np.zeros(n_tasks, int)
    allowed = np.ones((n_tasks, A), bool)
    counts, values = [], []
    v = None
    for k in range(n_updates + 1):
        if k % eval_every == 0:
            start_value, v = greedy_start_value(Q, successors, rewards, continue_prob, v)
            counts.append(k)
            values.append(start_value.mean())
        if k == n_updates:
            break
        if distribution == "uniform":
            s_k, a_k = divmod(k % (S * A), A)
            _expected_update(Q, successors, rewards, tasks, np.full(n_tasks, s_k), np.full(n_tasks, a_k),
                             continue_prob)
        else:
            a = epsilon_greedy(Q[tasks, s], allowed, epsilon, rng)
            _expected_update(Q, successors, rewards, tasks, s, a, continue_prob)
            nxt = successors[tasks, s, a, rng.integers(0, successors.shape[-1], n_tasks)]
            s = np.where(rng.random(n_tasks) < terminate_prob, 0, nxt)
    return np.array(counts), np.array(values)
