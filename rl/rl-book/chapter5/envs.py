"""Chapter 5's environments.

Blackjack: gymnasium's Blackjack-v1 with sab=True plays by the book's rules (Example 5.1; infinite deck,
dealer sticks on 17 or more, a natural beats anything but a dealer natural). `VectorBlackjack`
plays the same game for a million episodes at once in numpy; tests/test_chapter5_6.py deals the same
cards to both and checks that every episode ends identically.

OneStateMDP: Example 5.5 / Figure 5.4, a TabularEnv (left: back to s w.p. 0.9, else end with +1; right: end, 0).
"""
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.tabular import TabularEnv  # noqa: E402

STICK, HIT = 0, 1
MAX_CARDS = 32  # cards dealt per episode at most (4 initial + hits); far beyond any real episode


def make_blackjack(**kwargs):
    """The book's blackjack (sab=True: Sutton & Barto rules)."""
    return gym.make("Blackjack-v1", sab=True, **kwargs)


def draw_cards(rng, shape):
    """Infinite deck: 1 (ace) ... 9, and 10 four times as often (10, J, Q, K)."""
    return np.minimum(rng.integers(1, 14, size=shape, dtype=np.int8), 10)


class VectorBlackjack:
    """n independent blackjack episodes, one decision step at a time for all of them.

    A state is (player sum, dealer's showing card, usable ace) as in gymnasium; policies are tables
    hit_prob[player_sum, dealer_card, usable_ace] of the probability of hitting.
    """

    def play(self, hit_prob, n, rng, start=None, first_action=None, cards=None):
        """Play n episodes. start: (player_sum, usable_ace, dealer_card) arrays of length n or scalars for
        exploring / fixed starts (the player's hand is then not a natural); first_action: forced first actions.
        cards: (n, MAX_CARDS) cards each episode draws in order (default: fresh random cards), dealt like
        gymnasium: dealer's two, player's two, the player's hits, then the dealer's draws.

        Returns (states [n, T, 3], actions [n, T], valid [n, T], reward [n]).
        """
        cards = draw_cards(rng, (n, MAX_CARDS)) if cards is None else np.asarray(cards)
        rows = np.arange(n)
        d_raw = cards[:, 0].astype(np.int64) + cards[:, 1]
        d_ace = (cards[:, 0] == 1) | (cards[:, 1] == 1)
        d_show = cards[:, 0].astype(np.int64)
        p_raw = cards[:, 2].astype(np.int64) + cards[:, 3]   # aces counted as 1
        p_ace = (cards[:, 2] == 1) | (cards[:, 3] == 1)
        p_natural = p_ace & (p_raw == 11)
        if start is not None:
            p_sum, usable, dealer = (np.broadcast_to(x, (n,)) for x in start)
            p_raw, p_ace, p_natural = p_sum - 10 * usable, usable.astype(bool), np.zeros(n, bool)
            d_show = dealer.astype(np.int64)
            d_raw = d_show + cards[:, 1]
            d_ace = (d_show == 1) | (cards[:, 1] == 1)
        d_natural = d_ace & (d_raw == 11)
        nxt = np.full(n, 4)
        active = np.ones(n, bool)
        reward = np.zeros(n)
        states, actions, valid = [], [], []
        t = 0
        while active.any():
            usable = p_ace & (p_raw + 10 <= 21)
            p_sum = p_raw + 10 * usable
            states.append(np.stack([p_sum, d_show, usable], 1))
            valid.append(active.copy())
            if first_action is not None and t == 0:
                a = np.broadcast_to(first_action, (n,)).astype(np.int64)
            else:
                a = (rng.random(n) < hit_prob[p_sum.clip(0, 21), d_show, usable.astype(int)]).astype(np.int64)
            a = np.where(active, a, STICK)
            actions.append(a)
            hit = active & (a == HIT)
            card = cards[rows, nxt % MAX_CARDS]
            p_raw = p_raw + np.where(hit, card, 0)
            p_ace |= hit & (card == 1)
            nxt += hit
            bust = hit & (p_raw > 21)
            reward[bust] = -1.0
            stick = active & (a == STICK)
            active &= ~(bust | stick)
            self._dealer_plays(stick, p_raw, p_ace, p_natural, d_raw, d_ace, d_natural, cards, nxt, reward)
            t += 1
        return np.stack(states, 1), np.stack(actions, 1), np.stack(valid, 1), reward

    @staticmethod
    def _dealer_plays(mask, p_raw, p_ace, p_natural, d_raw, d_ace, d_natural, cards, nxt, reward):
        """The dealer hits until 17 or more (a usable ace counts 11, so soft 17 sticks), then compare."""
        idx = np.nonzero(mask)[0]
        raw, ace, ptr = d_raw[idx].copy(), d_ace[idx].copy(), nxt[idx].copy()
        while True:
            total = raw + 10 * (ace & (raw + 10 <= 21))
            hitting = total < 17
            if not hitting.any():
                break
            card = cards[idx, ptr % MAX_CARDS]
            raw = raw + np.where(hitting, card, 0)
            ace |= hitting & (card == 1)
            ptr += hitting
        dealer = np.where(total > 21, 0, total)
        player = p_raw[idx] + 10 * (p_ace[idx] & (p_raw[idx] + 10 <= 21))
        r = np.sign(player - dealer).astype(np.float64)
        r[p_natural[idx] & ~d_natural[idx]] = 1.0
        reward[idx] = r


class OneStateMDP(TabularEnv):
    """Example 5.5: state 0 = s, state 1 = terminal. Action 0 = left, 1 = right."""
    LEFT, RIGHT = 0, 1

    def __init__(self):
        P, R = np.zeros((2, 2, 2)), np.zeros((2, 2, 2))
        P[0, self.LEFT] = [0.9, 0.1]
        R[0, self.LEFT, 1] = 1.0
        P[0, self.RIGHT, 1] = 1.0
        super().__init__(P, R, start=[1.0, 0.0], terminal=[False, True])
