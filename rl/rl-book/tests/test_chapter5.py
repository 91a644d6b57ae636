"""Chapter 5: blackjack rules (gymnasium vs the book vs our vectorized game), MC prediction/control, IS."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gymnasium.envs.toy_text import blackjack as gym_blackjack
from gymnasium.utils.env_checker import check_env

from shared.imports import load_module

BOOK = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ch5():
    return {name: load_module(BOOK / f"chapter5/{name}.py") for name in
            ("envs", "mc", "blackjack_prediction", "importance_sampling", "infinite_variance")}


def book_optimal_policy():
    """Figure 5.2's pi*: hit[sum, dealer, usable] for sums 12-21, as printed in the book."""
    hit = np.ones((22, 11, 2))
    for s in range(12, 22):
        for d in range(1, 11):
            hit[s, d, 0] = not (s >= 17 or (13 <= s <= 16 and 2 <= d <= 6) or (s == 12 and 4 <= d <= 6))
            hit[s, d, 1] = not (s >= 19 or (s == 18 and 2 <= d <= 8))
    return hit


def test_gymnasium_blackjack_follows_the_book(ch5, monkeypatch):
    """Blackjack-v1 (sab=True): infinite deck with 10s four times as likely, dealer sticks on any 17
    (soft too), bust loses, a natural beats a dealer's 21 but draws with a dealer natural."""
    assert sorted(gym_blackjack.deck) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10]
    env = ch5["envs"].make_blackjack()

    def deal(cards):
        it = iter(cards)
        monkeypatch.setattr(gym_blackjack, "draw_card", lambda rng: next(it))
        return env.reset(seed=0)[0]

    assert deal([10, 7, 10, 9]) == (19, 10, 0)
    assert env.step(0)[1] == 1.0                        # 19 vs dealer 17: dealer stands on hard 17
    deal([1, 6, 10, 8])
    assert env.step(0)[1] == 1.0                        # 18 vs soft 17 (A+6): dealer stands, player wins
    deal([10, 6, 10, 2, 3, 9])
    obs, r, done, *_ = env.step(1)
    assert obs == (15, 10, 0) and r == 0 and not done  # hit: 12 + 3
    assert env.step(0)[1] == 1.0                        # dealer 16 must hit: 16 + 9 = 25 busts
    deal([10, 6, 10, 2, 10])
    assert env.step(1)[1:3] == (-1.0, True)             # player bust loses at once
    deal([10, 10, 1, 10])
    assert env.step(0)[1] == 1.0                        # natural vs dealer 20
    deal([1, 10, 1, 10])
    assert env.step(0)[1] == 0.0                        # natural vs natural: draw
    deal([10, 1, 10, 5, 6])
    env.step(1)
    assert env.step(0)[1] == 0.0                        # 3-card 21 vs dealer natural: closer to 21 decides, a draw
    monkeypatch.undo()
    check_env(env.unwrapped, skip_render_check=True)


def test_vector_blackjack_matches_gymnasium(ch5, monkeypatch):
    """Same cards, same policy -> same states and rewards, episode by episode."""
    envs, mc = ch5["envs"], ch5["mc"]
    rng = np.random.default_rng(1)
    n = 300
    cards = envs.draw_cards(rng, (n, envs.MAX_CARDS))
    policy = mc.stick_on(17)
    states, actions, valid, reward = envs.VectorBlackjack().play(policy, n, rng, cards=cards)
    env = envs.make_blackjack()
    for i in range(n):
        it = iter(cards[i].tolist())
        monkeypatch.setattr(gym_blackjack, "draw_card", lambda r: next(it))
        obs, _ = env.reset(seed=0)
        t, done = 0, False
        while not done:
            assert tuple(states[i, t]) == obs
            obs, r, done, *_ = env.step(int(actions[i, t]))
            t += 1
        assert valid[i].sum() == t and r == reward[i]


def test_figure_5_1_prediction(ch5):
    V_early, V_all = ch5["blackjack_prediction"].compute(100_000, np.random.default_rng(0))
    # sticking on 20/21 wins mostly; sums 12-19 (which hit) are bad, worse without a usable ace
    assert V_all[9, :, 0].mean() > 0.6 and V_all[:8, :, 0].mean() < -0.4
    assert V_all[:8, :, 1].mean() > V_all[:8, :, 0].mean()
    # 10,000 episodes leave visible noise (the book's left panels are ragged, the right ones smooth): neighbouring
    # dealer cards differ more after 10,000 episodes than after 500,000
    ragged = lambda V: np.abs(np.diff(V[:, :, 1], axis=1)).mean()  # usable-ace panel, sums 12-21
    assert ragged(V_early) > 1.5 * ragged(V_all)


def test_state_value_of_example_5_4(ch5):
    """On-policy MC from (dealer 2, sum 13, usable ace) approaches the book's -0.27726."""
    envs, mc = ch5["envs"], ch5["mc"]
    *_, reward = envs.VectorBlackjack().play(mc.stick_on(20), 400_000, np.random.default_rng(0), start=(13, 1, 2))
    assert reward.mean() == pytest.approx(-0.27726, abs=0.005)  # 3.3 standard errors


