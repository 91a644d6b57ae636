"""Figures for the README: loss curves, TweetEval scores, an embedding map, attention maps, neighbours.

    python nlp/gpt/plot.py --run runs/gpt --results nlp/gpt/results/results.json   # -> nlp/gpt/figures/

Writes loss.png, scores.png, embedding_map.png, attention.png (each with a .json of its numbers)
and neighbours.md (nearest test tweets of a few queries by cosine similarity of GPT vectors).
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch

import shared.plotting  # noqa: F401  (the repo's matplotlib style)
from embed import load_gpt
from evaluate import MAIN_TASKS, cached_embeddings, file_digest
from shared.cli import ArgumentParser, main_guard, non_negative_int, positive_int, read_metrics
from shared.data import tweeteval
from shared.errors import PlaygroundError
from shared.plotting import save_figure

HERE = Path(__file__).resolve().parent
QUERIES = ["I am so happy today, best day ever!", "This is absolutely disgusting and I am furious",
           "Merry Christmas everyone!", "Can't wait for the game tonight #football"]
ATTENTION_TWEET = "@user I can't believe you did that 😂 love you"


def plot_losses(run_dir: Path, out: Path):
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir / "metrics.jsonl")
    if not rows:
        raise PlaygroundError(f"{run_dir / 'metrics.jsonl'} is missing or empty; pass --run with a train.py run folder")
    train = [(r["tokens"] / 1e6, r["loss"]) for r in rows if "loss" in r]
    val = [(r["tokens"] / 1e6, r["val_loss"]) for r in rows if "val_loss" in r]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(*zip(*train), lw=1, alpha=0.7, label="train (one batch)")
    ax.plot(*zip(*val), "o-", ms=3, label="held-out tweets")
    ax.set(xlabel="training tokens (millions)", ylabel="cross-entropy (nats/token)", title="GPT pre-training on tweets",
           ylim=(min(v for _, v in train) - 0.3, min(9.2, max(v for _, v in train) + 0.1)))
    ax.legend()
    save_figure(fig, out / "loss.png", data={"train": train, "val": val})


def plot_scores(results_path: Path, out: Path, more=()):
    """Bars per task from evaluate.py's results.json; the GPT rows of `more` results files (other poolings
    of the same checkpoint) are added next to the first file's."""
    import matplotlib.pyplot as plt

    first = json.loads(results_path.read_text())
    summary, pooled = dict(first["summary"]), [first.get("pooling", "mean")]
    for path in more:
        res = json.loads(Path(path).read_text())
        pooled.append(res.get("pooling", "?"))
        summary.update({f"{k}:{pooled[-1]}": v for k, v in res["summary"].items() if k in ("gpt", "random")})
    columns = [*MAIN_TASKS, "average"]
    bars = [(f"gpt{'' if i == 0 else ':' + p}", f"GPT (ours), {p} pooling") for i, p in enumerate(pooled)]
    bars += [(f"random{'' if i == 0 else ':' + p}", f"random weights, {p} pooling") for i, p in enumerate(pooled)]
    bars += [("tfidf", "TF-IDF"), ("SVM", "SVM (published)"), ("FastText", "FastText (published)"),
             ("RoBERTa-base", "RoBERTa-base (published)")]
    bars = [(k, label) for k, label in bars if k in summary]
    # one hue per family (blue: our GPT, orange: its random twin, greys: published), darker for extra poolings
    colors = {"gpt": ["#6baed6", "#08519c"], "random": ["#fdae6b", "#d94801"], "tfidf": ["#756bb1", None],
              "SVM": ["#d9d9d9", None], "FastText": ["#a3a3a3", None], "RoBERTa-base": ["#636363", None]}
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(bars)
    for i, (key, label) in enumerate(bars):
        ax.bar(np.arange(len(columns)) + (i - (len(bars) - 1) / 2) * width, [summary[key].get(c, 0) for c in columns],
               width, label=label, hatch="//" if key in ("SVM", "FastText", "RoBERTa-base") else None,
               color=colors.get(key.split(":")[0], [None, None])[":" in key])
    ax.set_xticks(np.arange(len(columns)), columns)
    ax.set(ylabel="official test metric", title="TweetEval, linear probe on frozen features", ylim=(0, 100))
    ax.legend(fontsize=7, ncol=3, loc="upper left")
    save_figure(fig, out / "scores.png", data={k: summary[k] for k, _ in bars})


def plot_embedding_map(models, task: str, data_dir, out: Path, max_points: int):
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    split = tweeteval(task, "test", data_dir)
    idx = np.random.default_rng(0).permutation(len(split.texts))[:max_points]
    texts, labels = [split.texts[i] for i in idx], split.labels.numpy()[idx]
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 4))
    data = {}
    for ax, (name, (model, tok, key)) in zip(np.atleast_1d(axes), models.items()):
        v = cached_embeddings(model, tok, texts, key, "mean")
        v = (v - v.mean(0)) / (v.std(0) + 1e-6)
        xy = TSNE(n_components=2, init="pca", perplexity=30, random_state=0).fit_transform(v)
        for c, cname in enumerate(split.names):
            m = labels == c
            ax.scatter(xy[m, 0], xy[m, 1], s=4, alpha=0.6, label=cname.split("\t")[0])
        ax.set(title=f"{name}: t-SNE of {task} test tweets", xticks=[], yticks=[])
        data[name] = {"xy": np.round(xy, 2).tolist()}
    np.atleast_1d(axes)[0].legend(markerscale=3, fontsize=8)
    data["labels"] = labels.tolist()
    save_figure(fig, out / "embedding_map.png", data=data)


