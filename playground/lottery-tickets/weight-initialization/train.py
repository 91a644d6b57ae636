"""Train one model with several initializations and seeds: a sweep, one run folder per (init, seed).

    python playground/lottery-tickets/weight-initialization/train.py --model mlp --dataset mnist      # MNIST MLP sweep
    python playground/lottery-tickets/weight-initialization/train.py --model resnet --dataset cifar10  # CIFAR ResNet sweep
    python playground/lottery-tickets/weight-initialization/train.py --model plain --dataset mnist    # depth experiment
    python playground/lottery-tickets/weight-initialization/train.py --quick                          # smoke test, seconds
    torchrun --standalone --nproc_per_node=2 playground/lottery-tickets/weight-initialization/train.py --model mlp

Under torchrun every run of the sweep is data-parallel (shared/distributed.py): --batch-size stays the global
batch, each rank trains on its 1/W of it and evaluates 1/W of the test images, and rank 0 alone writes.

Each preset (--model) fills in the optimizer and budget used for the README's numbers; flags override it.
Every run of the sweep uses the same optimizer, schedule, data order per seed and budget; only the
initialization differs. Output (<out> = runs/zero-init/<model>-<dataset> by default): <out>/<init>/seed<k>/{config.json, metrics.jsonl, checkpoint.pt} and
<out>/summary.json (final accuracy per run, mean and std per init, a hash of each run's initial weights).
--resume skips finished runs and continues an interrupted one from its last checkpoint.
"""
import hashlib
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from init import INITS, initialize, stable_rank
from models import build_model, tracked_weights
from shared import distributed
from shared.checkpoint import load_checkpoint, save_checkpoint
from shared.cli import PRECISIONS, Run, autocast, experiment_parser, main_guard, positive_float, positive_int
from shared.data import load_image_dataset
from shared.errors import PlaygroundError
from shared.plotting import save_json
from shared.seeding import seed_everything

MODELS = ("mlp", "resnet", "plain")
# The budgets of the committed sweeps (README), sized to fit the CPU budget of a 2-core machine.
PRESETS = {
    # The official notebook's MLP (n_h = 1024 instead of 2048) and optimizer (plain SGD lr 0.1, batch 64) for
    # 1 epoch instead of 20; its StepLR(12, 0.7) first decays after epoch 12, so this is its first epoch exactly.
    "mlp": dict(dataset="mnist", n_h=1024, epochs=1, batch_size=64, lr=0.1, momentum=0.0, weight_decay=0.0,
                schedule="constant", warmup=0, rank_every=156, log_every=50, evals_per_epoch=6),
    # ResNet-8 (one post-activation basic block per stage), width 16, BatchNorm, 1 epoch on a fixed random half of the
    # training set; SGD + momentum 0.9, weight decay 5e-4, 20 warmup steps, cosine to zero.
    "resnet": dict(dataset="cifar10", width=16, blocks=1, epochs=1, batch_size=128, train_subset=25000,
                   lr=0.1, momentum=0.9, weight_decay=5e-4, schedule="cosine", warmup=20, rank_every=39,
                   log_every=13, evals_per_epoch=2, eval_subset=2000),
    # 32 weight layers of width 256, no residuals, no normalization; 250 steps (32,000 images), SGD + momentum.
    "plain": dict(dataset="mnist", depth=32, width=256, epochs=1, batch_size=128, train_subset=32000,
                  lr=0.01, momentum=0.9, weight_decay=0.0, schedule="constant", warmup=0, rank_every=125,
                  log_every=10, evals_per_epoch=5),
}
QUICK = dict(n_h=1024, width=8, depth=8, epochs=1, train_subset=1024, test_subset=500, rank_every=8, log_every=4,
             evals_per_epoch=2, seeds=2)


