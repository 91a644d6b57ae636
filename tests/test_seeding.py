import random

import numpy as np
import torch

from shared.seeding import rng_state, seed_everything, set_rng_state


def draw():
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_same_seed_same_draws_different_seed_different():
    seed_everything(42)
    a = draw()
    seed_everything(42)
    assert draw() == a
    seed_everything(43)
    assert draw() != a


def test_rng_state_round_trip():
    seed_everything(1)
    state = rng_state()
    a = draw()
    draw()
    set_rng_state(state)
    assert draw() == a


def test_deterministic_flag():
    try:
        seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
