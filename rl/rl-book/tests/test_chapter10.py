"""Chapter 10: mountain car (common/mountain_car.py), semi-gradient Sarsa, access control."""
import math
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from shared.imports import load_module

BOOK = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BOOK))
from common import mountain_car  # noqa: E402


def test_mountain_car_passes_gymnasium_checker():
    check_env(mountain_car.MountainCarEnv(), skip_render_check=True)


def test_mountain_car_follows_the_books_equations():
    """Section 10.1, written out one state at a time in plain floats."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.2, 0.5, 2000)
    v = rng.uniform(-0.07, 0.07, 2000)
    a = rng.integers(0, 3, 2000)
    x2, v2, r, done = mountain_car.step(x, v, a)
    for i in range(2000):
        want_v = min(max(v[i] + 0.001 * (a[i] - 1) - 0.0025 * math.cos(3 * x[i]), -0.07), 0.07)
        want_x = min(max(x[i] + want_v, -1.2), 0.5)
        if want_x == -1.2:
            want_v = 0.0
        assert (x2[i], v2[i], done[i]) == (want_x, want_v, want_x >= 0.5)
    assert np.all(r == -1)
    assert done.any() and (x2 == -1.2).any() and (v2 == 0.07).any()  # the random states hit every bound


def test_mountain_car_matches_gymnasium_dynamics():
    """gymnasium's MountainCar-v0 steps (its raw env, without the 200-step TimeLimit) agree with ours, up to
    rounding (it adds the throttle and gravity terms before the velocity, and uses math.cos). One difference:
    its position bound is 0.6, not the book's 0.5, which shows only on the final step (x >= 0.5 ends it)."""
    env = gym.make("MountainCar-v0").unwrapped
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(3000):
        x, v, a = rng.uniform(-1.2, 0.5), rng.uniform(-0.07, 0.07), int(rng.integers(3))
        env.state = np.array([x, v])
        _, reward, terminated, _, _ = env.step(a)
        x2, v2, r, done = mountain_car.step(x, v, a)
        np.testing.assert_allclose([min(env.state[0], 0.5), env.state[1]], [x2, v2], rtol=0, atol=1e-15)
        assert (reward, terminated) == (r, done)
        hits += done
    assert hits > 0


def test_mountain_car_starts_and_ends_episodes_as_the_book():
    x, v = mountain_car.sample_start(10_000, np.random.default_rng(0))
    assert np.all(v == 0) and x.min() >= -0.6 and x.max() < -0.4 and abs(x.mean() + 0.5) < 0.005
    # Full throttle forward from rest at the bottom never reaches the goal (the car is underpowered)...
    x, v = np.array([-0.5]), np.array([0.0])
    for _ in range(1000):
        x, v, _, done = mountain_car.step(x, v, 2)
        assert not done[0]
    # ...but rocking back first does, within the 200 steps a good policy needs at most.
    env = mountain_car.MountainCarEnv()
    env.reset(seed=0)
    env.state = np.array([-0.5, 0.0])
    steps, done = 0, False
    while not done:
        steps += 1
        _, _, done, truncated, _ = env.step(2 if env.state[1] >= 0 else 0)
        assert steps < 200 and not truncated
