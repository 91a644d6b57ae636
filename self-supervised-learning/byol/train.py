"""BYOL pre-training on the 50,000 CIFAR-10 training images (no labels).

    python self-supervised-learning/byol/train.py                    # CPU default: convnet-32, 50 epochs, ~41 min
    python self-supervised-learning/byol/train.py --quick            # smoke test, seconds
    python self-supervised-learning/byol/train.py --encoder resnet18 --epochs 200 --batch-size 512 --out runs/byol-resnet18
    torchrun --standalone --nproc_per_node=2 self-supervised-learning/byol/train.py --threads 1

The run folder (default runs/byol) gets config.json, metrics.jsonl (loss, the collapse check, learning rate, tau,
images/s and a k-NN monitor) and checkpoint.pt (online + target weights, optimizer, schedule, step). Every batch
and every augmentation is a function of (--seed, step), so --resume continues exactly where the run stopped.
Under torchrun each rank augments the global batch and trains on its slice; gradients are averaged by DDP, so the
online weights and hence the EMA target stay identical on all ranks (on GPUs both use SyncBatchNorm).
"""
import math
import time

import torch
from tqdm import tqdm

from augment import byol_views, two_views
from evaluate import encode, knn_accuracy, load_cifar
from model import BYOL, ENCODERS, build_encoder, byol_loss, projection_std, tau_schedule
from shared import distributed
from shared.checkpoint import load_checkpoint, save_checkpoint
from shared.cli import (Run, add_loop_args, autocast, experiment_parser, main_guard, non_negative_float,
                        non_negative_int, parse_args, positive_float, positive_int, probability)
from shared.errors import PlaygroundError
from shared.seeding import seed_everything

N_TRAIN = 50_000
DEFAULT_STEPS = 9750  # 50 epochs of 256 images: ~41 min on the 2-core CPU at the measured ~1,050 images/s (README)


def get_args(argv=None):
    p = experiment_parser("byol", description=__doc__)
    g = p.add_argument_group("networks")
    g.add_argument("--encoder", choices=ENCODERS, default="convnet", help="convnet: the CPU encoder; resnet18: for GPUs")
    g.add_argument("--width", type=positive_int, default=32, help="convnet first-stage channels (x2 per stage, 4 stages)")
    g.add_argument("--hidden", type=positive_int, default=1024, help="projector/predictor hidden size (paper: 4096)")
    g.add_argument("--proj-dim", type=positive_int, default=256, help="projection size (paper: 256)")
    g = p.add_argument_group("optimisation")
    g.add_argument("--steps", type=positive_int, default=DEFAULT_STEPS)
    g.add_argument("--epochs", type=positive_float, default=None, help="if given: steps = epochs * 50,000 / batch size")
    g.add_argument("--batch-size", type=positive_int, default=256, help="global batch")
    g.add_argument("--optimizer", choices=("lars", "sgd", "adam"), default="adam",
                   help="adam (AdamW): the CPU default, ahead of lars in a 400-step pilot (README); lars: the paper's")
    g.add_argument("--lr", type=positive_float, default=None,
                   help="peak learning rate (default: lars 1.0, sgd 0.05, adam 2e-3; no batch-size scaling)")
    g.add_argument("--weight-decay", type=non_negative_float, default=None,
                   help="on weight matrices only (default: lars/sgd 1e-5, adam 1e-6)")
    g.add_argument("--momentum", type=probability, default=0.9, help="lars/sgd momentum")
    g.add_argument("--lars-eta", type=positive_float, default=0.02, help="LARS trust coefficient")
    g.add_argument("--warmup", type=non_negative_int, default=None, help="linear warm-up steps (default 5%% of steps)")
    g.add_argument("--tau-base", type=probability, default=0.996, help="EMA rate at step 0, cosine to 1 at the end")
    g.add_argument("--crop-min", type=positive_float, default=0.2, help="smallest crop area fraction (paper: 0.08)")
    g = p.add_argument_group("bookkeeping")
    g.add_argument("--log-every", type=positive_int, default=50)
    g.add_argument("--knn-every", type=positive_int, default=500, help="k-NN monitor (k=200) every this many steps")
    g.add_argument("--knn-train", type=positive_int, default=10_000, help="k-NN monitor: training images as the memory bank")
    g.add_argument("--knn-test", type=positive_int, default=2_000, help="k-NN monitor: test images scored")
    g.add_argument("--checkpoint-every", type=positive_int, default=500)
    add_loop_args(g, "autocast precision of the forward passes (bf16: about 2x faster on this CPU)")
    quick = dict(steps=30, batch_size=64, width=8, hidden=128, proj_dim=64, log_every=5, knn_every=15,
                 knn_train=1000, knn_test=500, checkpoint_every=15, warmup=3)
    args = parse_args(p, argv, quick=quick)
    if args.epochs is not None:
        args.steps = max(1, round(args.epochs * N_TRAIN / args.batch_size))
    if args.batch_size > N_TRAIN:
        raise PlaygroundError(f"--batch-size {args.batch_size} is larger than the {N_TRAIN:,} training images; pass a smaller one")
    if args.crop_min > 1:
        raise PlaygroundError(f"--crop-min {args.crop_min} must be at most 1 (an area fraction)")
    if args.lr is None:
        args.lr = {"lars": 1.0, "sgd": 0.05, "adam": 2e-3}[args.optimizer]
    if args.weight_decay is None:
        args.weight_decay = 1e-6 if args.optimizer == "adam" else 1e-5
    if args.warmup is None:
        args.warmup = args.steps // 20
    return args


