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


# ----------------------------------------------------------------------------- semi-gradient Sarsa (10.1-10.2)
@pytest.fixture(scope="module")
def ch10():
    return {name: load_module(BOOK / f"chapter10/{name}.py") for name in ("envs", "sarsa", "access_control")}


def test_features_are_the_tiles_of_the_books_tile_coder(ch10):
    """Our direct tile numbering partitions (position, velocity) exactly as tiles3 with an IHT does (a
    one-to-one renaming of tiles), and the book's 4,096-entry IHT never fills, so nothing collides there."""
    from common.tiles import IHT, tiles
    sarsa = ch10["sarsa"]
    rng = np.random.default_rng(0)
    x, v = rng.uniform(-1.2, 0.5, 20_000), rng.uniform(-0.07, 0.07, 20_000)
    x[:100], v[:100] = -1.2, 0.07  # the corners of the state space
    x[100:200], v[100:200] = 0.5, -0.07
    ours = sarsa.features(x, v)
    iht = IHT(4096)
    book = tiles(iht, 8, np.stack([x * 8 / 1.7, v * 8 / 0.14], -1))
    pairs = np.unique(np.stack([ours.ravel(), book.ravel()], -1), axis=0)
    assert len(pairs) == len(np.unique(pairs[:, 0])) == len(np.unique(pairs[:, 1]))  # a bijection
    assert ours.max() < sarsa.N_FEATURES and len(iht) == len(pairs)
    for a in range(3):  # the book's call hashes the action in as well: 3 x the tiles, still < 4,096
        tiles(iht, 8, np.stack([x * 8 / 1.7, v * 8 / 0.14], -1), ints=[a])
    assert len(iht) <= 4 * len(pairs) < 4096 and iht.overfull_count == 0
    # 8 tilings, and nearby states share most tiles, far ones none
    near = sarsa.features(np.array([-0.5, -0.5 + 0.02]), np.array([0.0, 0.001]))
    far = sarsa.features(np.array([-0.5, 0.2]), np.array([0.0, 0.05]))
    assert len(set(near[0]) & set(near[1])) >= 5 and not set(far[0]) & set(far[1])


def test_n_step_return_stops_at_the_end_of_the_episode(ch10):
    """(7.4) with gamma = 1: n rewards and a bootstrap, or the rewards up to T alone."""
    ring = np.array([[10.0, 1, 2, 3, 4]] * 4)      # n = 4: slot t % 5 holds R_t; R_5 = 10, R_6 = 1, R_7 = 2 ...
    tau, T = np.array([3, 3, 4, 2]), np.array([100, 6, 6, 6])
    G = ch10["sarsa"].n_step_return(ring, tau, T, q_boot=np.full(4, -50.0))
    np.testing.assert_allclose(G, [4 + 10 + 1 + 2 - 50, 4 + 10 + 1, 10 + 1, 3 + 4 + 10 + 1])


def test_sarsa_learns_mountain_car_and_larger_alpha_learns_faster(ch10):
    """Figure 10.2's properties at 8 runs x 150 episodes: trained greedy Sarsa reaches the goal in well under
    200 steps (book: ~120-150 at episode 500), and alpha = 0.5/8 beats 0.1/8 over the first 50 episodes."""
    out = ch10["sarsa"].n_step_sarsa(np.repeat([0.1 / 8, 0.5 / 8], 8), 1, 150, np.random.default_rng(0))
    steps = out["steps"].reshape(2, 8, 150)
    assert steps[1, :, -20:].mean() < 160 and steps[1, :, -20:].max() < 300
    assert steps[1, :, :50].mean() < 0.7 * steps[0, :, :50].mean()
    assert steps[:, :, 0].mean() > 1000  # the first episode: the optimistic w = 0 explores for a long time
    assert not out["truncated"].any()


def test_eight_step_sarsa_beats_one_step_early(ch10):
    """Figure 10.3: n = 8 (alpha 0.3/8) needs fewer steps per episode than n = 1 (alpha 0.5/8) early on."""
    sarsa = ch10["sarsa"]
    one = sarsa.n_step_sarsa(np.full(20, 0.5 / 8), 1, 50, np.random.default_rng(0))["steps"]
    eight = sarsa.n_step_sarsa(np.full(20, 0.3 / 8), 8, 50, np.random.default_rng(1))["steps"]
    assert eight.mean() < 0.9 * one.mean()


