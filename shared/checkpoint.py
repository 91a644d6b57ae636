"""Checkpoints that survive crashes and load safely.

A checkpoint holds model + optimizer + scheduler state, the step, the run's config and every RNG
state, so `--resume` continues the *same* run: the step after a resume equals the step an
uninterrupted run would have taken. Writes are atomic (temp file + fsync + rename), so a crash
mid-save leaves the previous checkpoint intact. Loads use `weights_only=True`, so a checkpoint
can't run code. The file holds the torch-serialized state as a byte payload next to its SHA-256, checked
on every load, so a damaged file is refused instead of resuming with altered weights or optimizer
values. (Checkpoints of the earlier format, FORMAT_V1, had no checksum; they still load, unchecked.)
"""
import hashlib
import io
import os
import tempfile
from pathlib import Path

import torch

from shared.errors import PlaygroundError, reason
from shared.seeding import rng_state, set_rng_state

FORMAT = "optimization-playground/checkpoint/v2"
FORMAT_V1 = "optimization-playground/checkpoint/v1"


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
    save_state(state, path)


def with_checksum(state: dict) -> dict:
    """{'format', 'sha256', 'payload'}: the state serialized to bytes (a uint8 tensor, so the file still loads
    with weights_only=True) and the SHA-256 of those bytes."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    return {"format": FORMAT, "sha256": hashlib.sha256(payload).hexdigest(),
            "payload": torch.frombuffer(bytearray(payload), dtype=torch.uint8)}


def _torch_load(source, path, map_location):
    try:
        return torch.load(source, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for truncated/garbage files
        raise PlaygroundError(f"checkpoint {path} is corrupt or not a torch file ({reason(e)}); "
                              "delete it or pass another checkpoint") from None


def read_checkpoint(path, map_location="cpu") -> dict:
    """Load and validate a checkpoint file; PlaygroundError (one line) if it isn't one of ours."""
    path = Path(path)
    if not path.is_file():
        raise PlaygroundError(f"checkpoint {path} does not exist; pass the path of a .pt file written by train.py")
    if path.stat().st_size == 0:
        raise PlaygroundError(f"checkpoint {path} is empty (0 bytes); delete it or pass another checkpoint")
    state = _torch_load(path, path, map_location)
    marker = state.get("format") if isinstance(state, dict) else None
    if marker == FORMAT and isinstance(state.get("payload"), torch.Tensor):
        payload = state["payload"].cpu().numpy().tobytes()
        if hashlib.sha256(payload).hexdigest() != state.get("sha256"):
            raise PlaygroundError(f"checkpoint {path} is damaged (its SHA-256 checksum does not match); "
                                  "delete it or pass another checkpoint")
        return _torch_load(io.BytesIO(payload), path, map_location)
    if marker != FORMAT_V1:
        raise PlaygroundError(
            f"{path} is not an optimization-playground checkpoint (no '{FORMAT}' marker); pass a file written by train.py"
        )
    return state


def save_state(state: dict, path) -> None:
    """Any dict of tensors and plain values, checksummed and written atomically; read it with read_checkpoint."""
    atomic_torch_save(with_checksum(state), path)


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
        raise PlaygroundError(f"checkpoint {path} does not fit this model/config ({reason(e, 160)}); "
                              "resume with the config it was trained with") from None
    if restore_rng:
        set_rng_state(state["rng"])
    return state


def file_digest(path) -> str:
    """First 16 hex digits of the file's SHA-1: a cache key that changes whenever the checkpoint's bytes do."""
    if not Path(path).is_file():
        raise PlaygroundError(f"checkpoint {path} does not exist; pass the checkpoint.pt written by train.py")
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]
