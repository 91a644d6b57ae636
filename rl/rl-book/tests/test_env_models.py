"""Every environment of every chapter: gymnasium's env checker, and, where an environment exposes its model
(P[s, a, s'], R[s, a, s'], r[s, a]), agreement between the model and the transitions it really produces.

Environments are discovered, not listed: each chapterN/envs.py (and common/*.py) is imported and every
gymnasium.Env subclass defined there that can be built without arguments, and every Env returned by a
function of the module that takes no arguments (e.g. make_cliff_walking), is checked. A new chapter's
environments are covered as soon as its envs.py exists.

Samples come from the two ways learners draw them: `sample(s, a, rng)`, vectorized (many pairs x N draws at
once), and the gymnasium `step` from a set state (which some environments override with their own story,
e.g. Jack's real Poisson days). For each (s, a) the mean sampled reward must match r[s, a] and the
next-state frequencies P[s, a, :] within 6 standard errors, next states of probability 0 never occur, and
`terminated` must say whether the next state is terminal.
"""
import inspect
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from shared.imports import load_module

BOOK = Path(__file__).resolve().parents[1]
MODULES = sorted(BOOK.glob("chapter*/envs.py"), key=lambda p: int(p.parent.name[7:])) + sorted(BOOK.glob("common/*.py"))
# pairs x draws per environment; the inverse-CDF sampler touches every next state, so large models get fewer
MAX_PAIRS, SAMPLES_PER_ENV, CDF_ELEMENTS, STEP_PAIRS, STEPS_PER_PAIR, SIGMAS = 200, 2_000_000, 4e7, 3, 800, 6.0


def no_required_args(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


def discover():
    """(test id, zero-argument constructor) for every environment found."""
    found = []
    for path in MODULES:
        module = load_module(path)
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__ or name.startswith("_"):
                continue
            if inspect.isclass(obj) and issubclass(obj, gym.Env) and no_required_args(obj):
                found.append((f"{path.parent.name}.{name}", obj))
            elif inspect.isfunction(obj) and no_required_args(obj) and not name.startswith("test"):
                # a factory such as make_cliff_walking; the return annotation, if any, must not rule out an Env
                ret = inspect.signature(obj).return_annotation
                if ret is inspect.Signature.empty or (inspect.isclass(ret) and issubclass(ret, gym.Env)):
                    found.append((f"{path.parent.name}.{name}()", obj))
    return found


ENVIRONMENTS = discover()


def build(make):
    env = make()
    if not isinstance(env, gym.Env):
        pytest.skip("not an environment (a zero-argument helper of the module)")
    return env


def has_model(env):
    return all(hasattr(env, k) for k in ("P", "R", "r")) and np.ndim(env.P) == 3


def test_discovery_finds_the_chapters_environments():
    names = {name for name, _ in ENVIRONMENTS}
    for expected in ("chapter3.GridWorld35", "chapter4.JacksCarRental", "chapter6.MaximizationBias",
                     "chapter6.make_cliff_walking()", "common.RandomWalk19", "chapter11.BairdCounterexample",
                     "chapter13.ShortCorridor"):
        assert expected in names


@pytest.mark.parametrize("name,make", ENVIRONMENTS, ids=[n for n, _ in ENVIRONMENTS])
def test_env_checker(name, make):
    env = build(make)
    check_env(env.unwrapped, skip_render_check=True)


def pairs_to_check(env, rng):
    """Every (s, a) with s non-terminal and a allowed, or a random MAX_PAIRS of them."""
    allowed = np.asarray(getattr(env, "allowed", np.ones(env.P.shape[:2], bool)), bool)
    terminal = np.asarray(getattr(env, "terminal", np.zeros(env.P.shape[0], bool)), bool)
    s, a = np.nonzero(allowed & ~terminal[:, None])
    max_pairs = MAX_PAIRS if env.P.shape[0] <= 100 else MAX_PAIRS // 5
    if len(s) > max_pairs:
        keep = rng.choice(len(s), max_pairs, replace=False)
        s, a = s[keep], a[keep]
    return s, a


def assert_model_matches(env, s, a, s2, reward, done, n, how):
    """s, a: the pairs [k]; s2, reward, done: samples [k, n]."""
    P, r = np.asarray(env.P)[s, a], np.asarray(env.r)[s, a]  # [k, S], [k]
    k, S = P.shape
    counts = np.bincount((np.arange(k)[:, None] * S + s2).ravel(), minlength=k * S).reshape(k, S)
    impossible = (P == 0) & (counts > 0)
    assert not impossible.any(), f"{how}: next state {np.argwhere(impossible)[0]} (pair, s') has probability 0 in P"
    # 6 standard errors, plus 3 counts of slack where n P is tiny and the normal approximation fails
    bad = np.abs(counts - n * P) > SIGMAS * np.sqrt(n * P * (1 - P)) + 3
    assert not bad.any(), (f"{how}: next-state frequencies disagree with P at (s, a, s') = "
                           f"{[(int(s[i]), int(a[i]), int(j)) for i, j in np.argwhere(bad)[:5]]}")
    mean, se = reward.mean(1), reward.std(1) / np.sqrt(n)
    bad = np.abs(mean - r) > SIGMAS * se + 1e-9
    assert not bad.any(), (f"{how}: mean sampled reward != r[s, a] at (s, a) = "
                           f"{[(int(s[i]), int(a[i]), round(float(mean[i]), 4), float(r[i])) for i in np.nonzero(bad)[0][:5]]}")
    terminal = getattr(env, "terminal", None)
    if terminal is not None:
        assert (np.asarray(done) == np.asarray(terminal)[s2]).all(), f"{how}: terminated disagrees with terminal[s']"


@pytest.mark.parametrize("name,make", ENVIRONMENTS, ids=[n for n, _ in ENVIRONMENTS])
def test_model_agrees_with_sampled_transitions(name, make):
    env = build(make).unwrapped
    if not has_model(env):
        pytest.skip("no model (P, R, r) exposed")
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(env.r, (env.P * env.R).sum(-1), atol=1e-9,
                               err_msg="r[s, a] is not the expected reward sum_s' P R of the model")
    s, a = pairs_to_check(env, rng)
    if hasattr(env, "sample"):  # the vectorized sampler the learners use
        n = int(min(20_000, SAMPLES_PER_ENV // len(s), CDF_ELEMENTS // (len(s) * env.P.shape[0])))
        S_, A_ = np.repeat(s[:, None], n, 1), np.repeat(a[:, None], n, 1)
        s2, reward, done = env.sample(S_, A_, rng)
        assert_model_matches(env, s, a, np.asarray(s2), np.asarray(reward, float), done, n, "sample()")
    if hasattr(env, "s"):  # gymnasium's step from a set state
        pick = rng.choice(len(s), min(STEP_PAIRS, len(s)), replace=False)
        for i in pick:
            env.reset(seed=int(i))  # (a ChangingMaze restarts its clock, so its layout stays put)
            out = []
            for _ in range(STEPS_PER_PAIR):
                env.s = int(s[i])
                s2, reward, terminated, _, _ = env.step(int(a[i]))
                out.append((s2, reward, terminated))
            s2, reward, done = (np.array([o[j] for o in out])[None] for j in range(3))
            assert_model_matches(env, s[i:i + 1], a[i:i + 1], s2, reward.astype(float), done, STEPS_PER_PAIR, "step()")