def name_list(text, allowed, what):
    names = list(allowed) if text == "all" else [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise PlaygroundError(f"unknown {what} {bad or text!r}; choose from {', '.join(allowed)} or 'all'")
    return names


def get_args(argv=None):
    p = experiment_parser("zero-init", description=__doc__)
    p.allow_abbrev = False
    p.add_argument("--model", choices=MODELS, default="mlp", help="mlp (notebook MLP), resnet (CIFAR ResNet), "
                   "plain (deep MLP without normalization or residuals)")
    p.add_argument("--dataset", choices=("mnist", "cifar10"), default=None, help="default: the model's preset")
    p.add_argument("--init", default="all", help=f"comma-separated list from {', '.join(INITS)}, or 'all'")
    p.add_argument("--seeds", type=positive_int, default=None, help="number of seeds per init: --seed, --seed+1, ... "
                   "(default 3)")
    g = p.add_argument_group("model (default: the preset of --model)")
    g.add_argument("--n-h", type=positive_int, help="MLP hidden width n_h (784 -> 784 -> n_h -> n_h -> 10)")
    g.add_argument("--width", type=positive_int, help="ResNet base width / plain-net width")
    g.add_argument("--blocks", type=positive_int, help="ResNet basic blocks per stage (1: ResNet-8, 3: ResNet-20)")
    g.add_argument("--depth", type=positive_int, help="plain net: number of weight layers")
    g.add_argument("--norm", choices=("batch", "none"), default="batch", help="ResNet normalization")
    g.add_argument("--block", choices=("pre", "post"), default="post",
                   help="ResNet blocks: pre-activation (x + F(x)) or post-activation (relu(BN(...) + x))")
    g = p.add_argument_group("optimisation (default: the preset of --model)")
    g.add_argument("--epochs", type=positive_int)
    g.add_argument("--batch-size", type=positive_int)
    g.add_argument("--lr", type=positive_float)
    g.add_argument("--momentum", type=float)
    g.add_argument("--weight-decay", type=float)
    g.add_argument("--schedule", choices=("step", "cosine", "constant"))
    g.add_argument("--step-size", type=positive_int, help="StepLR: epochs between decays")
    g.add_argument("--gamma", type=positive_float, help="StepLR decay factor")
    g.add_argument("--warmup", type=int, help="linear warmup steps")
    g.add_argument("--train-subset", type=positive_int, default=None,
                   help="train on a fixed random subset of N images (the same for every run)")
    g.add_argument("--test-subset", type=positive_int, default=None, help="test on a fixed random subset of N images")
    g.add_argument("--eval-subset", type=positive_int, default=None,
                   help="evaluations during training use the first N test images; the final one uses all")
    g = p.add_argument_group("bookkeeping")
    g.add_argument("--rank-every", type=positive_int, help="log stable ranks every N steps")
    g.add_argument("--log-every", type=positive_int, help="log the mean training loss every N steps")
    g.add_argument("--evals-per-epoch", type=positive_int, help="test evaluations per epoch")
    g.add_argument("--threads", type=positive_int, default=1,
                   help="torch CPU threads (1: robust on a shared machine, and the committed numbers used it)")
    g.add_argument("--precision", choices=PRECISIONS, default=None, help="default: bf16 for the ResNet, else fp32")
    args = p.parse_args(argv)
    given = {k for k, v in vars(args).items() if v is not None}
    fill = dict(PRESETS[args.model])
    if args.quick:
        fill.update(QUICK)
    for key, value in fill.items():
        if key not in given:
            setattr(args, key, value)
    for key, value in dict(seeds=3, n_h=512, width=16, blocks=1, depth=32, step_size=1, gamma=1.0).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.precision is None:
        args.precision = "bf16" if args.model == "resnet" else "fp32"
    for key in ("momentum", "weight_decay"):
        if not (math.isfinite(getattr(args, key)) and 0 <= getattr(args, key) < 1):
            raise PlaygroundError(f"--{key.replace('_', '-')} must be a number in [0, 1)")
    if args.warmup < 0:
        raise PlaygroundError("--warmup must be >= 0")
    if args.model in ("mlp", "plain") and args.dataset != "mnist":
        raise PlaygroundError(f"--model {args.model} takes 28x28 MNIST images; use --dataset mnist or --model resnet")
    args.inits = name_list(args.init, INITS, "init")
    args.out = args.out / f"{args.model}-{args.dataset}"  # one sweep folder per model and dataset
    return args


# ----------------------------------------------------------------------------- data
def load_data(args):
    x_train, y_train = load_image_dataset(args.dataset, True, args.data_dir)
    x_test, y_test = load_image_dataset(args.dataset, False, args.data_dir)
    # Fixed random subsets (the CIFAR-10 cache is sorted by class, so "the first N" would drop classes).
    if args.train_subset:
        keep = torch.randperm(len(y_train), generator=torch.Generator().manual_seed(1))[:args.train_subset]
        x_train, y_train = x_train[keep], y_train[keep]
    shuffle = torch.randperm(len(y_test), generator=torch.Generator().manual_seed(2))[:args.test_subset]
    x_test, y_test = x_test[shuffle], y_test[shuffle]
    if x_train.dim() == 3:  # MNIST: [N, 28, 28] -> [N, 1, 28, 28], scaled to [0, 1] as the notebook's ToTensor
        x_train, x_test = x_train[:, None], x_test[:, None]
        mean, std = torch.zeros(1), torch.ones(1)
    else:  # CIFAR-10: per-channel standardization with the training set's statistics
        flat = x_train.float().div_(255).transpose(0, 1).reshape(3, -1)
        mean, std = flat.mean(1), flat.std(1)
    if len(x_train) < args.batch_size:
        raise PlaygroundError(f"--batch-size {args.batch_size} is larger than the training set ({len(x_train)})")
    return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                mean=mean.view(1, -1, 1, 1), std=std.view(1, -1, 1, 1))