@torch.no_grad()
def plot_attention(model, tok, out: Path, layer: int, heads: int):
    import matplotlib.pyplot as plt

    ids = tok.encode(ATTENTION_TWEET)[: model.config.block_size]
    labels = [tok.decode([i]) if i not in (tok.bos_id, tok.eos_id) else ("<s>" if i == tok.bos_id else "</s>") for i in ids]
    _, weights = model.hidden_states(torch.tensor([ids]), return_weights=True)
    layer = min(layer, len(weights) - 1)
    w = weights[layer][0, :heads].numpy()
    fig, axes = plt.subplots(1, len(w), figsize=(3.4 * len(w), 3.6))
    for h, ax in enumerate(np.atleast_1d(axes)):
        ax.imshow(w[h], cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(len(ids)), labels, rotation=90, fontsize=6)
        ax.set_yticks(range(len(ids)), labels if h == 0 else [], fontsize=6)
        ax.set_title(f"layer {layer + 1}, head {h + 1}", fontsize=9)
    fig.suptitle("causal attention (row = query token, column = key token)", fontsize=10)
    save_figure(fig, out / "attention.png", data={"tokens": labels, "layer": layer, "weights": np.round(w, 3).tolist()})


def write_neighbours(model, tok, key, data_dir, out: Path, k: int):
    pool = []
    for task in MAIN_TASKS:
        pool += tweeteval(task, "test", data_dir).texts
    pool = list(dict.fromkeys(t for t in pool if t.strip()))[:20000]  # unique, a searchable amount
    v = cached_embeddings(model, tok, pool, key, "mean")
    mean, std = v.mean(0), v.std(0) + 1e-6  # standardized, as the probe sees them
    v = (v - mean) / std
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q = (cached_embeddings(model, tok, QUERIES, key, "mean") - mean) / std
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    lines = ["# Nearest test tweets by cosine similarity of (standardized) GPT vectors", "",
             f"Pool: {len(pool):,} unique test tweets of the five TweetEval tasks (never seen in training).", ""]
    for query, sims in zip(QUERIES, q @ v.T):
        lines += [f"**{query}**", ""]
        for i in np.argsort(-sims)[:k]:
            lines.append(f"- {sims[i]:.2f} — {pool[i].replace('|', '/')[:160]}")
        lines.append("")
    (out / "neighbours.md").write_text("\n".join(lines))


def main(argv=None):
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, default=Path("runs/gpt"), help="train.py run folder (metrics.jsonl, checkpoint.pt)")
    p.add_argument("--checkpoint", type=Path, default=None, help="default: <run>/checkpoint.pt")
    p.add_argument("--results", type=Path, default=HERE / "results" / "results.json", help="evaluate.py output")
    p.add_argument("--more-results", type=Path, nargs="*", default=[HERE / "results" / "wide" / "results.json"],
                   help="results.json of other poolings whose GPT rows join the scores plot (missing ones are skipped)")
    p.add_argument("--out", type=Path, default=HERE / "figures", help="folder for the figures")
    p.add_argument("--data-dir", type=Path, default=None, help="data root (default $PLAYGROUND_DATA)")
    p.add_argument("--map-task", default="emotion", choices=MAIN_TASKS, help="task whose test tweets the 2-D map shows")
    p.add_argument("--map-points", type=positive_int, default=1500, help="tweets in the 2-D map")
    p.add_argument("--layer", type=non_negative_int, default=1, help="attention layer to show (0-based)")
    p.add_argument("--heads", type=positive_int, default=4, help="heads to show")
    p.add_argument("--neighbours", type=positive_int, default=4, help="neighbours per query")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    ckpt = args.checkpoint or args.run / "checkpoint.pt"
    args.out.mkdir(parents=True, exist_ok=True)
    plot_losses(args.run, args.out)
    if args.results.exists():
        plot_scores(args.results, args.out, [m for m in args.more_results if m.exists()])
    else:
        print(f"skipping scores.png: {args.results} does not exist (run evaluate.py first)")
    digest = file_digest(ckpt)
    model, tok = load_gpt(ckpt)
    models = {"trained GPT": (model, tok, f"{digest}|trained"),
              "random weights": (*load_gpt(ckpt, random_weights=True, seed=0), f"{digest}|random0")}
    plot_embedding_map(models, args.map_task, args.data_dir, args.out, args.map_points)
    plot_attention(model, tok, args.out, args.layer, args.heads)
    write_neighbours(model, tok, f"{digest}|trained", args.data_dir, args.out, args.neighbours)
    print(f"wrote figures to {args.out}")


if __name__ == "__main__":
    main_guard(main)()
