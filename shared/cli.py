"""The flags every train.py shares, the run folder, metrics logging and one-line errors.

    parser = experiment_parser("ddpm", description=__doc__)   # --seed --device --out --data-dir --quick --resume --overwrite
    parser.add_argument("--lr", type=positive_float, default=2e-4, help="...")
    args = parse_args(parser, argv, quick=dict(steps=40))     # --quick: these defaults; explicit flags still win
    run = Run(args.out, config=vars(args))    # locks runs/ddpm/, checks it, then writes config.json
    ...load the checkpoint if args.resume and run.checkpoint_path.exists()...
    run.check_finite(step, loss=loss)         # NaN/inf loss -> one-line error naming the last good checkpoint
    run.log(step, loss=0.1)                   # appends to runs/ddpm/metrics.jsonl

The run folder contract (`Run`): the folder is locked for the life of the process (a second run into it
stops at once); a folder that already holds a run is only touched with --resume (continue it) or
--overwrite (start it again); --resume must be given the flags the run was started with, except the ones
in RESUME_MAY_DIFFER; and nothing in the folder is written until all of that has been checked.

Wrap `main` with `main_guard`: a PlaygroundError prints one line and exits with code 2, running out of
memory prints one line (exit 2), Ctrl-C prints where the last checkpoint is and how to resume (exit 130).
"""
import argparse
import functools
import json
import math
import os
import re
import shlex
import sys
import time
from pathlib import Path

from shared.errors import PlaygroundError, reason

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, run folders are not locked
    fcntl = None

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("bf16", "fp32")
SEED_LIMIT = 2**32  # numpy's limit; batch seeds are derived as seed * 1_000_003 + step, which stays < 2**63
# Flags that may change between a run and its --resume: they cannot change what is computed (threads,
# where the data or the run folder is, how often checkpoints are written, where to stop this invocation).
RESUME_MAY_DIFFER = ("resume", "overwrite", "out", "data_dir", "device", "threads", "stop_after",
                     "checkpoint_every", "ckpt_interval")
RUN_FILES = ("config.json", "metrics.jsonl", "checkpoint.pt")  # what --overwrite deletes


def _number(text: str, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got '{text}'") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text} (not a finite number)")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def seed_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a seed 0..{SEED_LIMIT - 1}, got '{text}'") from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"expected a seed 0..{SEED_LIMIT - 1}, got {value}")
    return value


def finite_float(text: str) -> float:
    return _number(text, "a finite number")


def positive_float(text: str) -> float:
    value = _number(text, "a positive number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text, "a number >= 0")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def probability(text: str) -> float:
    """A number in [0, 1)."""
    value = _number(text, "a number in [0, 1)")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value}")
    return value


def add_common_args(parser: argparse.ArgumentParser, experiment: str) -> argparse.ArgumentParser:
    g = parser.add_argument_group("common")
    g.add_argument("--seed", type=seed_int, default=0, help="seed for python, numpy and torch")
    g.add_argument("--device", choices=DEVICES, default="auto", help="auto = cuda when present, else cpu")
    g.add_argument("--out", type=Path, default=Path("runs") / experiment,
                   help=f"run folder for checkpoints, metrics.jsonl, config.json, samples (default runs/{experiment})")
    g.add_argument("--data-dir", type=Path, default=None,
                   help="data root (default $PLAYGROUND_DATA, else ~/.cache/optimization-playground/data)")
    g.add_argument("--quick", action="store_true", help="tiny config that finishes in well under a minute (smoke tests)")
    g.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint, with the flags it was started with")
    g.add_argument("--overwrite", action="store_true",
                   help="start again in an --out that holds a run (deletes its config.json, metrics.jsonl, checkpoint.pt)")
    return parser


def add_loop_args(group, precision_help: str = "autocast precision of the forward pass") -> None:
    """--threads, --precision and --stop-after, which every training loop takes (added to `group`)."""
    group.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads")
    group.add_argument("--precision", choices=PRECISIONS, default="bf16", help=precision_help)
    group.add_argument("--stop-after", type=positive_int, default=None,
                       help="stop (with a checkpoint) after this many steps of this invocation; --resume continues")


