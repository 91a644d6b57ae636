"""Chapter 9: the 1,000-state random walk, linear methods against plain loops and closed forms, the figures."""
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from shared.imports import load_module

BOOK = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ch9():
    return {name: load_module(BOOK / f"chapter9/{name}.py") for name in
            ("envs", "approx", "state_aggregation", "td_aggregation", "bases", "coarse_coding", "tile_coding")}


@pytest.fixture(scope="module")
def env(ch9):
    return ch9["envs"].RandomWalk1000()


def test_env_passes_gymnasium_checker(env):
    check_env(env, skip_render_check=True)


def test_model_and_samples_agree(env):
    """The vectorized sampler (used by every method) draws from the model P, R: next-state distribution,
    termination probabilities and expected reward, near both ends and in the middle."""
    rng = np.random.default_rng(0)
    for s in (1, 37, 500, 950, 1000):
        s2, r, done = env.sample(np.full(200_000, s), np.zeros(200_000, int), rng)
        empirical = np.bincount(s2, minlength=env.n_states) / len(s2)
        assert np.abs(np.cumsum(empirical) - np.cumsum(env.P[s, 0])).max() < 0.006   # Kolmogorov-Smirnov
        assert np.abs(empirical - env.P[s, 0])[1:-1].max() < 0.0015   # each neighbour: 0.005 +- 0.00016
        assert abs(empirical[0] - env.P[s, 0, 0]) < 0.005 and abs(empirical[-1] - env.P[s, 0, -1]) < 0.005
        assert abs(r.mean() - env.r[s, 0]) < 0.006
        assert np.array_equal(done, env.terminal[s2])
    assert env.P[1, 0, 0] == pytest.approx(0.5) and env.P[500, 0, 0] == 0.0 and env.P[100, 0, 0] == pytest.approx(0.005)


def test_true_values_and_state_distribution(ch9, env):
    v, P = env.true_values, env.P[:, 0]
    np.testing.assert_allclose(v[env.inner], (env.r[:, 0] + P @ v)[env.inner], atol=1e-12)   # Bellman equation
    np.testing.assert_allclose(v[1:-1], -v[1:-1][::-1], atol=1e-12)                          # the walk is symmetric
    assert -0.93 < v[1] < -0.9 and v[250] < -0.4
    # mu of (9.2)-(9.3) against the visits of 20,000 sampled episodes
    walks = ch9["approx"].walk_episodes(env, 20_000, np.random.default_rng(1))
    visits = np.bincount(walks.states, minlength=env.n_states) / len(walks.states)
    assert env.mu.sum() == pytest.approx(1.0) and env.mu.argmax() == 500
    inner = env.inner
    expected_visits = np.linalg.solve(np.eye(1000) - env.P[np.ix_(inner, [0], inner)][:, 0].T, env.start[inner])
    assert np.abs(visits - env.mu).max() < 0.001 and abs(walks.length.mean() - expected_visits.sum()) < 1.5


def test_error_measures(ch9, env):
    """sqrt(VE) (9.1) and the unweighted RMS error, computed as quadratic forms, against their definitions."""
    approx = ch9["approx"]
    X = approx.fourier(7)
    w = np.random.default_rng(4).normal(size=(3, 8))
    direct = np.sqrt(((w @ X.T - env.true_values) ** 2 * env.mu).sum(-1))
    np.testing.assert_allclose(approx.value_error(w, X, env), direct, rtol=1e-9)
    direct = np.sqrt(((w @ X.T - env.true_values)[:, 1:-1] ** 2).mean(-1))
    np.testing.assert_allclose(approx.rms_error(w, X, env), direct, rtol=1e-9)


