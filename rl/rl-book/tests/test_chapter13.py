"""Chapter 13: the short corridor (Example 13.1), REINFORCE (Figure 13.1), with baseline (Figure 13.2), actor-critic."""
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from shared.imports import load_module

BOOK = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ch13():
    return {name: load_module(BOOK / f"chapter13/{name}.py") for name in
            ("envs", "policy_gradient", "short_corridor", "reinforce", "reinforce_baseline")}


def test_short_corridor_passes_checker_and_switches_actions(ch13):
    envs = ch13["envs"]
    env = envs.ShortCorridor()
    check_env(env, skip_render_check=True)
    L, R = envs.LEFT, envs.RIGHT
    assert env.reset(seed=0)[0] == 0
    assert env.step(L)[:3] == (0, -1.0, False)  # left in the first state: bump into the wall
    assert env.step(R)[:3] == (1, -1.0, False)
    assert env.step(R)[:3] == (0, -1.0, False)  # switched in the second state
    env.step(R)
    assert env.step(L)[:3] == (2, -1.0, False)
    assert env.step(R)[:3] == (3, -1.0, True)


def test_example_13_1_exact_values(ch13):
    """Book: optimum about -11.6 at p(right) about 0.59; epsilon-greedy about -82 (left) and -44 (right).
    The maximizer of J(p) is p* = 2 - sqrt(2) in closed form."""
    res = ch13["short_corridor"].compute()
    assert abs(res["p_optimum"] - (2 - np.sqrt(2))) < 2e-4 and 0.58 < res["p_optimum"] < 0.6
    assert -11.7 < res["optimum"] < -11.6
    p = np.linspace(0.05, 0.95, 19)
    np.testing.assert_allclose(ch13["short_corridor"].start_value(p), (2 * p - 4) / (p * (1 - p)), rtol=1e-10)
    assert round(float(res["eps_greedy_left"])) == -82 and round(float(res["eps_greedy_right"])) == -44


def test_exact_values_match_sampled_returns(ch13):
    """alpha = 0 leaves the policy at p(right) = 0.59: its average return over many episodes is J(0.59)."""
    pg, sc, envs = ch13["policy_gradient"], ch13["short_corridor"], ch13["envs"]
    out = pg.reinforce(envs.ShortCorridor(), envs.POLICY_FEATURES, np.zeros(200), 50, np.random.default_rng(0),
                       sc.initial_theta(0.59))
    sem = out["returns"].std() / np.sqrt(out["returns"].size)
    assert abs(out["returns"].mean() - sc.start_value(0.59)) < 4 * sem


def test_figure_13_1_reinforce_approaches_v_star(ch13):
    """After 1,000 episodes at alpha = 2^-13 the policies are close to optimal (book: the curve ends near v*(s0)),
    starting from the epsilon-greedy-left policy's -82."""
    curves = ch13["reinforce"].compute(40, 1000, np.random.default_rng(0))
    v_star = ch13["short_corridor"].compute()["optimum"]
    c = curves["2^-13"]
    assert c["J"][0] < -60 and c["returns"][:10].mean() < -60
    assert c["J"][-1] > v_star - 1.5 and c["returns"][-100:].mean() > v_star - 2.0
    assert curves["2^-14"]["J"][:300].mean() < c["J"][:300].mean()  # smaller steps, slower learning


def test_figure_13_2_baseline_learns_in_fewer_episodes(ch13):
    """Book: with baseline (2^-9, 2^-6) REINFORCE gets near v*(s0) much sooner than without (2^-13)."""
    curves = ch13["reinforce_baseline"].compute(40, 600, np.random.default_rng(0))
    v_star = ch13["short_corridor"].compute()["optimum"]

    def episodes_to_reach(c):
        near = c["J"] > v_star - 2.0
        return int(np.argmax(near)) if near.any() else len(near)

    fast, slow = episodes_to_reach(curves["REINFORCE with baseline"]), episodes_to_reach(curves["REINFORCE"])
    assert fast < 150 and slow > 2 * fast
    assert curves["REINFORCE with baseline"]["J"][-100:].mean() > v_star - 1.0


def test_one_step_actor_critic_finds_the_best_stochastic_policy(ch13):
    """Actor: the corridor's state-blind features; critic: one weight per state (tabular). The actor ends near
    p(right) = 0.59 (J within 0.5 of -11.66) and the critic's weights near v_pi of the final policy."""
    pg, sc, envs = ch13["policy_gradient"], ch13["short_corridor"], ch13["envs"]
    env = envs.ShortCorridor()
    out = pg.actor_critic(env, envs.POLICY_FEATURES, np.eye(4), np.full(40, 2.0 ** -7), np.full(40, 2.0 ** -3), 800,
                          np.random.default_rng(0), sc.initial_theta(0.05), min_prob=0.05)
    p_right = pg.softmax_policy(out["theta"][:, -1], np.repeat(envs.POLICY_FEATURES[:1], 40, 0), 0.05)[:, 1]
    J = sc.start_value(p_right)
    assert J.mean() > sc.compute()["optimum"] - 0.5 and abs(p_right.mean() - 0.586) < 0.05
    v = sc.start_value(p_right.mean())
    assert abs(out["w"][:, 0].mean() - v) < 1.0
