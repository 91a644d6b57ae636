"""Pre-train a small GPT on tweets (the train + val texts of TweetEval) with next-token prediction.

    python nlp/gpt/train.py                      # default config, ~25 min on a 2-core CPU -> runs/gpt/
    python nlp/gpt/train.py --quick --out /tmp/g # smoke test, seconds
    python nlp/gpt/train.py --resume             # continue runs/gpt/checkpoint.pt exactly where it stopped

Writes <out>/checkpoint.pt (model, optimizer, scheduler, RNG, tokenizer), <out>/tokenizer.json,
<out>/metrics.jsonl (loss, lr, tokens/s, val_loss) and <out>/config.json.
"""
import math
import time
from dataclasses import asdict

import torch
from tqdm import tqdm

from corpus import PackedTweets, pretraining_split
from model import GPT, GPTConfig
from shared.checkpoint import load_checkpoint, save_checkpoint
from shared import distributed
from shared.cli import (PRECISIONS, Run, autocast, experiment_parser, main_guard, non_negative_float, non_negative_int,
                        parse_args as parse_flags, positive_float, positive_int)
from shared.errors import PlaygroundError
from shared.seeding import seed_everything
from tokenizer import TweetTokenizer, cached_tokenizer

QUICK = dict(vocab_size=512, n_layer=2, n_head=2, n_embd=64, block_size=32, batch_size=8, grad_accum=2,
             max_steps=30, warmup_steps=5, eval_interval=10, eval_batches=2, log_interval=1, max_tweets=3000)


def parse_args(argv=None):
    p = experiment_parser("gpt", description=__doc__)
    m = p.add_argument_group("model")
    m.add_argument("--vocab-size", type=positive_int, default=8192, help="BPE vocabulary size incl. 3 special tokens")
    m.add_argument("--block-size", type=positive_int, default=64, help="context length in tokens")
    m.add_argument("--n-layer", type=positive_int, default=4, help="transformer blocks")
    m.add_argument("--n-head", type=positive_int, default=4, help="attention heads (must divide --n-embd)")
    m.add_argument("--n-embd", type=positive_int, default=256, help="width of the residual stream")
    m.add_argument("--dropout", type=non_negative_float, default=0.0,
                   help="dropout on embeddings, attention and residuals (0: the default run reads each tweet ~3 times and its train/val gap stays small)")
    o = p.add_argument_group("optimization")
    o.add_argument("--batch-size", type=positive_int, default=16, help="sequences per micro-batch")
    o.add_argument("--grad-accum", type=positive_int, default=2, help="micro-batches summed into one optimizer step")
    o.add_argument("--max-steps", type=positive_int, default=3200, help="optimizer steps (the cosine schedule's length)")
    o.add_argument("--stop-after", type=positive_int, default=None,
                   help="stop (with a checkpoint) after this step without changing the schedule; --resume continues")
    o.add_argument("--lr", type=positive_float, default=1e-3, help="peak learning rate")
    o.add_argument("--min-lr", type=non_negative_float, default=1e-4, help="learning rate at the end of the cosine decay")
    o.add_argument("--warmup-steps", type=non_negative_int, default=100, help="linear warmup from 0 to --lr")
    o.add_argument("--weight-decay", type=non_negative_float, default=0.1, help="AdamW decay, applied to matrices only")
    o.add_argument("--beta1", type=positive_float, default=0.9, help="AdamW beta1")
    o.add_argument("--beta2", type=positive_float, default=0.95, help="AdamW beta2 (GPT-3's 0.95: faster second-moment adaptation)")
    o.add_argument("--grad-clip", type=non_negative_float, default=1.0, help="clip the global gradient norm (0 = off)")
    o.add_argument("--precision", choices=PRECISIONS, default="bf16",
                   help="autocast precision of the forward pass; bf16 matmuls are ~1.4x faster on a CPU with "
                        "AVX-512 BF16, while weights, gradients and AdamW stay fp32")
    d = p.add_argument_group("data and logging")
    d.add_argument("--val-fraction", type=positive_float, default=0.02, help="share of corpus tweets held out for val loss")
    d.add_argument("--max-tweets", type=non_negative_int, default=0, help="use only this many corpus tweets (0 = all)")
    d.add_argument("--eval-interval", type=positive_int, default=100, help="steps between validation losses")
    d.add_argument("--eval-batches", type=non_negative_int, default=0,
                   help="micro-batches of held-out windows per validation (0 = all: every held-out tweet, once)")
    d.add_argument("--log-interval", type=positive_int, default=10, help="steps between train-loss log rows")
    d.add_argument("--ckpt-interval", type=positive_int, default=250, help="steps between checkpoints")
    d.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads")
    args = parse_flags(p, argv, quick=QUICK)  # --quick shrinks whatever the user did not give
    if args.n_embd % args.n_head:
        p.error(f"--n-embd {args.n_embd} is not divisible by --n-head {args.n_head}")
    if not 0 < args.val_fraction < 1:
        p.error("--val-fraction must be between 0 and 1")
    if args.beta1 >= 1 or args.beta2 >= 1:
        p.error("--beta1 and --beta2 must be < 1")
    return args


