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
    model = ch6["envs"].make_cliff_walking()
    assert model.terminal.nonzero()[0].tolist() == [47]
    rng = np.random.default_rng(0)
    s, _ = env.reset(seed=1)
    for a in rng.integers(0, 4, 500):
        s2, r, done, *_ = env.step(int(a))
        m2, mr, mdone = model.sample(np.array([s]), np.array([a]), rng)
        assert (m2[0], mr[0], mdone[0]) == (s2, r, done)
        s = env.reset()[0] if done else s2


def test_figure_6_1_driving_home(ch6):
    total, mc_target, td_target = ch6["driving_home"].changes()
    assert total.tolist() == [30, 40, 35, 40, 43, 43]
    assert (td_target - total[:-1]).tolist() == [10, -5, 5, 3, 0]
    assert (mc_target - total[:-1]).tolist() == [13, 3, 8, 3, 0]


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
    results = ch6["cliff_step_sizes"].compute(100, 5, 1000, np.random.default_rng(0))
    sarsa, expected, q = (results[m] for m in ("sarsa", "expected_sarsa", "q_learning"))
    # Expected Sarsa is best at large step sizes, interim and asymptotic; Sarsa collapses at alpha = 1
    assert expected["interim"][-1] > sarsa["interim"][-1] and expected["interim"][-1] > q["interim"][-1]
    assert expected["asymptotic"][-1] > -30 and sarsa["asymptotic"][-1] < sarsa["asymptotic"][4] - 20
    assert -60 < q["asymptotic"][4] < -45


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
