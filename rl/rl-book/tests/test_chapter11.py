"""Chapter 11: Baird's counterexample. Semi-gradient TD and DP diverge (Figure 11.2); TDC and expected TDC
converge in PBE (Figure 11.5); expected emphatic TD finds a zero-error solution (Figure 11.6)."""
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from shared.imports import load_module

BOOK = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ch11():
    return {name: load_module(BOOK / f"chapter11/{name}.py") for name in
            ("envs", "off_policy", "baird_divergence", "baird_tdc", "baird_emphatic")}


def test_baird_env_and_features(ch11):
    envs = ch11["envs"]
    env = envs.BairdCounterexample()
    check_env(env, skip_render_check=True)
    w = np.arange(1.0, 9.0)
    v = envs.FEATURES @ w
    np.testing.assert_allclose(v[:6], 2 * w[:6] + w[7])  # the book's 2 w_i + w_8 ...
    assert v[6] == w[6] + 2 * w[7]  # ... and w_7 + 2 w_8
    problem = ch11["baird_divergence"].baird()
    np.testing.assert_allclose(problem.mu, 1 / 7)  # the behaviour visits all seven states equally
    np.testing.assert_allclose(problem.v_pi(), 0.0)  # all rewards are 0
    assert np.linalg.matrix_rank(envs.FEATURES) == 7  # w = 0 (and a whole line of w) represents v_pi exactly


def test_figure_11_2_semi_gradient_td_and_dp_diverge(ch11):
    """Book: the weights of semi-gradient off-policy TD and of semi-gradient DP reach the hundreds within 1,000
    steps / sweeps, growing without bound."""
    off_policy, fig = ch11["off_policy"], ch11["baird_divergence"]
    problem, W0 = fig.baird(), ch11["envs"].W0
    td = off_policy.semi_gradient_td(problem, W0, 0.01, 1000, 20, np.random.default_rng(0))
    assert (np.abs(td[:, -1]).max(1) > 100).all()  # every one of 20 runs
    assert (np.abs(td[:, -1]).max(1) > np.abs(td[:, 500]).max(1)).all()  # still growing
    dp = off_policy.semi_gradient_dp(problem, W0, 0.01, 1000)
    assert np.abs(dp[-1]).max() > 100 and np.abs(dp[-1]).max() > 2 * np.abs(dp[500]).max()
    np.testing.assert_allclose(dp[-1, :6], dp[-1, 0])  # by symmetry w1 ... w6 move together


def test_figure_11_5_tdc_stays_bounded_and_its_pbe_falls(ch11):
    res = ch11["baird_tdc"].compute(1000, np.random.default_rng(0))
    for name in ("tdc", "expected_tdc"):
        r = res[name]
        assert np.abs(r["weights"]).max() < 15  # bounded: never far above the initial w7 = 10
        assert r["sqrt_pbe"][-1] < 0.15 * r["sqrt_pbe"][0]
        assert 1.5 < r["sqrt_ve"][-1] < 2.5  # the book: VE stays well above 0 while PBE goes to 0
    assert res["expected_tdc"]["sqrt_pbe"][-1] < 0.02


def test_tdc_sample_mean_is_expected_tdc(ch11):
    """One TDC step from the behaviour's state distribution averages, over many runs, to the expected-TDC step
    (from nonzero secondary weights v, so that the gradient-correction term counts)."""
    off_policy, problem = ch11["off_policy"], ch11["baird_divergence"].baird()
    W0, alpha, v0 = ch11["envs"].W0, 0.5, np.linspace(-2, 2, 8)
    sampled = off_policy.tdc(problem, W0, alpha, 0.05, 1, 400_000, np.random.default_rng(0), v0)[:, 1].mean(0)
    expected = off_policy.expected_tdc(problem, W0, alpha, 0.05, 1, v0)[1]
    assert np.abs(expected - W0).max() > 1
    np.testing.assert_allclose(sampled, expected, atol=0.05)


def test_figure_11_6_expected_emphatic_td_converges(ch11):
    res = ch11["baird_emphatic"].compute(1000)
    assert res["sqrt_ve"][-1] < 1e-3 and res["sqrt_pbe"][-1] < 1e-3
    assert res["sqrt_ve"][:100].max() > res["sqrt_ve"][0]  # not monotone: it first moves away


def test_pbe_is_zero_exactly_at_td_fixed_points(ch11):
    """PBE(w) = 0 wherever X^T D delta_bar(w) = 0; on Baird every w with v_w = 0 is such a point."""
    off_policy, problem = ch11["off_policy"], ch11["baird_divergence"].baird()
    w_zero_value = np.array([1.0, 1, 1, 1, 1, 1, 4, -2])  # 2 * 1 - 2 = 0 and 4 - 4 = 0
    assert off_policy.projected_bellman_error(problem, w_zero_value) < 1e-20
    assert off_policy.value_error(problem, w_zero_value) < 1e-20
    assert off_policy.projected_bellman_error(problem, ch11["envs"].W0) > 1
