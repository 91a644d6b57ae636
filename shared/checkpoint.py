"""Checkpoints that survive crashes and load safely.

A checkpoint holds model + optimizer + scheduler state, the step, the run's config and every RNG
state, so `--resume` continues the *same* run: the step after a resume equals the step an
uninterrupted run would have taken. Writes are atomic (temp file + fsync + rename), so a crash
mid-save leaves the previous checkpoint intact. Loads use `weights_only=True`, so a checkpoint
can't run code.
"""
import hashlib
import os
import tempfile
from pathlib import Path

import torch

from shared.errors import PlaygroundError
from shared.seeding import rng_state, set_rng_state

FORMAT = "optimization-playground/checkpoint/v1"


def atomic_torch_save(obj, path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_checkpoint(path, *, model, optimizer=None, scheduler=None, step=0, config=None, extra=None) -> None:
    state = {
        "format": FORMAT,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "step": int(step),
        "config": dict(config or {}),
        "rng": rng_state(),
        "extra": extra or {},
    }
    atomic_torch_save(state, path)


def read_checkpoint(path, map_location="cpu") -> dict:
    """Load and validate a checkpoint file; PlaygroundError (one line) if it isn't one of ours."""
    path = Path(path)
    if not path.is_file():
        raise PlaygroundError(f"checkpoint {path} does not exist; pass the path of a .pt file written by train.py")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for truncated/garbage files
        reason = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        raise PlaygroundError(
            f"checkpoint {path} is corrupt or not a torch file ({reason}); delete it or pass another checkpoint"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise PlaygroundError(
            f"{path} is not an optimization-playground checkpoint (no '{FORMAT}' marker); pass a file written by train.py"
        )
    return state


def load_checkpoint(path, *, model, optimizer=None, scheduler=None, map_location="cpu", restore_rng=True) -> dict:
    """Restore model (+ optimizer, scheduler, RNG) in place and return the checkpoint dict."""
    state = read_checkpoint(path, map_location)
    try:
        model.load_state_dict(state["model"])
        if optimizer is not None and state["optimizer"] is not None:
            optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state["scheduler"] is not None:
            scheduler.load_state_dict(state["scheduler"])
    except (RuntimeError, KeyError, ValueError) as e:
        first = str(e).strip().splitlines()[0][:160]
        raise PlaygroundError(f"checkpoint {path} does not fit this model/config ({first}); "
                              "resume with the config it was trained with") from None
    if restore_rng:
        set_rng_state(state["rng"])
    return state


def file_digest(path) -> str:
    """First 16 hex digits of the file's SHA-1: a cache key that changes whenever the checkpoint's bytes do."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]
