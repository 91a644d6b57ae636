import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from shared.cli import (Run, autocast, experiment_parser, finite_float, non_negative_float, parse_args, positive_float,
                        positive_int, read_metrics, resolve_device, seed_int)
from shared.errors import PlaygroundError


def test_common_flags_and_defaults():
    args = experiment_parser("demo").parse_args([])
    assert (args.seed, args.device, str(args.out), args.quick, args.resume) == (0, "auto", "runs/demo", False, False)
    args = experiment_parser("demo").parse_args(["--seed", "3", "--device", "cpu", "--quick", "--resume", "--out", "x"])
    assert (args.seed, args.device, str(args.out), args.quick, args.resume) == (3, "cpu", "x", True, True)


def test_bad_flag_values_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        experiment_parser("demo").parse_args(["--device", "tpu"])
    assert e.value.code == 2
    with pytest.raises(argparse.ArgumentTypeError):
        positive_int("0")


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(PlaygroundError, match="no CUDA"):
            resolve_device("cuda")


def test_autocast_precisions():
    w, x = torch.randn(8, 8), torch.randn(4, 8)
    with autocast("cpu", "bf16"):
        assert (x @ w).dtype == torch.bfloat16  # matmuls run in bfloat16
    with autocast("cpu", "fp32"):
        assert (x @ w).dtype == torch.float32
    with pytest.raises(PlaygroundError, match="unknown precision"):
        autocast("cpu", "fp16")


def test_run_folder_config_and_metrics(tmp_path):
    run = Run(tmp_path / "run", config={"lr": 0.1, "out": tmp_path})
    assert json.loads((tmp_path / "run" / "config.json").read_text())["lr"] == 0.1
    for step in range(1, 5):
        run.log(step, loss=torch.tensor(1.0 / step))
    assert [m["step"] for m in read_metrics(run.metrics_path)] == [1, 2, 3, 4]
    run.truncate_metrics(2)
    rows = read_metrics(run.metrics_path)
    assert [m["step"] for m in rows] == [1, 2] and rows[1]["loss"] == 0.5


# ----------------------------------------------------------------------------- issue 12: the run-folder contract
def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}


def start_run(folder, **flags):
    args = experiment_parser("demo").parse_args(["--out", str(folder)] + [a for k, v in flags.items() for a in
                                                                            (["--" + k.replace("_", "-")] if v is True else
                                                                             ["--" + k.replace("_", "-"), str(v)])])
    config = {**vars(args), "lr": 0.1}
    return Run(args.out, config=config)


def test_a_folder_that_holds_a_run_needs_resume_or_overwrite(tmp_path):
    """Items 1 and 3: running again into a run folder used to append to its metrics and overwrite config.json."""
    run = start_run(tmp_path / "r")
    run.log(1, loss=1.0)
    run.close()  # as when its process ends
    before = snapshot(tmp_path / "r")
    with pytest.raises(PlaygroundError, match="already holds a run.*--resume.*--overwrite"):
        start_run(tmp_path / "r", seed=5)
    assert snapshot(tmp_path / "r") == before
    start_run(tmp_path / "r", overwrite=True, seed=5).close()
    assert json.loads((tmp_path / "r" / "config.json").read_text())["seed"] == 5
    assert not (tmp_path / "r" / "metrics.jsonl").exists()