def reference_td0(env, episodes, groups, alpha, w):
    """Semi-gradient TD(0) as the book's box on p. 203, one update per step, from stored episodes."""
    size = 1000 // groups
    for k in range(len(episodes)):
        states = list(episodes.states[episodes.start[k]:episodes.start[k + 1]])
        for t, s in enumerate(states):
            last = t == len(states) - 1
            target = episodes.G[k] if last else w[(states[t + 1] - 1) // size]
            w[(s - 1) // size] += alpha * (target - w[(s - 1) // size])
    return w


def reference_gradient_mc(episodes, X, alpha, w):
    """Gradient Monte Carlo as the book's box on p. 202: after each episode, one update per visited state."""
    for k in range(len(episodes)):
        for s in episodes.states[episodes.start[k]:episodes.start[k + 1]]:
            w += alpha * (episodes.G[k] - X[s] @ w) * X[s]
    return w


def test_methods_replay_the_books_loops(ch9, env):
    """Each vectorized method equals a plain loop over the same episodes: TD(0)'s composed maps, n-step TD
    (n = 1 is TD(0); n beyond the episode's end is gradient MC), the closed-form aggregated MC, and the sparse
    tile-coded MC against the dense one."""
    approx = ch9["approx"]
    walks = approx.walk_episodes(env, 40, np.random.default_rng(2))
    w_td = approx.td0_aggregation(walks, 10, 0.05, chunk=16)
    np.testing.assert_allclose(w_td[-1], reference_td0(env, walks, 10, 0.05, np.zeros(10)), atol=1e-12)
    nstep = approx.nstep_td_aggregation([walks], 10, [1, 4096], [0.05])[:, 0, 0]
    np.testing.assert_allclose(nstep[0], w_td, atol=1e-12)
    w_mc = approx.gradient_mc_aggregation(walks, 10, 0.05)
    np.testing.assert_allclose(nstep[1], w_mc, atol=1e-12)
    dense = approx.gradient_mc(walks, 2, [approx.aggregation(10), approx.tile_coding(5)], [0.05, 0.01], [0, 7, 20])
    np.testing.assert_allclose(dense[0, 0, :, :10], w_mc[[0, 7, 20]], atol=1e-12)   # run 0 = episodes 0..19
    second_run = approx.Episodes(walks.states[walks.start[20]:], walks.start[20:] - walks.start[20], walks.G[20:])
    X = approx.fourier(5)
    np.testing.assert_allclose(approx.gradient_mc(walks, 2, [X], [0.01], [20])[0, 1, 0],
                               reference_gradient_mc(second_run, X, 0.01, np.zeros(6)), atol=1e-12)
    active, n_features = approx.tile_indices(5)
    sparse = approx.gradient_mc_binary(walks, 2, active, n_features, 0.01, [0, 7, 20])
    np.testing.assert_allclose(sparse, dense[1, :, :, :n_features], atol=1e-12)


def test_figure_9_1_gradient_mc_reaches_mu_weighted_group_averages(ch9, env):
    """With alpha = 2e-5 over the book's 100,000 episodes the staircase is within 0.02 of the mu-weighted
    average of v_pi over every group (the minimum of VE), and its sqrt(VE) within 3% of that minimum."""
    _, out = ch9["state_aggregation"].compute(100_000, np.random.default_rng(0))
    assert np.abs(out["w"] - out["best_w"]).max() < 0.02
    assert out["best_sqrt_ve"] <= out["sqrt_ve"] < 1.03 * out["best_sqrt_ve"]
    assert out["best_sqrt_ve"] == pytest.approx(0.0544, abs=0.0005)


def test_td_fixed_point_is_worse_than_mc_and_within_the_bound(ch9, env):
    """Semi-gradient TD(0) settles at w_TD of (9.12), not at the MC solution: the end groups are pulled towards
    the middle. In a discounted continuing version of the walk (terminations restart at state 500) the book's
    bound (9.14) holds: min VE <= VE(w_TD) <= min VE / (1 - gamma)."""
    approx = ch9["approx"]
    X = approx.aggregation(10)
    w_td, w_mc = approx.td_fixed_point(X, env), approx.mc_solution(X, env)
    assert w_td[0] > w_mc[0] + 0.08 and w_td[-1] < w_mc[-1] - 0.08
    assert approx.value_error(w_td, X, env) > 2 * approx.value_error(w_mc, X, env)
    walks = approx.walk_episodes(env, 20_000, np.random.default_rng(3))
    learned = approx.td0_aggregation(walks, 10, 1e-3)[5000:].mean(0)     # the iterates' average
    assert np.abs(learned - w_td).max() < 0.05
    # the continuing, discounted walk
    P = env.P[:, 0].copy()
    P[:, env.start_state] += P[:, 0] + P[:, -1]
    P[:, [0, -1]] = 0.0
    inner = env.inner
    P, r = P[np.ix_(inner, inner)], env.r[inner, 0]
    evals, evecs = np.linalg.eig(P.T)
    d = np.real(evecs[:, np.argmin(np.abs(evals - 1))])
    d /= d.sum()
    Xi = X[inner]
    for gamma in (0.5, 0.9, 0.99):
        v = np.linalg.solve(np.eye(len(inner)) - gamma * P, r)
        ve = lambda w: (d * (Xi @ w - v) ** 2).sum()  # noqa: E731
        best = ve(np.linalg.solve(Xi.T @ (d[:, None] * Xi), Xi.T @ (d * v)))
        td = ve(approx.td_fixed_point(Xi, None, gamma, P=P, r=r, d=d))
        assert best < td <= best / (1 - gamma)


def test_figure_9_2_nstep_u_shapes(ch9):
    """The book's Figure 9.2 (right), like 7.2: intermediate n is best (here n = 4, alpha 0.4, RMS ~0.29),
    one-step TD wants a large alpha, long n with a large alpha is far worse than the start."""
    errors = ch9["td_aggregation"].compute_right(20, np.random.default_rng(0))
    ns, alphas = ch9["td_aggregation"].NS, ch9["td_aggregation"].ALPHAS
    n_best, a_best = np.unravel_index(np.argmin(errors), errors.shape)
    assert ns[n_best] in (2, 4, 8) and 0.2 <= alphas[a_best] <= 0.6 and 0.26 < errors.min() < 0.33
    assert alphas[np.argmin(errors[0])] >= 0.6                      # n = 1: a U with its minimum at large alpha
    assert errors[-1, -1] > 0.75 and errors[:, 0].std() == 0.0      # alpha = 0 learns nothing, for every n


def test_figure_9_5_fourier_beats_polynomials(ch9, env):
    """Fourier cosines learn faster than polynomials of the same order (book's Figure 9.5); the best fit of
    each basis improves with the order."""
    at, curves, best = ch9["bases"].compute(4, 800, np.random.default_rng(0))
    for order in (5, 10, 20):
        assert curves[f"Fourier {order}"][-1] < curves[f"polynomial {order}"][-1] - 0.04
        assert curves[f"Fourier {order}"][-1] < 0.25
    for basis in ("polynomial", "Fourier"):
        assert best[f"{basis} 5"] > best[f"{basis} 10"] > best[f"{basis} 20"]
    assert best["Fourier 5"] < 0.01


def test_figure_9_10_tile_coding_beats_aggregation(ch9, env):
    """50 offset tilings beat one tiling (state aggregation) at the same initial learning rate; the single
    tiling cannot go below its best staircase (sqrt VE 0.105 for 200-state groups), tile coding can."""
    approx = ch9["approx"]
    walks = approx.walk_episodes(env, 5 * 600, np.random.default_rng(0))
    final = {}
    for n in (1, 50):
        active, n_features = approx.tile_indices(n)
        w = approx.gradient_mc_binary(walks, 5, active, n_features, 1e-3 / n, [600])[:, 0]
        X = approx.tile_coding(n)
        final[n] = approx.value_error(w, X, env).mean()
        if n == 1:
            floor = approx.value_error(approx.mc_solution(X, env), X, env)
            assert floor == pytest.approx(0.105, abs=0.002) and final[1] > floor
    assert final[50] < 0.8 * final[1]
    assert approx.value_error(approx.mc_solution(approx.tile_coding(50), env), approx.tile_coding(50), env) < 0.01


def test_figure_9_8_broad_features_generalize_wider(ch9):
    """After 10 examples broad features have spread the estimate over more of the domain than narrow ones;
    after 10,240 all three widths approximate the square wave (mean |error| < 0.11)."""
    coarse = ch9["coarse_coding"]
    learned, errors = coarse.compute(np.random.default_rng(0))
    support = (np.abs(learned[:, 0]) > 0.02).mean(-1)            # [narrow, medium, broad] after 10 examples
    assert support[0] < support[1] < support[2] and support[2] > 0.9
    assert np.all(errors[:, -1] < 0.11) and np.all(errors[:, 0] > 0.3)
