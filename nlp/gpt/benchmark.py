"""Speed of the default config on this machine: training tokens/s, SDPA vs reference attention, embedding tweets/s.

    flock /tmp/playground-cpu.lock python nlp/gpt/benchmark.py     # -> nlp/gpt/benchmark.md + benchmark.json
    flock /tmp/playground-cpu.lock python nlp/gpt/benchmark.py --scaling   # 1 vs 2 torchrun processes (~2 min)

Timings are medians over repeats after warm-up, on random token ids (speed does not depend on the
values) except the embedding row, which embeds real TweetEval test tweets with real lengths.
"""
import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from corpus import corpus_texts, split_corpus
from embed import embed_texts, pooled_width
from model import GPT, GPTConfig
from shared.cli import ArgumentParser, autocast, main_guard, positive_int
from shared.distributed import measure_scaling, scaling_markdown, scaling_section, with_section
from shared.data import tweeteval
from shared.plotting import save_json
from tokenizer import cached_tokenizer, train_tokenizer
from train import parse_args as train_defaults

HERE = Path(__file__).resolve().parent


def median_time(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=positive_int, default=10, help="timed repeats per measurement")
    p.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads")
    p.add_argument("--embed-tweets", type=positive_int, default=5000, help="tweets embedded for the tweets/s row")
    p.add_argument("--out", type=Path, default=HERE, help="folder for benchmark.md / benchmark.json")
    p.add_argument("--scaling", action="store_true",
                   help="only time train.py (default config) under torchrun with 1 and 2 processes of one thread each, "
                        "and rewrite that section of benchmark.md (+ benchmark_scaling.json)")
    p.add_argument("--scaling-steps", type=positive_int, default=30, help="optimizer steps per --scaling run")
    args = p.parse_args(argv)
    if args.scaling:
        return scaling(args)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    d = train_defaults([])  # the default training config, read from train.py's flags
    cfg = GPTConfig(vocab_size=d.vocab_size, block_size=d.block_size, n_layer=d.n_layer, n_head=d.n_head,
                    n_embd=d.n_embd, dropout=d.dropout)
    model = GPT(cfg)
    opt = torch.optim.AdamW(model.optimizer_groups(d.weight_decay), lr=d.lr)
    x = torch.randint(3, cfg.vocab_size, (d.batch_size, cfg.block_size))
    rows = []

    def train_step(reference=False, precision="fp32"):
        with autocast("cpu", precision):
            _, loss = model(x, x, reference=reference)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for reference in (False, True):  # fp32 first: the FLOP/s row below uses it
        t = median_time(lambda: train_step(reference), args.repeats)
        rows.append({"what": f"training step, {'reference' if reference else 'SDPA'} attention, fp32",
                     "value": d.batch_size * cfg.block_size / t, "unit": "tokens/s"})
    t = median_time(lambda: train_step(precision="bf16"), args.repeats)
    rows.append({"what": f"training step, SDPA attention, bf16 autocast{' (the default)' if d.precision == 'bf16' else ''}",
                 "value": d.batch_size * cfg.block_size / t, "unit": "tokens/s"})
    # 6 flops per parameter per token (forward 2, backward 4), the tied head counted once
    rows.append({"what": "training throughput in GFLOP/s (6 N per token, attention excluded)",
                 "value": 6 * model.num_params(False) * rows[0]["value"] / 1e9, "unit": "GFLOP/s"})

    # Attention alone, forward + backward, so the ratio isn't diluted by the MLP and head
    attn = model.blocks[0].attn
    h = torch.randn(d.batch_size, cfg.block_size, cfg.n_embd, requires_grad=True)
    times = {}
    for reference in (False, True):
        times[reference] = median_time(lambda: attn(h, reference=reference).sum().backward(), args.repeats * 3)
    rows.append({"what": "attention layer fwd+bwd: reference time / SDPA time", "value": times[True] / times[False],
                 "unit": "x"})

    model.eval()
    texts = tweeteval("emoji", "test").texts[: args.embed_tweets]
    corpus = split_corpus(corpus_texts(), d.val_fraction, d.max_tweets)[0]
    t0 = time.perf_counter()
    train_tokenizer(corpus, cfg.vocab_size)
    rows.append({"what": f"training the BPE tokenizer on {len(corpus):,} tweets", "value": time.perf_counter() - t0,
                 "unit": "s"})
    tok = cached_tokenizer(corpus, cfg.vocab_size)  # the tokenizer train.py uses by default
    for precision in ("fp32", "bf16"):
        t = median_time(lambda: embed_texts(model, tok, texts, precision=precision), max(1, args.repeats // 5), warmup=1)
        rows.append({"what": f"embedding {len(texts)} real tweets, {precision} (tokenize + forward + mean-pool)",
                     "value": len(texts) / t, "unit": "tweets/s"})
    t = median_time(lambda: embed_texts(model, tok, texts, "wide", precision="bf16"), max(1, args.repeats // 5), warmup=1)
    rows.append({"what": f"embedding {len(texts)} real tweets, bf16, --pooling wide ({pooled_width(cfg, 'wide'):,}-d)",
                 "value": len(texts) / t, "unit": "tweets/s"})

    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    lines = [f"Default config: {cfg.n_layer} layers, d={cfg.n_embd}, {cfg.n_head} heads, context {cfg.block_size}, "
             f"vocab {cfg.vocab_size}, batch {d.batch_size}. Machine: {machine}.", "",
             "| measurement | value | unit |", "|---|---|---|"]
    lines += [f"| {r['what']} | {r['value']:,.1f} | {r['unit']} |" for r in rows]
    table = "\n".join(lines)
    print(table)
    md = args.out / "benchmark.md"
    kept = scaling_section(md.read_text()) if md.exists() else ""  # written by --scaling
    md.write_text(table + "\n" + ("\n" + kept if kept else ""))
    save_json({"config": vars(cfg), "machine": machine, "rows": rows}, args.out / "benchmark.json")


def scaling(args):
    """Tokens/s of the real training loop (the default model, batch and corpus) for 1 vs 2 processes."""
    flags = ["--max-steps", 1000, "--stop-after", args.scaling_steps, "--log-interval", 5, "--eval-interval", 100000,
             "--ckpt-interval", 100000]
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure_scaling(HERE / "train.py", flags, "tokens_per_s", tmp)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    section = scaling_markdown(rows, "tokens_per_s", "training tokens/s (global batch)", machine)
    print(section)
    md = args.out / "benchmark.md"
    md.write_text(with_section(md.read_text() if md.exists() else "", section))
    save_json(rows, args.out / "benchmark_scaling.json")


if __name__ == "__main__":
    main_guard(main)()
