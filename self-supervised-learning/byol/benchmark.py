"""Throughput of BYOL pre-training steps on this machine: images/s of the augmentation alone, of a training step on
views made in advance, and of the full step (augment + step), for the chosen encoder(s).

    python self-supervised-learning/byol/benchmark.py                    # the default encoder, ~1 min
    python self-supervised-learning/byol/benchmark.py --widths 16 32 64  # choose the CPU encoder's width

One "image" is one training image, i.e. two augmented views through the online and the target network.
"""
import time

import torch

from augment import byol_views, two_views
from model import BYOL, build_encoder, byol_loss
from shared.cli import (PRECISIONS, ArgumentParser, autocast, check_output_file, main_guard, positive_int,
                        resolve_device)
from shared.data import load_image_dataset
from shared.plotting import save_json


def get_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--encoder", choices=("convnet", "resnet18"), default="convnet")
    p.add_argument("--widths", type=positive_int, nargs="+", default=[32], help="convnet first-stage widths to time")
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--steps", type=positive_int, default=6, help="timed steps (after 2 warm-up steps)")
    p.add_argument("--precision", choices=PRECISIONS, default="bf16")
    p.add_argument("--threads", type=positive_int, default=2)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--output", default=None, help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    if args.output:
        check_output_file(args.output)
    return args


def timed(fn, steps, device):
    for _ in range(2):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def main(argv=None):
    args = get_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    images, _ = load_image_dataset("cifar10", train=True, data_dir=args.data_dir)
    batch = images[:args.batch_size].to(device)
    views = byol_views()
    g = torch.Generator(device=device).manual_seed(0)
    rows = []
    for width in (args.widths if args.encoder == "convnet" else [None]):
        torch.manual_seed(0)
        model = BYOL(build_encoder(args.encoder, width or 32)).to(device)
        if device.type == "cpu":
            model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.online.parameters(), lr=0.01, momentum=0.9)
        v1, v2 = two_views(batch, views, g)

        def step(v1=v1, v2=v2):
            x = torch.cat([v1, v2]).contiguous(memory_format=torch.channels_last)
            with autocast(device, args.precision):
                z, p = model.online(x)
                with torch.no_grad():
                    zt = model.target(x)
            p1, p2 = p.float().chunk(2)
            z1, z2 = zt.float().chunk(2)
            loss = byol_loss(p1, p2, z1, z2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            model.update_target(0.99)

        aug_s = timed(lambda: two_views(batch, views, g), args.steps, device)
        step_s = timed(step, args.steps, device)
        full_s = timed(lambda: step(*two_views(batch, views, g)), args.steps, device)
        params = sum(p.numel() for p in model.online.encoder.parameters())
        row = {"encoder": args.encoder, "width": width, "encoder_params": params, "batch_size": args.batch_size,
               "precision": args.precision, "threads": args.threads, "device": str(device),
               "augment_imgs_per_s": args.batch_size / aug_s, "step_imgs_per_s_no_augment": args.batch_size / step_s,
               "step_imgs_per_s_with_augment": args.batch_size / full_s}
        rows.append(row)
        print(f"{args.encoder} width {width} ({params / 1e6:.2f}M encoder params), batch {args.batch_size}, "
              f"{args.precision}: augmentation alone {row['augment_imgs_per_s']:,.0f} img/s | step without "
              f"augmentation {row['step_imgs_per_s_no_augment']:,.0f} img/s | with {row['step_imgs_per_s_with_augment']:,.0f} img/s "
              f"-> one epoch of 50k images in {50_000 / row['step_imgs_per_s_with_augment'] / 60:.1f} min")
    if args.output:
        save_json(rows, args.output)


if __name__ == "__main__":
    main_guard(main)()