class LARS(torch.optim.Optimizer):
    """SGD with momentum whose step for each weight matrix is rescaled by the trust ratio eta |w| / |g + wd w|
    (You et al. 2017), as in BYOL. Groups with lars=False (biases, BatchNorm) take plain SGD steps without decay."""

    def __init__(self, params, lr, momentum=0.9, weight_decay=0.0, eta=0.02):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, lars=True))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                update = p.grad
                if group["lars"]:
                    update = update.add(p, alpha=group["weight_decay"])
                    w_norm, u_norm = p.norm(), update.norm()
                    trust = torch.where((w_norm > 0) & (u_norm > 0), group["eta"] * w_norm / u_norm, 1.0)
                    update = update * trust
                state = self.state[p]
                if "momentum" not in state:
                    state["momentum"] = update.clone()
                else:
                    state["momentum"].mul_(group["momentum"]).add_(update)
                p.add_(state["momentum"], alpha=-group["lr"])


def make_optimizer(online, args):
    matrices = [p for p in online.parameters() if p.ndim >= 2]
    others = [p for p in online.parameters() if p.ndim < 2]  # biases and BatchNorm gains: no decay, no LARS scaling
    if args.optimizer == "lars":
        return LARS([{"params": matrices}, {"params": others, "weight_decay": 0.0, "lars": False}], lr=args.lr,
                    momentum=args.momentum, weight_decay=args.weight_decay, eta=args.lars_eta)
    groups = [{"params": matrices, "weight_decay": args.weight_decay}, {"params": others, "weight_decay": 0.0}]
    if args.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=args.lr, momentum=args.momentum)
    return torch.optim.AdamW(groups, lr=args.lr)


def lr_factor(step: int, warmup: int, steps: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, steps - warmup))))


def batch_indices(step: int, batch_size: int, seed: int, n: int = N_TRAIN):
    """The images of a step: epoch-wise reshuffles seeded by (seed, epoch), the last partial batch dropped."""
    per_epoch = n // batch_size
    epoch, i = divmod(step, per_epoch)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    return order[i * batch_size:(i + 1) * batch_size]


def augment_generator(seed: int, step: int, device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed((seed * 1_000_003 + step) * 2 + 1)


def build(args) -> BYOL:
    """The encoder is built first from the seeded RNG, so evaluate.py rebuilds the same random weights."""
    return BYOL(build_encoder(args.encoder, args.width), hidden=args.hidden, proj_dim=args.proj_dim)


def monitor_subset(n_total: int, n: int, seed: int):
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:n]


