"""Chapter 6: environments (cliff walking = the book's), TD prediction, batch updating and control."""
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from shared.imports import load_module

BOOK = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ch6():
    return {name: load_module(BOOK / f"chapter6/{name}.py") for name in
            ("envs", "td", "driving_home", "random_walk", "batch_updating", "windy_gridworld", "cliff_walking",
             "cliff_step_sizes", "maximization_bias")}


def test_envs_pass_gymnasium_checker(ch6):
    envs = ch6["envs"]
    for env in (envs.RandomWalk(), envs.WindyGridworld(), envs.MaximizationBias(), envs.make_cliff_walking()):
        check_env(env, skip_render_check=True)


def test_gymnasium_cliff_walking_follows_the_book(ch6):
    """4x12 grid, start bottom-left, goal bottom-right; -1 per step, -100 and back to the start for the cliff
    (the episode goes on); walls keep the agent in place. Our vectorized model replays the same env exactly."""
    env = gym.make("CliffWalking-v1")
    UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3
    s, _ = env.reset(seed=0)
    assert s == 36 and env.unwrapped.shape == (4, 12)
    assert env.step(LEFT)[:3] == (36, -1, False)
    assert env.step(RIGHT)[:3] == (36, -100, False)
    path = [UP] + [RIGHT] * 11 + [DOWN]
    rewards = [env.reset()[0] and 0] + [env.step(a)[1] for a in path]
    assert sum(rewards) == -13 and env.unwrapped.s == 47   # the optimal path along the cliff is 13 steps
    # The model we learn on is built from gymnasium's tables; check it against the book's rules written out here
    # independently (comparing its samples with gymnasium's steps would compare gymnasium with itself).
    model = ch6["envs"].make_cliff_walking()
    assert model.terminal.nonzero()[0].tolist() == [47]
    tabular = load_module(BOOK / "common/tabular.py")
    start = 36

    def book_rule(cell, a):
        (r, c), _ = tabular.clip_move(cell, tabular.MOVES[a], (4, 12))
        if r == 3 and 1 <= c <= 10:  # the cliff: -100 and back to the start
            return divmod(start, 12), -100.0
        return (r, c), -1.0

    P, R = tabular.grid_model((4, 12), book_rule)
    inner = ~model.terminal
    np.testing.assert_array_equal(model.P[inner], P[inner])
    np.testing.assert_array_equal(model.R[inner], R[inner])


def test_figure_6_1_driving_home_from_the_td_and_mc_updates(ch6):
    """The book's changes (Figure 6.1: MC +13 +3 +8 +3 0, TD +10 -5 +5 +3 0) come out of td.predict itself:
    one episode along the drive with alpha = 1, starting from the predicted times to go."""
    drive = ch6["driving_home"]
    total, _, _ = drive.changes()
    assert total.tolist() == [30, 40, 35, 40, 43, 43]  # the book's "predicted total time" column
    tabular = load_module(BOOK / "common/tabular.py")
    n = len(drive.ELAPSED)
    P, R = np.zeros((n, 1, n)), np.zeros((n, 1, n))
    for s in range(n - 1):
        P[s, 0, s + 1], R[s, 0, s + 1] = 1.0, drive.ELAPSED[s + 1] - drive.ELAPSED[s]  # reward = minutes of the leg
    terminal, start = np.eye(n)[n - 1].astype(bool), np.eye(n)[0]
    env = tabular.TabularEnv(P, R, start, terminal)
    changes = {}
    for method in ("mc", "td"):
        V = ch6["td"].predict(env, method, np.array([1.0]), 1, np.random.default_rng(0),
                              v0=drive.PREDICTED_TO_GO.astype(float))[0, 1]
        changes[method] = (drive.ELAPSED + V - total)[:-1].tolist()
    assert changes["mc"] == [13, 3, 8, 3, 0]
    assert changes["td"] == [10, -5, 5, 3, 0]


def _long_chain(n, gamma):
    """n states in a row, -1 per step and +10 on leaving the last one: episodes of n steps, v known exactly."""
    tabular = load_module(BOOK / "common/tabular.py")
    P, R = np.zeros((n + 1, 1, n + 1)), np.full((n + 1, 1, n + 1), -1.0)
    P[np.arange(n), 0, np.arange(1, n + 1)] = 1.0
    R[n - 1, 0, n] = 10.0
    env = tabular.TabularEnv(P, R, np.eye(n + 1)[0], np.eye(n + 1)[n].astype(bool))
    true_v = np.zeros(n + 1)
    true_v[:n] = np.linalg.solve(np.eye(n) - gamma * env.P[:n, 0, :n], env.r[:n, 0])
    return env, true_v


def test_predict_handles_discounting_step_rewards_and_long_episodes(ch6):
    """predict is promised for any Markov reward process: gamma < 1, a reward on every step, episodes longer than
    any fixed buffer (here 150 steps). With alpha = 1 on a deterministic chain the answers are exact: MC knows
    every state's return after one episode; TD(0) backs the final reward up by one state per episode."""
    gamma, n = 0.99, 150
    env, true_v = _long_chain(n, gamma)
    mc = ch6["td"].predict(env, "mc", np.array([1.0]), 1, np.random.default_rng(0), v0=0.0, gamma=gamma)[0]
    np.testing.assert_allclose(mc[1], true_v, atol=1e-9)
    td = ch6["td"].predict(env, "td", np.array([1.0]), n, np.random.default_rng(0), v0=0.0, gamma=gamma)[0]
    assert not np.allclose(td[n - 1], true_v)  # one state short of the start after n - 1 episodes
    np.testing.assert_allclose(td[n], true_v, atol=1e-9)


