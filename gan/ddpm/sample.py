"""Sample from a trained diffusion model: a PNG grid, or an .npz of uint8 images + requested labels.

    python gan/ddpm/sample.py --checkpoint runs/ddpm/checkpoint.pt --n 64 --output grid.png
    python gan/ddpm/sample.py --checkpoint runs/ddpm/checkpoint.pt --sampler ddpm --n 16 --output ddpm.png
    python gan/ddpm/sample.py --checkpoint runs/ddpm/checkpoint.pt --per-class --n 80 \\
        --classifier runs/ddpm_classifier/checkpoint.pt --guidance 3.0 --output guided.png   # one row per digit
    python gan/ddpm/sample.py --checkpoint runs/ddpm/checkpoint.pt --class 7 --cfg-scale 2 --output sevens.png
    python gan/ddpm/sample.py --checkpoint runs/ddpm/checkpoint.pt --n 5000 --output samples.npz

Which labels the UNet sees (--condition): `auto` gives it the requested label unless classifier
guidance is on, in which case the unconditional model (null label) is guided by the classifier alone,
the paper's "unconditional model + classifier guidance" setting. Unconditional samples get label -1.
"""
import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from diffusion import load_trained, to_uint8
from shared.cli import (DEVICES, PRECISIONS, ArgumentParser, autocast, check_output_file, main_guard, non_negative_float,
                        positive_int, resolve_device, seed_int)
from shared.errors import PlaygroundError
from shared.plotting import save_image_grid


def load_classifier(path, map_location="cpu"):
    """The noise-aware classifier written by train_classifier.py, on map_location."""
    from model import NoisyClassifier, UNetConfig
    from shared.checkpoint import read_checkpoint

    state = read_checkpoint(path, map_location)
    if "classifier_model" not in state["config"]:
        raise PlaygroundError(f"{path} is not a train_classifier.py checkpoint; pass runs/ddpm_classifier/checkpoint.pt")
    cfg = UNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in state["config"]["classifier_model"].items()})
    clf = NoisyClassifier(cfg)
    clf.load_state_dict(state["model"])
    clf.schedule = (state["config"]["schedule"], state["config"]["T"])
    return clf.to(map_location).eval()


def check_match(classifier, config):
    if classifier is not None and classifier.schedule != (config["schedule"], config["T"]):
        raise PlaygroundError(f"the classifier was trained for schedule/T {classifier.schedule}, the diffusion model "
                              f"uses {(config['schedule'], config['T'])}; retrain it with matching --schedule/--T")


def cpp_compiler():
    """torch.compile's CPU backend (inductor) writes C++ kernels, so it needs a compiler on PATH."""
    return shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")


def compile_unet(model):
    """torch.compile for sampling: ~1 min once, then each UNet call ~10-20% faster on this CPU."""
    if cpp_compiler() is None:
        raise PlaygroundError("--compile needs a C++ compiler (g++ or clang++) on PATH; install one or drop --compile")
    return torch.compile(model)


def generate(model, diffusion, labels, sampler="ddim", steps=50, eta=0.0, condition="auto", cfg_scale=0.0,
             classifier=None, guidance=0.0, batch_size=250, seed=0, trajectory_every=0, progress=True,
             precision="bf16"):
    """Sample len(labels) images (labels[i] = -1: unconditional) on the model's device. Returns (float images in
    [-1, 1], trajectory), on the CPU. The noise comes from a CPU generator: a seed gives the same noise on any device."""
    labels = torch.as_tensor(labels, dtype=torch.long)
    device = next(model.parameters()).device
    if guidance > 0 and classifier is None:
        raise PlaygroundError("--guidance needs a noise-aware classifier: pass --classifier (train_classifier.py)")
    if (guidance > 0 or cfg_scale > 0) and (labels < 0).any():
        raise PlaygroundError("guidance needs requested labels: pass --class K or --per-class")
    if cfg_scale > 0 and not model.cfg.num_classes:
        raise PlaygroundError("--cfg-scale needs a class-conditional model (trained without --unconditional)")
    if condition == "auto":
        condition = "no" if guidance > 0 else "yes"
    cfg = model.cfg
    gen = torch.Generator().manual_seed(seed)
    total = len(labels) * (diffusion.T if sampler == "ddpm" else len(diffusion.ddim_timesteps(steps)))
    bar = tqdm(total=total, desc=f"{sampler} sampling", unit="step", disable=None if progress else True,
               dynamic_ncols=True)
    out, traj = [], []
    for start in range(0, len(labels), batch_size):
        want = labels[start:start + batch_size].to(device)
        x_T = torch.randn(len(want), cfg.in_channels, cfg.image_size, cfg.image_size, generator=gen).to(device)
        y = None
        if cfg.num_classes and condition == "yes":
            y = torch.where(want < 0, torch.full_like(want, cfg.num_classes), want)
        with autocast(x_T.device, precision):
            x, tr = diffusion.sample(model, x_T, sampler=sampler, steps=steps, eta=eta, y=y, cond_y=want.clamp(min=0),
                                     cfg_scale=cfg_scale, classifier=classifier, guidance=guidance, generator=gen,
                                     trajectory_every=trajectory_every, progress=bar)
        out.append(x.cpu())
        traj.append([t.cpu() for t in tr])
    bar.close()
    trajectory = [torch.cat([t[i] for t in traj]) for i in range(len(traj[0]))] if trajectory_every else []
    return torch.cat(out), trajectory


