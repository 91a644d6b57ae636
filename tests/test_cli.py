import argparse
import json

import pytest
import torch

from shared.cli import Run, autocast, experiment_parser, positive_int, read_metrics, resolve_device
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