def test_figure_5_3_weighted_beats_ordinary_early(ch5):
    mse_ord, mse_w, rho, reward = ch5["importance_sampling"].compute(100, 1000, np.random.default_rng(0))
    assert mse_w[:10].mean() < 0.5 * mse_ord[:10].mean() and mse_w[:100].mean() < mse_ord[:100].mean()
    assert mse_w[-1] < 0.02 and mse_ord[-1] < 0.1
    assert (rho * reward).mean() == pytest.approx(-0.27726, abs=0.03)  # ordinary IS is unbiased


def assert_books_policy(hit, agreement):
    assert (hit[12:, 1:] == book_optimal_policy()[12:, 1:]).mean() >= agreement
    # the clear-cut states must all agree: sums 20-21 stick, hard 12-14 vs dealer 7-9 hit
    assert not hit[20:22, 1:].any() and hit[12:15, 7:10, 0].all()


def test_monte_carlo_es_finds_the_books_policy(ch5):
    """What the README claims: at the figure's 5,000,000 episodes, the book's pi* on at least 199 of the 200 states,
    and wherever we differ the two actions are a near tie (|q(hit) - q(stick)| < 0.03, ~3 standard errors)."""
    Q, hit = ch5["mc"].monte_carlo_es(5_000_000, np.random.default_rng(0))
    assert_books_policy(hit, agreement=199 / 200)
    differ = hit[12:, 1:] != book_optimal_policy()[12:, 1:]
    gap = np.abs(Q[12:, 1:, :, 1] - Q[12:, 1:, :, 0])
    assert (gap[differ] < 0.03).all()


def test_greedy_ties_are_broken_both_ways(ch5):
    """Unvisited states have Q(hit) = Q(stick) = 0: the greedy policy must not always stick (or always hit)."""
    mc = ch5["mc"]
    Q = np.zeros(mc.SHAPE + (2,))
    Q[15, 3, 0] = (1.0, 0.0)  # one state with a clear preference: sticking (action 0) is worth more
    hit = mc.greedy_hit_table(Q, mc.stick_on(20), np.random.default_rng(0))
    tied = hit[12:, 1:].ravel()
    assert 0.3 < tied.mean() < 0.7  # ~half of ~200 tied states hit, half stick
    assert hit[15, 3, 0] == float(Q[15, 3, 0, ch5["envs"].HIT] > Q[15, 3, 0, ch5["envs"].STICK])


def test_off_policy_mc_control_finds_the_books_policy(ch5):
    """Weighted-IS off-policy control from a random behaviour policy (Section 5.7)."""
    Q, hit = ch5["mc"].off_policy_mc_control(1_000_000, np.random.default_rng(1))
    assert_books_policy(hit, agreement=0.93)
    assert Q[20, 10, 0, 0] > 0.3 and Q[21, 5, 1, 1] < Q[21, 5, 1, 0]  # sticking on 20 is worth something; never hit 21


def test_one_state_mdp_sampler_matches_env(ch5):
    """Figure 5.4's closed-form episode sampler against stepping the gymnasium env under b."""
    env = ch5["envs"].OneStateMDP()
    check_env(env, skip_render_check=True)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    returns = []
    for _ in range(20_000):
        env.reset()
        rho, done = 1.0, False
        while not done:
            a = int(rng.integers(2))
            rho *= 2.0 if a == env.LEFT else 0.0
            _, r, done, *_ = env.step(a)
        returns.append(rho * r)
    returns = np.array(returns)
    closed = ch5["infinite_variance"].sample_weighted_returns(200_000, rng)
    assert (returns > 0).mean() == pytest.approx((closed > 0).mean(), abs=0.01)     # 1/11 of episodes
    assert np.median(returns[returns > 0]) == np.median(closed[closed > 0])
    assert (closed > 0).mean() == pytest.approx(1 / 11, abs=0.003)


def test_figure_5_4_does_not_settle(ch5):
    marks, curves = ch5["infinite_variance"].ordinary_is_curves(10, 100_000, np.random.default_rng(0))
    assert curves.shape == (10, len(marks))
    assert curves[:, -1].std() > 0.05  # runs still disagree after 10^5 episodes


@pytest.mark.slow
def test_chapter5_scripts(tmp_path):
    for script in ("blackjack_es.py", "infinite_variance.py"):
        out = subprocess.run([sys.executable, str(BOOK / "chapter5" / script), "--quick", "--out", str(tmp_path)],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "figure_5_2.json").read_text())["episodes"] == 200_000
    again = subprocess.run([sys.executable, str(BOOK / "chapter5/blackjack_es.py"), "--quick", "--out", str(tmp_path / "b")],
                           capture_output=True, text=True, timeout=300)
    assert (tmp_path / "b/figure_5_2.json").read_text() == (tmp_path / "figure_5_2.json").read_text()
