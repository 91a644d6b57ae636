"""Speed of the default MNIST config on this machine: training throughput and the two samplers.

    python gan/ddpm/benchmark.py                 # ~4 minutes on 2 cores; writes benchmark.md / benchmark.json
    python gan/ddpm/benchmark.py --scaling       # 1 vs 2 torchrun processes, one thread each (~2 min)

Timings do not depend on the weights, so it builds the default UNet (train.py's defaults) freshly
unless --checkpoint is given. DDPM (all T = 1000 steps) and DDIM-50 run on the same --n-ddpm images
for the speed-up; the 10,000-image DDIM-50 time is extrapolated from --n-ddim images in batches of
250 (the per-image cost is the same at any n that fills whole batches).
"""
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from diffusion import Diffusion
from model import UNet
from sample import cpp_compiler, generate
from shared.cli import autocast, experiment_parser, main_guard, positive_int, resolve_device
from shared.distributed import measure_scaling, scaling_markdown, scaling_section, with_section
from shared.plotting import save_json
from train import get_args, unet_config

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = experiment_parser("ddpm_benchmark", description=__doc__)
    p.add_argument("--checkpoint", type=Path, default=None, help="time this model instead of a fresh default UNet")
    p.add_argument("--train-steps", type=positive_int, default=30)
    p.add_argument("--n-ddim", type=positive_int, default=250, help="DDIM-50 images for the 10,000-image estimate")
    p.add_argument("--n-ddpm", type=positive_int, default=20, help="images for the DDPM vs DDIM speed-up")
    p.add_argument("--output", type=Path, default=HERE / "benchmark.md")
    p.add_argument("--scaling", action="store_true",
                   help="only time train.py (default MNIST config) under torchrun with 1 and 2 processes of one "
                        "thread each, and rewrite that section of --output (+ benchmark_scaling.json)")
    p.add_argument("--scaling-steps", type=positive_int, default=40, help="optimizer steps per --scaling run")
    args = p.parse_args(argv)
    if args.scaling:
        return scaling(args)
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    d = get_args([])  # train.py's defaults
    cfg = unet_config(d)  # the MNIST UNet exactly as train.py builds it (dropout included)
    if args.checkpoint:
        from diffusion import load_trained
        model, diffusion, _ = load_trained(args.checkpoint, map_location=device)
    else:
        model, diffusion = UNet(cfg).to(device), Diffusion(d.schedule, d.T)
    rows = []

    # training: optimizer steps at the default batch size, in the default precision and in fp32 for comparison
    x = torch.randn(d.batch_size, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (d.batch_size,), device=device)
    model.train()
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None  # GPU kernels run asynchronously
    for precision in (d.precision, *({"fp32", "bf16"} - {d.precision})):
        opt = torch.optim.Adam(model.parameters(), 1e-5)
        for i in range(args.train_steps + 3):
            if i == 3:
                sync()
                t0 = time.time()
            with autocast(device, precision):
                loss = diffusion.loss(model, x, y, d.label_drop)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sync()
        sec = (time.time() - t0) / args.train_steps
        rows.append({"what": f"train step (batch {d.batch_size}, {precision})", "seconds": sec,
                     "images_per_s": d.batch_size / sec, "note": f"{d.steps} steps -> {d.steps * sec / 60:.1f} min"
                     + (" (the default)" if precision == d.precision else "")})
    model.eval()

    timings = {}
    # the speed-up is measured at one batch size (n_ddpm images each); the 10k time from a full batch of 250
    for key, sampler, n, steps, precision in (("ddim", "ddim", args.n_ddpm, 50, "bf16"),
                                              ("ddim_fp32", "ddim", args.n_ddpm, 50, "fp32"),
                                              ("ddpm", "ddpm", args.n_ddpm, diffusion.T, "bf16"),
                                              ("ddim_full", "ddim", args.n_ddim, 50, "bf16")):
        t0 = time.time()
        generate(model, diffusion, torch.full((n,), -1), sampler, steps, progress=False, precision=precision)
        sec = time.time() - t0
        timings[key] = sec / n
        rows.append({"what": f"{sampler.upper()}-{steps}, {n} images (batch {min(n, 250)}, {precision})",
                     "seconds": sec, "images_per_s": n / sec, "note": f"{sec / n * 1000:.0f} ms per image"})
    # torch.compile: a one-off compile (first call), then fused kernels for every step
    compile_sec = None
    if cpp_compiler():
        compiled = torch.compile(model)
        t0 = time.time()
        generate(compiled, diffusion, torch.full((min(args.n_ddim, 250),), -1), "ddim", 1, progress=False)
        compile_sec = time.time() - t0
        t0 = time.time()
        generate(compiled, diffusion, torch.full((args.n_ddim,), -1), "ddim", 50, progress=False)
        sec = time.time() - t0
        timings["ddim_compiled"] = sec / args.n_ddim
        rows.append({"what": f"DDIM-50, {args.n_ddim} images (batch {min(args.n_ddim, 250)}, bf16, torch.compile)",
                     "seconds": sec, "images_per_s": args.n_ddim / sec,
                     "note": f"{sec / args.n_ddim * 1000:.0f} ms per image, after a {compile_sec:.0f} s compile"})
    rows.append({"what": "speed-up DDIM-50 over DDPM-1000 (same batch, bf16)", "seconds": None, "images_per_s": None,
                 "note": f"{timings['ddpm'] / timings['ddim']:.1f}x per image"})
    rows.append({"what": "speed-up of bf16 over fp32 (DDIM-50, same batch)", "seconds": None, "images_per_s": None,
                 "note": f"{timings['ddim_fp32'] / timings['ddim']:.1f}x per image"})
    rows.append({"what": "DDIM-50, 10,000 images (extrapolated)", "seconds": timings["ddim_full"] * 10000,
                 "images_per_s": 1 / timings["ddim_full"], "note": f"{timings['ddim_full'] * 10000 / 60:.1f} min"})
    if compile_sec is not None:
        total = compile_sec + timings["ddim_compiled"] * 10000
        rows.append({"what": "DDIM-50, 10,000 images with --compile (extrapolated, compile included)", "seconds": total,
                     "images_per_s": 10000 / total, "note": f"{total / 60:.1f} min"})
    lines = ["| what | seconds | images/s | note |", "|---|---:|---:|---|"]
    for r in rows:
        sec = "" if r["seconds"] is None else f"{r['seconds']:.2f}"
        ips = "" if r["images_per_s"] is None else f"{r['images_per_s']:.1f}"
        lines.append(f"| {r['what']} | {sec} | {ips} | {r['note']} |")
    table = "\n".join(lines)
    print(table)
    kept = scaling_section(args.output.read_text()) if args.output.exists() else ""  # written by --scaling
    args.output.write_text(f"Measured with `python gan/ddpm/benchmark.py` ({torch.get_num_threads()} torch threads, "
                           f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M-parameter UNet).\n\n"
                           + table + "\n" + ("\n" + kept if kept else ""))
    save_json(rows, args.output.with_suffix(".json"))


def scaling(args):
    """Images/s of the real training loop (the default UNet and batch of 64) for 1 vs 2 processes."""
    flags = ["--dataset", "mnist", "--steps", 1000, "--stop-after", args.scaling_steps, "--log-every", 5,
             "--sample-every", 100000, "--checkpoint-every", 100000]
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure_scaling(HERE / "train.py", flags, "imgs_per_s", tmp)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    section = scaling_markdown(rows, "imgs_per_s", "training images/s (global batch)", machine)
    print(section)
    args.output.write_text(with_section(args.output.read_text() if args.output.exists() else "", section))
    save_json(rows, args.output.with_name("benchmark_scaling.json"))


if __name__ == "__main__":
    main_guard(main)()
