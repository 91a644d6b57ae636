"""Train the noise-aware classifier p_phi(y | x_t, t) that classifier guidance differentiates.

    python gan/ddpm/train_classifier.py --dataset mnist          # runs/ddpm_classifier, a few minutes
    python gan/ddpm/train_classifier.py --dataset mnist --output gan/ddpm/results/classifier.json
    python gan/ddpm/train_classifier.py --quick --out /tmp/clf

It is the UNet's downsampling trunk (same Encoder class) plus a pooling head, trained with
cross-entropy on x_t = q_sample(x_0, t) at uniformly random t, so it must match the diffusion
model's schedule and T. At the end it writes accuracy.json: test accuracy at several noise levels, the
parameter count, and the training wall time and throughput (--output: a copy of it elsewhere too).
"""
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from diffusion import SCHEDULES, Diffusion, load_dataset
from model import NoisyClassifier, UNetConfig
from shared.checkpoint import load_checkpoint, save_checkpoint
from shared import distributed
from shared.cli import (PRECISIONS, Run, autocast, check_output_file, experiment_parser, main_guard,
                        non_negative_float, parse_args, positive_float, positive_int)
from shared.errors import PlaygroundError
from shared.plotting import save_json
from shared.seeding import seed_everything
from train import batch_indices, int_list


