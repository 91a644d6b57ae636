"""Does BYOL beat random weights? The same encoder, BYOL weights vs the random weights BYOL started from (same seed),
measured three ways in one run, with a raw-pixel reference row:

1. linear probe: a logistic regression on frozen features of the 50,000 un-augmented training images (L2 penalty
   picked on 5,000 held-out training images), accuracy on the 10,000 test images;
2. k-NN (k = 200, cosine similarity, votes weighted by exp(similarity / 0.1)) on the same features;
3. semi-supervised fine-tuning of the whole encoder + a linear head on 1% and 10% of the training labels
   (class-balanced, fixed seed), crop + flip augmentation, the same schedule for both initialisations.

    python self-supervised-learning/byol/evaluate.py --checkpoint runs/byol/checkpoint.pt
    python self-supervised-learning/byol/evaluate.py --checkpoint runs/byol/checkpoint.pt --quick   # small subsets
"""
import math
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from augment import crop_flip
from model import build_encoder
from shared.checkpoint import read_checkpoint
from shared.cli import (PRECISIONS, ArgumentParser, autocast, check_output_file, main_guard, positive_float,
                        positive_int, resolve_device, seed_int)
from shared.data import load_image_dataset
from shared.errors import PlaygroundError
from shared.plotting import save_json

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "results" / "byol.json"
PROBE_PENALTIES = (1e-5, 1e-4, 1e-3, 1e-2)


def load_cifar(data_dir=None):
    return load_image_dataset("cifar10", train=True, data_dir=data_dir), load_image_dataset("cifar10", train=False, data_dir=data_dir)


@torch.no_grad()
def encode(encoder, images_uint8, device, precision="bf16", batch_size=1000):
    """Features (float32) of un-augmented images, the encoder in eval mode (BatchNorm running statistics)."""
    encoder.eval()
    out = []
    for i in range(0, len(images_uint8), batch_size):
        x = images_uint8[i:i + batch_size].to(device).float() / 255
        if device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, precision):
            out.append(encoder(x).float())
    return torch.cat(out)


@torch.no_grad()
def knn_accuracy(train_f, train_y, test_f, test_y, k=200, temperature=0.1, n_classes=10, chunk=1000) -> float:
    """Weighted k-NN (Wu et al. 2018, the monitor of most self-supervised papers): each test point's k most cosine-
    similar training points vote for their class with weight exp(similarity / temperature)."""
    train_f, test_f = F.normalize(train_f, dim=1), F.normalize(test_f, dim=1)
    k = min(k, len(train_f))
    correct = 0
    for i in range(0, len(test_f), chunk):
        sim, idx = (test_f[i:i + chunk] @ train_f.T).topk(k, dim=1)
        votes = torch.zeros(len(sim), n_classes, device=sim.device)
        votes.scatter_add_(1, train_y[idx], (sim / temperature).exp())
        correct += votes.argmax(1).eq(test_y[i:i + chunk]).sum().item()
    return correct / len(test_f)


def fit_logistic(x, y, penalty, n_classes=10, iterations=100):
    """Multinomial logistic regression, mean cross-entropy + penalty |W|^2, full-batch L-BFGS. x: standardized."""
    linear = nn.Linear(x.shape[1], n_classes).to(x.device)
    nn.init.zeros_(linear.weight), nn.init.zeros_(linear.bias)
    opt = torch.optim.LBFGS(linear.parameters(), lr=1, max_iter=iterations, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-6, tolerance_change=1e-9)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(linear(x), y) + penalty * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return linear


@torch.no_grad()
def accuracy(linear, x, y) -> float:
    return linear(x).argmax(1).eq(y).float().mean().item()


