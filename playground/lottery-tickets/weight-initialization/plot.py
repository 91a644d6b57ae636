"""Figures and the results table from the sweeps train.py wrote.

    python playground/lottery-tickets/weight-initialization/plot.py            # reads runs/zero-init/*/
    python playground/lottery-tickets/weight-initialization/plot.py --only-init-figures   # no runs needed

Writes into this folder: figures/<sweep>_curves.png (training loss and test accuracy, mean +- std over seeds),
figures/<sweep>_ranks.png (stable rank during training), figures/final_accuracy.png (every seed's final test
accuracy per init: the spread across seeds), figures/signal_propagation.png (activation and gradient norms
through the 32-layer plain net at init), figures/zero_matrices.png, and results/<sweep>.json (the numbers).
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from init import INITS, LABELS, hadamard, initialize, zero_matrix
from models import plain_net
from shared.cli import ArgumentParser, main_guard, read_metrics
from shared.data import mnist
from shared.errors import PlaygroundError
from shared.plotting import plt, save_figure, save_json

HERE = Path(__file__).resolve().parent
SWEEPS = {  # sweep folder -> (title, layer whose stable rank is plotted)
    "mlp-mnist": ("MLP 784-784-1024-1024-10 on MNIST", "hidden.2"),
    "resnet-cifar10": ("ResNet-8 (width 16, BatchNorm) on CIFAR-10", "blocks.1.conv1"),
    "plain-mnist": ("32-layer plain ReLU net (no norm, no skips) on MNIST", "hidden.15"),
}
COLORS = {"zero": "#d62728", "kaiming": "#1f77b4", "xavier": "#2ca02c", "orthogonal": "#ff7f0e",
          "normal": "#9467bd", "all_zeros": "#7f7f7f"}
PAPER = {"mlp-mnist": {"zero": 98.39, "kaiming": 98.21}}  # the official notebook, n_h = 2048, 20 epochs


def series(rows, key):
    pts = [(r["step"], r[key]) for r in rows if key in r and r[key] is not None
           and not (key.startswith("srank_delta") and r["step"] == 0)]  # W - W_0 is 0 at step 0 by definition
    return np.array([p[0] for p in pts]), np.array([p[1] for p in pts], dtype=float)


def load_sweep(folder: Path):
    summary = json.loads((folder / "summary.json").read_text())
    runs = {}
    for r in summary["runs"]:
        runs.setdefault(r["init"], []).append(read_metrics(folder / r["init"] / f"seed{r['seed']}" / "metrics.jsonl"))
    return summary, runs


def band(ax, runs_of_init, key, color, label):
    curves = [series(rows, key) for rows in runs_of_init]
    n = min(len(c[0]) for c in curves)
    if n == 0:
        return None
    steps, ys = curves[0][0][:n], np.stack([c[1][:n] for c in curves])
    mean, std = ys.mean(0), ys.std(0)
    ax.plot(steps, mean, color=color, label=label)
    ax.fill_between(steps, mean - std, mean + std, color=color, alpha=0.2, lw=0)
    return {"step": steps, "mean": mean, "std": std}


def plot_curves(name, summary, runs, out_dir):
    title, _ = SWEEPS[name]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    data = {}
    for init_name, rows in runs.items():
        label = f"{LABELS[init_name]} ({summary['table'][init_name]['mean']:.2f} ± {summary['table'][init_name]['std']:.2f}%)"
        data[init_name] = {"train_loss": band(ax_loss, rows, "train_loss", COLORS[init_name], LABELS[init_name]),
                           "test_acc": band(ax_acc, rows, "test_acc", COLORS[init_name], label)}
    ax_loss.axhline(np.log(10), color="k", ls=":", lw=1, label="log 10 (uniform guess)")
    ax_loss.set(xlabel="SGD step", ylabel="training loss (cross-entropy)", title=f"{title}: training loss",
                ylim=(0, max(2.5, np.log(10) + 0.2)))
    ax_acc.set(xlabel="SGD step", ylabel="test accuracy (%)", title="test accuracy (mean ± std over seeds)", ylim=(0, 100))
    ax_acc.axhline(10, color="k", ls=":", lw=1)
    for init_name, acc in PAPER.get(name, {}).items():
        ax_acc.axhline(acc, color=COLORS[init_name], ls="--", lw=0.8, alpha=0.7,
                       label=f"notebook {LABELS[init_name]}: {acc}% (n_h 2048, 20 epochs)")
    ax_loss.legend(loc="best", fontsize=8)
    ax_acc.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8)
    if name == "mlp-mnist":  # the interesting part is the top few points
        inset = ax_acc.inset_axes([0.4, 0.12, 0.56, 0.5])
        top = [k for k in runs if summary["table"][k]["mean"] > 93]
        for init_name in top:
            band(inset, runs[init_name], "test_acc", COLORS[init_name], None)
        finals = [summary["table"][k]["mean"] for k in top]
        inset.set_ylim(min(finals) - 3, max(finals) + 1)
        inset.set_xlim(left=100)
        inset.set_title("zoom", fontsize=8)
        inset.tick_params(labelsize=7)
    save_figure(fig, out_dir / "figures" / f"{name}_curves", data={"sweep": name, "curves": data})


def plot_ranks(name, summary, runs, out_dir):
    title, layer = SWEEPS[name]
    fig, (ax_w, ax_d) = plt.subplots(1, 2, figsize=(11, 4))
    data = {}
    for init_name, rows in runs.items():
        if init_name == "all_zeros":
            continue  # never moves: its stable rank is 0 throughout
        data[init_name] = {"W": band(ax_w, rows, f"srank/{layer}", COLORS[init_name], LABELS[init_name]),
                           "W - W0": band(ax_d, rows, f"srank_delta/{layer}", COLORS[init_name], LABELS[init_name])}
    ax_w.set(xlabel="SGD step", ylabel="stable rank ||W||²_F / ||W||²_2", yscale="log",
             title=f"{title}\nstable rank of W ({layer})")
    ax_d.set(xlabel="SGD step", ylabel="stable rank of W - W_0", yscale="log",
             title="stable rank of what training added (W - W_0)")
    ax_w.legend(fontsize=8)
    save_figure(fig, out_dir / "figures" / f"{name}_ranks", data={"sweep": name, "layer": layer, "ranks": data})


def plot_final(sweeps, out_dir):
    fig, axes = plt.subplots(1, len(sweeps), figsize=(4.2 * len(sweeps), 3.8), squeeze=False)
    for ax, (name, summary) in zip(axes[0], sweeps.items()):
        table = summary["table"]
        for i, init_name in enumerate(table):
            accs = np.array(table[init_name]["accs"])
            ax.bar(i, accs.mean(), color=COLORS[init_name], alpha=0.35, yerr=accs.std(ddof=1), capsize=3)
            ax.scatter(i + np.linspace(-0.15, 0.15, len(accs)), accs, color=COLORS[init_name], s=14, zorder=3)
            ax.text(i, accs.mean() + 2, f"{accs.mean():.1f}", ha="center", fontsize=8)
        ax.set_xticks(range(len(table)), [LABELS[k] for k in table], rotation=35, ha="right")
        ax.set(ylabel="final test accuracy (%)", title=SWEEPS[name][0], ylim=(0, 105))
        ax.axhline(10, color="k", ls=":", lw=1)
        ax.title.set_fontsize(9)
    fig.suptitle("Final test accuracy per initialization: bar = mean ± std, dots = the seeds "
                 "(ZerO's seeds differ only in data order)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, out_dir / "figures" / "final_accuracy",
                data={name: summary["table"] for name, summary in sweeps.items()})


@torch.no_grad()
def _forward_norms(model, x):
    norms, h = [], F.avg_pool2d(x, model.pool).flatten(1)
    for layer in model.hidden:
        h = F.relu(layer(h))
        norms.append(h.norm(dim=1).mean().item())
    return norms


def plot_signal_propagation(out_dir, data_dir=None, depth=32, width=256):
    """At init, before any training: how big are the activations at each depth, and the loss gradients of each
    layer's weights? Vanishing or exploding here is why a plain deep net does or does not train."""
    images, labels = mnist(False, data_dir)
    x, y = images[:512, None].float() / 255, labels[:512]
    fig, (ax_a, ax_g) = plt.subplots(1, 2, figsize=(11, 4))
    data = {}
    for init_name in INITS:
        torch.manual_seed(0)
        model = initialize(plain_net(depth, width), init_name)
        if init_name == "zero":  # ZerO's output layer is 0, so every hidden gradient is 0 at step 0: look after one step
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            F.cross_entropy(model(x), y).backward()
            opt.step()
            model.zero_grad()
        acts = _forward_norms(model, x)
        F.cross_entropy(model(x), y).backward()
        grads = [layer.weight.grad.norm().item() for layer in model.hidden]
        layers = np.arange(1, depth)
        ax_a.plot(layers, np.maximum(acts, 1e-30), color=COLORS[init_name], label=LABELS[init_name])
        ax_g.plot(layers, np.maximum(grads, 1e-30), color=COLORS[init_name], label=LABELS[init_name])
        data[init_name] = {"activation_norm": acts, "weight_grad_norm": grads}
    ax_a.set(yscale="log", xlabel="layer", ylabel="mean ||h_l|| over 512 test images",
             title=f"{depth}-layer plain ReLU net at init: activation norm")
    ax_g.set(yscale="log", xlabel="layer", ylabel="||dL/dW_l||",
             title="gradient norm per layer (ZerO: after one step, as its output layer starts at 0)")
    ax_g.title.set_fontsize(9)
    ax_a.legend(fontsize=8)
    save_figure(fig, out_dir / "figures" / "signal_propagation", data=data)


