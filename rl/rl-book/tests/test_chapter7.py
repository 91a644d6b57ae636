"""Chapter 7: n-step TD on the 19-state random walk (Figure 7.2), n-step Sarsa / off-policy Sarsa / tree backup."""
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from shared.imports import load_module

BOOK = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ch7():
    return {name: load_module(BOOK / f"chapter7/{name}.py") for name in ("envs", "nstep", "random_walk_n_step", "sarsa_path")}


@pytest.fixture(scope="module")
def common_tabular():
    return load_module(BOOK / "common/tabular.py")


def chain(common_tabular, length):
    """States 0 -> 1 -> ... -> length (terminal), one action, +1 on the last step: q(length - k) = gamma^(k-1)."""
    P, R = np.zeros((length + 1, 1, length + 1)), np.zeros((length + 1, 1, length + 1))
    P[np.arange(length), 0, np.arange(1, length + 1)] = 1.0
    R[length - 1, 0, length] = 1.0
    start, terminal = np.eye(length + 1)[0], np.arange(length + 1) == length
    return common_tabular.TabularEnv(P, R, start, terminal)


def test_envs_pass_gymnasium_checker(ch7):
    for env in (ch7["envs"].RandomWalk19(), ch7["envs"].OpenGrid()):
        check_env(env, skip_render_check=True)


def test_random_walk_19_true_values(ch7):
    """v = P(right exit) - P(left exit) solves the Bellman equation (I - P) v = r of the model."""
    env = ch7["envs"].RandomWalk19()
    inner = ~env.terminal
    P = env.P[:, 0][np.ix_(inner, inner)]
    v = np.linalg.solve(np.eye(inner.sum()) - P, env.r[inner, 0])
    np.testing.assert_allclose(v, np.arange(-0.9, 0.95, 0.1), atol=1e-12)
    np.testing.assert_allclose(env.true_values[inner], v, atol=1e-12)


def test_figure_7_2_best_near_n4_and_u_shapes(ch7):
    """Book: the lowest error, about 0.26, is reached by n = 4 at an intermediate alpha; every n is U-shaped in
    alpha; n = 1 and the largest n are clearly worse than n = 4."""
    script = ch7["random_walk_n_step"]
    error, _ = script.compute(30, 10, np.random.default_rng(0))
    best_n, best_alpha = np.unravel_index(error.argmin(), error.shape)
    assert script.NS[best_n] in (2, 4, 8) and 0.24 < error.min() < 0.28
    n4 = list(script.NS).index(4)
    assert abs(error[n4].min() - 0.26) < 0.02 and 0.2 <= script.STEP_SIZES[error[n4].argmin()] <= 0.6
    for row in error[:7]:  # n <= 64: interior minimum, higher at alpha = 1 than at the minimum
        k = row.argmin()
        assert 0 < k < len(row) - 1 and row[-1] > row[k] + 0.03
    assert error[0].min() > error[n4].min() + 0.05 and error[-1].min() > 0.45
    np.testing.assert_allclose(error[:, 0], error[0, 0])  # alpha = 0: V stays 0, the same error for every n


@pytest.mark.parametrize("method", ["sarsa", "off_policy_sarsa", "tree_backup"])
@pytest.mark.parametrize("n", [1, 3, 6])
def test_one_episode_on_a_chain_updates_the_last_n_values(ch7, common_tabular, method, n):
    """alpha = 1, gamma = 0.9, zero initial values: after one episode the last n action values are
    gamma^0, gamma^1, ..., gamma^(n-1) (the reward discounted back) and all earlier ones are still 0 (Figure 7.4)."""
    env = chain(common_tabular, 12)
    out = ch7["nstep"].n_step_control(env, method, n, [1.0], 1, np.random.default_rng(0), gamma=0.9)
    expected = np.zeros(13)
    expected[12 - n:12] = 0.9 ** np.arange(n)[::-1]
    np.testing.assert_allclose(out["Q"][0, :, 0], expected, atol=1e-12)
    assert out["lengths"][0, 0] == 12
    # more episodes bootstrap the rest of the chain: q(12 - k) = gamma^(k-1) everywhere after 12 / n episodes
    out = ch7["nstep"].n_step_control(env, method, n, [1.0], 12, np.random.default_rng(0), gamma=0.9)
    np.testing.assert_allclose(out["Q"][0, :12, 0], 0.9 ** np.arange(12)[::-1], atol=1e-12)


@pytest.fixture(scope="module")
def gridworld_q():
    """The 4x4 gridworld of Figure 4.1 (-1 per step): q* and q of the equiprobable random policy, by DP."""
    env = load_module(BOOK / "chapter4/envs.py").GridWorld41()
    q_star, q_random = np.zeros((16, 4)), np.zeros((16, 4))
    for _ in range(3000):
        q_star, q_random = env.r + env.P @ q_star.max(1), env.r + env.P @ q_random.mean(1)
    return env, q_star, q_random


@pytest.mark.parametrize("method", ["off_policy_sarsa", "tree_backup"])
def test_off_policy_methods_learn_q_star_from_random_behaviour(ch7, gridworld_q, method):
    """Behaviour: uniformly random; target: greedy. Both off-policy 2-step methods converge to q*, not to the
    behaviour's values (which are ~10 lower): dropping the importance ratio or the tree's pi weights fails."""
    env, q_star, q_random = gridworld_q
    out = ch7["nstep"].n_step_control(env, method, 2, np.full(20, 0.05), 250, np.random.default_rng(0), epsilon=1.0)
    Q, inner = out["Q"].mean(0), ~env.terminal
    assert np.abs(Q - q_star)[inner].mean() < 0.4 and np.abs(Q - q_star)[inner].max() < 1.0
    assert np.abs(q_random - q_star)[inner].mean() > 10


def test_n_step_sarsa_is_on_policy(ch7, gridworld_q):
    """With epsilon = 1 the behaving policy is the random one, and n-step Sarsa learns its values q_random
    (at most -14 everywhere), far below q* (at least -4)."""
    env, q_star, q_random = gridworld_q
    out = ch7["nstep"].n_step_control(env, "sarsa", 4, np.full(20, 0.1), 400, np.random.default_rng(0), epsilon=1.0)
    Q, inner = out["Q"].mean(0), ~env.terminal
    assert np.abs(Q - q_random)[inner].mean() < 2.0 < np.abs(Q - q_star)[inner].mean()


def test_figure_7_4_one_step_vs_ten_step(ch7):
    env, states, Q1, Q10 = ch7["sarsa_path"].compute(10, 0.5, seed=1)
    assert states[-1] == env.terminal.argmax() and len(states) > 10
    assert (Q1 > 0).sum() == 1 and Q1.max() == 0.5  # only the last action, by alpha * reward
    raised = np.unique(np.nonzero(Q10 > 0)[0])  # the states of the last 10 steps, and no others
    assert 1 < (Q10 > 0).sum() <= 10 and set(raised) == set(states[-11:-1])


def test_greedy_ties_are_broken_at_random(ch7):
    """epsilon = 0 with all values 0: every action is tied. Random tie-breaking makes the first episode a random
    walk that reaches G; always taking the first tied action (up) would push into the top wall forever."""
    env = ch7["envs"].OpenGrid()
    out = ch7["nstep"].n_step_control(env, "sarsa", 1, np.full(50, 0.5), 1, np.random.default_rng(0), epsilon=0.0,
                                      max_steps=20_000)
    lengths = out["lengths"][:, 0]
    assert lengths.max() < 20_000 and len(np.unique(lengths)) > 10
    states, actions = out["first_episode"]
    assert len(set(actions)) == 4  # every action taken from tied values
