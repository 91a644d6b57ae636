"""Figures of the CLIP README from the run folders and evaluate.py's JSON files.

    python computer-vision/clip/plot.py        # reads runs/clip-*/ and computer-vision/clip/results/*.json

Writes into computer-vision/clip/figures/:
- similarity.png   the image-text similarity matrix of ten test images and their captions, at init and trained
- training.png     contrastive loss, learned temperature (logit scale) and the zero-shot monitor over training
- confusion.png    zero-shot confusion matrices (held-out templates, prompt ensembling)
- retrieval.png    sentences and their top test images, among them pairs never seen in training
- embedding_map.png  t-SNE of image and text embeddings in the shared space
"""
import json
from pathlib import Path

import numpy as np
import torch

from captions import CIFAR10_CLASSES, CIFAR_NAMES, CIFAR_TEMPLATES_HELDOUT, CaptionData
from evaluate import encode_images, encode_texts
from model import CaptionTokenizer, build, config_from_dict, load
from retrieve import search, test_images
from shared.checkpoint import read_checkpoint
from shared.cli import ArgumentParser, main_guard, positive_int, read_metrics
from shared.errors import PlaygroundError
from shared.plotting import image_grid, plt, save_figure
from shared.seeding import seed_everything

HERE = Path(__file__).resolve().parent
RUNS = ("mnist", "cifar10", "mnist-pairs")


def checkpoint_of(runs: Path, dataset: str) -> Path:
    return runs / f"clip-{dataset}" / "checkpoint.pt"


def untrained_twin(checkpoint):
    """The same architecture with the run's seed's initial weights: the 'before training' model."""
    state = read_checkpoint(checkpoint)
    cfg = config_from_dict(state["extra"]["clip_config"])
    tokenizer = CaptionTokenizer.from_str(state["extra"]["tokenizer"], cfg.context_length)
    seed_everything(state["config"]["seed"])
    return build(cfg, tokenizer).eval()


@torch.no_grad()
def similarity_figure(runs: Path, out: Path, data_dir):
    ckpt = checkpoint_of(runs, "cifar10")
    if not ckpt.exists():
        ckpt = checkpoint_of(runs, "mnist")
    model, tokenizer, preprocess = load(ckpt)
    data = CaptionData("cifar10" if "cifar10" in str(ckpt) else "mnist", data_dir=data_dir)
    images, labels = data.test_singles()
    first = [int(torch.nonzero(labels == c)[0]) for c in range(10)]
    names = [n[0] for n in CIFAR_NAMES] if data.dataset == "cifar10" else [str(d) for d in range(10)]
    template = CIFAR_TEMPLATES_HELDOUT[0] if data.dataset == "cifar10" else "a blurry picture of a {}"
    captions = [template.format(n) for n in names]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.6))
    for ax, m, title in ((axes[0], untrained_twin(ckpt), "at initialization"), (axes[1], model, "after training")):
        device = torch.device("cpu")
        sim = (encode_images(m, preprocess, images[first], device) @ encode_texts(m, tokenizer, captions, device).T).numpy()
        im = ax.imshow(sim, cmap="viridis")
        ax.set_xticks(range(10), captions, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(10), [f"image of a {n}" for n in names], fontsize=7)
        for i in range(10):
            for j in range(10):
                ax.text(j, i, f"{sim[i, j]:.2f}", ha="center", va="center", fontsize=5.5,
                        color="white" if sim[i, j] < sim.max() * 0.6 else "black")
        ax.set_title(f"cosine similarity, {title}")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"{data.dataset}: ten test images x ten captions in a held-out template (the diagonal should win)")
    save_figure(fig, out / "similarity.png")


def training_figure(runs: Path, out: Path):
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for dataset in RUNS:
        rows = read_metrics(runs / f"clip-{dataset}" / "metrics.jsonl")
        if not rows:
            continue
        loss = [(r["step"], r["loss"]) for r in rows if "loss" in r]
        scale = [(r["step"], r["logit_scale"]) for r in rows if "logit_scale" in r]
        monitor_key = "pair_zero_shot" if dataset == "mnist-pairs" else "zero_shot"
        acc = [(r["step"], 100 * r[monitor_key]) for r in rows if monitor_key in r]
        for ax, series in zip(axes, (loss, scale, acc)):
            if series:
                ax.plot(*zip(*series), label=dataset)
    axes[0].set(title="symmetric contrastive loss", xlabel="step", ylabel="loss", yscale="log")
    axes[1].set(title="learned temperature: exp(logit_scale)", xlabel="step", ylabel="logit scale")
    axes[1].axhline(100, color="grey", ls=":", lw=1)
    axes[1].text(0, 97, "clamp at 100", fontsize=8, color="grey", va="top")
    axes[1].axhline(1 / 0.07, color="grey", ls="--", lw=1)
    axes[1].text(0, 1 / 0.07 + 2, "init 1/0.07", fontsize=8, color="grey")
    axes[2].set(title="zero-shot test accuracy (1,000 images, training templates)", xlabel="step", ylabel="%",
                ylim=(0, 100))
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    save_figure(fig, out / "training.png")


