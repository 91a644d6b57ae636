"""CLIP under torchrun: the contrastive loss is over the *global* batch (each rank gathers every rank's
embeddings with gradients), so 2 ranks with 16 rows each take the same steps as 1 process with 32 rows.
Without the gather each rank would contrast its images with only its own 16 captions: another loss, other steps."""
import os
from pathlib import Path

import pytest

from shared.cli import read_metrics
from shared.imports import load_module

ROOT = Path(__file__).resolve().parents[3]
TRAIN = Path(__file__).resolve().parents[1] / "train.py"
helpers = load_module(ROOT / "tests" / "test_distributed.py")

pytestmark = pytest.mark.skipif(not os.environ.get("PLAYGROUND_DATA"), reason="needs MNIST: set PLAYGROUND_DATA")
FLAGS = ["--dataset", "mnist", "--image-encoder", "vit", "--quick", "--steps", "3", "--precision", "fp32", "--threads", "1", "--eval-every", "100",
         "--checkpoint-every", "3", "--log-every", "1"]


@pytest.mark.slow
def test_two_ranks_take_the_single_process_steps_and_rank_0_alone_writes(tmp_path):
    helpers.launch(TRAIN, *FLAGS, "--out", tmp_path / "one")
    helpers.launch(TRAIN, *FLAGS, "--out", tmp_path / "two", nproc=2)
    losses = {run: [r["loss"] for r in read_metrics(tmp_path / run / "metrics.jsonl") if "loss" in r] for run in ("one", "two")}
    assert len(losses["one"]) == len(losses["two"]) == 3  # one writer: rank 1 logged nothing
    assert losses["one"] == pytest.approx(losses["two"], abs=1e-5)
    assert abs(losses["one"][2] - losses["one"][0]) > 1e-3  # the steps moved the model, so the comparison bites
    assert helpers.max_diff(helpers.weights(tmp_path / "one"), helpers.weights(tmp_path / "two")) < helpers.ATOL
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())
