"""The README's figures, from a training run, the evaluation suite's sample cache and its result tables.

    python gan/ddpm/plot.py --run runs/ddpm --eval-dir runs/ddpm_eval     # writes gan/ddpm/figures/

- loss.png: training loss; samples_unconditional.png, samples_classifier_guided.png (one row per digit),
  samples_cfg.png: grids from the evaluated sample sets; trajectory.png: x_t of a few DDIM-50 samples
  from noise to digit (made here, seconds); steps.png: Frechet distance vs sampling steps;
  guidance.png: guidance scale vs class accuracy and within-class diversity (classifier guidance of the
  unconditional and of the conditional UNet, classifier-free guidance).
"""
import argparse
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from diffusion import load_trained
from sample import generate
from shared.cli import ArgumentParser, main_guard, non_negative_float, read_metrics, resolve_device
from shared.errors import PlaygroundError
from shared.plotting import image_grid, save_figure, save_image_grid

HERE = Path(__file__).resolve().parent


def grid_from_npz(path, out, n_per_class=None, nrow=10, title=None):
    d = np.load(path)
    images, labels = d["images"], d["labels"]
    if n_per_class:  # one row per requested digit
        idx = np.concatenate([np.flatnonzero(labels == c)[:n_per_class] for c in range(10)])
        images, nrow = images[idx], n_per_class
    else:
        images = images[:64]
    save_image_grid(images, out, nrow=nrow, title=title)


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, default=Path("runs/ddpm"), help="train.py run folder")
    p.add_argument("--eval-dir", type=Path, default=Path("runs/ddpm_eval"), help="evaluate.py --suite sample cache")
    p.add_argument("--results-dir", type=Path, default=HERE / "results")
    p.add_argument("--figures", "--out", dest="figures", type=Path, default=HERE / "figures",
                   help="folder for the PNGs")
    p.add_argument("--guidance-scale", type=non_negative_float, default=None,
                   help="classifier-guidance grid scale (default: the smallest with >= 95%% class accuracy)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(2)
    fig_dir = args.figures
    ckpt = args.run / "checkpoint.pt"
    if not ckpt.exists():
        raise PlaygroundError(f"no checkpoint in {args.run}; train first (python gan/ddpm/train.py --out {args.run})")

    rows = read_metrics(args.run / "metrics.jsonl")
    fig, ax = plt.subplots(figsize=(5, 3))
    steps, loss = [r["step"] for r in rows], [r["loss"] for r in rows]
    ax.plot(steps, loss, alpha=0.4, label="per 50 steps")
    k = 10
    if len(loss) > k:
        ax.plot(steps[k - 1:], np.convolve(loss, np.ones(k) / k, mode="valid"), label=f"{k}-point mean")
    ax.set(xlabel="step", ylabel="eps-prediction MSE", title="training loss", yscale="log")
    ax.legend()
    save_figure(fig, fig_dir / "loss.png", data={"step": steps, "loss": loss})

    # denoising trajectory: predicted x_t every 5th DDIM step for 8 samples, last column = the digit
    model, diffusion, _ = load_trained(ckpt, map_location=resolve_device(args.device))
    g = torch.Generator().manual_seed(7)
    labels = torch.full((8,), -1)
    x, traj = generate(model, diffusion, labels, "ddim", 50, seed=7, trajectory_every=5, progress=False)
    x_T = torch.randn(8, 1, 28, 28, generator=g)  # the same noise generate() drew (same seed, first draw)
    frames = torch.stack([x_T] + traj, 1)  # [8, frames, 1, 28, 28]
    grid = image_grid(((frames.reshape(-1, 1, 28, 28) + 1) / 2).clamp(0, 1), nrow=frames.shape[1])
    fig, ax = plt.subplots(figsize=(frames.shape[1] * 0.6, 8 * 0.6))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title("DDIM-50 trajectory: x_T (left) ... x_0 (right), every 5th step")
    ax.axis("off")
    save_figure(fig, fig_dir / "trajectory.png")

    ev = args.eval_dir
    if (ev / "uncond_ddim50.npz").exists():
        grid_from_npz(ev / "uncond_ddim50.npz", fig_dir / "samples_unconditional.png", nrow=8,
                      title="unconditional, DDIM-50 (EMA)")
    guidance = json.loads((args.results_dir / "guidance.json").read_text()) \
        if (args.results_dir / "guidance.json").exists() else []
    clf_rows = [r for r in guidance if r["method"] == "classifier"]
    cfg_rows = [r for r in guidance if r["method"] == "classifier-free"]
    cond_rows = [r for r in guidance if r["method"] == "classifier+conditional"]
    if clf_rows:
        s = args.guidance_scale
        if s is None:
            good = [r["scale"] for r in clf_rows if r["requested_accuracy"] >= 0.95]
            s = min(good) if good else max(r["scale"] for r in clf_rows)
        grid_from_npz(ev / f"classifier_guidance_{s:g}.npz", fig_dir / "samples_classifier_guided.png",
                      n_per_class=10, title=f"classifier guidance s={s:g}, one row per digit")
    if cond_rows:  # the paper's headline setting (ADM-G): conditional UNet + classifier guidance
        good = [r["scale"] for r in cond_rows if r["requested_accuracy"] >= 0.95]
        s = min(good) if good else max(r["scale"] for r in cond_rows)
        grid_from_npz(ev / f"cond_classifier_guidance_{s:g}.npz", fig_dir / "samples_conditional_guided.png",
                      n_per_class=10, title=f"conditional UNet + classifier guidance s={s:g} (ADM-G)")
    if cfg_rows:
        w = max(r["scale"] for r in cfg_rows)
        grid_from_npz(ev / f"cfg_{w:g}.npz", fig_dir / "samples_cfg.png", n_per_class=10,
                      title=f"classifier-free guidance w={w:g}")

    steps_rows = json.loads((args.results_dir / "steps.json").read_text()) \
        if (args.results_dir / "steps.json").exists() else []
    if steps_rows:
        fig, ax = plt.subplots(figsize=(5, 3))
        xs = [r["steps"] for r in steps_rows]
        ax.plot(xs, [r["frechet_clf"] for r in steps_rows], "o-", label=f"DDIM (n={steps_rows[0]['n']})")
        ddpm = json.loads((args.results_dir / "ddpm.json").read_text()) \
            if (args.results_dir / "ddpm.json").exists() else []
        for r in ddpm:
            if r.get("sampler") == "ddpm":
                ax.plot([r["steps"]], [r["frechet_clf"]], "s", color="C1", label=f"DDPM ancestral (n={r['n']})")
            if r.get("sampler") == "ddim":
                ax.plot([r["steps"]], [r["frechet_clf"]], "^", color="C2", label=f"DDIM-50 (n={r['n']})")
        ax.set(xscale="log", xlabel="sampling steps", ylabel="Frechet distance (judge features)",
               title="sample quality vs sampling steps")
        ax.legend()
        save_figure(fig, fig_dir / "steps.png", data={"steps": steps_rows, "ddpm": ddpm})

    if guidance:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
        for rows_, name, marker in ((clf_rows, "classifier guidance, unconditional UNet (s)", "o-"),
                                    (cond_rows, "classifier guidance, conditional UNet (s)", "^-"),
                                    (cfg_rows, "classifier-free (weight w)", "s--")):
            if not rows_:
                continue
            sc = [r["scale"] for r in rows_]
            axes[0].plot(sc, [r["requested_accuracy"] for r in rows_], marker, label=name)
            axes[1].plot(sc, [r["within_class_spread"] for r in rows_], marker, label=name)
        axes[0].axhline(0.95, color="gray", ls=":", lw=1)
        axes[0].set(xlabel="guidance scale", ylabel="share classified as requested", title="fidelity")
        axes[1].axhline(1.0, color="gray", ls=":", lw=1)
        axes[1].set(xlabel="guidance scale", ylabel="within-class spread / test's", title="diversity")
        axes[0].legend()
        save_figure(fig, fig_dir / "guidance.png", data=guidance)
    print(f"figures in {fig_dir}")


if __name__ == "__main__":
    main_guard(main)()
