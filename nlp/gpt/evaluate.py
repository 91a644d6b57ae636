"""TweetEval on frozen tweet vectors: a logistic-regression probe per task, three feature sets, one run.

    python nlp/gpt/evaluate.py --checkpoint runs/gpt/checkpoint.pt          # writes nlp/gpt/results/
    python nlp/gpt/evaluate.py --checkpoint ... --tasks sentiment stance    # the benchmark's other two tasks

Protocol (Barbieri et al. 2020, "TweetEval"): fit on train, choose the probe's inverse regularization
C on val, report the official metric on test. The feature sets, all with the same probe:
  gpt     -- the trained GPT's pooled hidden states (embed.py)
  random  -- the same architecture and tokenizer with untrained weights: what training added
  tfidf   -- TF-IDF of word 1-2-grams + character 2-5-grams: the classic sparse baseline
Every row is scored twice: on the full test set, and on the test set without the tweets that the GPT
read in pre-training (TweetEval repeats some test tweets in its train/val splits; compared after collapsing
whitespace). Embeddings are cached (keyed by the checkpoint's bytes, the embedding code, the options and
texts), so re-running only refits probes.
"""
import argparse
import hashlib
import math
import time
from pathlib import Path

import numpy as np
import torch
from scipy import sparse

from corpus import pretraining_split
from embed import POOLINGS, WHITESPACE, embed_texts, load_gpt, normalize_whitespace
from shared.checkpoint import file_digest, read_checkpoint
from shared.cli import PRECISIONS, ArgumentParser, main_guard, non_negative_int, positive_float, positive_int, seed_int
from shared.data import STANCE_TARGETS, available_tweeteval_tasks, tweeteval
from shared.paths import cache_dir
from shared.plotting import save_csv, save_json

HERE = Path(__file__).resolve().parent
MAIN_TASKS = ("emoji", "emotion", "hate", "irony", "offensive")
EXTRA_TASKS = ("sentiment", "stance")
FEATURES = ("gpt", "random", "tfidf")
# Published TweetEval test scores (Barbieri et al. 2020, Table 2) on the five tasks this folder evaluates.
PUBLISHED = {
    "SVM": {"emoji": 29.3, "emotion": 64.7, "hate": 36.7, "irony": 61.7, "offensive": 52.3},
    "FastText": {"emoji": 25.8, "emotion": 65.2, "hate": 50.6, "irony": 63.1, "offensive": 73.4},
    "LSTM": {"emoji": 24.7, "emotion": 66.0, "hate": 52.6, "irony": 62.8, "offensive": 71.7},
    "RoBERTa-base": {"emoji": 30.9, "emotion": 76.1, "hate": 46.6, "irony": 59.7, "offensive": 79.5},
}
METRIC_NAMES = {"irony": "F1(irony)", "sentiment": "macro-recall", "stance": "mean F1(against, favor)"}


# ----------------------------------------------------------------------------- official metrics
def per_class_f1(y_true, y_pred, n_classes: int) -> np.ndarray:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    f1 = np.zeros(n_classes)
    for c in range(n_classes):
        tp = np.sum((y_pred == c) & (y_true == c))
        fp = np.sum((y_pred == c) & (y_true != c))
        fn = np.sum((y_pred != c) & (y_true == c))
        f1[c] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return f1


def macro_recall(y_true, y_pred, n_classes: int) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    present = [c for c in range(n_classes) if np.any(y_true == c)]
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in present]))


def official_score(task: str, y_true, y_pred, names) -> float:
    """TweetEval's metric for one task (or one stance target), in [0, 1]."""
    n = len(names)
    base = task.split("/")[0]
    if base == "irony":  # F1 of the positive class only
        return float(per_class_f1(y_true, y_pred, n)[names.index("irony")])
    if base == "sentiment":  # macro-averaged recall
        return macro_recall(y_true, y_pred, n)
    if base == "stance":  # the "none" class is left out of the average
        f1 = per_class_f1(y_true, y_pred, n)
        return float((f1[names.index("against")] + f1[names.index("favor")]) / 2)
    return float(per_class_f1(y_true, y_pred, n).mean())  # macro-F1