def plot_zero_matrices(out_dir):
    panels = [("same size 8 → 8:\nidentity", zero_matrix(8, 8)),
              ("shrinking 12 → 6:\npartial identity", zero_matrix(6, 12)),
              ("growing 5 → 12: rows 0-11,\ncols 0-4 of H_16 / 4", zero_matrix(12, 5)),
              ("Sylvester Hadamard H_16 / 4\n(orthogonal)", hadamard(16) / 4)]
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(16, 3.8),
                             gridspec_kw={"width_ratios": [1, 1, 0.8, 1.3, 1.3]})
    for ax, (title, w) in zip(axes, panels):
        scale = w.abs().max().item()
        ax.imshow(w.numpy(), cmap="RdBu_r", vmin=-scale, vmax=scale)
        ax.set_title(title, fontsize=9)
        ax.set(xlabel="input unit", ylabel="output unit")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(False)
    kernel = torch.zeros(6, 4, 3, 3)  # a 3x3 conv, 4 -> 6 channels: out x (in, tap) as one image
    kernel[:, :, 1, 1] = zero_matrix(6, 4)
    ax = axes[-1]
    scale = kernel.abs().max().item()
    ax.imshow(kernel.permute(0, 2, 1, 3).reshape(18, 12).numpy(), cmap="RdBu_r", vmin=-scale, vmax=scale)
    for k in range(1, 6):
        ax.axhline(3 * k - 0.5, color="k", lw=0.5)
    for k in range(1, 4):
        ax.axvline(3 * k - 0.5, color="k", lw=0.5)
    ax.set_title("3x3 conv 4 → 6 channels:\nonly the centre taps are set", fontsize=9)
    ax.set(xlabel="input channel (3x3 taps each)", ylabel="output channel (3x3 taps each)")
    ax.set_xticks([1, 4, 7, 10], range(4))
    ax.set_yticks([1 + 3 * k for k in range(6)], range(6))
    ax.grid(False)
    fig.suptitle("ZerO's weights: zeros, ones and ±1/√p (red +, blue −, white 0); no random numbers", fontsize=11, y=1.06)
    save_figure(fig, out_dir / "figures" / "zero_matrices")


