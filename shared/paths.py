"""Where data and caches live.

Data root: --data-dir, else $PLAYGROUND_DATA, else a per-user cache folder (where loaders
download as usual when a network is there). Caches (decoded tensors, tokenizers) always go to
a writable folder, never into the data root, which may be read-only.
"""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "optimization-playground"


def data_root(data_dir=None) -> Path:
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get("PLAYGROUND_DATA"):
        return Path(os.environ["PLAYGROUND_DATA"]).expanduser()
    return _user_cache() / "data"


def cache_dir(name: str = "") -> Path:
    """A writable cache folder ($PLAYGROUND_CACHE or ~/.cache/optimization-playground/cache)."""
    root = Path(os.environ.get("PLAYGROUND_CACHE") or _user_cache() / "cache").expanduser()
    path = root / name if name else root
    path.mkdir(parents=True, exist_ok=True)
    return path
