"""Chapters 3 and 4: the printed values of Figures 3.2, 3.5, 4.1, 4.3 and Jack's policy iteration."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from shared.imports import load_module

BOOK = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def book():
    return lambda rel: load_module(BOOK / rel)


def run_script(rel, *args):
    return subprocess.run([sys.executable, str(BOOK / rel), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_figure_3_2_and_3_5_match_the_book(book):
    v_pi, v_star, best = book("chapter3/gridworld.py").compute()
    np.testing.assert_allclose(v_pi[0], [3.3, 8.8, 4.4, 5.3, 1.5], atol=0.05)
    np.testing.assert_allclose(v_pi[4], [-1.9, -1.3, -1.2, -1.4, -2.0], atol=0.05)
    np.testing.assert_allclose(v_star[0], [22.0, 24.4, 22.0, 19.4, 17.5], atol=0.05)
    np.testing.assert_allclose(v_star[4], [14.4, 16.0, 14.4, 13.0, 11.7], atol=0.05)
    # pi*: from A every action is optimal (all jump to A'); bottom-left goes up or right, like the book's arrows
    assert best[0, 1].all()
    assert best[4, 0].tolist() == [True, True, False, False]


def test_environments_pass_gymnasium_checker(book):
    check_env(book("chapter3/envs.py").GridWorld35(), skip_render_check=True)
    envs = book("chapter4/envs.py")
    for env in (envs.GridWorld41(), envs.JacksCarRental(), envs.Gambler()):
        check_env(env, skip_render_check=True)


def test_figure_4_1_limit_and_in_place(book):
    env, values, policies, counts, _ = book("chapter4/small_gridworld.py").compute()
    book_v_inf = [[0, -14, -20, -22], [-14, -18, -20, -20], [-20, -20, -18, -14], [-22, -20, -14, 0]]
    np.testing.assert_allclose(values["inf"].reshape(4, 4), book_v_inf, atol=1e-6)
    np.testing.assert_allclose(values[1].reshape(4, 4)[0], [0, -1, -1, -1])
    np.testing.assert_allclose(values[2].reshape(4, 4)[0], [0, -1.75, -2, -2])
    np.testing.assert_allclose(values[3].reshape(4, 4)[0], [0, -2.4375, -2.9375, -3], atol=1e-9)
    assert counts[True] < counts[False]  # in-place needs fewer sweeps


def test_jacks_car_rental_policy_iteration(book):
    policies, v = book("chapter4/jacks_car_rental.py").compute()
    assert len(policies) == 5  # pi_0 ... pi_4, and improving pi_4 gives pi_4 back, as in the book
    pi4 = policies[-1]
    # Landmarks of the book's pi_4 (rows: cars at first location, columns: cars at second)
    assert pi4[20, 0] == 5 and pi4[0, 20] == -4 and pi4[0, 0] == 0 and pi4[10, 10] == 0
    assert pi4.max() == 5 and pi4.min() == -4
    assert np.all(np.diff(pi4, axis=1) <= 0) and np.all(np.diff(pi4, axis=0) >= 0)  # monotone contours
    assert (pi4 > 0).sum() > (pi4 < 0).sum()  # moving cars to the busier second location dominates
    # the exact model's v_pi4 spans 421.4 to 637.0; cutting the Poissons off at 11 (the widely used reimplementations)
    # loses probability mass and gives 406.1 to 617.9; the book's surface reads about 420 to 612
    assert v.min() == pytest.approx(421.4, abs=0.3) and v.max() == pytest.approx(637.0, abs=0.3)
    _, v_cut = book("chapter4/jacks_car_rental.py").compute(poisson_bound=11)
    assert v_cut.min() == pytest.approx(406.1, abs=0.3) and v_cut.max() == pytest.approx(617.9, abs=0.3)


def test_jack_env_step_agrees_with_model(book):
    """Sampled days average to the model's expected reward and next-state distribution."""
    env = book("chapter4/envs.py").JacksCarRental()
    s, a = 10 * 21 + 10, 5 + 3
    env.reset(seed=0)
    rewards, nexts = [], []
    for _ in range(4000):
        env.s = s
        s2, r, *_ = env.step(a)
        rewards.append(r)
        nexts.append(s2)
    assert abs(np.mean(rewards) - env.r[s, a]) < 1.0
    expected_n1 = (env.P[s, a].reshape(21, 21).sum(1) * np.arange(21)).sum()
    assert abs(np.mean(np.array(nexts) // 21) - expected_n1) < 0.15


def test_gambler(book):
    env, v, history, sweeps, optimal, smallest = book("chapter4/gamblers_problem.py").compute(0.4)
    np.testing.assert_allclose([v[25], v[50], v[75]], [0.16, 0.4, 0.64], atol=1e-6)
    assert optimal[50, 50] and smallest[50] == 50 and smallest[25] == 25 and smallest[75] == 25
    # ties are real: at 70 the stakes 5, 20 and 30 are all optimal
    assert optimal[70].nonzero()[0].tolist() == [5, 20, 30]
    # the book's sweeps are in place (capital 1..99 in order): sweep 1 already knows v(75) = 0.4 + 0.6 v(50) = 0.64,
    # while nothing below 50 has seen a win yet; a synchronous sweep 1 would give 0.4 at 75
    assert history[0][75] == pytest.approx(0.64) and history[0][49] == 0 and history[0][50] == pytest.approx(0.4)
    # bold play (stake everything you can, capped at what reaching 100 needs) is among the optimal stakes
    s = np.arange(1, 100)
    assert optimal[s, np.minimum(s, 100 - s)].all()


def test_value_iteration_agrees_with_policy_iteration(book):
    dp, envs = book("chapter4/dp.py"), book("chapter4/envs.py")
    env = envs.JacksCarRental()
    v_vi, q, _ = dp.value_iteration(env.P, env.r, 0.9, env.allowed, theta=1e-8, in_place=False)
    policies, values = dp.policy_iteration(env.P, env.r, 0.9, np.full(441, 5), env.allowed, theta=1e-8)
    np.testing.assert_allclose(v_vi, values[-1], atol=1e-5)


@pytest.mark.slow
def test_chapter4_scripts_write_figures(tmp_path):
    for script in ("chapter3/gridworld.py", "chapter4/small_gridworld.py", "chapter4/gamblers_problem.py"):
        result = run_script(script, "--out", str(tmp_path))
        assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "figure_4_3.json").read_text())["v"][50] == pytest.approx(0.4)
    assert (tmp_path / "figure_3_5.png").stat().st_size < 300_000
    bad = run_script("chapter4/gamblers_problem.py", "--p-heads", "1.5", "--out", str(tmp_path))
    assert bad.returncode == 2 and "p-heads" in bad.stderr
