import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from shared.imports import load_module

HERE = Path(__file__).resolve().parents[1]
model_mod = load_module(HERE / "model.py")
tokenizer_mod = load_module(HERE / "tokenizer.py")
evaluate_mod = load_module(HERE / "evaluate.py")
corpus_mod = load_module(HERE / "corpus.py")
GPT, GPTConfig = model_mod.GPT, model_mod.GPTConfig

TRICKY = ["", " ", "  two  spaces ", "héllo wörld", "😂😂🔥 🇺🇸 👨‍👩‍👧", "日本語のツイート", "العربية", "Привет",
          "@user http://t.co/abc?x=1&y=2 #hashtag", "tab\tand\r\nnewline", "\u200d\ufe0f zero width", "quote \" ' unbalanced",
          "<s> looks special </s>", "a" * 300]


def tiny(**kw):
    cfg = dict(vocab_size=100, block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=0.0)
    cfg.update(kw)
    torch.manual_seed(0)
    return GPT(GPTConfig(**cfg))


def run_script(name, *args, cwd):
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    r = subprocess.run([sys.executable, str(HERE / name), *map(str, args)], cwd=cwd, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    return r


# ----------------------------------------------------------------------------- model
def test_causality_later_tokens_do_not_change_earlier_outputs():
    model = tiny().eval()
    x = torch.randint(0, 100, (2, 16))
    y = x.clone()
    y[:, 9:] = torch.randint(0, 100, (2, 7))
    for reference in (False, True):
        a, b = model(x, reference=reference)[0], model(y, reference=reference)[0]
        assert torch.allclose(a[:, :9], b[:, :9], atol=1e-6)
        assert not torch.allclose(a[:, 9:], b[:, 9:], atol=1e-3)


def test_sdpa_equals_reference_attention():
    model = tiny(n_head=4, n_embd=64).eval()
    x = torch.randint(0, 100, (3, 16))
    fast, slow = model(x)[0], model(x, reference=True)[0]
    assert torch.allclose(fast, slow, atol=1e-5), (fast - slow).abs().max()
    _, weights = model.hidden_states(x, return_weights=True)
    w = weights[0]  # [B, heads, T, T]: rows are distributions, zero above the diagonal
    assert torch.allclose(w.sum(-1), torch.ones_like(w.sum(-1)), atol=1e-5)
    assert torch.all(w.triu(1) == 0)


def test_head_is_tied_and_init_is_gpt2():
    model = tiny(n_layer=4, n_embd=64, vocab_size=5000)
    assert model.lm_head.weight.data_ptr() == model.wte.weight.data_ptr()
    assert abs(model.wte.weight.std().item() - 0.02) < 1e-3
    assert abs(model.blocks[0].mlp.c_fc.weight.std().item() - 0.02) < 1e-3
    residual_std = model.blocks[0].mlp.c_proj.weight.std().item()
    assert abs(residual_std - 0.02 / (2 * 4) ** 0.5) < 1e-3
    decay, no_decay = model.optimizer_groups(0.1)
    assert all(p.dim() == 2 for p in decay["params"]) and all(p.dim() == 1 for p in no_decay["params"])
    assert sum(p.numel() for g in (decay, no_decay) for p in g["params"]) == model.num_params(non_embedding=False)


def test_overfits_a_tiny_batch():
    model = tiny(vocab_size=50)
    x = torch.randint(3, 50, (4, 17))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    first = None
    for _ in range(120):
        _, loss = model(x[:, :-1], x[:, 1:])
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 3.5 and loss.item() < 0.05, (first, loss.item())


def test_padding_is_ignored_by_the_loss():
    model = tiny().eval()
    x = torch.randint(3, 100, (1, 8))
    y = torch.randint(3, 100, (1, 8))
    y_pad = y.clone()
    y_pad[0, 5:] = 0
    _, loss_pad = model(x, y_pad)
    logits, _ = model(x)
    expected = torch.nn.functional.cross_entropy(logits[0, :5], y[0, :5])
    assert torch.allclose(loss_pad, expected, atol=1e-6)


# ----------------------------------------------------------------------------- tokenizer
@pytest.fixture(scope="module")
def tok():
    texts = ["I love this so much 😂", "@user http://t.co/xyz #MAGA", "je suis très content", "日本語"] * 50
    return tokenizer_mod.train_tokenizer(texts, vocab_size=400)


def test_tokenizer_round_trip(tok):
    for s in TRICKY:
        ids = tok.encode(s)
        assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
        assert tok.decode(ids) == s, s
    assert (tok.pad_id, tok.bos_id, tok.eos_id) == (0, 1, 2)
    # The text "<s>" is ordinary characters, never the special token.
    assert tok.bos_id not in tok.encode("<s> looks special </s>", specials=False)


def test_tokenizer_merges_frequent_strings(tok):
    assert len(tok.encode("I love this so much", specials=False)) < len("I love this so much") / 2


def test_packed_windows_start_at_tweets():
    packed = corpus_mod.PackedTweets([[1, 5, 6, 2], [1, 7, 2], [1, 8, 9, 10, 2]], block_size=4, pad_id=0)
    x, y = packed.windows(torch.tensor([0, 2]))
    assert x.tolist() == [[1, 5, 6, 2], [1, 8, 9, 10]]
    assert y.tolist() == [[5, 6, 2, 1], [8, 9, 10, 2]]


def test_tweet_windows_score_every_token_of_every_tweet_once():
    tweets = [[1, 5, 6, 2], [1, 7, 2], [1, 8, 9, 10, 11, 12, 13, 2], [1, 2]]
    x, y = corpus_mod.PackedTweets(tweets, block_size=3, pad_id=0).tweet_windows()
    # (inputs, targets) per window, longest first; a tweet's targets stop at its </s>, the 8-token tweet takes 3 windows
    assert list(zip(x.tolist(), y.tolist())) == [([1, 5, 6], [5, 6, 2]), ([1, 8, 9], [8, 9, 10]), ([10, 11, 12], [11, 12, 13]),
                                                 ([1, 7, 2], [7, 2, 0]), ([13, 2, 1], [2, 0, 0]), ([1, 2, 0], [2, 0, 0])]


def test_validation_loss_is_the_mean_over_all_held_out_tokens():
    """train.validation_loss = the loss of every held-out token, each tweet read alone from its <s> (a tweet longer
    than the context in context-sized pieces), whatever the batch size."""
    from types import SimpleNamespace

    train_mod = load_module(HERE / "train.py")
    model = tiny(block_size=8).eval()
    g = torch.Generator().manual_seed(0)
    tweets = [[1, *torch.randint(3, 100, (n,), generator=g).tolist(), 2] for n in (0, 3, 6, 7, 12, 20, 2, 5)]
    val = corpus_mod.PackedTweets(tweets, block_size=8, pad_id=0)
    total, count = 0.0, 0
    with torch.no_grad():
        for t in tweets:
            for k in range(0, len(t) - 1, 8):  # pieces of at most 8 targets
                piece = torch.tensor([t[k:k + 9]])
                logits = model(piece[:, :-1])[0]
                total += torch.nn.functional.cross_entropy(logits[0], piece[0, 1:], reduction="sum").item()
                count += piece.shape[1] - 1
    assert count == sum(len(t) - 1 for t in tweets)
    for batch_size in (1, 3, 16):
        args = SimpleNamespace(batch_size=batch_size, eval_batches=0)
        assert train_mod.validation_loss(model, val, args, "cpu") == pytest.approx(total / count, rel=1e-5)


# ----------------------------------------------------------------------------- metrics
def test_metrics_match_scikit_learn():
    from sklearn.metrics import f1_score, recall_score

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    names = ["none", "against", "favor"]
    assert np.isclose(evaluate_mod.official_score("emotion", y, p, names), f1_score(y, p, average="macro"))
    assert np.isclose(evaluate_mod.official_score("sentiment", y, p, names), recall_score(y, p, average="macro"))
    assert np.isclose(evaluate_mod.official_score("stance/abortion", y, p, names),
                      f1_score(y, p, labels=[1, 2], average="macro"))
    yb, pb = rng.integers(0, 2, 100), rng.integers(0, 2, 100)
    assert np.isclose(evaluate_mod.official_score("irony", yb, pb, ["non_irony", "irony"]), f1_score(yb, pb))
    # a class never predicted and never present scores 0, as in scikit-learn's zero_division=0
    assert np.isclose(evaluate_mod.official_score("hate", np.zeros(4, int), np.zeros(4, int), ["a", "b"]),
                      f1_score(np.zeros(4), np.zeros(4), average="macro", labels=[0, 1], zero_division=0))


# ----------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpt")
    r = run_script("train.py", "--quick", "--out", out / "run", cwd=out)
    (out / "train_stdout.txt").write_text(r.stdout)
    return out


@pytest.mark.slow
def test_quick_training_loss_falls_and_writes_artifacts(quick_run):
    rows = [json.loads(l) for l in (quick_run / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 30 and "val_loss" in rows[-1] and rows[-1]["tokens_per_s"] > 0
    assert rows[-1]["loss"] < rows[0]["loss"] - 0.3
    assert (quick_run / "run" / "tokenizer.json").exists()


@pytest.mark.slow
def test_resume_gives_the_same_next_step(tmp_path):
    common = ["--quick", "--max-steps", "8", "--dropout", "0.1"]
    run_script("train.py", *common, "--out", tmp_path / "a", cwd=tmp_path)
    run_script("train.py", *common, "--out", tmp_path / "b", "--stop-after", "4", cwd=tmp_path)
    r = run_script("train.py", *common, "--out", tmp_path / "b", "--resume", cwd=tmp_path)
    assert "resumed from step 4" in r.stdout
    a = [json.loads(l) for l in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(l) for l in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in b] == list(range(1, 9))
    assert b[4]["loss"] == pytest.approx(a[4]["loss"], abs=1e-6)  # step 5: the first one after the resume
    assert b[-1]["loss"] == pytest.approx(a[-1]["loss"], abs=1e-6)


@pytest.mark.slow
def test_embed_shape_order_and_edge_cases(quick_run):
    lines = ["first tweet", "", "x " * 500, "😂😂😂", "first tweet"]
    (quick_run / "in.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ckpt = quick_run / "run" / "checkpoint.pt"
    run_script("embed.py", "--checkpoint", ckpt, "--input", quick_run / "in.txt", "--output", quick_run / "v.npy", cwd=quick_run)
    v = np.load(quick_run / "v.npy")
    assert v.shape == (5, 64) and v.dtype == np.float32 and np.isfinite(v).all()
    assert np.allclose(v[0], v[4], atol=1e-5) and not np.allclose(v[0], v[1])
    # Order is the input's: embedding one line alone gives the same row as in the batch.
    (quick_run / "one.txt").write_text("😂😂😂\n", encoding="utf-8")
    run_script("embed.py", "--checkpoint", ckpt, "--input", quick_run / "one.txt", "--output", quick_run / "o.npy", cwd=quick_run)
    assert np.allclose(np.load(quick_run / "o.npy")[0], v[3], atol=1e-5)
    r = subprocess.run([sys.executable, str(HERE / "embed.py"), "--checkpoint", quick_run / "in.txt", "--input",
                        quick_run / "in.txt", "--output", quick_run / "x.npy"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1


WORDS = ("good", "bad", "meh", "wow")


def _fake_task(root, task, names, n=60, seed=0, informative=True, test_flips=0.0):
    """A TweetEval-format task folder. informative: the label's word is in the tweet (learnable); else the word
    is drawn independently of the label (chance). test_flips: that share of test tweets shows the next class's
    word, so a probe that reads the word makes exactly those errors."""
    rng = np.random.default_rng(seed)
    folder = root / "tweeteval" / task
    folder.mkdir(parents=True)
    (folder / "mapping.txt").write_text("".join(f"{i}\t{name}\n" for i, name in enumerate(names)))
    for split in ("train", "val", "test"):
        labels = rng.integers(0, len(names), n)
        shown = labels.copy() if informative else rng.integers(0, len(names), n)
        if split == "test" and test_flips:
            flip = rng.random(n) < test_flips
            shown[flip] = (labels[flip] + 1) % len(names)
        texts = [f"this is {WORDS[w]} {rng.integers(1000)}" for w in shown]
        (folder / f"{split}_text.txt").write_text("\n".join(texts) + "\n")
        (folder / f"{split}_labels.txt").write_text("\n".join(map(str, labels)) + "\n")
    return shown  # the test split's words: the predictions a probe that reads the word makes


def _word_vectors(model, tok, texts, key, pooling, *options):
    """Stand-in for the GPT's vectors: which of WORDS the tweet holds (one-hot) plus a little noise."""
    onehot = np.array([[w in t.split() for w in WORDS] for t in texts], dtype=np.float64)
    return onehot + 0.05 * np.random.default_rng(len(texts)).standard_normal(onehot.shape)


def test_evaluate_reports_the_known_score_of_a_synthetic_task(tmp_path, monkeypatch):
    """Through evaluate.main: a probe that reads the word predicts it, so the reported test score is the
    official metric of (labels, words), known in advance; words independent of the labels score near chance."""
    from sklearn.metrics import f1_score, recall_score

    shown = {"irony": _fake_task(tmp_path, "irony", ["non_irony", "irony"], n=200, test_flips=0.2),
             "sentiment": _fake_task(tmp_path, "sentiment", ["negative", "neutral", "positive"], n=200, seed=1, test_flips=0.2),
             "hate": _fake_task(tmp_path, "hate", ["non-hate", "hate"], n=200, seed=2)}
    _fake_task(tmp_path, "emotion", ["anger", "joy", "optimism", "sadness"], n=400, seed=3, informative=False)
    truth = {t: np.loadtxt(tmp_path / "tweeteval" / t / "test_labels.txt", dtype=int) for t in shown}
    expected = {"irony": f1_score(truth["irony"], shown["irony"]),  # F1 of the irony class only
                "sentiment": recall_score(truth["sentiment"], shown["sentiment"], average="macro"),
                "hate": 1.0}
    assert abs(expected["irony"] - f1_score(truth["irony"], shown["irony"], average="macro")) > 0.01  # the metric matters
    monkeypatch.setattr(evaluate_mod, "load_gpt", lambda *a, **k: (None, None))
    monkeypatch.setattr(evaluate_mod, "cached_embeddings", _word_vectors)
    # Say the GPT read exactly irony's wrongly worded test tweets (with other spacing): the deduplicated
    # irony test set then holds only tweets whose word is the label, and scores 100.
    irony_test = (tmp_path / "tweeteval" / "irony" / "test_text.txt").read_text().splitlines()
    flipped = [f"  {t.replace(' ', '   ')} " for t, w, y in zip(irony_test, shown["irony"], truth["irony"]) if w != y]
    monkeypatch.setattr(evaluate_mod, "pretraining_tweets", lambda checkpoint: flipped)
    ckpt = tmp_path / "stand-in.pt"
    ckpt.write_bytes(b"not read: the vectors are stand-ins")
    out = tmp_path / "eval"
    evaluate_mod.main(["--checkpoint", str(ckpt), "--tasks", "irony", "sentiment", "hate", "emotion", "--features", "gpt",
                       "tfidf", "--data-dir", str(tmp_path), "--out", str(out), "--threads", "1"])
    results = json.loads((out / "results.json").read_text())
    res = results["per_task"]
    for feat in ("gpt", "tfidf"):
        for task, score in expected.items():
            assert res[task][feat]["test"] == pytest.approx(100 * score, abs=1e-4), (task, feat)  # JSON keeps 6 decimals
            assert res[task][feat]["val"] == pytest.approx(100.0)  # val tweets are all clean
        assert res["emotion"][feat]["test"] < 25 + 12  # four classes: chance macro-F1 is about 25
        assert res["irony"][feat]["test_dedup"] == pytest.approx(100.0) and res["irony"][feat]["test"] < 90
    removed = sum(t in {" ".join(f.split()) for f in flipped} for t in irony_test)  # flipped ones and their twins
    assert res["irony"]["n"]["test"] - res["irony"]["n"]["test_dedup"] == removed >= len(flipped) > 10
    # Every C ties on these clean val sets, so the first (lowest) C is kept: a choice on the grid's end, flagged.
    assert res["hate"]["gpt"]["C"] == min(evaluate_mod.C_GRID) and res["hate"]["gpt"]["C_edge"] == "lowest"
    assert "hate/gpt" in results["C_on_grid_edge"]


def test_probe_keeps_the_c_with_the_best_val_score():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 20))
    y = (x @ rng.standard_normal((20, 3)) + 2 * rng.standard_normal((400, 3))).argmax(1)
    score = lambda t, p: f1_score(t, p, average="macro")  # noqa: E731
    grid = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
    clf, val, c = evaluate_mod.fit_probe(x[:200], y[:200], x[200:], y[200:], score, grid, "balanced")
    by_c = {g: score(y[200:], LogisticRegression(C=g, max_iter=300, class_weight="balanced", tol=1e-3)
                     .fit(x[:200], y[:200]).predict(x[200:])) for g in grid}
    assert max(by_c.values()) - min(by_c.values()) > 0.03 and c not in (grid[0], grid[-1])  # C matters here
    assert val == pytest.approx(max(by_c.values())) and by_c[c] == pytest.approx(val)
    assert score(y[200:], clf.predict(x[200:])) == pytest.approx(val)


def test_a_c_on_the_end_of_the_grid_is_flagged(capsys):
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 20))
    y = (x @ rng.standard_normal((20, 3)) + 2 * rng.standard_normal((400, 3))).argmax(1)
    score = lambda t, p: f1_score(t, p, average="macro")  # noqa: E731
    grid = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
    c = evaluate_mod.fit_probe(x[:200], y[:200], x[200:], y[200:], score, grid, "balanced")[2]
    assert evaluate_mod.grid_edge(c, grid) is None  # an interior best (test_probe_keeps_the_c_with_the_best_val_score)
    below = [g for g in grid if g <= c]  # the same search, with the grid cut off at the best C
    assert evaluate_mod.fit_probe(x[:200], y[:200], x[200:], y[200:], score, below, "balanced")[2] == c
    assert evaluate_mod.grid_edge(c, below) == "highest"
    assert evaluate_mod.grid_edge(c, [g for g in grid if g >= c]) == "lowest"
    assert evaluate_mod.grid_edge(1.0, [1.0]) is None  # a single C is a choice the user made, not a search
    # The default grid ends with no penalty: nothing lies beyond it, so choosing it is not a search cut short
    assert evaluate_mod.C_GRID[-1] == math.inf and evaluate_mod.grid_edge(math.inf, evaluate_mod.C_GRID) is None
    assert evaluate_mod.grid_edge(1e5, evaluate_mod.C_GRID[:-1]) == "highest"
    assert evaluate_mod.c_value("inf") == math.inf and evaluate_mod.c_value("0.01") == 0.01  # --c-grid can say it too
    unpenalized = evaluate_mod.fit_probe(x[:200], y[:200], x[200:], y[200:], score, [math.inf], "balanced")[0]
    nearly = evaluate_mod.fit_probe(x[:200], y[:200], x[200:], y[200:], score, [1e8], "balanced")[0]
    assert np.allclose(unpenalized.coef_, nearly.coef_, rtol=1e-3, atol=1e-4)
    assert np.abs(unpenalized.coef_).sum() > np.abs(evaluate_mod.fit_probe(  # a penalty shrinks the weights
        x[:200], y[:200], x[200:], y[200:], score, [1e-2], "balanced")[0].coef_).sum()


def test_unseen_mask_drops_tweets_read_in_pretraining():
    seen = ["I love  this", "@user hello\tworld ", "other"]
    test = ["I love this", " @user hello world", "I love this!", "i love this", "fresh tweet"]
    assert evaluate_mod.unseen_mask(test, seen).tolist() == [False, False, True, True, True]
    assert evaluate_mod.unseen_mask(test, []).all()


@pytest.mark.slow
def test_dedup_rebuilds_the_corpus_the_checkpoint_was_trained_on(quick_run):
    """The --quick run trained on 2,940 of 3,000 corpus tweets (60 held out): evaluate.py must rebuild those,
    from the checkpoint's config, not the whole corpus or its held-out part."""
    printed = (quick_run / "train_stdout.txt").read_text()
    seen = evaluate_mod.pretraining_tweets(quick_run / "run" / "checkpoint.pt")
    assert f"corpus: {len(seen):,} train tweets" in printed and len(seen) == 2940
    train, held_out = corpus_mod.pretraining_split(None, 0.02, 3000)
    assert seen == train and not evaluate_mod.unseen_mask(train, seen).any()
    assert evaluate_mod.unseen_mask(held_out, seen).mean() > 0.9  # held-out tweets count as unseen (bar repeats)


def test_dedup_counts_of_the_default_corpus(tmp_path):
    """The numbers issue 18 measured independently: after collapsing whitespace, 234 of hate's test tweets, 53 of
    emoji's and 5 of offensive's are among the 79,074 tweets of the default pre-training run."""
    from shared.checkpoint import save_checkpoint
    from shared.data import tweeteval

    if not (Path(os.environ.get("PLAYGROUND_DATA", "data")) / "tweeteval" / "hate" / "test_text.txt").exists():
        pytest.skip("needs the TweetEval data ($PLAYGROUND_DATA)")
    ckpt = tmp_path / "checkpoint.pt"
    save_checkpoint(ckpt, model=tiny(), config={"val_fraction": 0.02, "max_tweets": 0, "data_dir": None})
    seen = evaluate_mod.pretraining_tweets(ckpt)
    repeated = {t: int((~evaluate_mod.unseen_mask(tweeteval(t, "test").texts, seen)).sum())
                for t in ("hate", "emoji", "offensive", "emotion", "irony")}
    assert len(seen) == 79_074 and repeated == {"hate": 234, "emoji": 53, "offensive": 5, "emotion": 0, "irony": 0}


def test_embedding_cache_key_covers_checkpoint_code_and_options(tmp_path, monkeypatch):
    texts = ["a tweet", "another tweet"]

    def key(texts=texts, **change):
        return evaluate_mod.embedding_cache_key(texts, **{"key": "0123|trained", "pooling": "mean", **change})

    base = key()
    assert key() == base
    changes = [{"key": "0124|trained"}, {"key": "0123|random0"}, {"pooling": "last"}, {"precision": "bf16"},
               {"whitespace": "keep"}, {"texts": texts[:1]}]
    assert len({key(**c) for c in changes} | {base}) == len(changes) + 1
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    a.write_bytes(b"weights")
    b.write_bytes(b"weightz")
    assert evaluate_mod.file_digest(a) != evaluate_mod.file_digest(b)
    # an edit to the pooling code (here: `last` reading the token before </s>) must miss the old cache
    source = (HERE / "embed.py").read_text()
    assert "lengths - 1]" in source
    edited = tmp_path / "embed.py"
    edited.write_text(source.replace("lengths - 1]", "lengths - 2]"))
    monkeypatch.setattr(evaluate_mod, "EMBEDDING_CODE", (edited, *evaluate_mod.EMBEDDING_CODE[1:]))
    assert key() != base
    edited.write_text(source)
    assert key() == base


def test_last_pooling_reads_the_end_token_of_a_tweet_longer_than_the_context(tok):
    embed_mod = load_module(HERE / "embed.py")
    model = tiny(vocab_size=tok.vocab_size).eval()  # block_size 16
    long = "I love this so much " * 10
    full = tok.encode(long)
    ids = embed_mod.encode_tweets(tok, [long, "I love"], 16, keep_end=True)
    assert len(full) > 16 and ids[0] == full[:15] + [tok.eos_id] and ids[1] == tok.encode("I love")
    assert embed_mod.encode_tweets(tok, [long], 16)[0] == full[:16]  # mean/wide pooling: the first 16 tokens, as before
    last = embed_mod.embed_texts(model, tok, [long], "last")[0]
    with torch.no_grad():
        at_eos = model.hidden_states(torch.tensor([full[:15] + [tok.eos_id]]))[0, -1]
    assert np.allclose(last, at_eos.numpy(), atol=1e-5)


@pytest.mark.slow
def test_sentiment_and_stance_on_synthetic_folders(quick_run, tmp_path):
    _fake_task(tmp_path, "sentiment", ["negative", "neutral", "positive"])
    for i, target in enumerate(("abortion", "atheism")):
        _fake_task(tmp_path, f"stance/{target}", ["none", "against", "favor"], seed=i + 1)
    out = tmp_path / "eval"
    run_script("evaluate.py", "--checkpoint", quick_run / "run" / "checkpoint.pt", "--tasks", "sentiment", "stance",
               "--features", "tfidf", "gpt", "--data-dir", tmp_path, "--out", out, cwd=tmp_path)
    res = json.loads((out / "results.json").read_text())
    assert set(res["per_task"]) == {"sentiment", "stance/abortion", "stance/atheism", "stance"}
    assert res["per_task"]["sentiment"]["tfidf"]["test"] > 90
    stance = res["per_task"]["stance"]["tfidf"]["test"]
    assert stance == pytest.approx(np.mean([res["per_task"][f"stance/{t}"]["tfidf"]["test"] for t in ("abortion", "atheism")]))


def test_pooling_options_agree():
    embed_mod = load_module(HERE / "embed.py")
    model = tiny().eval()
    ids = [[1, 5, 6, 7, 2], [1, 8, 2], [1, 2]]
    mean = embed_mod.embed_ids(model, ids, "mean")
    layers = embed_mod.embed_ids(model, ids, "layers")
    last = embed_mod.embed_ids(model, ids, "last")
    wide = embed_mod.embed_ids(model, ids, "wide")
    assert layers.shape == (3, 32 * 3) and np.allclose(layers[:, -32:], mean, atol=1e-6)
    assert wide.shape == (3, 2 * 3 * 32 + 2 * 4 * 32) and np.allclose(wide[:, :96], layers, atol=1e-6)
    with torch.no_grad():  # batching with padding changes nothing: each tweet alone gives the same vector
        for row, tweet in enumerate(ids):
            h = model.hidden_states(torch.tensor([tweet]))[0]
            assert np.allclose(mean[row], h.mean(0).numpy(), atol=1e-5)
            assert np.allclose(last[row], h[-1].numpy(), atol=1e-5)
            # wide = layer means, layer maxes, then each block's MLP neurons' max (pads never win a max)
            states, neurons = embed_mod.layer_states(model, torch.tensor([tweet]), mlp=True)
            alone = torch.cat([s[0].mean(0) for s in states] + [a[0].amax(0) for a in states + neurons])
            assert np.allclose(wide[row], alone.numpy(), atol=1e-5)
    bf16 = embed_mod.embed_ids(model, ids, "mean", precision="bf16")
    assert np.linalg.norm(bf16 - mean) / np.linalg.norm(mean) < 0.02


def test_whitespace_does_not_change_the_vector(tok):
    """Blank runs are no signal (and an annotation artifact in TweetEval irony): 'a  b  ' embeds as 'a b'."""
    embed_mod = load_module(HERE / "embed.py")
    model = tiny(vocab_size=tok.vocab_size).eval()
    spaced, plain, other = embed_mod.embed_texts(model, tok, ["  I love\tthis  so much  ", "I love this so much", "I love that"])
    assert np.array_equal(spaced, plain)
    assert not np.allclose(plain, other)
    raw_spaced, raw_plain = embed_mod.embed_texts(model, tok, ["I love this so much  ", "I love this so much"], whitespace="keep")
    assert not np.allclose(raw_spaced, raw_plain)  # --whitespace keep feeds the spaces (the irony artifact)


# ----------------------------------------------------------------------------- issue 12: bad input is one line, exit 2
def fails_with_one_line(name, *args, cwd, expect):
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    argv = [sys.executable, str(HERE / name), *(a if isinstance(a, bytes) else str(a) for a in args)]
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert expect in lines[0], lines[0]


@pytest.mark.slow
def test_resume_compares_every_flag_that_defines_the_run(quick_run):
    """Item 4: the GPT resumed with another seed, tokenizer and data flags (only the model config was compared)."""
    run = quick_run / "run"
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    fails_with_one_line("train.py", "--quick", "--resume", "--seed", "3", "--vocab-size", "300", "--max-tweets", "2000",
                        "--max-steps", "60", "--out", run, cwd=quick_run,
                        expect="seed 3 (the run: 0), vocab_size 300 (the run: 512), max_steps 60 (the run: 30), "
                               "max_tweets 2000 (the run: 3000)")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


@pytest.mark.slow
def test_bad_input_to_the_gpt_scripts(quick_run, tmp_path):
    """Items 10 and 11: each of these ended in a traceback (exit 1) or wrote somewhere else than asked."""
    ckpt = quick_run / "run" / "checkpoint.pt"
    (tmp_path / "in.txt").write_text("a tweet\n")
    (tmp_path / "a_file").write_text("")
    fails_with_one_line("train.py", "--quick", "--max-tweets", "1", "--out", tmp_path / "r", cwd=tmp_path,
                        expect="leave none for training")
    fails_with_one_line("train.py", "--quick", "--seed", "20000000000000", "--out", tmp_path / "r", cwd=tmp_path,
                        expect="--seed")
    fails_with_one_line("evaluate.py", "--checkpoint", ckpt, "--max-train", "-5", cwd=tmp_path, expect="--max-train")
    fails_with_one_line("sample.py", "--checkpoint", ckpt, "--prompt", b"caf\xe9 \xff", cwd=tmp_path, expect="UTF-8")
    fails_with_one_line("sample.py", "--checkpoint", ckpt, "--seed", "20000000000000", cwd=tmp_path, expect="--seed")
    for output in (tmp_path, tmp_path / "x.bin", tmp_path / "a_file" / "x.npy"):  # a folder, np.save's .npy, unwritable
        fails_with_one_line("embed.py", "--checkpoint", ckpt, "--input", tmp_path / "in.txt", "--output", output,
                            cwd=tmp_path, expect="--output")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "in.txt"]


@pytest.mark.slow
def test_embed_rows_are_the_input_lines(quick_run, tmp_path):
    """Item 11: a lone '\\r' split a tweet into two rows and a UTF-8 BOM stayed in the first tweet."""
    ckpt = quick_run / "run" / "checkpoint.pt"
    (tmp_path / "bom.txt").write_bytes("\ufeffgood\rmorning\nsecond\n".encode("utf-8"))
    (tmp_path / "plain.txt").write_bytes("good\rmorning\nsecond\n".encode("utf-8"))
    for stem in ("bom", "plain"):
        r = run_script("embed.py", "--checkpoint", ckpt, "--input", tmp_path / f"{stem}.txt", "--output",
                       tmp_path / f"{stem}.npy", cwd=tmp_path)
        assert str(tmp_path / f"{stem}.npy") in r.stdout
    bom, plain = np.load(tmp_path / "bom.npy"), np.load(tmp_path / "plain.npy")
    assert bom.shape[0] == 2 and np.array_equal(bom, plain)
