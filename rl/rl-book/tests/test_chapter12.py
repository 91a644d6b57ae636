"""Chapter 12: eligibility traces. Closed-form lambda-returns, the forward/backward-view equivalences, and the
book's curves on the 19-state random walk (Figures 12.3, 12.6, 12.8)."""
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from shared.imports import load_module

BOOK = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ch12():
    return {name: load_module(BOOK / f"chapter12/{name}.py") for name in ("envs", "traces", "random_walk")}


# ----------------------------------------------------------------------------- the environment
def test_random_walk_19_env_and_model(ch12):
    env = ch12["envs"].RandomWalk19()
    check_env(env, skip_render_check=True)
    v = env.true_values
    assert v[1] == pytest.approx(-0.9) and v[19] == pytest.approx(0.9) and v[10] == 0
    # the true values solve the Bellman equation of the model (gamma = 1)
    inner = ~env.terminal
    np.testing.assert_allclose((env.r[:, 0] + env.P[:, 0] @ v)[inner], v[inner], atol=1e-12)
    # sampled transitions follow the model: next-state frequencies and mean reward, every state
    rng = np.random.default_rng(0)
    n = 20_000
    for s in range(env.n_states):
        s2, r, _ = env.sample(np.full(n, s), np.zeros(n, int), rng)
        np.testing.assert_allclose(np.bincount(s2, minlength=env.n_states) / n, env.P[s, 0], atol=0.015)
        assert r.mean() == pytest.approx(env.r[s, 0], abs=0.015)