def test_figure_10_4_u_shape_in_alpha_and_too_large_n_hurts(ch10):
    """Figure 10.4 at 10 runs x 30 episodes: for n = 4 both a small (0.2/8) and a large (1.6/8) alpha are worse
    than a middle one (0.8/8); at that alpha n = 16 is worse than n = 4."""
    sarsa = ch10["sarsa"]
    out = sarsa.n_step_sarsa(np.repeat([0.2 / 8, 0.8 / 8, 1.6 / 8], 10), 4, 30, np.random.default_rng(0))
    small, middle, large = out["steps"].reshape(3, -1).mean(1)
    assert middle < 0.85 * small and middle < 0.85 * large
    n16 = sarsa.n_step_sarsa(np.full(10, 0.8 / 8), 16, 30, np.random.default_rng(0))["steps"].mean()
    assert n16 > 1.2 * middle


def test_figure_10_1_cost_to_go_grows_from_the_visited_states(ch10):
    """After step 428 of the first episode only states near the visited ones cost anything (w = 0 elsewhere);
    by episode 12 the cost-to-go is large and highest in the middle (the hardest states to leave)."""
    sarsa = ch10["sarsa"]
    out = sarsa.n_step_sarsa(np.array([0.5 / 8]), 1, 12, np.random.default_rng(0), snapshots=[(1, 428), (12, None)])
    positions, velocities, early = sarsa.cost_to_go(out["snapshots"][(1, 428)])
    late = sarsa.cost_to_go(out["snapshots"][(12, None)])[2]
    assert 1 < early.max() < 20 and (early == 0).mean() > 0.3   # book panel: z up to ~4, mostly flat
    assert late.max() > 3 * early.max() and (late > 0).mean() > 0.8
    middle = np.abs(positions + 0.5) < 0.2
    assert late[:, middle].max() == late.max()
    assert out["steps"][0, 0] > 428


# ----------------------------------------------------------------------------- access control (10.3)
def test_access_control_env_and_its_model_agree(ch10):
    env = ch10["envs"].AccessControl()
    check_env(env, skip_render_check=True)
    rng = np.random.default_rng(0)
    n = 40_000
    for s, a in [(0, 1), (3, 0), (4 * 1 + 3, 1), (4 * 5 + 2, 1), (4 * 5 + 2, 0), (4 * 10 + 0, 1)]:
        s2, r, done = env.sample(np.full(n, s), np.full(n, a), rng)
        freq = np.bincount(s2, minlength=env.n_states) / n
        assert np.abs(freq - env.P[s, a]).max() < 0.01 and not done.any()
        assert abs(r.mean() - env.r[s, a]) < 1e-12  # the reward is a function of (s, a)
    np.testing.assert_allclose(env.r[[4 * 5 + 3, 4 * 0 + 3, 4 * 5 + 3], [1, 1, 0]], [8, 0, 0])
    free_next = np.divmod(np.arange(env.n_states), 4)[0]
    # from 5 free servers, accepting leaves 4 and then each of the 6 busy frees with prob 0.06
    assert np.isclose((env.P[4 * 5 + 1, 1] * free_next).sum(), 4 + 6 * 0.06)


def test_figure_10_5_learned_policy_accepts_high_priorities_and_rejects_priority_1(ch10):
    envs, sarsa = ch10["envs"], ch10["sarsa"]
    env = envs.AccessControl()
    q, r_bar = sarsa.differential_sarsa(env, 500_000, np.random.default_rng(0))
    accept = ch10["access_control"].greedy_tables(env, q)[0]  # [priority index, free servers]
    assert accept[3, 1:5].all() and accept[2, 1:5].all()          # priority 8 and 4 with 1-4 free servers
    assert not accept[0, 1:5].any() and not accept[1, 1:3].any()  # priority 1 (and 2 when servers are scarce)
    r_star, q_star = sarsa.relative_value_iteration(env)
    best = ch10["access_control"].greedy_tables(env, q_star)[0]
    assert not best[0].any() and best[3, 1:].all()  # the optimal policy: never priority 1, always priority 8
    # R_bar is a running estimate (beta = 0.01 averages the last ~100 steps): near r* = 2.75, not exactly it
    assert 2.7 < r_star < 2.8 and abs(r_bar - r_star) < 0.5