def to_input(x_uint8, data, device):
    return ((x_uint8.to(device).float() / 255) - data["mean"].to(device)) / data["std"].to(device)


def batch_indices(step, n, batch_size, seed):
    """Batch `step` of a fresh permutation per epoch seeded by (seed, epoch): every init sees the same data
    order for a given seed, and a resumed run continues exactly where it stopped."""
    per_epoch = n // batch_size
    epoch, pos = divmod(step, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    return perm[pos * batch_size:(pos + 1) * batch_size]


@torch.no_grad()
def evaluate(model, data, dist, precision, n=None, batch_size=1000):
    """Test loss and accuracy (%) of the unwrapped model on the first n test images. Under DDP each rank takes
    every W-th chunk of images and the sums are added over ranks: every rank returns the whole set's numbers."""
    dist.broadcast_buffers(model)  # rank 0's BatchNorm statistics: those of the model it saves
    model.eval()
    loss, correct, n = 0.0, 0, min(n or len(data["y_test"]), len(data["y_test"]))
    for i in range(dist.rank * batch_size, n, dist.world_size * batch_size):
        x = to_input(data["x_test"][i:min(i + batch_size, n)], data, dist.device)
        y = data["y_test"][i:min(i + batch_size, n)].to(dist.device)
        with autocast(dist.device, precision):
            logits = model(x).float()
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    model.train()
    return dist.all_reduce_sum(loss) / n, 100.0 * dist.all_reduce_sum(correct) / n


def lr_factor(step, total, args):
    warm = min(1.0, (step + 1) / args.warmup) if args.warmup else 1.0
    if args.schedule == "cosine":
        return warm * 0.5 * (1 + math.cos(math.pi * step / total))
    return warm  # "step" decays per epoch through StepLR-style multiplication in train_run


def weights_hash(model) -> str:
    h = hashlib.sha1()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def ranks(model, initial):
    """Stable rank of each tracked weight W and of its change W - W_0 since initialization."""
    row = {}
    for name, w in tracked_weights(model).items():
        row[f"srank/{name}"] = stable_rank(w)
        row[f"srank_delta/{name}"] = stable_rank(w.detach() - initial[name])
    return row


# ----------------------------------------------------------------------------- one run
RESUME_KEYS = ("model", "dataset", "init_name", "seed", "n_h", "width", "blocks", "depth", "norm", "block", "epochs",
               "batch_size", "lr", "momentum", "weight_decay", "schedule", "train_subset")


def train_run(args, init_name, seed, data, dist):
    run_dir = args.out / init_name / f"seed{seed}"
    config = {**{k: v for k, v in vars(args).items() if k not in ("inits", "init", "seeds")},
              "init_name": init_name, "seed": seed}
    run = Run(run_dir, config=config, write=dist.is_main)
    config = run.config

    device = dist.device
    seed_everything(seed)  # the same on every rank: identical initial weights
    model = build_model(args.model, n_h=args.n_h, width=args.width, depth=args.depth, blocks=args.blocks,
                        norm=args.norm, block=args.block, in_channels=data["x_train"].shape[1])
    initialize(model, init_name)
    model.to(device)
    initial = {name: w.detach().clone() for name, w in tracked_weights(model).items()}
    init_hash = weights_hash(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    n = len(data["y_train"])
    steps_per_epoch = n // args.batch_size
    total = steps_per_epoch * args.epochs
    eval_every = max(1, steps_per_epoch // args.evals_per_epoch)

    def lr_at(step):
        decay = args.gamma ** (step // steps_per_epoch // args.step_size) if args.schedule == "step" else 1.0
        return args.lr * decay * lr_factor(step, total, args)

    step, elapsed = 0, 0.0
    if args.resume and run.checkpoint_path.exists():
        state = load_checkpoint(run.checkpoint_path, model=model, optimizer=optimizer, map_location=device)
        for key in RESUME_KEYS:
            if state["config"].get(key) != config.get(key):
                raise PlaygroundError(f"{run.checkpoint_path} was trained with {key}={state['config'].get(key)}, "
                                      f"not {config.get(key)}; resume with the same flags or use another --out")
        if state["extra"]["finished"]:
            return state["extra"]["summary"]
        step, elapsed, init_hash = state["step"], state["extra"]["elapsed"], state["extra"]["init_hash"]
        initial = state["extra"]["initial"]
        run.truncate_metrics(step)
    else:
        run.truncate_metrics(-1)  # a fresh run starts a fresh metrics file
        test_loss, test_acc = evaluate(model, data, dist, args.precision, args.eval_subset)
        run.log(0, test_loss=test_loss, test_acc=test_acc, **(ranks(model, initial) if dist.is_main else {}))
    ddp_model = dist.wrap(model)  # trains; `model` (the same parameters, unwrapped) is evaluated and saved

    def checkpoint(finished, summary=None):
        if dist.is_main:
            save_checkpoint(run.checkpoint_path, model=model, optimizer=optimizer, step=step, config=config,
                            extra={"finished": finished, "summary": summary or {}, "elapsed": elapsed,
                                   "init_hash": init_hash, "initial": initial})

    model.train()
    t0, running, count = time.time(), 0.0, 0
    bar = tqdm(total=total, initial=step, desc=f"{init_name} seed {seed}", disable=None if dist.is_main else True,
               dynamic_ncols=True, leave=False)
    while step < total:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        idx = dist.shard(batch_indices(step, n, args.batch_size, seed))  # this rank's rows of the global batch
        x, y = to_input(data["x_train"][idx], data, device), data["y_train"][idx].to(device)
        with autocast(device, args.precision):
            loss = F.cross_entropy(ddp_model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        bar.update(1)
        running, count = running + loss.item(), count + 1
        row = {}
        if step % args.log_every == 0 or step == total:
            running = dist.all_reduce_mean(running)  # the global batch's loss
            row.update(train_loss=running / count, lr=lr_at(step - 1))
            bar.set_postfix(loss=f"{running / count:.3f}")
            running, count = 0.0, 0
        if dist.is_main and (step % args.rank_every == 0 or step == total):  # the weights are alike on every rank
            row.update(ranks(model, initial))
        if step % eval_every == 0 and step < total:
            row.update(zip(("test_loss", "test_acc"), evaluate(model, data, dist, args.precision, args.eval_subset)))
        if row:
            run.log(step, **row)
        if step % steps_per_epoch == 0 and step < total:
            elapsed += time.time() - t0
            t0 = time.time()
            checkpoint(False)
    bar.close()
    elapsed += time.time() - t0
    test_loss, test_acc = evaluate(model, data, dist, args.precision)
    run.log(step, test_loss=test_loss, test_acc=test_acc)
    if not math.isfinite(test_loss):
        test_loss = None  # diverged: JSON has no NaN
    summary = {"init": init_name, "seed": seed, "test_acc": test_acc, "test_loss": test_loss, "steps": step,
               "train_seconds": round(elapsed, 1), "init_hash": init_hash}
    checkpoint(True, summary)
    return summary


def main(argv=None):
    args = get_args(argv)
    torch.set_num_threads(args.threads)
    dist = distributed.setup(args.device, batch_size=args.batch_size)  # --batch-size is the global batch
    # The sweep folder is a run folder too: locked while the sweep runs, and --resume must repeat the sweep's flags.
    Run(args.out, config={k: v for k, v in vars(args).items() if k != "inits"}, write=dist.is_main)
    with dist.main_first():  # rank 0 decodes the dataset into the cache, the others read it
        data = load_data(args)
    seeds = [args.seed + i for i in range(args.seeds)]
    print(f"{args.model} on {args.dataset}: {len(data['y_train'])} train / {len(data['y_test'])} test images, "
          f"inits {', '.join(args.inits)}, seeds {seeds}, {args.epochs} epoch(s)")
    t0 = time.time()
    runs = []
    for init_name in args.inits:
        for seed in seeds:
            runs.append(train_run(args, init_name, seed, data, dist))
            r = runs[-1]
            print(f"  {init_name:>10} seed {seed}: test acc {r['test_acc']:.2f}%  ({r['train_seconds']:.0f} s)")
    table = {}
    for init_name in args.inits:
        accs = np.array([r["test_acc"] for r in runs if r["init"] == init_name])
        hashes = {r["init_hash"] for r in runs if r["init"] == init_name}
        table[init_name] = {"mean": float(accs.mean()), "std": float(accs.std(ddof=1)) if len(accs) > 1 else 0.0,
                            "accs": accs.tolist(), "same_initial_weights_across_seeds": len(hashes) == 1}
        print(f"{init_name:>10}: {table[init_name]['mean']:.2f} +- {table[init_name]['std']:.2f}  "
              f"(initial weights identical across seeds: {len(hashes) == 1})")
    wall = time.time() - t0
    if dist.is_main:
        save_json({"config": {k: (str(v) if not isinstance(v, (int, float, str, list, type(None))) else v)
                              for k, v in vars(args).items()},
                   "wall_seconds": round(wall, 1), "runs": runs, "table": table}, args.out / "summary.json")
    dist.close()
    print(f"sweep done in {wall / 60:.1f} min: {args.out / 'summary.json'}")


if __name__ == "__main__":
    main_guard(main)()
