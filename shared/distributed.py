"""Data-parallel training with PyTorch's own engine (torchrun + DistributedDataParallel), a no-op when run alone.

    from shared import distributed
    seed_everything(args.seed)                  # the same seed on every rank: identical initial weights
    dist = distributed.setup(args.device, batch_size=args.batch_size)  # reads torchrun's RANK, WORLD_SIZE, LOCAL_RANK
    device = dist.device                        # cuda:<LOCAL_RANK> under torchrun on GPUs, else the --device
    with dist.main_first():                     # rank 0 fills the data/tokenizer caches, then the others read them
        data = load(...)
    run = Run(args.out, config, write=dist.is_main)   # only rank 0 writes config.json and metrics.jsonl
    ddp_model = dist.wrap(model)                # forward/backward through ddp_model; save, EMA and eval use model
    idx = dist.shard(global_batch_indices)      # this rank's rows of the global batch
    with dist.no_sync(ddp_model, sync=last_micro_batch):   # gradient accumulation: all-reduce once per step
        loss = loss_fn(ddp_model, x) * dist.shard_weight(counted)  # only when rows count unequally (padding)
        loss.backward()
    features = dist.all_gather(local_features)  # the global batch's rows, with gradients (contrastive losses)
    loss = dist.all_reduce_mean(running_loss)   # the logged number is the global batch's
    if dist.is_main:
        save_checkpoint(...)                    # of the unwrapped model: it loads with any world size
    dist.close()

`--batch-size` stays the *global* batch: each of W ranks trains on batch_size / W rows of the batch a
single process would draw (the indices come from the same seeded permutation on every rank, then each
rank takes its contiguous slice: DistributedSampler's job for in-memory tensors). Every rank seeds its
RNGs with the same --seed, so models start identical and any per-example randomness drawn for the global
batch and then sliced (diffusion noise and timesteps) equals the single-process run's. One process with
batch B and W processes with B / W rows each therefore take the same optimizer steps, up to float
summation order. One exception: dropout masks come from each rank's own (identically seeded) RNG, so with
dropout > 0 the ranks apply the same masks to different rows: still dropout, but not the single-process run
(both folders default to dropout 0). Another: BatchNorm. On GPUs `wrap` makes it SyncBatchNorm, whose statistics
are the global batch's; gloo has no SyncBatchNorm, so on CPUs each rank normalizes its own rows (DDP copies
rank 0's running statistics to the others before each forward; call `broadcast_buffers` before evaluating).
Plain `python train.py` (no torchrun environment) never touches torch.distributed.
"""
import contextlib
import gc
import os
import sys
from datetime import timedelta

import torch
import torch.distributed as torch_dist
from torch.nn.parallel import DistributedDataParallel

from shared.errors import PlaygroundError