def lr_lambda(args):
    """Multiplier on --lr: linear warmup (Adam's early moment estimates are noisy), then cosine to --min-lr."""
    floor = args.min_lr / args.lr

    def f(step):
        if step < args.warmup_steps:
            return (step + 1) / (args.warmup_steps + 1)
        progress = min(1.0, (step - args.warmup_steps) / max(1, args.max_steps - args.warmup_steps))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


@torch.no_grad()
def validation_loss(model, val: PackedTweets, args, device, dist=None) -> float:
    """Mean next-token loss over every token of every held-out tweet, each scored once with the tweet read on its
    own from its <s> (as embed.py reads a tweet); --eval-batches N > 0 keeps the first N micro-batches only.
    Under torchrun each rank takes every W-th micro-batch and the token-weighted sums are added up."""
    dist = dist or distributed.Distributed(device)
    model.eval()
    inputs, targets = val.tweet_windows()
    n = len(inputs) if not args.eval_batches else min(len(inputs), args.eval_batches * args.batch_size)
    losses, counts = [], []
    for i in range(dist.rank * args.batch_size, n, dist.world_size * args.batch_size):
        x, y = inputs[i:i + args.batch_size], targets[i:i + args.batch_size]
        width = int((y != val.pad_id).sum(1).max())  # targets are a prefix of each row: the rest is padding only
        x, y = x[:, :width], y[:, :width]
        losses.append(model(x.to(device), y.to(device))[1].item())
        counts.append((y != val.pad_id).sum().item())
    model.train()
    return dist.all_reduce_sum(sum(l * c for l, c in zip(losses, counts))) / dist.all_reduce_sum(sum(counts))


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    dist = distributed.setup(args.device, batch_size=args.batch_size)  # --batch-size is the global micro-batch
    device = dist.device
    seed_everything(args.seed)  # the same seed on every rank: identical initial weights
    run = Run(args.out, config=vars(args), write=dist.is_main)  # rank 0 refuses a busy folder, or a --resume with other flags, before writing

    # --- data: tokenizer trained on the training tweets only (the held-out ones stay unseen)
    train_texts, val_texts = pretraining_split(args.data_dir, args.val_fraction, args.max_tweets)
    with dist.main_first():  # rank 0 trains and caches the tokenizer, the others read it
        tok = cached_tokenizer(train_texts, args.vocab_size)
    train = PackedTweets(tok.encode_batch(train_texts), args.block_size, tok.pad_id)
    val = PackedTweets(tok.encode_batch(val_texts), args.block_size, tok.pad_id)
    print(f"corpus: {len(train_texts):,} train tweets ({train.n_tokens:,} tokens), "
          f"{len(val_texts):,} held-out tweets ({val.n_tokens:,} tokens); vocab {tok.vocab_size}")

    # --- model and optimizer
    config = GPTConfig(vocab_size=tok.vocab_size, block_size=args.block_size, n_layer=args.n_layer, n_head=args.n_head,
                       n_embd=args.n_embd, dropout=args.dropout, pad_id=tok.pad_id)
    model = GPT(config).to(device)
    print(f"model: {model.num_params() / 1e6:.2f}M parameters without embeddings, {model.num_params(False) / 1e6:.2f}M in all")
    optimizer = torch.optim.AdamW(model.optimizer_groups(args.weight_decay), lr=args.lr, betas=(args.beta1, args.beta2))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(args))

    step = 0
    if args.resume and run.checkpoint_path.exists():
        ckpt = load_checkpoint(run.checkpoint_path, model=model, optimizer=optimizer, scheduler=scheduler, map_location=device)
        if ckpt["extra"].get("model_config") != asdict(config):
            raise PlaygroundError(f"{run.checkpoint_path} was trained with another model config; resume with the same flags")
        step = ckpt["step"]
        run.truncate_metrics(step)
        print(f"resumed from step {step}")
    if dist.is_main:  # after the resume checks: a refused run writes nothing
        tok.save(run.dir / "tokenizer.json")
    ddp_model = dist.wrap(model)  # trains; `model` (the same parameters, unwrapped) is saved and evaluated

    def checkpoint():
        if dist.is_main:
            save_checkpoint(run.checkpoint_path, model=model, optimizer=optimizer, scheduler=scheduler, step=step,
                            config=run.config, extra={"model_config": asdict(config), "tokenizer": tok.to_str()})

    tokens_per_step = args.batch_size * args.grad_accum * args.block_size
    last = min(args.max_steps, args.stop_after or args.max_steps)
    bar = tqdm(total=last, initial=step, desc="train", unit="step", disable=None if dist.is_main else True)
    model.train()
    t_last, steps_since = time.time(), 0
    while step < last:
        # The batch depends only on (seed, step), so a resumed run draws exactly the batches it would have.
        g = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        loss_sum = 0.0
        for micro in range(args.grad_accum):
            x, y = train.batch(args.batch_size, g)  # the global micro-batch, drawn alike on every rank
            share = dist.shard_weight(y != tok.pad_id)  # ranks may hold unequal numbers of non-pad targets
            x, y = dist.shard(x), dist.shard(y)
            with dist.no_sync(ddp_model, sync=micro == args.grad_accum - 1):  # all-reduce once, after the last
                with autocast(device, args.precision):
                    _, loss = ddp_model(x.to(device), y.to(device))
                loss = loss * share
                (loss / args.grad_accum).backward()  # the sum of micro-batch grads = the grad of the big batch's mean
            loss_sum += loss.item() / args.grad_accum
        run.check_finite(step + 1, loss=loss_sum)  # before the update, so the last checkpoint stays a good one
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip if args.grad_clip > 0 else float("inf"))
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        steps_since += 1
        bar.update(1)

        evaluate_now = step % args.eval_interval == 0 or step == args.max_steps
        if step % args.log_interval == 0 or evaluate_now or step == last:
            elapsed = time.time() - t_last
            tps = steps_since * tokens_per_step / max(elapsed, 1e-9)
            t_last, steps_since = time.time(), 0
            loss_sum = dist.all_reduce_mean(loss_sum)  # the global batch's loss
            row = dict(loss=loss_sum, lr=lr, grad_norm=grad_norm.item(), tokens_per_s=tps, tokens=step * tokens_per_step)
            if evaluate_now:
                row["val_loss"] = validation_loss(model, val, args, device, dist)
                t_last = time.time()  # validation time doesn't count against training throughput
            run.log(step, **row)
            bar.set_postfix(loss=f"{loss_sum:.3f}", tok_s=f"{tps:,.0f}", **({"val": f"{row['val_loss']:.3f}"} if "val_loss" in row else {}))
        if step % args.ckpt_interval == 0 or step == last:
            checkpoint()
    bar.close()
    dist.close()
    print(f"done: step {step}, checkpoint {run.checkpoint_path}")


if __name__ == "__main__":
    main_guard(main)()