def test_resume_with_other_flags_is_refused_and_changes_nothing(tmp_path):
    """Items 1 and 4: a refused --resume had already rewritten config.json; only the model config was compared."""
    import torch

    from shared.checkpoint import save_checkpoint

    run = start_run(tmp_path / "r", seed=1)
    run.log(1, loss=1.0)
    save_checkpoint(run.checkpoint_path, model=torch.nn.Linear(2, 1), step=1, config=run.config)
    run.close()
    before = snapshot(tmp_path / "r")
    with pytest.raises(PlaygroundError) as e:
        start_run(tmp_path / "r", resume=True, seed=2, quick=True)
    assert "these differ: seed 2 (the run: 1), quick true (the run: false);" in str(e.value)
    assert "\n" not in str(e.value)
    assert snapshot(tmp_path / "r") == before
    # flags that cannot change the result may differ; config.json keeps the run's own flags
    run = start_run(tmp_path / "r", resume=True, seed=1, device="cpu")
    assert snapshot(tmp_path / "r") == before and run.config["device"] == "cpu"
    run.close()
    with pytest.raises(PlaygroundError, match="pass one of them"):
        start_run(tmp_path / "r", resume=True, overwrite=True)
    # a damaged checkpoint is refused when the run is resumed, before anything is written
    data = bytearray(run.checkpoint_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    run.checkpoint_path.write_bytes(bytes(data))
    before = snapshot(tmp_path / "r")
    with pytest.raises(PlaygroundError, match="checkpoint"):
        start_run(tmp_path / "r", resume=True, seed=1)
    assert snapshot(tmp_path / "r") == before


def test_a_second_run_into_a_locked_folder_is_refused(tmp_path):
    """Item 2: two trainings with the same --out both ran, interleaving metrics.jsonl rows."""
    import fcntl
    import os

    folder = tmp_path / "r"
    folder.mkdir()
    fd = os.open(folder, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a running training holds
    try:
        with pytest.raises(PlaygroundError, match="another process is running in"):
            start_run(folder)
        assert list(folder.iterdir()) == []
    finally:
        os.close(fd)
    # The kernel drops a dead process's lock, so a killed run leaves no stale lock behind.
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from shared.cli import Run; "
                               "Run(sys.argv[1], {}); print('locked', flush=True); input()", str(folder)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(PlaygroundError, match="another process"):
        start_run(folder, overwrite=True)
    holder.kill()
    holder.wait()
    start_run(folder, overwrite=True).close()


def test_non_finite_values_stop_the_run(tmp_path):
    """Item 6: --lr inf trained to NaN and wrote NaN into metrics.jsonl."""
    run = start_run(tmp_path / "r")
    run.log(1, loss=1.0)
    with pytest.raises(PlaygroundError, match="loss is nan at step 2.*no checkpoint was written"):
        run.check_finite(2, loss=torch.tensor(float("nan")))
    (tmp_path / "r" / "checkpoint.pt").write_bytes(b"x")
    with pytest.raises(PlaygroundError, match=r"loss is inf at step 3.*last good checkpoint is .*checkpoint.pt"):
        run.log(3, loss=float("inf"))
    assert [m["step"] for m in read_metrics(run.metrics_path)] == [1]
    for parse in (positive_float, non_negative_float, finite_float):
        for bad in ("inf", "nan", "-inf"):
            with pytest.raises(argparse.ArgumentTypeError, match="finite"):
                parse(bad)
    for bad in ("20000000000000", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            seed_int(bad)


def test_no_abbreviations_and_quick_defaults():
    """Item 11: `--qui` was taken by argparse as --quick while the code looked for '--quick' in sys.argv."""
    parser = experiment_parser("demo")
    parser.add_argument("--steps", type=positive_int, default=1000)
    with pytest.raises(SystemExit) as e:
        parser.parse_args(["--qui"])
    assert e.value.code == 2
    assert parse_args(parser, ["--quick"], quick=dict(steps=10)).steps == 10
    assert parse_args(parser, ["--quick", "--steps", "1000"], quick=dict(steps=10)).steps == 1000
    assert parse_args(parser, [], quick=dict(steps=10)).steps == 1000


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path):
    """Item 7: Ctrl-C printed a 52-line traceback."""
    code = ("import sys, os, signal; from shared.cli import Run, main_guard\n"
            "@main_guard\n"
            "def main():\n"
            "    run = Run(sys.argv[1], {'resume': False})\n"
            "    run.checkpoint_path.write_bytes(b'x')\n"
            "    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (nohup ... & ignores it)\n"
            "    os.kill(os.getpid(), signal.SIGINT)\n"
            "main()\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r"), "--lr", "1"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 130, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert f"last checkpoint is {tmp_path / 'r' / 'checkpoint.pt'}" in lines[0] and "--lr 1 --resume" in lines[0]


def test_out_of_memory_is_one_line(tmp_path):
    """Item 10: a batch size too large for memory ended in a traceback."""
    code = ("from shared.cli import main_guard\n"
            "def main():\n"
            "    raise RuntimeError('[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can\\'t allocate "
            "memory: you tried to allocate 85899345920 bytes. Error code 12 (Cannot allocate memory)')\n"
            "main_guard(main)()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: out of memory (it asked for 80.0 GiB at once); pass a smaller --batch-size"


def test_unwritable_or_broken_run_folders(tmp_path, monkeypatch):
    """Item 10: --out an existing folder without write permission ended in a traceback. (The tests run as root,
    who may write anywhere, so the permission check is made to fail.)"""
    (tmp_path / "r").mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == str(tmp_path / "r") else real_access(path, mode))
    with pytest.raises(PlaygroundError, match="run folder .* is not writable; pass a writable --out"):
        start_run(tmp_path / "r")
    monkeypatch.undo()
    (tmp_path / "a_file").write_text("")
    with pytest.raises(PlaygroundError, match=r"cannot create run folder .*a_file/r \(Not a directory\)"):
        start_run(tmp_path / "a_file" / "r")
    (tmp_path / "r" / "checkpoint.pt").write_bytes(b"weights")
    with pytest.raises(PlaygroundError, match="holds checkpoint.pt but no config.json"):
        start_run(tmp_path / "r", resume=True)
    assert [p.name for p in (tmp_path / "r").iterdir()] == ["checkpoint.pt"]


def test_a_start_that_fails_before_logging_leaves_nothing(tmp_path):
    """Bad input found after the Run opened (missing data, a bad value): running again with the fix needs no
    --overwrite. A --resume of a run stopped before its first checkpoint starts again at step 0."""
    code = ("import sys; from shared.cli import Run, main_guard; from shared.errors import PlaygroundError\n"
            "@main_guard\n"
            "def main():\n"
            "    Run(sys.argv[1], {'resume': False})\n"
            "    raise PlaygroundError('data not found')\n"
            "main()\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr == "error: data not found\n"
    assert list(tmp_path.iterdir()) == []
    run = start_run(tmp_path / "r")
    run.log(1, loss=1.0)
    run.close()
    start_run(tmp_path / "r", resume=True).close()
    assert not (tmp_path / "r" / "metrics.jsonl").exists()


def test_output_files_are_checked_before_the_work(tmp_path):
    """Item 10: sample.py/embed.py found an unwritable --output only after the work (a traceback)."""
    from shared.cli import check_output_file

    (tmp_path / "a_file").write_text("")
    assert check_output_file(tmp_path / "new" / "deeper" / "x.png") == tmp_path / "new" / "deeper" / "x.png"
    assert not (tmp_path / "new").exists()  # checked, not created
    with pytest.raises(PlaygroundError, match="a_file is a file, not a folder"):
        check_output_file(tmp_path / "a_file" / "x.png")
    with pytest.raises(PlaygroundError, match="is a folder; pass a file name"):
        check_output_file(tmp_path)
