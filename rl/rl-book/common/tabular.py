"""Finite MDPs given by an explicit model, as gymnasium environments.

A `TabularEnv` holds the model the book writes as p(s', r | s, a):
    P[s, a, s2]  transition probabilities          R[s, a, s2]  reward of that transition
    start[s]     start-state distribution          terminal[s]  the episode ends on entering s
    allowed[s, a] which actions exist in s (gambler's stakes, Jack's moves); others are never chosen.
Planning methods (chapters 3-4) read (P, r) with r[s, a] the expected reward. Learning methods
(chapters 5-6) draw transitions with `sample`, which works on whole arrays of states so that
thousands of independent runs advance in one numpy call; the gymnasium `step` calls the same
`sample`, so the vectorized runs and the Env follow identical dynamics.
"""
import gymnasium as gym
import numpy as np
from gymnasium import spaces


class TabularEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, P, R, start, terminal, allowed=None):
        P, R = np.array(P, dtype=np.float64), np.array(R, dtype=np.float64)
        self.terminal = np.asarray(terminal, dtype=bool)
        # Terminal states absorb with reward 0, so v(terminal) = 0 falls out of every backup.
        P[self.terminal] = 0.0
        for s in self.terminal.nonzero()[0]:
            P[s, :, s] = 1.0
        R[self.terminal] = 0.0
        assert np.allclose(P.sum(-1), 1.0), "every row of P must be a distribution"
        self.P, self.R = P, R
        self.r = (P * R).sum(-1)
        self.start = np.asarray(start, dtype=np.float64)
        self.n_states, self.n_actions = P.shape[:2]
        self.allowed = np.ones(P.shape[:2], bool) if allowed is None else np.asarray(allowed, bool)
        self.observation_space = spaces.Discrete(self.n_states)
        self.action_space = spaces.Discrete(self.n_actions)
        # Deterministic models (all gridworlds) sample by table look-up; others by inverse CDF.
        self._next = P.argmax(-1) if np.all(P.max(-1) == 1.0) else None
        self._cdf = np.cumsum(P, axis=-1)
        self.s = None

    @classmethod
    def from_toy_text(cls, env):
        """The model of a gymnasium toy-text env, whose `P[s][a]` lists (prob, next_state, reward, terminated)."""
        env = env.unwrapped
        n_s, n_a = env.observation_space.n, env.action_space.n
        P, R, terminal = np.zeros((n_s, n_a, n_s)), np.zeros((n_s, n_a, n_s)), np.zeros(n_s, bool)
        for s in range(n_s):
            for a in range(n_a):
                for p, s2, r, done in env.P[s][a]:
                    P[s, a, s2] += p
                    R[s, a, s2] = r
                    terminal[s2] |= bool(done)
        return cls(P, R, env.initial_state_distrib, terminal)

    def sample(self, s, a, rng):
        """One transition for each (s, a) pair in the arrays s, a: returns (next_state, reward, terminated)."""
        if self._next is not None:
            s2 = self._next[s, a]
        else:
            u = rng.random(np.shape(s))
            s2 = np.minimum((self._cdf[s, a] < u[..., None]).sum(-1), self.n_states - 1)
        return s2, self.R[s, a, s2], self.terminal[s2]

    def sample_start(self, n, rng):
        if self.start.max() == 1.0:  # a single start state: no random numbers needed
            return np.full(n, int(self.start.argmax()))
        return rng.choice(self.n_states, size=n, p=self.start)

    # --- gymnasium API: one run at a time, through the same sampler
    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = int(self.sample_start(1, self.np_random)[0])
        return self.s, {}

    def step(self, action):
        s2, r, done = self.sample(np.array([self.s]), np.array([int(action)]), self.np_random)
        self.s = int(s2[0])
        return self.s, float(r[0]), bool(done[0]), False, {}


# Gridworld actions in the book's order of drawing: up, right, down, left (as gymnasium's CliffWalking).
MOVES = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)])
ARROWS = "↑→↓←"


def grid_model(shape, transition, n_actions=4):
    """P, R for a deterministic gridworld: transition((row, col), a) -> ((row2, col2), reward)."""
    n = shape[0] * shape[1]
    P, R = np.zeros((n, n_actions, n)), np.zeros((n, n_actions, n))
    for s in range(n):
        for a in range(n_actions):
            cell2, reward = transition(divmod(s, shape[1]), a)
            s2 = cell2[0] * shape[1] + cell2[1]
            P[s, a, s2], R[s, a, s2] = 1.0, reward
    return P, R


def clip_move(cell, move, shape):
    """The cell a move leads to; moves off the grid leave the agent where it is (and say so)."""
    r, c = cell[0] + move[0], cell[1] + move[1]
    inside = 0 <= r < shape[0] and 0 <= c < shape[1]
    return ((r, c) if inside else tuple(cell)), not inside
