"""Chapter 8: the mazes (models agree with their samples), Dyna-Q / Dyna-Q+, prioritized sweeping,
expected vs sample updates and trajectory sampling, each against the property the book shows."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from shared.imports import load_module

BOOK = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ch8():
    return {name: load_module(BOOK / f"chapter8/{name}.py") for name in
            ("envs", "planning", "dyna_maze", "dyna_policies")}


def all_mazes(envs):
    changing = [envs.blocking_maze(), envs.shortcut_maze()]
    return [envs.Maze(), envs.Maze(envs.scaled_layout(envs.DYNA_MAZE, 2, 2))] + changing


def test_mazes_pass_gymnasium_checker(ch8):
    for env in all_mazes(ch8["envs"]):
        check_env(env, skip_render_check=True)


def test_maze_models_agree_with_sampled_transitions(ch8):
    """For every maze (both phases of the changing ones): each (s, a) stepped through the gymnasium API lands
    where P says, with the reward R says, and r[s, a] is that reward; walls and edges block, G pays +1 and ends."""
    envs = ch8["envs"]
    for env in all_mazes(envs):
        for phase in ([False, True] if isinstance(env, envs.ChangingMaze) else [None]):
            if phase is not None:
                env.set_phase(phase)
            env.reset(seed=0)
            for s in np.nonzero(~env.wall.ravel() & ~env.terminal)[0]:
                for a in range(env.n_actions):
                    env.s = int(s)
                    s2, r, done, truncated, _ = env.step(a)
                    assert env.P[s, a, s2] == 1.0 and r == env.R[s, a, s2] == env.r[s, a]
                    assert done == env.terminal[s2] and not truncated and not env.wall.ravel()[s2]
                    assert r == (1.0 if done else 0.0)
                    moved = np.subtract(env.cell(s2), env.cell(s))
                    assert moved.tolist() in ([0, 0], envs.MOVES[a].tolist())
    maze = envs.Maze()
    assert maze.shortest_path() == 14 and maze.n_open == 47 and maze.cell(maze.start_state) == (2, 0)
    assert envs.Maze(envs.scaled_layout(envs.DYNA_MAZE, 1, 2)).n_open == 94  # Example 8.4's doubling


def test_changing_maze_switches_after_change_at_steps(ch8):
    env = ch8["envs"].blocking_maze()
    env.reset(seed=0)
    assert env.layout[3] == "########." and env.change_at == 1000
    for _ in range(999):
        env.step(env.action_space.sample())
    assert env.layout[3] == "########."
    env.step(0)
    assert env.layout[3] == ".########"
    env.reset(seed=1)
    assert env.layout[3] == "########."


def test_figure_8_2_planning_shortens_the_second_episode(ch8):
    """The book: with n = 50 the agent has a good policy after the first episode (tens of steps in the
    second), without planning the second episode still takes hundreds; n = 5 lies between."""
    env, curves = ch8["dyna_maze"].compute(10, 3, np.random.default_rng(0))
    assert curves[50][1] < 60 and curves[0][1] > 300
    assert curves[50][1] < curves[5][1] < curves[0][1]
    assert curves[50][2] < 25   # near the 14-step shortest path by episode 3


def test_figure_8_3_policies_halfway_through_episode_2(ch8):
    pol = ch8["dyna_policies"]
    env, results = pol.compute(0)
    (q0, _, first0), (q50, _, first50) = results[0], results[50]
    assert first0 == first50  # the same first episode: planning is a no-op before any reward
    n0, n50 = pol.greedy_arrows(env, q0).any(-1).sum(), pol.greedy_arrows(env, q50).any(-1).sum()
    assert n0 <= 3 and n50 >= 20   # the book: a few arrows near G without planning, most of the maze with n = 50


def test_dyna_q_values_are_exact_lower_bounds_that_reach_q_star(ch8):
    """Deterministic maze, alpha = 1, Q0 = 0: every Q-learning backup, real or planned, gives a value that some
    action sequence achieves, so Q <= Q* always, and Q(S, .) reaches Q*(S) = 0.95^13 once the 14-step path is
    backed up. Checks the gamma and the targets of direct RL (n = 0) and of planning (n = 10)."""
    envs, planning = ch8["envs"], ch8["planning"]
    env = envs.Maze()
    q_star = np.zeros((env.n_states, env.n_actions))
    for _ in range(200):
        q_star = env.r + 0.95 * env.P @ q_star.max(1)
    assert np.isclose(q_star[env.start_state].max(), 0.95 ** 13)
    for n, episodes in ((0, 40), (10, 10)):
        Q = planning.dyna_q(env, n, 10, np.random.default_rng(0), episodes=episodes, alpha=1.0)["Q"]
        assert (Q <= q_star + 1e-12).all()
        assert np.isclose(Q[:, env.start_state].max(1), 0.95 ** 13, atol=1e-12).sum() >= 6


def test_figure_8_5_dyna_q_plus_finds_the_shortcut(ch8):
    """Shortcut maze: after the shortcut opens, every Dyna-Q+ run (bonus kappa sqrt(tau)) goes through it again
    and again and collects more reward; Dyna-Q keeps the old path (its model never says the wall has a gap)."""
    cm = load_module(BOOK / "chapter8/changing_mazes.py")
    env, res = cm.compute("8.5", 10, np.random.default_rng(0))
    q, plus = res["dyna_q"], res["dyna_q_plus"]
    assert (plus["passes_through_new_gap"] >= 50).all()
    assert (q["passes_through_new_gap"] >= cm.USES).sum() <= 1
    gained = {m: r["cumulative_reward"][-1] - r["cumulative_reward"][env.change_at - 1] for m, r in res.items()}
    assert gained["dyna_q_plus"] > gained["dyna_q"] + 30


def test_figure_8_4_blocking_maze(ch8):
    """Blocking maze: right after the change both agents earn almost nothing (they run into the new wall);
    Dyna-Q+ recovers in every run and ends ahead."""
    cm = load_module(BOOK / "chapter8/changing_mazes.py")
    env, res = cm.compute("8.4", 10, np.random.default_rng(0))
    for r in res.values():
        c = r["cumulative_reward"]
        assert c[env.change_at + 100] - c[env.change_at - 1] < 2
    assert (res["dyna_q_plus"]["passes_through_new_gap"] >= 50).all()
    assert res["dyna_q_plus"]["cumulative_reward"][-1] > res["dyna_q"]["cumulative_reward"][-1] + 10


def test_example_8_4_prioritized_sweeping_needs_fewer_updates(ch8):
    """On the 47- and 94-state mazes prioritized sweeping reaches a near-optimal greedy path with several times
    fewer updates than Dyna-Q (the book: several times fewer, at every size); medians of 4 runs."""
    ps = load_module(BOOK / "chapter8/prioritized_sweeping.py")
    results = ps.compute(2, 4, np.random.default_rng(0))
    for r in results:
        assert (r["dyna_q"] > 0).all() and (r["prioritized_sweeping"] > 0).all()
        assert np.median(r["dyna_q"]) > 2.5 * np.median(r["prioritized_sweeping"])
        # and not by updating less per real step: the sweeps back from the goal solve the maze with about as
        # much real experience as Dyna-Q (one-step Q-learning alone, with no sweeps, needs several times more)
        steps = r["real_steps"]
        assert np.median(steps["prioritized_sweeping"]) < 2 * np.median(steps["dyna_q"])


def test_figure_8_7_sample_updates_win_for_large_b(ch8):
    """After b/10 max-computations (a tenth of one expected update, which has not reduced the error at all),
    sample updates have cut the error to about sqrt((b-1)/(b t)) = 0.3 for b = 1,000; for b = 2 sampling
    gains little."""
    planning = ch8["planning"]
    t, err = planning.sample_update_errors(1000, 30, np.random.default_rng(0))
    assert err[0] == 1.0 and len(t) == 2001
    assert abs(err[100] - np.sqrt(999 / 1000 / 100)) < 0.03
    assert err[1000] < 0.045   # when the expected update would just have finished
    _, err2 = planning.sample_update_errors(2, 2000, np.random.default_rng(0))
    assert abs(err2[2] - 0.5) < 0.05   # b = 2: after 2 samples (one expected update's cost) still 0.5


def test_figure_8_8_on_policy_sampling_is_better_early(ch8):
    """1,000 states, b = 1: after 250 expected updates (an eighth of a uniform sweep) the on-policy distribution
    has spent them on the states reachable from the start, and its greedy start value is far ahead of uniform's
    (which has barely moved); with b = 10 the early advantage is much smaller (the book's observation)."""
    ts = load_module(BOOK / "chapter8/trajectory_sampling.py")
    (b1, b10) = ts.compute(30, np.random.default_rng(0), cases=[(1000, 1, 2000), (1000, 10, 2000)], points=8)
    assert b1["updates"].tolist() == list(range(0, 2001, 250))
    assert b1["on_policy"][0] == b1["uniform"][0]   # same tasks, same initial greedy policy
    assert b1["on_policy"][1] > 4.0 and b1["uniform"][1] < 1.0
    assert b1["on_policy"][1] - b1["uniform"][1] > 3 * abs(b10["on_policy"][1] - b10["uniform"][1])


@pytest.mark.slow
def test_chapter8_scripts_are_deterministic_and_reject_bad_flags(tmp_path):
    def run(out, *flags):
        return subprocess.run([sys.executable, str(BOOK / "chapter8/dyna_maze.py"), "--quick", "--seed", "3",
                               "--out", str(out), *flags], capture_output=True, text=True, timeout=300)
    a, b = run(tmp_path / "a"), run(tmp_path / "b")
    assert a.returncode == 0, a.stderr
    assert (tmp_path / "a/figure_8_2.json").read_text() == (tmp_path / "b/figure_8_2.json").read_text()
    bad = run(tmp_path / "c", "--episodes", "0")
    assert bad.returncode == 2 and "positive" in bad.stderr and not (tmp_path / "c/figure_8_2.json").exists()
    bad = subprocess.run([sys.executable, str(BOOK / "chapter8/prioritized_sweeping.py"), "--sizes", "9",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--sizes" in bad.stderr and "Traceback" not in bad.stderr