def linear_probe(train_f, train_y, test_f, test_y, n_val=5000, seed=0, penalties=PROBE_PENALTIES) -> dict:
    """Standardize with the training statistics, pick the penalty on n_val held-out training rows, refit on all."""
    mean, std = train_f.mean(0), train_f.std(0).clamp_min(1e-6)
    train_f, test_f = (train_f - mean) / std, (test_f - mean) / std
    order = torch.randperm(len(train_f), generator=torch.Generator().manual_seed(seed)).to(train_f.device)
    n_val = min(n_val, len(train_f) // 5)
    val, fit = order[:n_val], order[n_val:]
    val_acc = {c: accuracy(fit_logistic(train_f[fit], train_y[fit], c), train_f[val], train_y[val]) for c in penalties}
    best = max(penalties, key=lambda c: (val_acc[c], c))  # ties: the stronger penalty
    final = fit_logistic(train_f, train_y, best)
    return {"accuracy": accuracy(final, test_f, test_y), "train_accuracy": accuracy(final, train_f, train_y),
            "penalty": best, "val_accuracy": {str(c): a for c, a in val_acc.items()}}


def balanced_subset(labels, fraction, seed, n_classes=10):
    """The same fraction of every class, drawn with a fixed seed."""
    g = torch.Generator().manual_seed(seed)
    per_class = max(1, round(fraction * len(labels) / n_classes))
    picked = []
    for c in range(n_classes):
        idx = (labels == c).nonzero().flatten()
        picked.append(idx[torch.randperm(len(idx), generator=g)[:per_class]])
    return torch.cat(picked)


class Classifier(nn.Module):
    def __init__(self, encoder, n_classes=10):
        super().__init__()
        self.encoder, self.head = encoder, nn.Linear(encoder.dim, n_classes)

    def forward(self, x):
        return self.head(self.encoder(x))


def finetune(encoder, images, labels, test_x, test_y, args, device, seed, desc="fine-tune") -> dict:
    """Train encoder + a linear head on (images, labels) with SGD + nesterov, cosine schedule; test accuracy."""
    torch.manual_seed(seed)  # the head's initial weights: the same for both encoders
    model = Classifier(encoder, n_classes=10).to(device)
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    others = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": args.finetune_weight_decay},
                           {"params": others, "weight_decay": 0.0}], lr=args.finetune_lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / args.finetune_steps)))
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in tqdm(range(args.finetune_steps), desc=desc, leave=False, dynamic_ncols=True):
        idx = torch.randint(0, len(images), (min(args.finetune_batch_size, len(images)),), generator=g)
        x = crop_flip(images[idx], g).to(device)
        if device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, args.precision):
            loss = F.cross_entropy(model(x).float(), labels[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    features = encode(model.encoder, test_x, device, args.precision)
    with torch.no_grad():
        logits = model.head(features)
    return {"accuracy": logits.argmax(1).eq(test_y.to(device)).float().mean().item(), "n_labels": len(images)}


def get_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", type=Path, required=True, help="checkpoint.pt written by train.py")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results JSON")
    p.add_argument("--label-fractions", type=positive_float, nargs="+", default=[0.01, 0.1],
                   help="fractions of the training labels for the fine-tuning runs")
    p.add_argument("--finetune-steps", type=positive_int, default=1500,
                   help="steps per fine-tuning run (~2,800 images/s on the 2-core CPU: ~70 s per run)")
    p.add_argument("--finetune-batch-size", type=positive_int, default=128)
    p.add_argument("--finetune-lr", type=positive_float, default=0.05)
    p.add_argument("--finetune-weight-decay", type=positive_float, default=5e-4)
    p.add_argument("--skip-finetune", action="store_true", help="only the linear probe and k-NN")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the label subsets and the fine-tuning runs")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--threads", type=positive_int, default=2)
    p.add_argument("--precision", choices=PRECISIONS, default="bf16")
    p.add_argument("--quick", action="store_true", help="2,000 train / 1,000 test images, 20 fine-tuning steps")
    args = p.parse_args(argv)
    if any(f > 1 for f in args.label_fractions):
        raise PlaygroundError(f"--label-fractions {args.label_fractions} must be at most 1")
    if args.quick:
        args.finetune_steps = min(args.finetune_steps, 20)
    check_output_file(args.output)
    return args