def markdown_table(name, summary):
    lines = [f"{name} (sweep wall time {summary['wall_seconds'] / 60:.1f} min)", "",
             "| init | test accuracy (%) | seeds | initial weights identical across seeds |", "|---|---|---|---|"]
    for init_name, t in summary["table"].items():
        lines.append(f"| {LABELS[init_name]} | {t['mean']:.2f} ± {t['std']:.2f} | "
                     f"{', '.join(f'{a:.2f}' for a in t['accs'])} | {'yes' if t['same_initial_weights_across_seeds'] else 'no'} |")
    return "\n".join(lines)


def main(argv=None):
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=Path, default=Path("runs/zero-init"), help="folder holding the sweep folders")
    p.add_argument("--out", type=Path, default=HERE, help="where figures/ and results/ go")
    p.add_argument("--data-dir", type=Path, default=None, help="MNIST root for the signal-propagation figure")
    p.add_argument("--only-init-figures", action="store_true", help="only the figures that need no training runs")
    args = p.parse_args(argv)
    plot_zero_matrices(args.out)
    plot_signal_propagation(args.out, args.data_dir)
    if args.only_init_figures:
        return
    sweeps = {}
    for name in SWEEPS:
        folder = args.runs / name
        if not (folder / "summary.json").exists():
            print(f"skipping {name}: no {folder / 'summary.json'} (run train.py --model {name.split('-')[0]})")
            continue
        summary, runs = load_sweep(folder)
        sweeps[name] = summary
        plot_curves(name, summary, runs, args.out)
        plot_ranks(name, summary, runs, args.out)
        save_json({"config": summary["config"], "wall_seconds": summary["wall_seconds"], "table": summary["table"],
                   "runs": summary["runs"]}, args.out / "results" / f"{name}.json")
        print(markdown_table(name, summary) + "\n")
    for longer in sorted(args.runs.glob("*/*/summary.json")):  # the longer-budget sweeps (ZerO and Kaiming only)
        summary = json.loads(longer.read_text())
        name = f"{longer.parent.name}-{longer.parent.parent.name}"
        save_json({"config": summary["config"], "wall_seconds": summary["wall_seconds"], "table": summary["table"],
                   "runs": summary["runs"]}, args.out / "results" / f"{name}.json")
        print(markdown_table(name, summary) + "\n")
    if not sweeps:
        raise PlaygroundError(f"no sweeps found under {args.runs}; run train.py first or pass --runs")
    plot_final(sweeps, args.out)


if __name__ == "__main__":
    main_guard(main)()