def test_td0_converges_to_true_values(ch6):
    envs, td = ch6["envs"], ch6["td"]
    env = envs.RandomWalk()
    history = td.predict(env, "td", np.full(100, 0.02), 500, np.random.default_rng(0))
    np.testing.assert_allclose(history[:, -1, 1:6].mean(0), [1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6], atol=0.03)


def test_example_6_2_td_beats_mc(ch6):
    env, curves, one_run = ch6["random_walk"].compute(50, np.random.default_rng(0))
    best_td = min(c[-1] for k, c in curves.items() if k.startswith("td"))
    best_mc = min(c[-1] for k, c in curves.items() if k.startswith("mc"))
    assert best_td < 0.06 and best_td < best_mc
    assert np.all(one_run[0, 1:6] == 0.5)


def test_figure_6_2_batch_td_beats_batch_mc(ch6):
    curves = ch6["batch_updating"].compute(50, 40, np.random.default_rng(0))
    assert curves["td"][-1] < curves["mc"][-1]
    assert curves["td"][10:].mean() < curves["mc"][10:].mean()


def test_example_6_5_windy_gridworld(ch6):
    envs = ch6["envs"]
    env = envs.WindyGridworld()
    dp = load_module(BOOK / "chapter4/dp.py")
    v, _, _ = dp.value_iteration(env.P, env.r, 1.0, in_place=False)
    assert v[np.argmax(env.start)] == -15  # the shortest path takes 15 steps
    env, out, paths = ch6["windy_gridworld"].compute(30, 170, np.random.default_rng(0))
    lengths = np.array([len(p) - 1 for p in paths])
    assert 7000 < out["end_step"][:, -1].mean() < 9500     # the book: 170 episodes in about 8,000 steps
    # A greedy policy learned with alpha = 0.5 can prefer bumping into a wall (all q(s, .) within noise of each
    # other) and never arrive; among the runs whose greedy policy arrives, the book's ~17 steps, 15 at best
    arrived = lengths[lengths < 100]
    assert len(arrived) >= 0.3 * len(lengths) and arrived.min() == 15 and np.median(arrived) <= 18


def test_example_6_6_cliff_walking(ch6):
    env, results = ch6["cliff_walking"].compute(50, 300, np.random.default_rng(0))
    sarsa, q = (results[m]["returns"][:, -100:].mean() for m in ("sarsa", "q_learning"))
    assert -32 < sarsa < -20 and -60 < q < -42   # the book: about -25 vs -50
    path = ch6["td"].greedy_path(env, results["q_learning"]["Q"].mean(0))
    assert path == [36, 24] + list(range(25, 36)) + [47]  # up, along the cliff edge, down: 13 steps
    assert len(ch6["td"].greedy_path(env, results["sarsa"]["Q"].mean(0))) - 1 > 13  # Sarsa keeps away


def test_figure_6_3_shapes(ch6):
    results = ch6["cliff_step_sizes"].compute(100, 5, 1000, 0)
    sarsa, expected, q = (results[m] for m in ("sarsa", "expected_sarsa", "q_learning"))
    # Expected Sarsa is best at large step sizes, interim and asymptotic; Sarsa collapses at alpha = 1
    assert expected["interim"][-1] > sarsa["interim"][-1] and expected["interim"][-1] > q["interim"][-1]
    assert expected["asymptotic"][-1] > -30 and sarsa["asymptotic"][-1] < sarsa["asymptotic"][4] - 20
    assert -60 < q["asymptotic"][4] < -45


@pytest.mark.parametrize("method", ["sarsa", "q_learning", "expected_sarsa"])
def test_compiled_control_matches_the_numpy_control(ch6, method):
    """Figure 6.3 runs the per-run loops compiled with numba; they must learn exactly as td.control does
    (same algorithm, other random numbers): mean return over 100 episodes, 400 runs per step size."""
    env = ch6["envs"].make_cliff_walking()
    alphas = np.repeat([0.1, 0.5, 1.0], 400)
    compiled = load_module(BOOK / "chapter6/td_compiled.py").control_returns(env, method, alphas, 100, seed=3)
    numpy = ch6["td"].control(env, method, alphas, 100, np.random.default_rng(3))["returns"]
    a, b = (x.reshape(3, 400, 100).mean((1, 2)) for x in (compiled, numpy))
    np.testing.assert_allclose(a, b, atol=3.0)  # standard error of each difference ~1
    assert np.ptp(a) > 20  # the step size matters (alpha = 0.1 learns far slower), so the check has teeth


def test_figure_6_5_double_q_removes_the_bias(ch6):
    left = ch6["maximization_bias"].compute(2000, 300, np.random.default_rng(0))
    assert left["q_learning"].max() > 70 and left["q_learning"][-50:].mean() > 8
    assert abs(left["double_q"][-50:].mean() - 5) < 3


@pytest.mark.slow
def test_chapter6_scripts_are_deterministic(tmp_path):
    def run(out):
        return subprocess.run([sys.executable, str(BOOK / "chapter6/maximization_bias.py"), "--quick", "--seed", "3",
                               "--out", str(out)], capture_output=True, text=True, timeout=300)
    a, b = run(tmp_path / "a"), run(tmp_path / "b")
    assert a.returncode == 0, a.stderr
    assert (tmp_path / "a/figure_6_5.json").read_text() == (tmp_path / "b/figure_6_5.json").read_text()
    bad = subprocess.run([sys.executable, str(BOOK / "chapter6/windy_gridworld.py"), "--runs", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "positive" in bad.stderr
    bad = subprocess.run([sys.executable, str(BOOK / "chapter6/driving_home.py"), "--seed", "-1", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--seed" in bad.stderr and "Traceback" not in bad.stderr
