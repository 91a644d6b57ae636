"""Train the diffusion UNet (eps-prediction, EMA) on MNIST or CIFAR-10.

    python gan/ddpm/train.py --dataset mnist                # default: ~42 min on a 2-core CPU
    python gan/ddpm/train.py --dataset mnist --quick        # smoke test, seconds
    python gan/ddpm/train.py --dataset mnist --resume       # continue runs/ddpm from its checkpoint

The run folder gets config.json, metrics.jsonl (loss), checkpoint.pt (weights, EMA, optimizer, RNG),
samples_<step>.png grids (EMA weights, DDIM-50, fixed noise: two unconditional rows, then
class-conditional rows 0..9) and summary.json (parameters, steps, training wall time and images/s).
"""
import argparse
import copy
import time
from dataclasses import asdict

import torch
from tqdm import tqdm

from diffusion import SCHEDULES, Diffusion, load_dataset
from model import UNet, UNetConfig
from shared.checkpoint import load_checkpoint, save_checkpoint
from shared import distributed
from shared.cli import (Run, add_loop_args, autocast, experiment_parser, main_guard, non_negative_int, parse_args,
                        positive_float, positive_int, probability)
from shared.errors import PlaygroundError
from shared.plotting import save_image_grid, save_json
from shared.seeding import seed_everything


def int_list(text):
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise PlaygroundError(f"expected comma-separated integers like 1,2,2, got '{text}'") from None


def unet_config(args, image_size: int = 28, in_channels: int = 1) -> UNetConfig:
    """The UNet that train.py builds from its arguments (benchmark.py times the same one)."""
    return UNetConfig(image_size=image_size, in_channels=in_channels, base_channels=args.base_channels,
                      channel_mult=int_list(args.channel_mult), num_res_blocks=args.num_res_blocks,
                      attention_levels=int_list(args.attention_levels), num_heads=args.num_heads,
                      dropout=args.dropout, num_classes=0 if args.unconditional else 10)


def get_args(argv=None):
    p = experiment_parser("ddpm", description=__doc__)
    p.add_argument("--dataset", choices=("mnist", "cifar10"), default="mnist")
    g = p.add_argument_group("model")
    g.add_argument("--base-channels", type=positive_int, default=24, help="UNet channels at full resolution")
    g.add_argument("--channel-mult", type=str, default="1,2,4", help="channel multiplier per resolution level")
    g.add_argument("--num-res-blocks", type=positive_int, default=1, help="residual blocks per level (down path)")
    g.add_argument("--attention-levels", type=str, default="2", help="levels with self-attention (2 = 7x7 / 8x8)")
    g.add_argument("--num-heads", type=positive_int, default=4)
    g.add_argument("--dropout", type=probability, default=0.0, help="dropout in the residual blocks (0: a short run does not overfit MNIST)")
    g.add_argument("--unconditional", action="store_true",
                   help="no class embedding (default: class-conditional with label dropout, which also gives the "
                        "unconditional model through the null label)")
    g.add_argument("--label-drop", type=probability, default=0.2,
                   help="probability of replacing the label by the null label (classifier-free guidance)")
    g = p.add_argument_group("diffusion")
    g.add_argument("--schedule", choices=SCHEDULES, default="cosine", help="noise schedule")
    g.add_argument("--T", type=positive_int, default=1000, help="diffusion steps")
    g = p.add_argument_group("optimisation")
    g.add_argument("--steps", type=positive_int, default=7000, help="optimizer steps")
    g.add_argument("--batch-size", type=positive_int, default=64)
    g.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate after warmup")
    g.add_argument("--warmup", type=non_negative_int, default=200, help="linear learning-rate warmup steps")
    g.add_argument("--lr-decay", action=argparse.BooleanOptionalAction, default=True,
                   help="cosine-decay the learning rate to 10%% over the run (--no-lr-decay: constant after warmup)")
    g.add_argument("--grad-clip", type=positive_float, default=1.0, help="clip the gradient norm")
    g.add_argument("--ema-decay", type=probability, default=0.999, help="EMA of the weights used for sampling")
    g = p.add_argument_group("bookkeeping")
    g.add_argument("--log-every", type=positive_int, default=50)
    g.add_argument("--sample-every", type=positive_int, default=1000, help="write a sample grid every N steps")
    g.add_argument("--checkpoint-every", type=positive_int, default=500)
    g.add_argument("--sample-steps", type=positive_int, default=50, help="DDIM steps for the training-time grids")
    add_loop_args(g, "autocast precision of the UNet's forward pass (bf16: ~1.6x faster on this CPU)")
    return parse_args(p, argv, quick=dict(steps=40, batch_size=16, base_channels=8, T=100, log_every=10,
                                          sample_every=20, checkpoint_every=20, sample_steps=5, warmup=5))


def lr_factor(step, args):
    warm = min(1.0, (step + 1) / args.warmup) if args.warmup > 0 else 1.0
    if not args.lr_decay:
        return warm
    progress = step / max(1, args.steps)
    return warm * (0.1 + 0.9 * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * progress)).item()))