def unwrap(model):
    """The module inside DistributedDataParallel (or the model itself): its state_dict has no 'module.' prefix."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def world_from_env() -> tuple:
    """(rank, world_size, local_rank) from the variables torchrun sets; (0, 1, 0) for a plain `python train.py`."""
    try:
        return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))
    except ValueError:
        raise PlaygroundError("RANK, WORLD_SIZE and LOCAL_RANK must be integers; start the script with torchrun") from None


def check_batch(batch_size: int, world_size: int, flag: str = "--batch-size") -> None:
    """The global batch must split into equal per-rank shards (checked before any collective, so no rank hangs)."""
    if batch_size < world_size or batch_size % world_size:
        raise PlaygroundError(f"{flag} {batch_size} does not split evenly over {world_size} processes; pass a "
                              f"multiple of {world_size} (the batch is global) or a smaller --nproc_per_node")


class Distributed:
    """What a training script needs to know about the process group. Alone: rank 0 of 1 and every method a no-op."""

    def __init__(self, device, rank=0, world_size=1, local_rank=0):
        self.device, self.rank, self.world_size, self.local_rank = device, rank, world_size, local_rank
        self.enabled = world_size > 1
        self.is_main = rank == 0

    def wrap(self, model):
        """DistributedDataParallel around `model` (its parameters are broadcast from rank 0); `model` when alone.
        On GPUs its BatchNorm layers become SyncBatchNorm in place (same parameters, same state_dict keys)."""
        if not self.enabled:
            return model
        if self.device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def shard(self, batch):
        """This rank's contiguous rows of a global batch (a tensor or anything sliceable with len)."""
        if not self.enabled:
            return batch
        if len(batch) % self.world_size:
            raise ValueError(f"a batch of {len(batch)} rows does not split over {self.world_size} ranks")
        per_rank = len(batch) // self.world_size
        return batch[self.rank * per_rank:(self.rank + 1) * per_rank]

    def shard_weight(self, counted) -> float:
        """Multiplier that turns this rank's mean over its rows into its part of the global batch's mean when rows
        count unequally (`counted`: a mask over the global batch, e.g. targets that aren't padding). DDP averages
        gradients over ranks; weighting by W * local count / global count makes that average the global mean."""
        if not self.enabled:
            return 1.0
        return self.world_size * self.shard(counted).sum().item() / max(1, counted.sum().item())

    def no_sync(self, model, sync: bool):
        """Skip DDP's gradient all-reduce on all but the last micro-batch of an accumulated step."""
        if self.enabled and not sync:
            return model.no_sync()
        return contextlib.nullcontext()

    def _all_reduce(self, value, op):
        tensor = torch.as_tensor(value, dtype=torch.float64, device=self.device)
        torch_dist.all_reduce(tensor, op=op)
        return tensor

    def all_reduce_mean(self, value) -> float:
        """The average over ranks of a number (a logged loss); every rank must call it at the same point."""
        if not self.enabled:
            return float(value)
        return self._all_reduce(float(value), torch_dist.ReduceOp.SUM).item() / self.world_size

    def all_reduce_sum(self, value) -> float:
        if not self.enabled:
            return value
        return self._all_reduce(float(value), torch_dist.ReduceOp.SUM).item()

    def broadcast_buffers(self, model) -> None:
        """Rank 0's buffers (BatchNorm running statistics) on every rank. Without SyncBatchNorm each rank's forward
        updates them from its own rows, so evaluate after this: every rank then holds the model rank 0 saves."""
        if self.enabled:
            for buffer in unwrap(model).buffers():
                torch_dist.broadcast(buffer, src=0)

    def all_gather(self, tensor):
        """Every rank's `tensor` concatenated along dim 0 (rank order), with gradients flowing back to each
        rank's own rows: a contrastive loss over the global batch (CLIP) sees every rank's negatives. Each rank
        computes the same global loss; the gather's backward sums the ranks' gradients for the local rows and
        DDP then averages over ranks, so the parameters get exactly the single-process gradient."""
        if not self.enabled:
            return tensor
        from torch.distributed.nn.functional import all_gather

        return torch.cat(all_gather(tensor), dim=0)

    def barrier(self) -> None:
        if self.enabled:
            torch_dist.barrier()

    @contextlib.contextmanager
    def main_first(self):
        """Rank 0 runs the block first (it fills a cache), then the other ranks run it (they read the cache)."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    def close(self) -> None:
        """Leave the group at the end of a run; every rank must call it (it waits for all of them)."""
        if self.enabled and torch_dist.is_initialized():
            # Seen: two-rank ZerO sweeps (one DDP wrapper per run) aborted at exit in 3 of 13 launches with "terminate
            # called without an active exception". A dropped DistributedDataParallel sits in a reference cycle and
            # holds the process group until the cycle collector runs, so collect it first, then tear down together.
            gc.collect()
            torch_dist.barrier()
            torch_dist.destroy_process_group()


def setup(device="auto", batch_size: int = None) -> Distributed:
    """Join the process group torchrun describes (nccl on CUDA, gloo on CPU), or stay alone without torchrun.

    device: a --device name or torch.device; under torchrun on CUDA each rank takes GPU LOCAL_RANK.
    batch_size: the global batch, checked against the world size before any process waits on another.
    """
    from shared.cli import resolve_device

    device = resolve_device(device) if isinstance(device, str) else torch.device(device)
    rank, world_size, local_rank = world_from_env()
    if world_size < 1 or not 0 <= rank < world_size:
        raise PlaygroundError(f"RANK {rank} is outside WORLD_SIZE {world_size}; start the script with torchrun")
    if batch_size is not None:
        check_batch(batch_size, world_size)
    if world_size == 1:
        return Distributed(device)
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise PlaygroundError(f"local rank {local_rank} has no GPU ({torch.cuda.device_count()} on this machine); "
                                  "pass --nproc_per_node at most the number of GPUs")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    # a rank that dies makes torchrun stop the others; the timeout only bounds a wait on a rank that hangs
    cuda = device.type == "cuda"
    torch_dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world_size,
                                  timeout=timedelta(minutes=10), device_id=device if cuda else None)
    if rank != 0:
        sys.stdout = open(os.devnull, "w")  # one copy of every progress line; errors still reach stderr
    return Distributed(device, rank, world_size, local_rank)


# ---------------------------------------------------------------------- benchmark: 1 vs N processes
SCALING_TITLE = "## Data-parallel scaling (torchrun, one thread per process)"


def measure_scaling(script, flags, metric: str, out_dir, nprocs=(1, 2), warmup_rows: int = 1) -> list:
    """Train `script flags` under `torchrun --standalone --nproc_per_node=n --threads 1` for each n, and read the
    throughput it logged (`metric`, already global: the scripts count the whole batch) from metrics.jsonl: the
    median over rows after the first `warmup_rows`. Returns one row per n with the scaling efficiency
    throughput(n) / (n * throughput(1))."""
    import statistics
    import subprocess
    from pathlib import Path

    from shared.cli import read_metrics

    rows = []
    for n in nprocs:
        out = Path(out_dir) / f"nproc{n}"
        load = os.getloadavg()[0]  # other jobs on a shared machine take cores from the 2-process run first
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}", str(script),
               *map(str, flags), "--threads", "1", "--out", str(out)]
        subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL)
        logged = [r[metric] for r in read_metrics(out / "metrics.jsonl")[warmup_rows:]]
        shown = os.path.relpath(script, Path(__file__).resolve().parents[1])  # as run from the repository root
        command = " ".join(["torchrun --standalone", f"--nproc_per_node={n}", shown, *map(str, flags), "--threads 1"])
        rows.append({"processes": n, metric: statistics.median(logged), "rows": len(logged), "load_before": load,
                     "command": command})
    for r in rows:
        r["efficiency"] = r[metric] / (r["processes"] * rows[0][metric])
    return rows


def scaling_markdown(rows, metric: str, unit: str, machine: str) -> str:
    lines = [SCALING_TITLE, "", f"Machine: {machine}. GPU: not measured on a GPU in this session.", "",
             f"| processes | {unit} | scaling efficiency | 1-min load average before | command |",
             "|---:|---:|---:|---:|---|"]
    lines += [f"| {r['processes']} | {r[metric]:,.1f} | {r['efficiency']:.2f} | {r['load_before']:.1f} | `{r['command']}` |"
              for r in rows]
    return "\n".join(lines) + "\n"


def with_section(markdown: str, section: str) -> str:
    """`markdown` with its scaling section (from SCALING_TITLE to the end) replaced by `section` ('' drops it)."""
    head = markdown.split(SCALING_TITLE)[0].rstrip("\n")
    return head + "\n\n" + section if section else head + "\n"


def scaling_section(markdown: str) -> str:
    """The scaling section of a benchmark.md ('' if none), so a rerun of the other rows keeps it."""
    return SCALING_TITLE + markdown.split(SCALING_TITLE, 1)[1] if SCALING_TITLE in markdown else ""
