"""Tile coding, as the book's tile-coding software (Sutton's tiles3), vectorized over a batch of states.

    from common.tiles import IHT, tiles, grid_tiles

    iht = IHT(4096)                                   # index hash table: 4,096 features at most
    scale = 8 / np.array([0.5 + 1.2, 0.07 + 0.07])    # 8x8 tiles over position x velocity
    active = tiles(iht, 8, states * scale, ints=actions[:, None])   # states [n, 2], actions [n] -> [n, 8]
    q = w[active].sum(-1)                             # w has iht.size entries; one feature per tiling

`tiles(iht, num_tilings, floats, ints)` takes `floats` [n, d] already scaled to tile units (one unit = one
tile width) and returns int64 [n, num_tilings]: one active feature index per tiling, each in [0, iht.size).
A single state `floats` [d] gives [num_tilings], as tiles3 does. `ints` (an action, say) are extra integer
coordinates: a list shared by the whole batch or an array [n, k].

What it computes is tiles3's, number for number (tests/test_tiles.py checks it against a transcription):
- Tiling t displaces dimension j by t * (2j + 1) / num_tilings of a tile (the asymmetric offsets 1, 3, 5, ...
  that the book recommends in Section 9.5.4); the tile's coordinates are the tuple
  (t, floor((floor(x_0 * T) + t) / T), floor((floor(x_1 * T) + 3t) / T), ..., *ints).
- The IHT gives each new coordinate tuple the next free index, in the order tiles3 would meet them
  (state by state, tiling by tiling). Once all `size` indices are taken, a new tuple gets Python's
  hash(tuple) % size, a collision, and `overfull_count` counts those look-ups, as tiles3 does.
- `IHT` or a plain int: with an int size there is no table, every tuple hashes straight to hash % size.
- Not provided: tiles3's `readonly` look-ups and `tileswrap` (wrap-around tilings).

Vectorizing the table: instead of tiles3's dict keyed by tuples, the table keeps a 64-bit key of each
coordinate tuple (CPython's xxHash-based tuple hash, computed here in numpy) in a sorted array, so a batch is
looked up with one `searchsorted`. Two different tuples sharing a 64-bit key would share an index; with a few
thousand tuples that has a chance of about 1e-12, the one deviation from tiles3. The table is
deterministic: no randomness, no PYTHONHASHSEED (integer hashing is not salted).

`grid_tiles(floats, num_tilings, tiles_per_dim)` is the same tiling without a table, for small dense
problems: tiling t, tile coordinates as above (offsets taken modulo a tile), flattened into
num_tilings * prod(tiles_per_dim + 1) features, each index used by exactly one tile.
"""
import numpy as np

# CPython's tuple hash (Objects/tupleobject.c, 64-bit builds, Python >= 3.8): xxHash's mixing steps.
_XXPRIME_1 = np.uint64(11400714785074694791)
_XXPRIME_2 = np.uint64(14029467366897019727)
_XXPRIME_5 = np.uint64(2870177450012600261)
_LEN_MANGLE = 2870177450012600261 ^ 3527539