def confusion_figure(results: Path, out: Path):
    panels = []
    for dataset in ("mnist", "cifar10"):
        path = results / f"{dataset}.json"
        if path.exists():
            panels.append((dataset, json.loads(path.read_text())))
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5.5), squeeze=False)
    for ax, (dataset, r) in zip(axes[0], panels):
        m = np.array(r["singles"]["confusion_heldout_ensemble"], dtype=float)
        m = 100 * m / m.sum(1, keepdims=True)
        names = list(CIFAR10_CLASSES) if dataset == "cifar10" else [str(d) for d in range(10)]
        ax.imshow(m, cmap="Blues", vmin=0, vmax=100)
        for i in range(10):
            for j in range(10):
                if m[i, j] >= 0.5:
                    ax.text(j, i, f"{m[i, j]:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if m[i, j] > 50 else "black")
        ax.set_xticks(range(10), names, rotation=45, ha="right")
        ax.set_yticks(range(10), names)
        ax.set(xlabel="predicted", ylabel="true",
               title=f"{dataset}: zero-shot, held-out templates\naccuracy "
                     f"{100 * r['singles']['zero_shot_ensemble_heldout_templates']:.1f}% (rows: % of the class)")
    save_figure(fig, out / "confusion.png")


@torch.no_grad()
def retrieval_figure(runs: Path, out: Path, data_dir, k: int):
    queries = []
    for dataset, texts in (("mnist-pairs", ("a 3 to the left of a 7", "a 7 to the left of a 3", "a nine followed by a two")),
                           ("cifar10", ("a photo of a kitty", "a blurry picture of a boat")),
                           ("mnist", ("a handwritten four",))):
        ckpt = checkpoint_of(runs, dataset)
        if ckpt.exists():
            queries += [(dataset, ckpt, t) for t in texts]
    if not queries:
        return
    fig, axes = plt.subplots(len(queries), 1, figsize=(k * 1.1, 1.6 * len(queries)), squeeze=False)
    cache = {}
    for ax, (dataset, ckpt, text) in zip(axes[:, 0], queries):
        if dataset not in cache:
            model, tokenizer, preprocess = load(ckpt)
            cache[dataset] = (model, tokenizer, preprocess, test_images(read_checkpoint(ckpt)["config"], data_dir)[1])
        model, tokenizer, preprocess, images = cache[dataset]
        idx, _ = search(model, tokenizer, preprocess, images, text, k, torch.device("cpu"))
        ax.imshow(image_grid(images[idx.tolist()]), cmap="gray")
        ax.axis("off")
        held = "  (pair never seen in training)" if text in ("a 3 to the left of a 7", "a 7 to the left of a 3", "a nine followed by a two") else ""
        ax.set_title(f'"{text}"  ({dataset} test set, top {k}){held}', fontsize=9, loc="left")
    save_figure(fig, out / "retrieval.png")


@torch.no_grad()
def embedding_map_figure(runs: Path, out: Path, data_dir, n: int):
    from sklearn.manifold import TSNE  # slow to import: only here

    dataset = "cifar10" if checkpoint_of(runs, "cifar10").exists() else "mnist"
    ckpt = checkpoint_of(runs, dataset)
    if not ckpt.exists():
        return
    model, tokenizer, preprocess = load(ckpt)
    data = CaptionData(dataset, data_dir=data_dir)
    images, labels = data.test_singles()
    images, labels = images[:n], labels[:n]
    img = encode_images(model, preprocess, images, torch.device("cpu")).numpy()
    prompts = data.single_prompts(heldout_templates=True)
    text_labels = np.repeat(np.arange(10), [len(p) for p in prompts])
    txt = encode_texts(model, tokenizer, [p for ps in prompts for p in ps], torch.device("cpu")).numpy()
    xy = TSNE(n_components=2, init="pca", random_state=0, perplexity=30).fit_transform(np.concatenate([img, txt]))
    fig, ax = plt.subplots(figsize=(8, 7))
    cmap = plt.get_cmap("tab10")
    names = data.class_names()
    ax.scatter(*xy[:len(img)].T, c=[cmap(int(c)) for c in labels], s=5, alpha=0.5)
    ax.scatter(*xy[len(img):].T, c=[cmap(int(c)) for c in text_labels], s=60, marker="*", edgecolor="black", lw=0.5)
    for c in range(10):
        ax.scatter([], [], color=cmap(c), label=names[c])
    ax.scatter([], [], marker="*", color="grey", edgecolor="black", s=60, label="caption (held-out template)")
    ax.scatter([], [], marker="o", color="grey", s=8, label="test image")
    ax.legend(fontsize=7, loc="best", ncol=2)
    ax.set(title=f"{dataset}: t-SNE of {n} test-image and {len(txt)} caption embeddings in the shared space",
           xticks=[], yticks=[])
    save_figure(fig, out / "embedding_map.png")


def get_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=Path, default=Path("runs"), help="folder holding the clip-<dataset> run folders")
    p.add_argument("--results", type=Path, default=HERE / "results", help="evaluate.py's JSON files")
    p.add_argument("--out", type=Path, default=HERE / "figures")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("-k", type=positive_int, default=8, help="images per retrieval row")
    p.add_argument("--map-images", type=positive_int, default=1500, help="test images in the t-SNE map")
    p.add_argument("--threads", type=positive_int, default=2)
    return p.parse_args(argv)


def main(argv=None):
    args = get_args(argv)
    torch.set_num_threads(args.threads)
    if not any(checkpoint_of(args.runs, d).exists() for d in RUNS):
        raise PlaygroundError(f"no CLIP run in {args.runs} (looked for clip-{{{','.join(RUNS)}}}/checkpoint.pt); "
                              "train one with computer-vision/clip/train.py or pass --runs")
    args.out.mkdir(parents=True, exist_ok=True)
    training_figure(args.runs, args.out)
    confusion_figure(args.results, args.out)
    similarity_figure(args.runs, args.out, args.data_dir)
    retrieval_figure(args.runs, args.out, args.data_dir, args.k)
    embedding_map_figure(args.runs, args.out, args.data_dir, args.map_images)
    print(f"wrote figures to {args.out}")


if __name__ == "__main__":
    main_guard(main)()
