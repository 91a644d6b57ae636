"""Figures of the BYOL README from the run folder (metrics.jsonl, checkpoint.pt) and evaluate.py's results JSON.

    python self-supervised-learning/byol/plot.py            # reads runs/byol/ and results/byol.json

Writes into self-supervised-learning/byol/figures/:
- training.png      pre-training loss, the k-NN monitor and the collapse check over training
- accuracy.png      linear probe / k-NN / fine-tuning accuracies, BYOL vs random weights, raw-pixel line
- label_fraction.png  fine-tuned test accuracy vs the fraction of labels, BYOL vs random init
- views.png         a few training images and their two augmented views
- feature_map.png   t-SNE of 2,000 test images' features, BYOL vs random weights, coloured by class
A figure whose input is missing is skipped with a note.
"""
from pathlib import Path

import numpy as np
import torch

from augment import byol_views, two_views
from evaluate import DEFAULT_OUTPUT, encode, encoders_from_checkpoint
from shared.cli import ArgumentParser, main_guard, positive_int, read_metrics
from shared.data import CIFAR10_CLASSES, load_image_dataset
from shared.errors import PlaygroundError
from shared.plotting import image_grid, plt, save_figure

HERE = Path(__file__).resolve().parent
PUBLISHED = {"solo-learn ResNet-18, 1000 epochs": 0.926, "ResNet-18, ~100 epochs": 0.83}


def get_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--run", type=Path, default=Path("runs") / "byol", help="train.py's run folder")
    p.add_argument("--results", type=Path, default=DEFAULT_OUTPUT, help="evaluate.py's results JSON")
    p.add_argument("--out", type=Path, default=HERE / "figures")
    p.add_argument("--map-points", type=positive_int, default=2000, help="test images in the t-SNE map")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--threads", type=positive_int, default=2)
    return p.parse_args(argv)


def training_figure(run: Path, out: Path):
    rows = read_metrics(run / "metrics.jsonl")
    if not rows:
        print(f"skip training.png: no {run / 'metrics.jsonl'}")
        return
    train = [r for r in rows if "loss" in r]
    knn = [r for r in rows if "knn_accuracy" in r]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    axes[0].plot([r["step"] for r in train], [r["loss"] for r in train])
    axes[0].set(xlabel="step", ylabel="loss (2 - 2cos, both views summed)", title="pre-training loss")
    axes[1].plot([r["step"] for r in knn], [100 * r["knn_accuracy"] for r in knn], "o-")
    if knn and knn[0]["step"] == 0:
        axes[1].axhline(100 * knn[0]["knn_accuracy"], color="C1", ls="--", label="random weights (step 0)")
    axes[1].axhline(10, color="gray", ls=":", label="chance")
    axes[1].set(xlabel="step", ylabel="k-NN accuracy (%)", title="k-NN monitor (k=200, 10k train / 2k test)")
    axes[1].legend()
    axes[2].plot([r["step"] for r in train], [r["proj_std"] for r in train], label="std of normalized projections")
    if train:
        axes[2].axhline(train[0]["proj_std_unit_sphere"], color="gray", ls="--", label="1/sqrt(dim): spread over the sphere")
    axes[2].axhline(0, color="red", ls=":", label="0: collapse")
    axes[2].set(xlabel="step", ylabel="mean per-dimension std", title="collapse check")
    axes[2].legend()
    save_figure(fig, out / "training.png")


def finetune_keys(results: dict) -> list:
    """[(label fraction, results key)] of the fine-tuning runs, smallest fraction first."""
    return sorted((float(k[len("finetune_"):]), k) for k in results["byol"] if k.startswith("finetune_"))