def _xxhash(lanes):
    acc = np.full(lanes.shape[:-1], _XXPRIME_5, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(lanes.shape[-1]):
            acc += lanes[..., j] * _XXPRIME_2
            acc = (acc << np.uint64(31)) | (acc >> np.uint64(33))
            acc *= _XXPRIME_1
        acc += np.uint64(lanes.shape[-1] ^ _LEN_MANGLE)
    acc[acc == np.uint64(2**64 - 1)] = np.uint64(1546275796)
    return acc.view(np.int64)  # Py_hash_t is signed


def tuple_hash(coords):
    """hash(tuple(row)) for every row of the int array coords [..., m], as Python computes it (small ints)."""
    coords = np.asarray(coords, dtype=np.int64)
    # hash(int) is the int itself, except that -1 is reserved for errors and hashes to -2
    return _xxhash(np.where(coords == -1, -2, coords).view(np.uint64))


def table_key(coords):
    """The table's key of each coordinate tuple: Python's tuple hash without its -1 -> -2 step, which would make
    (0, -1) and (0, -2) one key (tiles3's dict tells them apart by equality; a hash table of keys cannot)."""
    return _xxhash(np.asarray(coords, dtype=np.int64).view(np.uint64))


class IHT:
    """Index hash table: coordinate tuples -> feature indices 0, 1, ..., size - 1 in order of first use."""

    def __init__(self, size):
        if int(size) <= 0:
            raise ValueError(f"IHT size must be positive, got {size}")
        self.size = int(size)
        self.overfull_count = 0
        self._keys = np.empty(0, np.int64)     # sorted tuple hashes
        self._indices = np.empty(0, np.int64)  # the feature index of each key

    def __len__(self):
        return len(self._keys)

    def full(self):
        return len(self) >= self.size

    def _lookup(self, keys):
        pos = np.minimum(np.searchsorted(self._keys, keys), max(len(self._keys) - 1, 0))
        found = self._keys[pos] == keys if len(self._keys) else np.zeros(keys.shape, bool)
        return np.where(found, self._indices[pos] if len(self._keys) else 0, -1), found

    def get_indices(self, keys, hashes):
        """Feature index of each tuple (table key and Python hash, [N], in tiles3's visiting order), adding new
        tuples while there is room."""
        indices, found = self._lookup(keys)
        if not found.all():
            new_keys, first = np.unique(keys[~found], return_index=True)
            new_keys = new_keys[np.argsort(first)][: self.size - len(self)]  # first met, first numbered
            all_keys = np.concatenate([self._keys, new_keys])
            all_indices = np.concatenate([self._indices, len(self) + np.arange(len(new_keys))])
            order = np.argsort(all_keys)
            self._keys, self._indices = all_keys[order], all_indices[order]
            indices, found = self._lookup(keys)
            self.overfull_count += int((~found).sum())
            indices[~found] = np.mod(hashes[~found], self.size)  # table full: collide like tiles3
        return indices


def tile_coordinates(num_tilings, floats, ints=()):
    """tiles3's coordinate tuples: int64 [n, num_tilings, 1 + d + k] for floats [n, d], ints [n, k] or [k]."""
    floats = np.asarray(floats, dtype=np.float64)
    n, d = floats.shape
    quantized = np.floor(floats * num_tilings).astype(np.int64)                  # [n, d]
    tiling = np.arange(num_tilings)
    displacement = tiling[:, None] * (2 * np.arange(d) + 1)                      # [T, d]: t * (1, 3, 5, ...)
    coords = (quantized[:, None, :] + displacement) // num_tilings               # [n, T, d]
    ints = np.asarray(ints, dtype=np.int64)
    ints = ints if ints.ndim == 2 else np.broadcast_to(ints.reshape(1, -1), (n, ints.size))
    return np.concatenate([np.broadcast_to(tiling[None, :, None], (n, num_tilings, 1)), coords,
                           np.broadcast_to(ints[:, None, :], (n, num_tilings, ints.shape[1]))], axis=-1)


def tiles(iht, num_tilings, floats, ints=()):
    """Active feature indices [n, num_tilings] (or [num_tilings] for one state) of tiles3's tiling."""
    single = np.ndim(floats) == 1
    floats = np.atleast_2d(np.asarray(floats, dtype=np.float64))
    if single and np.ndim(ints) == 2:
        raise ValueError("one state takes ints as a flat list")
    coords = tile_coordinates(num_tilings, floats, ints)
    coords = coords.reshape(-1, coords.shape[-1])
    hashes = tuple_hash(coords)
    indices = iht.get_indices(table_key(coords), hashes) if isinstance(iht, IHT) else np.mod(hashes, int(iht))
    indices = indices.reshape(len(floats), num_tilings)
    return indices[0] if single else indices


def grid_tiles(floats, num_tilings, tiles_per_dim):
    """Indices [n, num_tilings] into num_tilings * prod(tiles_per_dim + 1) features, no hashing.

    floats [n, d] in tile units, each x_j in [0, tiles_per_dim[j]]; the offsets are tiles3's (mod one tile),
    so every tiling needs one extra tile per dimension to cover the displaced edge."""
    floats = np.atleast_2d(np.asarray(floats, dtype=np.float64))
    shape = np.broadcast_to(np.asarray(tiles_per_dim, dtype=np.int64), floats.shape[1:]) + 1
    quantized = np.floor(floats * num_tilings).astype(np.int64)
    displacement = (np.arange(num_tilings)[:, None] * (2 * np.arange(floats.shape[1]) + 1)) % num_tilings
    coords = np.minimum((quantized[:, None, :] + displacement) // num_tilings, shape - 1)   # [n, T, d]
    flat = np.ravel_multi_index(tuple(np.moveaxis(coords, -1, 0)), tuple(shape))
    return np.arange(num_tilings) * int(np.prod(shape)) + flat
