"""shared/distributed.py: under torchrun (gloo, 2 CPU processes) W ranks with B / W rows each take the same
optimizer steps as one process with B rows, write one run folder, and resume across world sizes.

Why the comparison can be exact up to float summation order: every rank seeds its RNGs alike, draws the
*global* batch's indices (and, for diffusion, the global batch's timesteps, noise and label drops) and keeps
its own rows, and DDP averages the equal-sized shards' gradients into the global batch's gradient. Runs are
fp32 (bf16 rounding would swamp the comparison) with dropout 0 (the defaults of both folders).
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from shared import distributed
from shared.checkpoint import read_checkpoint
from shared.cli import read_metrics
from shared.errors import PlaygroundError

ROOT = Path(__file__).resolve().parents[1]
DDPM, GPT = ROOT / "gan" / "ddpm" / "train.py", ROOT / "nlp" / "gpt" / "train.py"
ZERO_INIT = ROOT / "playground" / "lottery-tickets" / "weight-initialization" / "train.py"
ATOL = 1e-4  # observed: ~1e-5 after 4 steps, while 2 steps move weights by > 1e-3 (asserted below)


def launch(script, *args, nproc=1, env=None, check=True):
    """`python script` alone, or `torchrun --standalone --nproc_per_node=nproc script`."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] if nproc > 1 \
        else [sys.executable]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})}
    r = subprocess.run([*launcher, str(script), *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    if check:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


def weights(run_dir) -> dict:
    state = read_checkpoint(Path(run_dir) / "checkpoint.pt")
    out = {f"model.{k}": v for k, v in state["model"].items()}
    out.update({f"ema.{k}": v for k, v in state["extra"].get("ema", {}).items()})
    return out


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()  # no 'module.' prefix: DDP's wrapper is never saved
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


# ---------------------------------------------------------------------- the helper alone (no process group)
def test_shards_partition_the_global_batch_and_weights_restore_its_token_mean():
    ranks = [distributed.Distributed(torch.device("cpu"), rank, 2) for rank in range(2)]
    batch = torch.arange(8)
    assert torch.equal(torch.cat([d.shard(batch) for d in ranks]), batch)
    # rows with unequal numbers of counted tokens (padding): DDP's plain average of per-rank means is wrong,
    # the shard weights make it the global batch's token mean
    counted = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 0, 0]]).bool()
    values = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    per_rank = [d.shard(values)[d.shard(counted)].mean() * d.shard_weight(counted) for d in ranks]
    assert torch.allclose(sum(per_rank) / 2, values[counted].mean())
    alone = distributed.Distributed(torch.device("cpu"))
    assert alone.shard(batch) is batch and alone.shard_weight(counted) == 1.0 and not alone.enabled


def test_a_batch_that_does_not_split_over_the_world_is_refused():
    distributed.check_batch(4, 2)
    for batch, world in ((3, 2), (1, 2), (6, 4)):
        with pytest.raises(PlaygroundError, match="does not split evenly"):
            distributed.check_batch(batch, world)


# ---------------------------------------------------------------------- gan/ddpm: UNet + EMA, resume both ways
@pytest.fixture(scope="module")
def ddpm_runs(tmp_path_factory):
    """Steps 1-2 alone (one) and under 2 ranks (two); then one's checkpoint continued by 2 ranks (up) and two's by
    a single process (down) for steps 3-4. Four launches cover equivalence and resume in both directions."""
    tmp = tmp_path_factory.mktemp("ddpm")
    common = ["--quick", "--steps", "4", "--batch-size", "16", "--lr", "1e-3", "--warmup", "0", "--no-lr-decay",
              "--log-every", "1", "--checkpoint-every", "2", "--sample-every", "100", "--precision", "fp32",
              "--threads", "1"]
    for name, nproc in (("one", 1), ("two", 2)):
        launch(DDPM, *common, "--stop-after", "2", "--out", tmp / name, nproc=nproc)
    shutil.copytree(tmp / "one", tmp / "up")
    shutil.copytree(tmp / "two", tmp / "down")
    for name, nproc in (("up", 2), ("down", 1)):
        r = launch(DDPM, *common, "--resume", "--out", tmp / name, nproc=nproc)
        assert "resumed from" in r.stdout
    return tmp


@pytest.mark.slow
def test_ddpm_two_ranks_with_half_the_batch_train_like_one_process(ddpm_runs):
    assert max_diff(weights(ddpm_runs / "one"), weights(ddpm_runs / "two")) < ATOL  # steps 1-2: the UNet and its EMA
    # the logged loss is the global batch's (averaged over ranks), not rank 0's half
    losses = lambda run: [row["loss"] for row in read_metrics(ddpm_runs / run / "metrics.jsonl")]  # noqa: E731
    assert losses("two") == pytest.approx(losses("one"), rel=1e-5)


@pytest.mark.slow
def test_ddpm_checkpoints_resume_across_world_sizes(ddpm_runs):
    up, down = weights(ddpm_runs / "up"), weights(ddpm_runs / "down")
    assert max_diff(up, down) < ATOL  # steps 3-4 under 2 ranks (up) equal steps 3-4 alone (down)
    assert max_diff(up, weights(ddpm_runs / "one")) > 10 * ATOL  # and those steps moved the weights far more
    assert [row["step"] for row in read_metrics(ddpm_runs / "up" / "metrics.jsonl")] == [1, 2, 3, 4]