def batch_indices(step, n, batch_size, seed):
    """Indices of batch `step`: a fresh permutation per epoch, seeded by (seed, epoch), so resume is exact."""
    per_epoch = n // batch_size
    epoch, pos = divmod(step, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    return perm[pos * batch_size:(pos + 1) * batch_size]


@torch.no_grad()
def sample_grid(ema, diffusion, cfg, steps, path, device, precision):
    g = torch.Generator().manual_seed(1234)  # fixed noise: grids from different steps are comparable
    x_T = torch.randn(40, cfg.in_channels, cfg.image_size, cfg.image_size, generator=g).to(device)
    y = None
    if cfg.num_classes:
        y = torch.cat([torch.full((20,), cfg.num_classes), torch.arange(20) % 10]).to(device)
    with autocast(device, precision):
        x, _ = diffusion.ddim_sample(ema, x_T, steps=steps, y=y)
    save_image_grid((x.cpu() + 1) / 2, path, nrow=10)


def main(argv=None):
    args = get_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)  # the same seed on every rank: identical initial weights and diffusion draws
    dist = distributed.setup(args.device, batch_size=args.batch_size)
    device = dist.device
    with dist.main_first():  # rank 0 decodes the dataset into the cache, the others read it
        x_train, y_train = load_dataset(args.dataset, train=True, data_dir=args.data_dir)
    if args.quick:
        x_train, y_train = x_train[:512], y_train[:512]
    if len(x_train) < args.batch_size:
        raise PlaygroundError(f"--batch-size {args.batch_size} is larger than the dataset ({len(x_train)} images)")

    cfg = unet_config(args, image_size=x_train.shape[-1], in_channels=x_train.shape[1])
    try:
        model = UNet(cfg).to(device)
    except ValueError as e:
        raise PlaygroundError(str(e)) from None
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    diffusion = Diffusion(args.schedule, args.T)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, args))

    config = {**vars(args), "model": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()},
              "params": sum(p.numel() for p in model.parameters())}
    run = Run(args.out, config=config, write=dist.is_main)  # rank 0 refuses a busy folder, or a --resume with other flags, before writing
    config = run.config  # plain JSON types, as the checkpoint must hold
    step, elapsed, running = 0, 0.0, 0.0  # running: loss summed since the last log row
    if args.resume and run.checkpoint_path.exists():
        state = load_checkpoint(run.checkpoint_path, model=model, optimizer=optimizer, scheduler=scheduler,
                                map_location=device)
        ema.load_state_dict(state["extra"]["ema"])
        step, elapsed, running = state["step"], state["extra"]["elapsed"], state["extra"]["running"]
        run.truncate_metrics(step)
        print(f"resumed from {run.checkpoint_path} at step {step}")
    ddp_model = dist.wrap(model)  # trains; `model` (the same parameters, unwrapped) is saved and feeds the EMA
    print(f"UNet {config['params'] / 1e6:.2f}M params, {len(x_train)} {args.dataset} images, {args.steps} steps")

    def checkpoint():
        running_all = dist.all_reduce_mean(running)  # a resumed rank continues the global batch's partial sum
        if dist.is_main:
            save_checkpoint(run.checkpoint_path, model=model, optimizer=optimizer, scheduler=scheduler, step=step,
                            config=config, extra={"ema": ema.state_dict(), "elapsed": elapsed, "running": running_all})

    model.train()
    y_all = None if args.unconditional else y_train
    t0 = time.time()  # start of the current stretch of training (sampling grids and checkpoints are not training)
    log_step, log_elapsed = step, elapsed  # at the last log row, for its images/s
    bar = tqdm(total=args.steps, initial=step, desc="train", disable=None if dist.is_main else True, dynamic_ncols=True)
    stop_at = args.steps if args.stop_after is None else min(args.steps, step + args.stop_after)
    while step < stop_at:
        idx = dist.shard(batch_indices(step, len(x_train), args.batch_size, args.seed))
        x0 = x_train[idx].to(device)
        y = y_all[idx].to(device) if y_all is not None else None
        with autocast(device, args.precision):
            loss = diffusion.loss(ddp_model, x0, y, args.label_drop, dist)
        run.check_finite(step + 1, loss=loss)  # before the update, so the last checkpoint stays a good one
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        scheduler.step()
        with torch.no_grad():  # DDP keeps `model` identical on every rank, so is every rank's EMA
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - args.ema_decay)
        step += 1
        running += loss.item()
        bar.update(1)
        if step % args.log_every == 0:
            now = time.time()
            elapsed, t0 = elapsed + now - t0, now
            rate = (step - log_step) * args.batch_size / (elapsed - log_elapsed)
            log_step, log_elapsed = step, elapsed
            running = dist.all_reduce_mean(running)  # the global batch's loss
            run.log(step, loss=running / args.log_every, lr=scheduler.get_last_lr()[0], imgs_per_s=rate,
                    elapsed_s=elapsed)
            bar.set_postfix(loss=f"{running / args.log_every:.4f}", img_s=f"{rate:.0f}")
            running = 0.0
        if (step % args.sample_every == 0 or step == args.steps) and dist.is_main:
            elapsed += time.time() - t0
            sample_grid(ema, diffusion, cfg, args.sample_steps, run.dir / f"samples_{step:06d}.png", device,
                        args.precision)
            t0 = time.time()
        if step % args.checkpoint_every == 0 or step == stop_at:
            elapsed += time.time() - t0
            checkpoint()
            t0 = time.time()
    bar.close()
    dist.close()
    if dist.is_main:  # elapsed counts every invocation of a resumed run, so this is the whole run's time
        save_json({"params": config["params"], "steps": step, "of_steps": args.steps, "batch_size": args.batch_size,
                   "processes": dist.world_size, "threads": args.threads, "precision": args.precision,
                   "train_seconds": round(elapsed, 3), "seconds_per_step": round(elapsed / max(step, 1), 4),
                   "train_images_per_s": round(step * args.batch_size / max(elapsed, 1e-9), 1)},
                  run.dir / "summary.json")
    print(f"done: {step} steps, {elapsed / 60:.1f} min of training, checkpoint {run.checkpoint_path}")


if __name__ == "__main__":
    main_guard(main)()
