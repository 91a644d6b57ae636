"""The flags every train.py shares, the run folder, metrics logging and one-line errors.

    parser = experiment_parser("ddpm", description=__doc__)   # --seed --device --out --data-dir --quick --resume
    parser.add_argument("--lr", type=float, default=2e-4, help="...")
    args = parser.parse_args()
    run = Run(args, config=vars(args))       # makes runs/ddpm/, writes config.json
    run.log(step, loss=0.1)                   # appends to runs/ddpm/metrics.jsonl

Wrap `main` with `main_guard` so a PlaygroundError prints one line and exits with code 2.
"""
import argparse
import functools
import json
import sys
import time
from pathlib import Path

from shared.errors import PlaygroundError

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("bf16", "fp32")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got '{text}'") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got '{text}'") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def add_common_args(parser: argparse.ArgumentParser, experiment: str) -> argparse.ArgumentParser:
    g = parser.add_argument_group("common")
    g.add_argument("--seed", type=int, default=0, help="seed for python, numpy and torch")
    g.add_argument("--device", choices=DEVICES, default="auto", help="auto = cuda when present, else cpu")
    g.add_argument("--out", type=Path, default=Path("runs") / experiment,
                   help=f"run folder for checkpoints, metrics.jsonl, config.json, samples (default runs/{experiment})")
    g.add_argument("--data-dir", type=Path, default=None,
                   help="data root (default $PLAYGROUND_DATA, else ~/.cache/optimization-playground/data)")
    g.add_argument("--quick", action="store_true", help="tiny config that finishes in well under a minute (smoke tests)")
    g.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt if it exists")
    return parser


def experiment_parser(experiment: str, description: str = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    return add_common_args(parser, experiment)


def resolve_device(name: str):
    """torch.device for --device (torch is imported here, so numpy-only scripts don't pay for it)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise PlaygroundError("--device cuda was asked for but no CUDA device is available; use --device cpu or auto")
    if name not in DEVICES:
        raise PlaygroundError(f"unknown device '{name}'; choose one of {', '.join(DEVICES)}")
    return torch.device(name)


def autocast(device, precision: str):
    """Context for --precision: bf16 autocast runs matmuls and convolutions in bfloat16 (1.4-1.7x faster on
    this CPU, which has AVX-512 BF16; more on GPUs) while weights, gradients and the optimizer stay float32.
    `fp32` turns it off."""
    import torch

    if precision not in PRECISIONS:
        raise PlaygroundError(f"unknown precision '{precision}'; choose one of {', '.join(PRECISIONS)}")
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=precision == "bf16")


def _plain(value):
    if isinstance(value, Path):
        return str(value)
    if type(value).__name__ == "device":  # torch.device
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class Run:
    """A run folder: config.json (resolved config), metrics.jsonl (one JSON object per log call)."""

    def __init__(self, out, config: dict, write: bool = True):
        self.dir = Path(out)
        self.write = write  # False on data-parallel ranks other than 0: one writer per run folder
        try:
            if write:
                self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise PlaygroundError(f"cannot create run folder {self.dir} ({e.strerror}); pass a writable --out") from None
        self.config = {k: _plain(v) for k, v in config.items()}
        if write:
            (self.dir / "config.json").write_text(json.dumps(self.config, indent=1) + "\n")
        self.metrics_path = self.dir / "metrics.jsonl"
        self.checkpoint_path = self.dir / "checkpoint.pt"
        self._t0 = time.time()

    def log(self, step: int, **metrics) -> None:
        if not self.write:
            return
        row = {"step": int(step), "time": round(time.time() - self._t0, 3)}
        row.update({k: (float(v) if hasattr(v, "__float__") and not isinstance(v, (int, str)) else v)
                    for k, v in metrics.items()})
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")

    def truncate_metrics(self, step: int) -> None:
        """On resume, drop rows logged after the checkpoint's step (they will be logged again)."""
        if not self.write or not self.metrics_path.exists():
            return
        kept = [line for line in self.metrics_path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        self.metrics_path.write_text("".join(line + "\n" for line in kept))


def read_metrics(path) -> list:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main_guard(main):
    """Decorator: PlaygroundError -> 'error: <message>' on stderr and exit code 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except PlaygroundError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

    return wrapper
