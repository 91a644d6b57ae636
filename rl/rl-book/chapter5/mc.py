"""Chapter 5: Monte Carlo prediction and control, on batches of whole episodes.

Blackjack is undiscounted with a single reward at the end and never revisits a state, so every
visited (state, action) has return G = the final reward and first-visit = every-visit MC. A sample
average does not depend on the order of its samples, so averaging over a batch of episodes played
at once gives exactly the estimates of the book's episode-by-episode loop (Figures 5.1, 5.3, 5.4).
Control (MC ES, off-policy MC) improves the policy between batches of episodes instead of after
each one: generalized policy iteration with a coarser alternation (batch size is a flag).
"""
import numpy as np

from envs import HIT, STICK, VectorBlackjack

SHAPE = (22, 11, 2)  # [player sum, dealer showing card, usable ace]; the book's states are sums 12-21


def stick_on(threshold):
    """hit_prob table of the policy that sticks on sums >= threshold (Example 5.1: threshold 20)."""
    hit = np.ones(SHAPE)
    hit[threshold:] = 0.0
    return hit


def first_visit_mc_prediction(states, valid, reward, shape=SHAPE):
    """Sample-average returns per state (Section 5.1). Returns (value, visits)."""
    s = states[valid]
    G = np.broadcast_to(reward[:, None], valid.shape)[valid]
    idx = np.ravel_multi_index(s.T, shape)
    visits = np.bincount(idx, minlength=np.prod(shape)).reshape(shape)
    total = np.bincount(idx, weights=G, minlength=np.prod(shape)).reshape(shape)
    return np.divide(total, visits, out=np.zeros(shape), where=visits > 0), visits


def _add_returns(sums, counts, states, actions, valid, returns, weights=None):
    """sums[s, a] += w * G, counts[s, a] += w over every valid step (decisions at sums >= 12 only)."""
    keep = valid & (states[..., 0] >= 12)
    idx = np.ravel_multi_index((*states[keep].T, actions[keep]), sums.shape)
    G = np.broadcast_to(returns[:, None], valid.shape)[keep]
    w = np.ones_like(G) if weights is None else weights[keep]
    sums += np.bincount(idx, weights=w * G, minlength=sums.size).reshape(sums.shape)
    counts += np.bincount(idx, weights=w, minlength=sums.size).reshape(sums.shape)


def greedy_hit_table(Q, default, rng):
    """hit_prob of the greedy policy w.r.t. Q, ties (e.g. two unvisited actions) broken by a fair coin per state;
    below 12 the player always hits (no risk), as in the book."""
    coin = rng.random(Q.shape[:-1]) < 0.5
    hit = np.where(Q[..., HIT] == Q[..., STICK], coin, Q[..., HIT] > Q[..., STICK]).astype(np.float64)
    hit[:12] = default[:12]
    return hit


def monte_carlo_es(n_episodes, rng, batch=10_000):
    """Monte Carlo ES (Section 5.3): exploring starts over sums 12-21, dealer 1-10, usable ace, and
    both actions; returns (Q [sum, dealer, usable, action], greedy hit table)."""
    game = VectorBlackjack()
    sums, counts = np.zeros(SHAPE + (2,)), np.zeros(SHAPE + (2,))
    policy = stick_on(20)  # the book's initial policy
    done = 0
    while done < n_episodes:
        n = min(batch, n_episodes - done)
        start = (rng.integers(12, 22, n), rng.integers(0, 2, n), rng.integers(1, 11, n))
        states, actions, valid, reward = game.play(policy, n, rng, start=start, first_action=rng.integers(0, 2, n))
        _add_returns(sums, counts, states, actions, valid, reward)
        Q = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        policy = greedy_hit_table(Q, policy, rng)
        done += n
    return Q, policy


def importance_ratios(states, actions, valid, target_hit, behaviour_hit):
    """rho = prod_t pi(A_t|S_t) / b(A_t|S_t) over each episode (5.3)."""
    s = tuple(np.moveaxis(states, -1, 0))
    s = (s[0].clip(0, 21), s[1], s[2])
    def prob(hit):
        p = np.where(actions == HIT, hit[s], 1.0 - hit[s])
        return np.where(valid, p, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.prod(prob(target_hit) / prob(behaviour_hit), axis=1)


def is_estimates(rho, G):
    """Ordinary (5.5) and weighted (5.6) importance-sampling estimates after 1..n episodes, along the last axis."""
    num = np.cumsum(rho * G, axis=-1)
    den = np.cumsum(rho, axis=-1)
    ordinary = num / np.arange(1, rho.shape[-1] + 1)
    weighted = np.divide(num, den, out=np.zeros_like(num), where=den > 0)  # 0 until a ratio is nonzero
    return ordinary, weighted


def off_policy_mc_control(n_episodes, rng, behaviour_hit=None, batch=10_000):
    """Off-policy MC control with weighted importance sampling (Section 5.7).

    Behaviour: hit_prob table (default: random, 0.5). Target: greedy in Q. Walking each episode back
    from its end, W *= 1/b(A_t|S_t) and the walk stops at the first action the target would not take;
    C(s, a) = sum of W and Q = (sum of W G) / C is the book's incremental update in closed form.
    Exploring starts over the book's states so that every state is visited. Returns (Q, greedy hit table).
    """
    game = VectorBlackjack()
    behaviour = np.full(SHAPE, 0.5) if behaviour_hit is None else behaviour_hit
    sums, C = np.zeros(SHAPE + (2,)), np.zeros(SHAPE + (2,))
    Q = np.zeros(SHAPE + (2,))
    target = greedy_hit_table(Q, stick_on(20), rng)
    done = 0
    while done < n_episodes:
        n = min(batch, n_episodes - done)
        start = (rng.integers(12, 22, n), rng.integers(0, 2, n), rng.integers(1, 11, n))
        states, actions, valid, reward = game.play(behaviour, n, rng, start=start)
        s = (states[..., 0].clip(0, 21), states[..., 1], states[..., 2])
        b = np.where(actions == HIT, behaviour[s], 1.0 - behaviour[s])
        agrees = (actions == (target[s] > 0.5)) | (states[..., 0] < 12)
        # W_t = prod_{k > t} 1/b(A_k|S_k) over a tail in which the target agrees with every action
        inv_b = np.where(valid, 1.0 / b, 1.0)
        W = np.ones_like(inv_b)
        tail_ok = np.ones(n, bool)
        for t in range(valid.shape[1] - 1, -1, -1):
            W[:, t] = np.where(tail_ok, W[:, t + 1] * inv_b[:, t + 1] if t + 1 < valid.shape[1] else 1.0, 0.0)
            tail_ok &= agrees[:, t] | ~valid[:, t]
        _add_returns(sums, C, states, actions, valid & (W > 0), reward, weights=W)
        Q = np.divide(sums, C, out=np.zeros_like(sums), where=C > 0)
        target = greedy_hit_table(Q, target, rng)
        done += n
    return Q, target