def test_puddle_world_follows_sutton_1996(ch12):
    envs = ch12["envs"]
    check_env(envs.PuddleWorldEnv(), skip_render_check=True)
    # penalty 400 x (0.1 - distance to the puddle's axis), summed over the two puddles, 0 outside
    points = np.array([[0.3, 0.75], [0.3, 0.8], [0.45, 0.55], [0.55, 0.6], [0.9, 0.1], [0.1, 0.3]])
    np.testing.assert_allclose(envs.puddle_penalty(points), [40, 20, 40, 0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(envs.puddle_penalty(np.array([[0.45, 0.75]])), [80], atol=1e-9)
    # moves of 0.05 with N(0, 0.01^2) noise per coordinate, walls at the square's edges, the goal corner ends
    rng = np.random.default_rng(0)
    start = np.full((20_000, 2), 0.2)
    for action, move in enumerate([(0, 0.05), (0, -0.05), (0.05, 0), (-0.05, 0)]):
        xy, reward, done = envs.step(start, np.full(len(start), action), rng)
        np.testing.assert_allclose((xy - start).mean(0), move, atol=5e-4)
        np.testing.assert_allclose((xy - start).std(0), 0.01, atol=5e-4)
        assert np.all(reward == -1.0) and not done.any()
    xy, _, done = envs.step(np.array([[0.99, 0.99], [1.0, 0.0]]), np.array([2, 1]), rng)
    assert done.tolist() == [True, False] and xy.max() <= 1.0 and xy.min() >= 0.0
    assert (envs.sample_start(10_000, rng).sum(1) < 1.9).all()


# ----------------------------------------------------------------------------- helpers
def episode_arrays(states, rewards, terminal_last=True):
    """[1, T] arrays of one hand-made episode: states S_0..S_T (S_T terminal), rewards R_1..R_T."""
    s = np.array(states[:-1])[None]
    s2 = np.array(states[1:])[None]
    r = np.array(rewards, float)[None]
    done = np.zeros_like(s, bool)
    done[0, -1] = terminal_last
    return dict(s=s, r=r, s2=s2, done=done, valid=np.ones_like(s, bool))


def online_lambda_return(ep, active, n_features, lam, alpha, gamma):
    """The online lambda-return algorithm (Section 12.4), by its definition, O(T^2): at each horizon h, restart
    from the episode's initial weights and sweep t = 0..h-1 with truncated lambda-returns G^lambda_{t:h}, whose
    n-step returns bootstrap from w_{t+n-1} (the final weights of horizon t+n-1)."""
    s = list(ep["s"][0]) + [ep["s2"][0, -1]]
    r, T = ep["r"][0], ep["s"].shape[1]
    x = np.zeros((len(active), n_features))
    for state, idx in enumerate(active):
        x[state, idx] = 1.0
    v = lambda w, t: 0.0 if t == T else w @ x[s[t]]  # noqa: E731  (S_T is terminal)
    final = [np.zeros(n_features)]  # final[h] = w^h_h
    for h in range(1, T + 1):
        w = final[0].copy()
        for t in range(h):
            def n_step(n):  # G_{t:t+n}
                return sum(gamma ** i * r[t + i] for i in range(n)) + gamma ** n * v(final[t + n - 1], t + n)
            G = (1 - lam) * sum(lam ** (n - 1) * n_step(n) for n in range(1, h - t))
            G += lam ** (h - t - 1) * n_step(h - t)
            w = w + alpha * (G - w @ x[s[t]]) * x[s[t]]
        final.append(w)
    return final[T]


def coarse_features(n_states, rng):
    """Two active features out of 6 per state, so that states share weights (not the tabular case)."""
    return np.stack([rng.choice(6, 2, replace=False) for _ in range(n_states)])


# ----------------------------------------------------------------------------- the lambda-return, by hand
def test_lambda_return_matches_its_definition(ch12):
    """G^lambda_t = (1 - lambda) sum_n lambda^(n-1) G_{t:t+n} + lambda^(T-t-1) G_t (12.3) on a 3-step episode."""
    gam, lam = 0.9, 0.7
    r1, r2, r3 = 1.0, -2.0, 3.0
    v1, v2 = 0.5, -0.25  # v(S_1), v(S_2)
    ep = episode_arrays([0, 1, 2, 3], [r1, r2, r3])
    v_next = np.array([[v1, v2, 0.0]])
    G = ch12["traces"].lambda_returns(ep["r"], v_next, ep["done"], ep["valid"], np.array([lam]), gam)[0]
    G01, G02, G0 = r1 + gam * v1, r1 + gam * r2 + gam ** 2 * v2, r1 + gam * r2 + gam ** 2 * r3
    G12, G1 = r2 + gam * v2, r2 + gam * r3
    assert G[0] == pytest.approx((1 - lam) * (G01 + lam * G02) + lam ** 2 * G0, abs=1e-12)
    assert G[1] == pytest.approx((1 - lam) * G12 + lam * G1, abs=1e-12)
    assert G[2] == pytest.approx(r3, abs=1e-12)


# ----------------------------------------------------------------------------- forward view = backward view
def random_episode(rng, n_states=5, length=9):
    states = list(rng.integers(0, n_states - 1, length)) + [n_states - 1]  # last state terminal
    return episode_arrays(states, rng.normal(size=length))


def test_true_online_td_equals_online_lambda_return(ch12):
    """van Seijen & Sutton's equivalence: dutch traces give exactly the online lambda-return's weights, for any
    alpha, with features shared between states."""
    traces = ch12["traces"]
    rng = np.random.default_rng(1)
    active = coarse_features(5, rng)
    for alpha, lam, gam in ((0.1, 0.8, 0.9), (0.3, 0.5, 1.0)):
        ep = random_episode(rng)
        w = traces.td_lambda(ep, active, 6, np.array([lam]), np.array([alpha]), np.array([0]), 1, gamma=gam,
                             trace="dutch")[0, 0]
        np.testing.assert_allclose(w, online_lambda_return(ep, active, 6, lam, alpha, gam), atol=1e-10)


def test_true_online_td_matches_offline_lambda_return_for_small_alpha(ch12):
    """At the end of an episode both differ from the off-line lambda-return by O(alpha^2): the difference relative
    to the change of w shrinks in proportion to alpha."""
    traces = ch12["traces"]
    rng = np.random.default_rng(2)
    active = coarse_features(5, rng)
    ep = random_episode(rng)
    ratios = []
    for alpha in (1e-2, 1e-3):
        args = (active, 6, np.array([0.8]), np.array([alpha]), np.array([0]))
        online = traces.td_lambda(ep, *args, 1, gamma=0.9, trace="dutch")[0, 0]
        offline = traces.offline_lambda_return([ep], *args, gamma=0.9)[0, 0]
        ratios.append(np.linalg.norm(online - offline) / np.linalg.norm(offline))
    assert ratios[1] < 5e-3
    assert ratios[1] < 0.2 * ratios[0]


def test_td_lambda_zero_is_td0(ch12):
    envs, traces = ch12["envs"], ch12["traces"]
    env = envs.RandomWalk19()
    rng = np.random.default_rng(3)
    walks = traces.walk_episodes(env, 2, 5, rng)
    active = np.clip(np.arange(21) - 1, 0, 18)[:, None]
    w = traces.td_lambda(traces.as_stream(walks), active, 19, np.zeros(2), np.full(2, 0.2), np.arange(2), 5)[:, -1]
    for run in range(2):
        V = np.zeros(21)
        for ep in walks:
            for s, r, s2, valid in zip(ep["s"][run], ep["r"][run], ep["s2"][run], ep["valid"][run]):
                if valid:
                    V[s] += 0.2 * (r + V[s2] - V[s])  # terminal values stay 0
        np.testing.assert_allclose(w[run], V[1:20], atol=1e-12)


def test_lambda_one_is_monte_carlo(ch12):
    """lambda = 1: the off-line lambda-return *is* every-visit MC (exactly); TD(1) with accumulating traces
    approaches it as alpha -> 0 (the difference is O(alpha^2))."""
    traces = ch12["traces"]
    rng = np.random.default_rng(4)
    active = np.arange(5)[:, None]
    ep = random_episode(rng, length=12)
    s, r = ep["s"][0], ep["r"][0]
    returns = np.cumsum(r[::-1])[::-1]  # gamma = 1
    for alpha in (0.5, 1e-3):
        mc = np.zeros(5)
        for st, G in zip(s, returns):
            mc[st] += alpha * (G - mc[st])
        args = (active, 5, np.array([1.0]), np.array([alpha]), np.array([0]))
        np.testing.assert_allclose(traces.offline_lambda_return([ep], *args)[0, 0], mc, atol=1e-12)
    td1 = traces.td_lambda(ep, *args, 1)[0, 0]
    assert np.linalg.norm(td1 - mc) < 1e-2 * np.linalg.norm(mc)


# ----------------------------------------------------------------------------- the figures
@pytest.fixture(scope="module")
def curves(ch12):
    rw = ch12["random_walk"]
    return {m: rw.compute(m, 30, np.random.default_rng(0)) for m in ("offline", "accumulating", "dutch")}


@pytest.mark.parametrize("method", ["offline", "accumulating", "dutch"])
def test_figures_12_3_12_6_12_8_u_shapes_and_best_error(ch12, curves, method):
    rw = ch12["random_walk"]
    rms, lambdas = curves[method], rw.LAMBDAS
    b = rw.best(rms)
    assert 0.23 < b["rms"] < 0.29 and b["lambda"] in (0.8, 0.9) and 0.2 <= b["alpha"] <= 0.6
    # alpha = 0 learns nothing: the error of w = 0, sqrt(mean of v(i)^2) = sqrt(0.3), where the book's curves start
    np.testing.assert_allclose(rms[:, 0], np.sqrt(np.mean((np.arange(-9, 10) / 10) ** 2)), atol=1e-12)
    for i, lam in enumerate(lambdas):
        j = np.argmin(rms[i])
        if lam in (0.4, 0.8, 0.9):  # U-shaped: best alpha inside, both ends clearly worse
            assert rms[i, j] + 0.02 < min(rms[i, 1], rms[i, -1])
    # lambda = 0 (one-step TD) is clearly worse than intermediate lambda; so is lambda = 1 (MC)
    assert rms[0].min() > b["rms"] + 0.06 and rms[-1].min() > b["rms"] + 0.1


def test_accumulating_traces_blow_up_where_true_online_does_not(ch12, curves):
    """Figure 12.6 vs 12.8: at large lambda and alpha, TD(lambda) leaves the plot while true online TD(lambda)
    (and the lambda-return) degrade gently."""
    rw = ch12["random_walk"]
    i, j = rw.LAMBDAS.index(0.975), int(np.argmin(np.abs(rw.ALPHAS - 0.4)))
    assert curves["accumulating"][i, j] > 0.6
    assert curves["dutch"][i, j] < 0.5 and curves["offline"][i, j] < 0.5


# ----------------------------------------------------------------------------- Sarsa(lambda) on mountain car
def dense_sarsa_lambda(alpha, lam, episodes, rng, trace, clear_other_actions=False):
    """The book's boxes (Sarsa(lambda), Section 12.7; true online Sarsa(lambda)) for one learner with a dense
    trace vector, drawing random numbers in the same order as the vectorized version."""
    from common import mountain_car
    from common.policies import argmax_random_ties
    mc = load_module(BOOK / "chapter10/sarsa.py")
    A = mountain_car.N_ACTIONS
    w = np.zeros(mc.N_FEATURES * A)
    lengths = []
    for _ in range(episodes):
        position, velocity = mountain_car.sample_start(1, rng)
        tiles = mc.features(position, velocity)[0]
        q = lambda tiles: np.array([w[tiles * A + a].sum() for a in range(A)])  # noqa: E731
        action = argmax_random_ties(q(tiles)[None], rng)[0]
        z, q_old, t, done = np.zeros_like(w), 0.0, 0, False
        while not done:
            x = tiles * A + action
            position, velocity, reward, done = mountain_car.step(position, velocity, np.array([action]))
            tiles_next = mc.features(position, velocity)[0]
            q_next = q(tiles_next)
            action_next = argmax_random_ties(q_next[None], rng)[0]
            q_next_a = 0.0 if done[0] else q_next[action_next]
            delta = reward[0] + q_next_a - w[x].sum()
            if trace == "dutch":
                Q = w[x].sum()
                z_dot_x = z[x].sum()
                z *= lam
                z[x] += 1 - alpha * lam * z_dot_x
                w += alpha * (delta + Q - q_old) * z
                w[x] -= alpha * (Q - q_old)
                q_old = q_next_a
            else:
                if clear_other_actions:
                    for a in range(A):
                        if a != action:
                            z[tiles * A + a] = 0.0
                z[x] = z[x] + 1 if trace == "accumulating" else 1.0
                w += alpha * delta * z
                z *= lam
            tiles, action, t = tiles_next, action_next, t + 1
        lengths.append(t)
    return np.array(lengths), w


@pytest.mark.parametrize("trace, lam, clear", [("replacing", 0.9, False), ("replacing", 0.0, False),
                                               ("replacing", 0.9, True), ("accumulating", 0.9, False),
                                               ("dutch", 0.9, False)])
def test_lazy_traces_equal_the_books_dense_sarsa_lambda(ch12, trace, lam, clear):
    """The O(active features) bookkeeping of traces.sarsa_lambda gives the dense algorithm's episodes and weights."""
    alpha, episodes = 0.3 / 8, 2
    out = ch12["traces"].sarsa_lambda([alpha], [lam], episodes, np.random.default_rng(5), trace=trace,
                                      clear_other_actions=clear, max_steps_per_episode=10_000)
    lengths, w = dense_sarsa_lambda(alpha, lam, episodes, np.random.default_rng(5), trace, clear)
    np.testing.assert_array_equal(out["steps"][0], lengths)
    np.testing.assert_allclose(out["w"][0], w, atol=1e-9)


@pytest.fixture(scope="module")
def sarsa_figures(ch12):
    return load_module(BOOK / "chapter12/sarsa_lambda.py")


def test_figure_12_10_sarsa_lambda_learns_faster_than_one_step_sarsa(sarsa_figures):
    """Steps per episode over the first 20 episodes at alpha x 8 = 1.2: lambda = 0.92 needs far fewer than
    lambda = 0 (one-step Sarsa); Figure 12.10: ~185 vs ~230 over 50 episodes."""
    steps = sarsa_figures.sweep([1.2], [0.0, 0.92], 8, 20, np.random.default_rng(0), stop_above=1000,
                                trace="replacing")[:, 0]
    assert steps[1] < 0.85 * steps[0]


def test_figure_12_11_true_online_best_at_small_alpha_accumulating_diverges(sarsa_figures):
    """lambda = 0.9, reward per episode over the first 20 episodes (Figure 12.11): at alpha x 8 = 0.4 true online
    Sarsa(lambda) beats replacing traces; at alpha x 8 = 1.0 accumulating traces blow up (the learner is stopped
    at 1,000 steps per episode on average) while replacing and true online traces learn."""
    rng = np.random.default_rng(0)
    sweep = sarsa_figures.sweep
    small = {trace: sweep([0.4], [0.9], 8, 20, rng, stop_above=1000, trace=trace)[0, 0]
             for trace in ("dutch", "replacing")}
    assert small["dutch"] < small["replacing"] - 20
    large = {trace: sweep([1.0], [0.9], 8, 20, rng, stop_above=1000, trace=trace)[0, 0]
             for trace in ("dutch", "replacing", "accumulating")}
    assert large["accumulating"] == np.inf and large["dutch"] < 400 and large["replacing"] < 400


def test_figure_12_14_random_walk_panel_best_at_intermediate_lambda(ch12):
    """Best-over-alpha RMS error vs lambda: U-shaped, and at lambda near 1 replacing traces beat accumulating ones
    (a state revisited within an episode gets trace 1, not 2, 3, ...)."""
    rw = ch12["random_walk"]
    lambdas = [0.0, 0.8, 0.99]
    best = {trace: rw.compute(trace, 20, np.random.default_rng(0), lambdas=lambdas).min(1)
            for trace in ("accumulating", "replacing")}
    for b in best.values():
        assert b[1] + 0.05 < min(b[0], b[2])
    assert best["replacing"][2] + 0.05 < best["accumulating"][2]


def test_chapter12_scripts_are_deterministic_and_check_flags(tmp_path):
    import json
    import subprocess
    import sys

    def run(script, *flags):
        return subprocess.run([sys.executable, str(BOOK / "chapter12" / script), *flags], capture_output=True,
                              text=True, timeout=300)

    for out in ("a", "b"):
        done = run("random_walk.py", "--quick", "--figures", "12.6", "--seed", "3", "--out", str(tmp_path / out))
        assert done.returncode == 0, done.stderr
    first, second = (json.loads((tmp_path / out / "figure_12_6.json").read_text()) for out in ("a", "b"))
    assert first == second and first["runs"] == 20
    help_run = run("sarsa_lambda.py", "--help")
    assert help_run.returncode == 0 and "12.10" in help_run.stdout
    assert run("lambda_effect.py", "--mc-runs", "0").returncode == 2
    assert run("random_walk.py", "--figure", "12.6").returncode == 2  # no abbreviations