class ArgumentParser(argparse.ArgumentParser):
    """argparse.ArgumentParser with the repo's rules: no abbreviations (`--qui` is an error, not `--quick`)
    and a bad flag gets one line on stderr (exit code 2) instead of the usage block."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def experiment_parser(experiment: str, description: str = None) -> argparse.ArgumentParser:
    parser = ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    return add_common_args(parser, experiment)


def parse_args(parser: argparse.ArgumentParser, argv=None, quick: dict = None) -> argparse.Namespace:
    """parser.parse_args, with `quick` as the defaults when --quick is given (flags given explicitly still win).
    Reads the parsed --quick, never sys.argv: `--qui` is an error, not a silent full-size run."""
    args = parser.parse_args(argv)
    if args.quick and quick:
        full = {name: parser.get_default(name) for name in quick}
        parser.set_defaults(**quick)
        try:
            args = parser.parse_args(argv)
        finally:
            parser.set_defaults(**full)
    return args


def check_output_file(path, flag: str = "--output") -> Path:
    """Fail before any work if `path` cannot be written (its folder is created when needed)."""
    path = Path(path)
    if path.is_dir():
        raise PlaygroundError(f"{flag} {path} is a folder; pass a file name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    target = path if path.exists() else folder
    if not folder.is_dir():
        raise PlaygroundError(f"{flag} {path} cannot be written ({folder} is a file, not a folder); "
                              "pass a path in a writable folder")
    if not os.access(target, os.W_OK):
        raise PlaygroundError(f"{flag} {path} cannot be written (no write permission for {target}); "
                              "pass a path in a writable folder")
    return path


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


def config_diff(saved: dict, new: dict, may_differ=()) -> list:
    """'key new (the run: old)' for every config key whose value differs, other than RESUME_MAY_DIFFER and
    may_differ (a nested entry, such as a derived model config, is named without its values)."""
    skip = set(RESUME_MAY_DIFFER) | set(may_differ)
    new = json.loads(json.dumps(new, default=str))  # tuples -> lists, as config.json holds them
    missing = object()
    diffs = []
    for key in dict.fromkeys([*saved, *new]):
        old, now = saved.get(key, missing), new.get(key, missing)
        if key in skip or old == now:
            continue
        if isinstance(old, (dict, list)) or isinstance(now, (dict, list)):
            diffs.append(key)
        else:
            now, old = ("unset" if v is missing else json.dumps(v) for v in (now, old))
            diffs.append(f"{key} {now} (the run: {old})")
    return diffs


_held_locks = {}  # folder -> fd: the run folders this process holds (calling main() twice in one process is fine)


def _lock_folder(folder: Path) -> int:
    """Create the run folder and hold an exclusive lock on it until the process ends. The kernel drops the
    lock when the process dies, however it dies, so a lock is never stale."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PlaygroundError(f"cannot create run folder {folder} ({reason(e)}); pass a writable --out") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PlaygroundError(f"run folder {folder} is not writable; pass a writable --out")
    key = os.path.realpath(folder)
    if key in _held_locks:
        return _held_locks[key]
    fd = os.open(folder, os.O_RDONLY)
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise PlaygroundError(f"another process is running in {folder}; wait for it to finish "
                                  "or pass another --out") from None
    _held_locks[key] = fd
    return fd


_active_run = None  # the Run of this process, for main_guard's Ctrl-C message