def encoders_from_checkpoint(path):
    """(BYOL's online encoder, the random encoder BYOL started from, the run's config)."""
    state = read_checkpoint(path)
    config = state.get("config", {})
    if "encoder" not in config or not any(k.startswith("online.encoder.") for k in state["model"]):
        raise PlaygroundError(f"{path} is not a BYOL checkpoint; pass the checkpoint.pt written by byol/train.py")
    torch.manual_seed(config["seed"])  # train.py builds the encoder first after seeding: these are its initial weights
    random_encoder = build_encoder(config["encoder"], config["width"])
    byol_encoder = build_encoder(config["encoder"], config["width"])
    prefix = "online.encoder."
    byol_encoder.load_state_dict({k[len(prefix):]: v for k, v in state["model"].items() if k.startswith(prefix)})
    return byol_encoder, random_encoder, config, state["step"]


def main(argv=None):
    args = get_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    byol_encoder, random_encoder, config, step = encoders_from_checkpoint(args.checkpoint)
    (train_x, train_y), (test_x, test_y) = load_cifar(args.data_dir)
    if args.quick:
        # random subsets: the image folders are decoded class by class, so the first rows are all airplanes
        keep_train, keep_test = (torch.randperm(n, generator=torch.Generator().manual_seed(0))[:k]
                                 for n, k in ((len(train_x), 2000), (len(test_x), 1000)))
        train_x, train_y, test_x, test_y = train_x[keep_train], train_y[keep_train], test_x[keep_test], test_y[keep_test]
    times, results = {}, {"checkpoint": str(args.checkpoint), "pretrain_steps": step, "pretrain_config": config,
                          "n_train": len(train_x), "n_test": len(test_x), "args": {k: str(v) for k, v in vars(args).items()}}
    ty, sy = train_y.to(device), test_y.to(device)

    t0 = time.time()
    flat = lambda x: (x.float() / 255).flatten(1).to(device)  # noqa: E731
    results["raw_pixels"] = {"linear_probe": linear_probe(flat(train_x), ty, flat(test_x), sy)}
    times["raw_pixels_probe_s"] = time.time() - t0
    print(f"raw pixels: linear probe {results['raw_pixels']['linear_probe']['accuracy']:.2%}")

    for name, encoder in (("byol", byol_encoder), ("random", random_encoder)):
        encoder = encoder.to(device)
        if device.type == "cpu":
            encoder = encoder.to(memory_format=torch.channels_last)
        t0 = time.time()
        train_f, test_f = encode(encoder, train_x, device, args.precision), encode(encoder, test_x, device, args.precision)
        times[f"{name}_features_s"] = time.time() - t0
        t0 = time.time()
        row = {"linear_probe": linear_probe(train_f, ty, test_f, sy), "knn": knn_accuracy(train_f, ty, test_f, sy)}
        times[f"{name}_probe_knn_s"] = time.time() - t0
        print(f"{name}: linear probe {row['linear_probe']['accuracy']:.2%}, k-NN {row['knn']:.2%}")
        results[name] = row
    if not args.skip_finetune:
        initial = {"byol": byol_encoder.state_dict(), "random": random_encoder.state_dict()}
        for fraction in args.label_fractions:
            subset = balanced_subset(train_y, fraction, args.seed)
            for name in ("byol", "random"):
                encoder = build_encoder(config["encoder"], config["width"])
                encoder.load_state_dict(initial[name])
                t0 = time.time()
                row = finetune(encoder, train_x[subset], train_y[subset], test_x, test_y, args, device, args.seed,
                               desc=f"fine-tune {name} {fraction:.0%}")
                times[f"{name}_finetune_{fraction:g}_s"] = time.time() - t0
                results[name][f"finetune_{fraction:g}"] = row
                print(f"{name}: fine-tuned on {fraction:.0%} of the labels ({row['n_labels']} images): {row['accuracy']:.2%}")
    results["times_s"] = times
    save_json(results, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main_guard(main)()