# ----------------------------------------------------------------------------- probe
def fit_probe(x_train, y_train, x_val, y_val, score_fn, c_grid, class_weight):
    """Logistic regression for every C in the grid; keep the one with the best val score."""
    from sklearn.linear_model import LogisticRegression

    best = None
    for c in c_grid:
        clf = LogisticRegression(C=c, max_iter=300, class_weight=class_weight, tol=1e-3)
        clf.fit(x_train, y_train)
        val = score_fn(y_val, clf.predict(x_val))
        if best is None or val > best[1]:
            best = (clf, val, c)
    return best


# One grid for every row and every pooling, wide enough that no row's choice sits on one of its ends (a choice on
# an end is a warning: the best C may lie outside). Standardized features want a smaller C as their dimension
# grows (each extra dimension adds to the logit's variance: `wide`'s 6.6k-d vectors chose 1e-4 ... 1e-3), TF-IDF
# and the 256-d mean vectors a larger one (up to 1e3). The grid ends with no penalty at all (C = inf), so only
# its low end can cut a search short. Why not another decade: above about 1e4 the penalty is negligible and
# lbfgs stops at max_iter, so `layers` picked 1e5 when the grid ended there, and 1e6 when it ended there, by
# val-score noise.
C_GRID = [1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, math.inf]


def grid_edge(c, grid):
    """'lowest' or 'highest' when the chosen C is an end of the grid (the search may have stopped too early), else None."""
    if len(grid) > 1 and c == min(grid):
        return "lowest"
    if len(grid) > 1 and c == max(grid) and math.isfinite(c):  # nothing lies beyond no penalty
        return "highest"
    return None


def c_value(text: str) -> float:
    """--c-grid entries: a positive number, or "inf" for the unpenalized probe that ends the default grid."""
    return math.inf if text.strip().lower() == "inf" else positive_float(text)


def c_str(c):
    """C for the result files: a number, or "inf" (no penalty), which strict JSON cannot hold as a number."""
    return c if math.isfinite(c) else "inf"


def standardize(train, *others):
    """Zero mean, unit variance per dimension from train statistics, so one C grid suits every model."""
    mean, std = train.mean(0), train.std(0) + 1e-6
    return [(a - mean) / std for a in (train, *others)]


def tfidf_features(train_texts, val_texts, test_texts):
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=3, sublinear_tf=True, max_features=200_000)
    fitted = [v.fit(train_texts) for v in (words, chars)]
    return [sparse.hstack([v.transform(t) for v in fitted]).tocsr() for t in (train_texts, val_texts, test_texts)]


# ----------------------------------------------------------------------------- embeddings with a cache
# The code that turns text into vectors (tokenizing, the forward pass, pooling): an edit to any of these
# files changes every embedding cache key, so old vectors are never reused for new code.
EMBEDDING_CODE = tuple(HERE / name for name in ("embed.py", "model.py", "tokenizer.py"))


def code_digest() -> str:
    h = hashlib.sha1()
    for path in EMBEDDING_CODE:
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:16]


def embedding_cache_key(texts, key: str, pooling: str, precision: str = "fp32", whitespace: str = "normalize") -> str:
    """Hash of the model (key: checkpoint digest and weights variant), the embedding code, the options and texts."""
    h = hashlib.sha1(f"{key}|code-{code_digest()}|{pooling}|{precision}|{len(texts)}|whitespace-{whitespace}".encode())
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass") + b"\n")
    return h.hexdigest()[:20]


def cached_embeddings(model, tok, texts, key: str, pooling: str, precision: str = "fp32",
                      whitespace: str = "normalize") -> np.ndarray:
    path = cache_dir("gpt/embeddings") / f"{embedding_cache_key(texts, key, pooling, precision, whitespace)}.npy"
    if path.exists():
        return np.load(path)
    vectors = embed_texts(model, tok, texts, pooling, precision=precision, whitespace=whitespace)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        np.save(f, vectors)
    tmp.replace(path)
    return vectors


# ----------------------------------------------------------------------------- test tweets seen in pre-training
def pretraining_tweets(checkpoint) -> list:
    """The tweets the checkpoint's GPT was trained on, rebuilt from its config the way train.py built them
    (same data root, held-out share and cap; the held-out tweets are not among them)."""
    config = read_checkpoint(checkpoint).get("config", {})
    data_dir = config.get("data_dir")
    return pretraining_split(Path(data_dir) if data_dir else None, config.get("val_fraction", 0.02),
                             config.get("max_tweets", 0))[0]