class Run:
    """A run folder: config.json (resolved config), metrics.jsonl (one JSON object per log call), checkpoint.pt.

    `config` is the run's config, usually vars(args); its 'resume' and 'overwrite' entries say what to do with
    a folder that already holds a run. `may_differ` names more config keys that --resume may change.
    write=False (data-parallel ranks other than 0): the run folder has one writer, rank 0, which also holds the
    lock and makes every check; this rank only knows the paths.
    """

    def __init__(self, out, config: dict, may_differ=(), write: bool = True):
        global _active_run
        self.write = write
        self.config = {k: _plain(v) for k, v in config.items()}
        resume, overwrite = bool(self.config.get("resume")), bool(self.config.get("overwrite"))
        if resume and overwrite:
            raise PlaygroundError("--resume continues a run and --overwrite starts it again; pass one of them")
        self.dir = Path(out)
        self.config_path = self.dir / "config.json"
        self.metrics_path = self.dir / "metrics.jsonl"
        self.checkpoint_path = self.dir / "checkpoint.pt"
        self._t0 = time.time()
        self._wrote_config = False
        if not write:
            return
        self._made_dir = not self.dir.exists()
        self._lock = _lock_folder(self.dir)

        # Check the whole request before anything in the folder changes.
        held = [name for name in RUN_FILES if (self.dir / name).exists()]
        if held and not (resume or overwrite):
            raise PlaygroundError(f"{self.dir} already holds a run ({', '.join(held)}); pass --resume to continue "
                                  "it, --overwrite to start it again, or another --out")
        if resume and self.checkpoint_path.exists() and not self.config_path.exists():
            raise PlaygroundError(f"{self.dir} holds checkpoint.pt but no config.json to check the flags against; "
                                  "put config.json back, or pass --overwrite to start again")
        keep_config = resume and self.config_path.exists()
        if keep_config:
            try:
                saved = json.loads(self.config_path.read_text())
            except (OSError, ValueError) as e:
                raise PlaygroundError(f"{self.config_path} cannot be read ({reason(e)}); "
                                      "pass --overwrite to start the run again") from None
            diffs = config_diff(saved, self.config, may_differ)
            if diffs:
                raise PlaygroundError(f"--resume needs the flags the run in {self.dir} was started with; these "
                                      f"differ: {', '.join(diffs)}; pass those (see {self.config_path}) or use --overwrite")
        if resume and self.checkpoint_path.exists():  # a damaged checkpoint is refused before anything is written
            from shared.checkpoint import read_checkpoint

            read_checkpoint(self.checkpoint_path)

        if overwrite:
            for name in held:
                (self.dir / name).unlink()
        if resume and not self.checkpoint_path.exists() and self.metrics_path.exists():
            self.metrics_path.unlink()  # stopped before its first checkpoint: the run starts again at step 0
        if not keep_config:  # on resume config.json stays as written when the run started
            _atomic_write_text(self.config_path, json.dumps(self.config, indent=1) + "\n")
        self._wrote_config = not keep_config
        self._t0 = time.time()
        _active_run = self

    def forget_if_empty(self) -> bool:
        """Undo a start that logged nothing and saved no checkpoint (main_guard calls it when the script stops
        with an error), so that running again with a fixed flag needs no --overwrite."""
        if not self._wrote_config or self.metrics_path.exists() or self.checkpoint_path.exists():
            return False
        self.config_path.unlink(missing_ok=True)
        if self._made_dir:
            try:
                self.dir.rmdir()
            except OSError:  # it holds other files now
                pass
        return True

    def close(self) -> None:
        """Release the folder's lock now (it is released anyway when the process ends)."""
        fd = _held_locks.pop(os.path.realpath(self.dir), None)
        if fd is not None:
            os.close(fd)

    def log(self, step: int, **metrics) -> None:
        if not self.write:
            return
        row = {"step": int(step), "time": round(time.time() - self._t0, 3)}
        row.update({k: (float(v) if hasattr(v, "__float__") and not isinstance(v, (int, str)) else v)
                    for k, v in metrics.items()})
        self.check_finite(step, **{k: v for k, v in row.items() if isinstance(v, float)})
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")

    def check_finite(self, step: int, **values) -> None:
        """Stop with a one-line error if a value (a loss, a gradient norm) is NaN or infinite; call it before
        the optimizer step and before saving, so the last checkpoint is still a good one."""
        for name, value in values.items():
            value = float(value.detach()) if hasattr(value, "detach") else float(value)
            if not math.isfinite(value):
                last = (f"the last good checkpoint is {self.checkpoint_path}" if self.checkpoint_path.exists()
                        else "no checkpoint was written")
                raise PlaygroundError(f"{name} is {value} at step {step}: training diverged; {last}; "
                                      "start again with a lower --lr (and --overwrite)")

    def truncate_metrics(self, step: int) -> None:
        """On resume, drop rows logged after the checkpoint's step (they will be logged again)."""
        if not self.write or not self.metrics_path.exists():
            return
        kept = [line for line in self.metrics_path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        _atomic_write_text(self.metrics_path, "".join(line + "\n" for line in kept))


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_metrics(path) -> list:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _resume_hint() -> str:
    run = _active_run
    if run is None:
        return "nothing was saved"
    if not run.checkpoint_path.exists():
        return f"no checkpoint was written yet in {run.dir}; start again with --overwrite"
    argv = [a for a in sys.argv[1:] if a != "--overwrite"]
    command = shlex.join(["python", sys.argv[0], *argv, *([] if "--resume" in argv else ["--resume"])])
    return f"the last checkpoint is {run.checkpoint_path}; continue with: {command}"


def _out_of_memory(error: BaseException) -> bool:
    text = str(error)
    return isinstance(error, MemoryError) or "out of memory" in text or "can't allocate memory" in text


def main_guard(main):
    """Decorator: a PlaygroundError or running out of memory -> 'error: <one line>' on stderr and exit code 2;
    Ctrl-C -> one line saying how to resume, exit code 130."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except PlaygroundError as e:
            if _active_run is not None:
                _active_run.forget_if_empty()
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            newline = "\n" if sys.stderr.isatty() else ""  # end the progress bar's line first
            print(f"{newline}interrupted; {_resume_hint()}", file=sys.stderr)
            sys.exit(130)
        except (MemoryError, RuntimeError) as e:
            if not _out_of_memory(e):
                raise
            asked = re.search(r"allocate (\d+) bytes", str(e))
            size = f" (it asked for {int(asked.group(1)) / 2**30:.1f} GiB at once)" if asked else ""
            print(f"error: out of memory{size}; pass a smaller --batch-size", file=sys.stderr)
            sys.exit(2)

    return wrapper