def main(argv=None):
    args = get_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)  # the same seed on every rank: identical initial weights
    dist = distributed.setup(args.device, batch_size=args.batch_size)
    device = dist.device
    with dist.main_first():  # rank 0 decodes the dataset into the cache, the others read it
        (train_x, train_y), (test_x, test_y) = load_cifar(args.data_dir)
    run = Run(args.out, config=vars(args), write=dist.is_main)

    model = build(args).to(device)
    channels_last = device.type == "cpu"  # oneDNN's fast convolution layout
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model.online, args)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, args.warmup, args.steps))
    step, elapsed = 0, 0.0
    if args.resume and run.checkpoint_path.exists():
        state = load_checkpoint(run.checkpoint_path, model=model, optimizer=optimizer, scheduler=scheduler,
                                map_location=device)
        step, elapsed = state["step"], state["extra"]["elapsed"]
        run.truncate_metrics(step)
        print(f"resumed from {run.checkpoint_path} at step {step}")
    if dist.enabled and device.type == "cuda":
        model.target = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model.target)  # same statistics as the online net
    online = dist.wrap(model.online)
    views = byol_views(args.crop_min)
    train_x_dev = train_x.to(device)
    bank = monitor_subset(len(train_x), min(args.knn_train, len(train_x)), args.seed + 1)
    queries = monitor_subset(len(test_x), min(args.knn_test, len(test_x)), args.seed + 2)
    params = sum(p.numel() for p in model.online.encoder.parameters())
    print(f"BYOL {args.encoder} ({params / 1e6:.2f}M encoder params): {args.steps} steps of {args.batch_size} "
          f"({args.steps * args.batch_size / N_TRAIN:.1f} epochs), {args.optimizer} lr {args.lr}, tau_base {args.tau_base}")

    def knn_monitor():
        encoder = model.online.encoder
        bank_f = encode(encoder, train_x[bank], device, args.precision)
        query_f = encode(encoder, test_x[queries], device, args.precision)
        encoder.train()
        return {"knn_accuracy": knn_accuracy(bank_f, train_y[bank].to(device), query_f, test_y[queries].to(device))}

    def checkpoint():
        if dist.is_main:
            save_checkpoint(run.checkpoint_path, model=model, optimizer=optimizer, scheduler=scheduler, step=step,
                            config=run.config, extra={"elapsed": elapsed, "feature_dim": model.online.encoder.dim})

    if step == 0 and dist.is_main:
        run.log(0, **knn_monitor())
    model.train()
    t0 = time.time()
    running = {"loss": 0.0, "proj_std": 0.0}
    bar = tqdm(total=args.steps, initial=step, desc="byol", disable=None if dist.is_main else True, dynamic_ncols=True)
    stop_at = args.steps if args.stop_after is None else min(args.steps, step + args.stop_after)
    while step < stop_at:
        images = train_x_dev[batch_indices(step, args.batch_size, args.seed).to(device)]
        v1, v2 = two_views(images, views, augment_generator(args.seed, step, device))
        x = torch.cat([dist.shard(v1), dist.shard(v2)])  # one pass over both views: one DDP forward per step
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, args.precision):
            z, p = online(x)
            with torch.no_grad():
                z_target = model.target(x)
        p1, p2 = p.float().chunk(2)
        t1, t2 = z_target.float().chunk(2)
        loss = byol_loss(p1, p2, t1, t2)
        run.check_finite(step + 1, loss=loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        tau = tau_schedule(step, args.steps, args.tau_base)
        model.update_target(tau)
        step += 1
        running["loss"] += loss.item()
        running["proj_std"] += projection_std(z.detach())
        bar.update(1)
        if step % args.log_every == 0 or step == stop_at:
            now = time.time()
            elapsed += now - t0
            n = args.log_every if step % args.log_every == 0 else step % args.log_every
            avg = {k: dist.all_reduce_mean(v) / n for k, v in running.items()}
            rate = n * args.batch_size / (now - t0)
            run.log(step, **avg, proj_std_unit_sphere=1 / math.sqrt(args.proj_dim), lr=scheduler.get_last_lr()[0],
                    tau=tau, imgs_per_s=rate, elapsed_s=elapsed)
            bar.set_postfix(loss=f"{avg['loss']:.3f}", std=f"{avg['proj_std']:.3f}", img_s=f"{rate:.0f}")
            running = {k: 0.0 for k in running}
            t0 = now
        if (step % args.knn_every == 0 or step == args.steps) and dist.is_main:
            run.log(step, **knn_monitor())
            t0 = time.time()  # monitoring is not training time
        if step % args.checkpoint_every == 0 or step == stop_at:
            checkpoint()
    bar.close()
    if dist.enabled:  # the online weights get the same averaged gradients on every rank, so the EMA targets agree
        checksum = sum(p.double().sum() for p in model.target.parameters()).item()
        if abs(dist.all_reduce_mean(checksum) - checksum) > 1e-6 * max(1.0, abs(checksum)):
            raise PlaygroundError(f"rank {dist.rank}'s target network differs from the others' (checksum {checksum})")
        print(f"target networks agree on all {dist.world_size} ranks (weight checksum {checksum:.6f})")
    dist.close()
    print(f"done: {step} steps, {elapsed / 60:.1f} min of training, checkpoint {run.checkpoint_path}")


if __name__ == "__main__":
    main_guard(main)()