def requested_labels(n, klass=None, per_class=False):
    if klass is not None:
        return torch.full((n,), klass)
    if per_class:  # one row of n // 10 images per digit
        return torch.arange(10).repeat_interleave((n + 9) // 10)[:n]
    return torch.full((n,), -1)


def main(argv=None):
    p = ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="checkpoint.pt written by train.py")
    p.add_argument("--n", type=positive_int, default=64, help="number of images")
    p.add_argument("--sampler", choices=("ddpm", "ddim"), default="ddim")
    p.add_argument("--steps", type=positive_int, default=50, help="DDIM steps (ddpm always uses all T)")
    p.add_argument("--eta", type=non_negative_float, default=0.0, help="DDIM noise (0 = deterministic)")
    p.add_argument("--class", dest="klass", type=int, default=None, help="request this digit for every image")
    p.add_argument("--per-class", action="store_true", help="request digits 0..9, n/10 each (one grid row each)")
    p.add_argument("--guidance", type=non_negative_float, default=0.0, help="classifier guidance scale s")
    p.add_argument("--classifier", type=Path, default=None, help="train_classifier.py checkpoint for --guidance")
    p.add_argument("--cfg-scale", type=non_negative_float, default=0.0, help="classifier-free guidance weight w")
    p.add_argument("--condition", choices=("auto", "yes", "no"), default="auto",
                   help="give the UNet the requested label (auto: yes unless classifier guidance is on)")
    p.add_argument("--no-ema", action="store_true", help="use the raw weights instead of the EMA")
    p.add_argument("--batch-size", type=positive_int, default=250)
    p.add_argument("--nrow", type=positive_int, default=None, help="grid columns (default 10 per class, else 8)")
    p.add_argument("--output", type=Path, required=True, help=".png grid or .npz (uint8 images + labels)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the initial noise")
    p.add_argument("--device", choices=DEVICES, default="auto", help="auto = cuda when present, else cpu (the noise comes from a CPU generator, so a seed gives the same noise anywhere)")
    p.add_argument("--threads", type=positive_int, default=2)
    p.add_argument("--precision", choices=PRECISIONS, default="bf16",
                   help="autocast precision of the networks (bf16: ~1.6x faster sampling on this CPU)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the UNet first (~1 min, then ~10-15%% faster steps; pays off from ~5,000 images)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.output.suffix not in (".png", ".npz"):
        raise PlaygroundError(f"--output must end in .png or .npz, got '{args.output.name}'")
    if args.klass is not None and not 0 <= args.klass <= 9:
        raise PlaygroundError(f"--class must be a digit 0..9, got {args.klass}")
    check_output_file(args.output)  # before minutes of sampling, not after
    model, diffusion, config = load_trained(args.checkpoint, ema=not args.no_ema, map_location=device)
    if args.sampler == "ddim" and args.steps > diffusion.T:
        raise PlaygroundError(f"--steps {args.steps} is more than the model's T = {diffusion.T} diffusion steps; "
                              f"pass --steps {diffusion.T} or fewer")
    if args.compile:
        model = compile_unet(model)
    classifier = load_classifier(args.classifier, device) if args.classifier else None
    check_match(classifier, config)
    labels = requested_labels(args.n, args.klass, args.per_class)
    t0 = time.time()
    x, _ = generate(model, diffusion, labels, args.sampler, args.steps, args.eta, args.condition, args.cfg_scale,
                    classifier, args.guidance, args.batch_size, args.seed, precision=args.precision)
    seconds = time.time() - t0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.output.suffix == ".npz":
        np.savez_compressed(args.output, images=to_uint8(x).numpy(), labels=labels.numpy(), seconds=seconds,
                            sampler=args.sampler, steps=args.steps if args.sampler == "ddim" else diffusion.T,
                            guidance=args.guidance, cfg_scale=args.cfg_scale)
    else:
        nrow = args.nrow or ((args.n + 9) // 10 if args.per_class else 8)
        save_image_grid((x + 1) / 2, args.output, nrow=nrow)
    print(f"wrote {args.output} ({args.n} images, {seconds:.1f} s, {args.sampler}"
          f"{'' if args.sampler == 'ddpm' else f'-{args.steps}'})")


if __name__ == "__main__":
    main_guard(main)()