@pytest.mark.slow
def test_ddpm_rank_zero_alone_writes_the_run_folder(ddpm_runs):
    assert sorted(p.name for p in (ddpm_runs / "two").iterdir()) == ["checkpoint.pt", "config.json", "metrics.jsonl",
                                                                      "summary.json"]
    assert [row["step"] for row in read_metrics(ddpm_runs / "two" / "metrics.jsonl")] == [1, 2]  # one writer
    files = sorted(p.name for p in (ddpm_runs / "up").iterdir())
    assert files == ["checkpoint.pt", "config.json", "metrics.jsonl", "samples_000004.png", "summary.json"]  # no temp files


# ---------------------------------------------------------------------- nlp/gpt: gradient accumulation (no_sync)
@pytest.mark.slow
def test_gpt_two_ranks_with_half_the_batch_train_like_one_process(tmp_path):
    common = ["--quick", "--max-steps", "4", "--batch-size", "8", "--grad-accum", "2", "--eval-interval", "2",
              "--precision", "fp32", "--threads", "1"]
    launch(GPT, *common, "--out", tmp_path / "one")
    launch(GPT, *common, "--out", tmp_path / "two", nproc=2)
    assert max_diff(weights(tmp_path / "one"), weights(tmp_path / "two")) < ATOL
    rows = {run: read_metrics(tmp_path / run / "metrics.jsonl") for run in ("one", "two")}
    for key in ("loss", "val_loss"):  # global averages: the val windows are split over the ranks and summed
        assert [r.get(key) for r in rows["two"]] == pytest.approx([r.get(key) for r in rows["one"]], rel=1e-5)
    assert [r["step"] for r in rows["two"]] == [1, 2, 3, 4]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["checkpoint.pt", "config.json", "metrics.jsonl",
                                                                    "tokenizer.json"]


# ---------------------------------------------------------------------- ZerO init: a sweep of runs, sharded evaluation
@pytest.mark.slow
def test_zero_init_sweep_two_ranks_with_half_the_batch_train_like_one_process(tmp_path):
    """Two runs (ZerO's Hadamard layer and Kaiming) of 16 steps of the MNIST MLP. Evaluation goes in chunks of 1000
    test images dealt to the ranks in turn: 1500 images (1200 during training) split 1000 + 500 (200)."""
    common = ["--quick", "--init", "zero,kaiming", "--seeds", "1", "--n-h", "64", "--test-subset", "1500",
              "--eval-subset", "1200", "--precision", "fp32", "--threads", "1"]
    launch(ZERO_INIT, *common, "--out", tmp_path / "one")
    launch(ZERO_INIT, *common, "--out", tmp_path / "two", nproc=2)
    one, two = tmp_path / "one" / "mlp-mnist", tmp_path / "two" / "mlp-mnist"
    files = lambda sweep: sorted(str(p.relative_to(sweep)) for p in sweep.rglob("*") if p.is_file())  # noqa: E731
    assert files(two) == files(one)  # rank 0 alone writes: no stray or duplicate files
    for run in ("zero/seed0", "kaiming/seed0"):
        assert max_diff(weights(one / run), weights(two / run)) < ATOL
        rows = {sweep: [{k: v for k, v in r.items() if k != "time"} for r in read_metrics(sweep / run / "metrics.jsonl")]
                for sweep in (one, two)}
        assert [r["step"] for r in rows[two]] == [0, 4, 8, 12, 16, 16]  # one writer, each row once (16: final test)
        for a, b in zip(rows[one], rows[two]):
            assert a.keys() == b.keys() and b == pytest.approx(a, rel=1e-5)  # the global batch's loss, the whole test set
    initial = read_checkpoint(one / "kaiming/seed0" / "checkpoint.pt")["extra"]["initial"]["hidden.2"]
    assert (weights(one / "kaiming/seed0")["model.hidden.2.weight"] - initial).abs().max() > 10 * ATOL  # it trained
    summary = {sweep: json.loads((sweep / "summary.json").read_text()) for sweep in (one, two)}
    assert [r["test_acc"] for r in summary[two]["runs"]] == [r["test_acc"] for r in summary[one]["runs"]]


# ---------------------------------------------------------------------- bad world setups
@pytest.mark.parametrize("script, flags", [(DDPM, ["--quick", "--batch-size", "3"]), (GPT, ["--quick", "--batch-size", "1"]),
                                           (ZERO_INIT, ["--quick", "--batch-size", "3"])])
def test_a_world_larger_than_the_batch_is_a_one_line_error(script, flags, tmp_path):
    """What each worker of `torchrun --nproc_per_node=2` sees: it stops before joining the group, so none waits."""
    r = launch(script, *flags, "--out", tmp_path, env={"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2",
                                                      "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}, check=False)
    assert r.returncode == 2 and r.stderr.startswith("error: --batch-size") and len(r.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # nothing written