def unseen_mask(test_texts, seen_texts) -> np.ndarray:
    """True for each test tweet that, whitespace collapsed, is not among seen_texts: the deduplicated test set."""
    seen = {normalize_whitespace(t) for t in seen_texts}
    return np.array([normalize_whitespace(t) not in seen for t in test_texts], dtype=bool)


def expand_tasks(tasks, data_dir) -> list:
    """'stance' -> its targets (those on disk, else all five, which tweeteval() then downloads)."""
    out = []
    for t in tasks:
        if t == "stance":
            local = [x for x in available_tweeteval_tasks(data_dir) if x.startswith("stance/")]
            out += local or [f"stance/{x}" for x in STANCE_TARGETS]
        else:
            out.append(t)
    return out


def subsample(split, n: int, seed: int):
    if not n or len(split.texts) <= n:
        return split.texts, split.labels.numpy()
    idx = np.sort(np.random.default_rng(seed).choice(len(split.texts), n, replace=False))
    return [split.texts[i] for i in idx], split.labels.numpy()[idx]


def main(argv=None):
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="checkpoint.pt written by train.py")
    p.add_argument("--tasks", nargs="+", default=list(MAIN_TASKS), choices=MAIN_TASKS + EXTRA_TASKS, metavar="TASK",
                   help=f"any of {' '.join(MAIN_TASKS + EXTRA_TASKS)} (default: the first five)")
    p.add_argument("--features", nargs="+", default=list(FEATURES), choices=FEATURES, help="feature sets to compare")
    p.add_argument("--pooling", choices=POOLINGS, default="mean", help="token pooling for the GPT vectors")
    p.add_argument("--whitespace", choices=WHITESPACE, default="normalize",
                   help="keep: embed the raw text, which reproduces the irony artifact described in the README")
    p.add_argument("--precision", choices=PRECISIONS, default="bf16",
                   help="embedding matmul precision (bf16 is ~1.5x faster here; vectors differ from fp32 by ~0.1%%)")
    p.add_argument("--c-grid", type=c_value, nargs="+", default=None,
                   help=f"probe C values tried on val for every feature set, 'inf' = no penalty (default {C_GRID})")
    p.add_argument("--class-weight", choices=("balanced", "none"), default="balanced",
                   help="balanced reweights classes inversely to frequency (the metrics are class-averaged)")
    p.add_argument("--max-train", type=non_negative_int, default=0, help="cap on probe training tweets per task (0 = all)")
    p.add_argument("--out", type=Path, default=HERE / "results", help="folder for results.json / results.csv")
    p.add_argument("--data-dir", type=Path, default=None, help="data root (default $PLAYGROUND_DATA)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the random-weights twin and of subsampling")
    p.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads")
    p.add_argument("--quick", action="store_true", help="300 train / 200 val / 300 test tweets per task (smoke test)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    caps = (300, 200, 300) if args.quick else (args.max_train, 0, 0)
    class_weight = None if args.class_weight == "none" else "balanced"
    grids = {f: args.c_grid or C_GRID for f in args.features}

    digest = file_digest(args.checkpoint)
    seen = pretraining_tweets(args.checkpoint)
    models = {}
    if "gpt" in args.features:
        models["gpt"] = (*load_gpt(args.checkpoint), f"{digest}|trained")
    if "random" in args.features:
        models["random"] = (*load_gpt(args.checkpoint, random_weights=True, seed=args.seed), f"{digest}|random{args.seed}")

    rows, results = [], {}
    for task in expand_tasks(args.tasks, args.data_dir):
        t0 = time.time()
        splits = [tweeteval(task, s, args.data_dir) for s in ("train", "val", "test")]
        names = splits[0].names
        (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = (subsample(s, n, args.seed) for s, n in zip(splits, caps))
        score = lambda y, pred: official_score(task, y, pred, names)  # noqa: E731
        unseen = unseen_mask(te_x, seen)
        results[task] = {}
        for feat in args.features:
            if feat == "tfidf":
                xs = tfidf_features(tr_x, va_x, te_x)
            else:
                model, tok, key = models[feat]
                xs = standardize(*(cached_embeddings(model, tok, t, key, args.pooling, args.precision, args.whitespace) for t in (tr_x, va_x, te_x)))
            clf, val, c = fit_probe(xs[0], tr_y, xs[1], va_y, score, grids[feat], class_weight)
            pred = clf.predict(xs[2])
            test, test_dedup = score(te_y, pred), score(te_y[unseen], pred[unseen])
            edge = grid_edge(c, grids[feat])
            results[task][feat] = {"test": 100 * test, "test_dedup": 100 * test_dedup, "val": 100 * val, "C": c_str(c), "C_edge": edge}
            rows.append({"task": task, "features": feat, "test": round(100 * test, 2), "test_dedup": round(100 * test_dedup, 2),
                         "val": round(100 * val, 2), "C": c_str(c), "C_edge": edge or ""})
            print(f"{task:>18} {feat:>6}: test {100 * test:5.1f}  dedup {100 * test_dedup:5.1f}  val {100 * val:5.1f}  C={c:g}", flush=True)
            if edge:
                print(f"warning: {task} {feat} chose C={c:g}, the {edge} value of the grid {grids[feat]}; "
                      "the best C may lie outside it: widen --c-grid", flush=True)
        results[task]["n"] = {"train": len(tr_x), "val": len(va_x), "test": len(te_x), "test_dedup": int(unseen.sum())}
        results[task]["seconds"] = round(time.time() - t0, 1)

    # Stance is one task in the benchmark: the mean over its targets.
    targets = [t for t in results if t.startswith("stance/")]
    if targets:
        results["stance"] = {f: {k: float(np.mean([results[t][f][k] for t in targets])) for k in ("test", "test_dedup")}
                             for f in args.features}
    summary, summary_dedup = ({f: {t: results[t][f][k] for t in results if not t.startswith("stance/")} for f in args.features}
                              for k in ("test", "test_dedup"))
    if all(t in results for t in MAIN_TASKS):
        for f in args.features:
            for table, k in ((summary, "test"), (summary_dedup, "test_dedup")):
                table[f]["average"] = float(np.mean([results[t][f][k] for t in MAIN_TASKS]))
        for name, scores in PUBLISHED.items():
            summary[name] = {**scores, "average": float(np.mean(list(scores.values())))}
    on_edge = [f"{t}/{f}" for t in results for f in args.features if results[t].get(f, {}).get("C_edge")]
    args.out.mkdir(parents=True, exist_ok=True)
    save_json({"checkpoint_sha1": digest, "pooling": args.pooling, "whitespace": args.whitespace, "precision": args.precision, "c_grid": grids, "class_weight": args.class_weight,
               "quick": args.quick, "C_on_grid_edge": on_edge, "per_task": results, "summary": summary,
               "summary_dedup": summary_dedup}, args.out / "results.json")
    save_csv(rows, args.out / "results.csv")
    removed = ", ".join(f"{t} {results[t]['n']['test'] - results[t]['n']['test_dedup']:,} of {results[t]['n']['test']:,}"
                        for t in results if "n" in results[t])
    table = (f"Full test sets:\n\n{markdown_table(summary)}\n\nDeduplicated test sets (test tweets that the GPT read in "
             f"pre-training removed: {removed}):\n\n{markdown_table(summary_dedup)}\n\n"
             f"Chosen C per task and feature set: results.json; on an end of the grid: {', '.join(on_edge) or 'none'}.")
    (args.out / "results.md").write_text(table + "\n")
    print(table)


def markdown_table(summary) -> str:
    columns = [c for c in (*MAIN_TASKS, *EXTRA_TASKS, "average") if any(c in v for v in summary.values())]
    header = [c if c == "average" else f"{c} ({METRIC_NAMES.get(c, 'macro-F1')})" for c in columns]
    lines = ["| features | " + " | ".join(header) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for name, scores in summary.items():
        label = {"gpt": "**GPT (ours, trained)**", "random": "GPT, random weights", "tfidf": "TF-IDF"}.get(name, f"{name} (published)")
        lines.append(f"| {label} | " + " | ".join(f"{scores[c]:.1f}" if c in scores else "" for c in columns) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main_guard(main)()
