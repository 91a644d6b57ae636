"""The tile coder in common/tiles.py: tiles3's numbers, overlap of near states, the table's bounds."""
import sys
from math import floor
from pathlib import Path

import numpy as np
import pytest

BOOK = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BOOK))
from common.tiles import IHT, grid_tiles, tiles, tuple_hash  # noqa: E402


class ReferenceIHT:
    """Sutton's tiles3 index hash table, transcribed (incompleteweb.net/sutton/tiles/tiles3.html)."""

    def __init__(self, size):
        self.size, self.overfull_count, self.dictionary = size, 0, {}

    def getindex(self, obj):
        if obj in self.dictionary:
            return self.dictionary[obj]
        if len(self.dictionary) >= self.size:
            self.overfull_count += 1
            return hash(obj) % self.size
        self.dictionary[obj] = len(self.dictionary)
        return self.dictionary[obj]


def reference_tiles(iht, num_tilings, floats, ints=()):
    qfloats = [floor(f * num_tilings) for f in floats]
    result = []
    for tiling in range(num_tilings):
        coords, b = [tiling], tiling
        for q in qfloats:
            coords.append((q + b) // num_tilings)
            b += tiling * 2
        coords.extend(ints)
        result.append(iht.getindex(tuple(coords)))
    return result


MOUNTAIN_CAR_SCALE = 8 / np.array([0.5 + 1.2, 0.07 + 0.07])


def mountain_car_states(n, rng):
    return np.column_stack([rng.uniform(-1.2, 0.5, n), rng.uniform(-0.07, 0.07, n)])


def test_tuple_hash_is_pythons():
    rows = np.random.default_rng(0).integers(-5, 50, size=(500, 4))
    rows[0] = [-1, -1, 0, 7]  # hash(-1) == -2 in Python
    assert tuple_hash(rows).tolist() == [hash(tuple(r)) for r in rows.tolist()]


@pytest.mark.parametrize("size", [4096, 64])  # 64: the table overflows and collides, as tiles3 does
def test_matches_tiles3_number_for_number(size):
    rng = np.random.default_rng(1)
    states, actions = mountain_car_states(300, rng) * MOUNTAIN_CAR_SCALE, rng.integers(0, 3, 300)
    reference = ReferenceIHT(size)
    expected = [reference_tiles(reference, 8, s, [a]) for s, a in zip(states.tolist(), actions.tolist())]
    iht = IHT(size)
    ours = np.concatenate([tiles(iht, 8, states[:150], actions[:150, None]),  # two batches: the table persists
                           tiles(iht, 8, states[150:], actions[150:, None])])
    assert ours.tolist() == expected
    assert iht.overfull_count == reference.overfull_count and (size == 4096) == (iht.overfull_count == 0)
    assert tiles(iht, 8, states[7], [actions[7]]).tolist() == expected[7]  # one state, as tiles3's call


def test_hash_only_mode_and_three_dimensions():
    rng = np.random.default_rng(2)
    states = rng.uniform(0, 5, size=(50, 3))
    expected = [[hash(tuple(c)) % 1000 for c in _coords(s, 4)] for s in states.tolist()]
    assert tiles(1000, 4, states).tolist() == expected


def _coords(floats, num_tilings):
    q = [floor(f * num_tilings) for f in floats]
    return [[t] + [(qj + t * (2 * j + 1)) // num_tilings for j, qj in enumerate(q)] for t in range(num_tilings)]


def test_near_states_share_tiles_far_ones_none():
    rng = np.random.default_rng(3)
    iht = IHT(4096)
    states = mountain_car_states(200, rng)
    base = tiles(iht, 8, states * MOUNTAIN_CAR_SCALE)
    nudged = tiles(iht, 8, (states + [0.01, 0.0005]) * MOUNTAIN_CAR_SCALE)   # a small fraction of a tile
    shared_near = (base == nudged).sum(1)
    assert base.shape == (200, 8) and shared_near.mean() > 6 and shared_near.min() >= 4
    far = tiles(iht, 8, (states + [0.8, 0.0]).clip(-1.2, 0.5) * MOUNTAIN_CAR_SCALE)  # >= 3 tiles away in x
    moved = np.abs(np.clip(states[:, 0] + 0.8, -1.2, 0.5) - states[:, 0]) > 0.5
    assert moved.sum() > 50
    assert all(not set(a) & set(b) for a, b in zip(base[moved], far[moved]))
    # the same position with another action is another feature set altogether
    assert not set(tiles(iht, 8, states[0] * MOUNTAIN_CAR_SCALE, [1])) & set(base[0])


def test_indices_stay_in_the_table_and_are_deterministic():
    rng = np.random.default_rng(4)
    states = rng.uniform(-100, 100, size=(5000, 2))
    first, second = IHT(512), IHT(512)
    a, b = tiles(first, 8, states), tiles(second, 8, states)
    assert a.shape == (5000, 8) and a.min() >= 0 and a.max() < 512 and first.full()
    assert np.array_equal(a, b) and first.overfull_count == second.overfull_count > 0
    # within one tiling a state has one tile; tilings never share a tile (their coordinate tuples differ)
    small = IHT(10_000)
    assert all(len(set(row)) == 8 for row in tiles(small, 8, states[:300]).tolist())


def test_grid_tiles_partition_like_tiles3():
    rng = np.random.default_rng(5)
    states = rng.uniform(0, 8, size=(2000, 2))
    grid = grid_tiles(states, 8, [8, 8])
    hashed = tiles(IHT(100_000), 8, states)
    assert grid.min() >= 0 and grid.max() < 8 * 9 * 9
    # the same partition of the plane: two states share a grid tile iff they share a tiles3 tile
    for t in range(8):
        same_grid = grid[:, t, None] == grid[None, :, t]
        same_hash = hashed[:, t, None] == hashed[None, :, t]
        assert np.array_equal(same_grid, same_hash)
    assert all(np.all(grid[:, t] // 81 == t) for t in range(8))
