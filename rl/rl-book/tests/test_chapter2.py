"""Chapter 2's findings, checked at reduced scale (fixed seeds) against what the book reports."""
import subprocess
import sys

import numpy as np
import pytest

from shared.imports import load_module
from shared.paths import REPO_ROOT

bandits = load_module("rl/rl-book/chapter2/bandits.py")
RUNS, STEPS = 500, 1000


@pytest.fixture(scope="module")
def fig22():
    return bandits.figure_2_2(RUNS, STEPS, seed=1)


def test_epsilon_greedy_finds_optimal_action_greedy_plateaus(fig22):
    eps, greedy = fig22["epsilon=0.1"], fig22["epsilon=0.0"]
    # Book: eps=0.1 reaches ~1.35-1.4 average reward and ~80% optimal by step 1,000; greedy ~1.0 and ~1/3.
    assert 1.28 < eps["reward"][-100:].mean() < 1.48
    assert 0.74 < eps["optimal"][-50:].mean() < 0.88
    assert 0.9 < greedy["reward"][-100:].mean() < 1.15
    assert 0.27 < greedy["optimal"][-50:].mean() < 0.45
    # epsilon = 0.01 improves more slowly: in between at step 1,000.
    mid = fig22["epsilon=0.01"]["optimal"][-50:].mean()
    assert greedy["optimal"][-50:].mean() < mid < eps["optimal"][-50:].mean()


def test_optimistic_greedy_overtakes_realistic_epsilon_greedy():
    res = bandits.figure_2_3(RUNS, STEPS, seed=2)
    optimistic, realistic = res["optimistic greedy Q1=5, eps=0"]["optimal"], res["realistic eps-greedy Q1=0, eps=0.1"]["optimal"]
    assert optimistic[:5].mean() < realistic[:5].mean() + 0.05  # it explores (badly) at first ...
    assert optimistic[300:].mean() > realistic[300:].mean() + 0.05  # ... then wins
    assert optimistic[10] > 0.3  # the book's spike near step 11: every arm tried once, then the best one again


def test_ucb_beats_epsilon_greedy_after_first_steps():
    res = bandits.figure_2_4(RUNS, STEPS, seed=3)
    ucb, eps = res["UCB c=2"]["reward"], res["eps-greedy eps=0.1"]["reward"]
    # The spike at step 11: every arm tried once, all bonuses equal, so UCB picks the best single sample.
    # E[q*(argmax of q* + noise)] = E[max of 10 N(0, 2)] / 2 = 1.09, and the next steps fall back as bonuses diverge.
    assert 0.95 < ucb[10] < 1.25 and ucb[10] > ucb[:10].max() + 0.7 and ucb[10] > ucb[12]
    assert ucb[50:].mean() > eps[50:].mean() + 0.05


def test_gradient_bandit_baseline_matters():
    res = bandits.figure_2_5(RUNS, STEPS, seed=4)
    final = {k: v["optimal"][-100:].mean() for k, v in res.items()}
    assert final["alpha=0.1, with baseline"] > 0.75
    assert final["alpha=0.1, with baseline"] > final["alpha=0.1, without baseline"] + 0.2
    assert final["alpha=0.4, with baseline"] > final["alpha=0.4, without baseline"] + 0.2


def test_parameter_study_inverted_u():
    study = bandits.figure_2_6(300, STEPS, seed=5)
    for name, s in study.items():
        y = np.asarray(s["mean_reward"])
        best = int(np.argmax(y))
        assert 0 < best < len(y) - 1, f"{name}: best parameter at an end of the range"
        assert y[best] - y[0] > 0.04 and y[best] - y[-1] > 0.04, name
    assert max(study["UCB"]["mean_reward"]) > max(study["eps-greedy"]["mean_reward"])
    # The book's Figure 2.6, read off the plot: each method's best value and where it peaks (log2 of the parameter)
    book = {"eps-greedy": (1.35, -4), "gradient bandit": (1.4, -2), "UCB": (1.5, 0), "greedy with optimistic init, alpha=0.1": (1.45, 0)}
    for name, (best_value, best_exp) in book.items():
        y = np.asarray(study[name]["mean_reward"])
        assert abs(y.max() - best_value) < 0.07, (name, y.max())
        assert abs(np.log2(study[name]["values"][int(np.argmax(y))]) - best_exp) <= 1, name


def test_same_seed_same_numbers():
    a = bandits.simulate(bandits.UCB(c=1.0), 50, 100, seed=7)
    b = bandits.simulate(bandits.UCB(c=1.0), 50, 100, seed=7)
    c = bandits.simulate(bandits.UCB(c=1.0), 50, 100, seed=8)
    assert np.array_equal(a["reward"], b["reward"])
    assert not np.array_equal(a["reward"], c["reward"])


def test_argmax_breaks_ties_randomly():
    rng = np.random.default_rng(0)
    picks = bandits.argmax_random_ties(np.zeros((4000, 4)), rng)
    assert np.all(np.abs(np.bincount(picks, minlength=4) / 4000 - 0.25) < 0.03)


def test_cli_writes_figures(tmp_path):
    script = REPO_ROOT / "rl/rl-book/chapter2/bandits.py"
    done = subprocess.run([sys.executable, str(script), "--quick", "--steps", "200", "--figures", "2.1", "2.2",
                           "--out", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("figure_2_1.png", "figure_2_2.png", "figure_2_2.json"):
        assert (tmp_path / name).stat().st_size > 1000
    bad = subprocess.run([sys.executable, str(script), "--runs", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "positive integer" in bad.stderr