def accuracy_figure(results: dict, out: Path):
    metrics = [("linear probe", lambda r: r["linear_probe"]["accuracy"]), ("k-NN (k=200)", lambda r: r["knn"])]
    for fraction, key in finetune_keys(results):
        metrics.append((f"fine-tune, {fraction:.0%} labels", lambda r, key=key: r[key]["accuracy"]))
    x = np.arange(len(metrics))
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, (init, color) in enumerate((("byol", "C0"), ("random", "C1"))):
        values = [100 * f(results[init]) for _, f in metrics]
        bars = ax.bar(x + (i - 0.5) * 0.38, values, 0.38, label=f"{init} weights" if init == "random" else "BYOL weights", color=color)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.axhline(100 * results["raw_pixels"]["linear_probe"]["accuracy"], color="gray", ls="--", label="linear probe on raw pixels")
    ax.axhline(10, color="gray", ls=":", label="chance")
    ax.set_xticks(x, [name for name, _ in metrics])
    ax.set(ylabel="CIFAR-10 test accuracy (%)", ylim=(0, 100),
           title=f"same encoder, BYOL vs random weights ({results['pretrain_steps']} pre-training steps)")
    ax.legend(loc="upper left")
    save_figure(fig, out / "accuracy.png")


def label_fraction_figure(results: dict, out: Path):
    keys = finetune_keys(results)
    if not keys:
        print("skip label_fraction.png: no fine-tuning results")
        return
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for init, label in (("byol", "BYOL init"), ("random", "random init")):
        ax.plot([100 * f for f, _ in keys], [100 * results[init][k]["accuracy"] for _, k in keys], "o-", label=label)
    ax.axhline(100 * results["byol"]["linear_probe"]["accuracy"], color="C0", ls=":", label="BYOL linear probe, 100% labels")
    ax.set_xscale("log")
    ax.set(xlabel="labelled training images (%)", ylabel="test accuracy (%)", title="fine-tuning with few labels")
    ax.legend()
    save_figure(fig, out / "label_fraction.png")


def views_figure(out: Path, data_dir, n=8):
    images, _ = load_image_dataset("cifar10", train=True, data_dir=data_dir)
    images = images[:n]
    v1, v2 = two_views(images, byol_views(), torch.Generator().manual_seed(0))
    grid = image_grid(torch.cat([images.float() / 255, v1, v2]), nrow=n)
    fig, ax = plt.subplots(figsize=(n * 0.9, 3.2))
    ax.imshow(grid, interpolation="nearest")
    ax.set_yticks([18, 52, 86], ["original", "view 1\n(blur p=1)", "view 2\n(blur 0.1,\nsolarize 0.2)"])
    ax.set_xticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("BYOL's two augmented views of CIFAR-10 training images")
    save_figure(fig, out / "views.png")


def feature_map_figure(checkpoint: Path, out: Path, data_dir, n: int):
    from sklearn.manifold import TSNE

    byol_encoder, random_encoder, _, _ = encoders_from_checkpoint(checkpoint)
    images, labels = load_image_dataset("cifar10", train=False, data_dir=data_dir)
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:n]
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, encoder, title in ((axes[0], byol_encoder, "BYOL weights"), (axes[1], random_encoder, "random weights")):
        f = encode(encoder, images[pick], torch.device("cpu")).numpy()
        f = (f - f.mean(0)) / (f.std(0) + 1e-6)
        xy = TSNE(n_components=2, init="pca", perplexity=30, random_state=0).fit_transform(f)
        scatter = ax.scatter(xy[:, 0], xy[:, 1], c=labels[pick].numpy(), cmap="tab10", s=5, vmin=-0.5, vmax=9.5)
        ax.set(title=f"t-SNE of {n} test images' features, {title}", xticks=[], yticks=[])
    cbar = fig.colorbar(scatter, ax=axes, ticks=range(10))
    cbar.ax.set_yticklabels(CIFAR10_CLASSES)
    save_figure(fig, out / "feature_map.png")


def main(argv=None):
    import json

    args = get_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    training_figure(args.run, args.out)
    if args.results.exists():
        try:
            results = json.loads(args.results.read_text())
        except ValueError as e:
            raise PlaygroundError(f"{args.results} is not valid JSON ({e}); run evaluate.py again") from None
        accuracy_figure(results, args.out)
        label_fraction_figure(results, args.out)
    else:
        print(f"skip accuracy.png, label_fraction.png: no {args.results} (run evaluate.py first)")
    views_figure(args.out, args.data_dir)
    checkpoint = args.run / "checkpoint.pt"
    if checkpoint.exists():
        feature_map_figure(checkpoint, args.out, args.data_dir, args.map_points)
    else:
        print(f"skip feature_map.png: no {checkpoint}")
    print(f"figures in {args.out}")


if __name__ == "__main__":
    main_guard(main)()