def main(argv=None):
    p = experiment_parser("ddpm_classifier", description=__doc__)
    p.add_argument("--dataset", choices=("mnist", "cifar10"), default="mnist")
    p.add_argument("--schedule", choices=SCHEDULES, default="cosine", help="must match the diffusion model")
    p.add_argument("--T", type=positive_int, default=1000, help="must match the diffusion model")
    p.add_argument("--base-channels", type=positive_int, default=24)
    p.add_argument("--channel-mult", type=str, default="1,2,4")
    p.add_argument("--attention-levels", type=str, default="2")
    p.add_argument("--steps", type=positive_int, default=3000)
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--lr", type=positive_float, default=1e-3)
    p.add_argument("--weight-decay", type=non_negative_float, default=0.05, help="AdamW weight decay")
    p.add_argument("--log-every", type=positive_int, default=50)
    p.add_argument("--checkpoint-every", type=positive_int, default=500)
    p.add_argument("--threads", type=positive_int, default=2)
    p.add_argument("--precision", choices=PRECISIONS, default="bf16", help="autocast precision of the forward pass")
    p.add_argument("--output", type=Path, default=None,
                   help="also write accuracy.json here (the committed copy is gan/ddpm/results/classifier.json)")
    args = parse_args(p, argv, quick=dict(steps=30, batch_size=32, base_channels=8, log_every=10, checkpoint_every=10))
    if args.output is not None:
        check_output_file(args.output)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)  # the same seed on every rank: identical initial weights and noise draws
    dist = distributed.setup(args.device, batch_size=args.batch_size)
    device = dist.device
    with dist.main_first():  # rank 0 decodes the dataset into the cache, the others read it
        x_train, y_train = load_dataset(args.dataset, True, args.data_dir)
        x_test, y_test = load_dataset(args.dataset, False, args.data_dir)
    if args.quick:
        x_train, y_train, x_test, y_test = x_train[:1024], y_train[:1024], x_test[:200], y_test[:200]
    if len(x_train) < args.batch_size:
        raise PlaygroundError(f"--batch-size {args.batch_size} is larger than the dataset ({len(x_train)} images)")
    cfg = UNetConfig(image_size=x_train.shape[-1], in_channels=x_train.shape[1], base_channels=args.base_channels,
                     channel_mult=int_list(args.channel_mult), attention_levels=int_list(args.attention_levels),
                     num_heads=4 if args.base_channels >= 16 else 2, groups=8 if args.base_channels >= 16 else 4,
                     dropout=0.0, num_classes=0)
    try:
        clf = NoisyClassifier(cfg).to(device)
    except ValueError as e:
        raise PlaygroundError(str(e)) from None
    diffusion = Diffusion(args.schedule, args.T)
    opt = torch.optim.AdamW(clf.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    config = {**vars(args), "classifier_model": {k: list(v) if isinstance(v, tuple) else v
                                                 for k, v in asdict(cfg).items()}}
    run = Run(args.out, config=config, may_differ=("output",), write=dist.is_main)
    config = run.config  # plain JSON types, as the checkpoint must hold
    step, elapsed = 0, 0.0  # elapsed: seconds of training (checkpoint writes and the final test excluded)
    if args.resume and run.checkpoint_path.exists():
        state = load_checkpoint(run.checkpoint_path, model=clf, optimizer=opt, scheduler=sched, map_location=device)
        step, elapsed = state["step"], state["extra"].get("elapsed", 0.0)
        run.truncate_metrics(step)
    ddp_clf = dist.wrap(clf)
    clf.train()
    running = correct = 0.0
    t0 = time.time()
    bar = tqdm(total=args.steps, initial=step, desc="classifier", disable=None if dist.is_main else True, dynamic_ncols=True)
    while step < args.steps:
        idx = batch_indices(step, len(x_train), args.batch_size, args.seed)
        # t and noise for the global batch (the same on every rank), then this rank's rows of everything
        t = dist.shard(torch.randint(0, args.T, (len(idx),), device=device))
        noise = dist.shard(torch.randn((len(idx), *x_train.shape[1:]), device=device))
        idx = dist.shard(idx)
        x0, y = x_train[idx].to(device), y_train[idx].to(device)
        with autocast(device, args.precision):
            logits = ddp_clf(diffusion.q_sample(x0, t, noise), t).float()
        loss = F.cross_entropy(logits, y)
        run.check_finite(step + 1, loss=loss)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        running += loss.item()
        correct += (logits.argmax(1) == y).float().mean().item()
        bar.update(1)
        if step % args.log_every == 0:
            running, correct = dist.all_reduce_mean(running), dist.all_reduce_mean(correct)
            run.log(step, loss=running / args.log_every, noisy_train_acc=correct / args.log_every)
            bar.set_postfix(loss=f"{running / args.log_every:.3f}", acc=f"{correct / args.log_every:.3f}")
            running = correct = 0.0
        if (step % args.checkpoint_every == 0 or step == args.steps) and dist.is_main:
            elapsed += time.time() - t0
            save_checkpoint(run.checkpoint_path, model=clf, optimizer=opt, scheduler=sched, step=step, config=config,
                            extra={"elapsed": elapsed})
            t0 = time.time()
    elapsed += time.time() - t0
    bar.close()
    dist.close()
    if not dist.is_main:
        return

    # Accuracy on test images noised to a few levels: near 100% at small t, chance (10%) at t = T.
    clf.eval()
    gen = torch.Generator().manual_seed(0)
    accuracy = {}
    with torch.no_grad():
        for frac in (0.0, 0.25, 0.5, 0.75, 0.9, 1.0):
            tt = min(int(frac * args.T), args.T - 1)
            t = torch.full((len(y_test),), tt, dtype=torch.long)
            noise = torch.randn(x_test.shape, generator=gen)
            pred = torch.cat([clf(xb, tb).argmax(1) for xb, tb in
                              zip(diffusion.q_sample(x_test, t, noise).split(500), t.split(500))])
            accuracy[str(tt)] = (pred == y_test).float().mean().item()
    result = {"test_accuracy_at_t": accuracy, "test_images": len(y_test),
              "params": sum(p.numel() for p in clf.parameters()), "steps": step, "batch_size": args.batch_size,
              "processes": dist.world_size, "threads": args.threads, "precision": args.precision,
              "train_seconds": round(elapsed, 3), "train_images_per_s": round(step * args.batch_size / elapsed, 1)}
    save_json(result, run.dir / "accuracy.json")
    if args.output is not None:
        save_json(result, args.output)
    print("noisy test accuracy by t:", {k: round(v, 3) for k, v in accuracy.items()})
    print(f"{result['params'] / 1e6:.2f}M parameters, {step} steps in {elapsed / 60:.1f} min of training "
          f"({result['train_images_per_s']:.0f} images/s)")


if __name__ == "__main__":
    main_guard(main)()
