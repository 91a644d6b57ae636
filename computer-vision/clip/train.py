"""Train a minimal CLIP on image-caption pairs made from MNIST / CIFAR-10 (see captions.py).

    python computer-vision/clip/train.py --dataset mnist           # ResNet-8, 4.7 min on a 2-core CPU
    python computer-vision/clip/train.py --dataset cifar10         # ResNet-8 + BPE-dropout, 16.4 min
    python computer-vision/clip/train.py --dataset mnist-pairs     # ViT on two-digit canvases, 17.6 min
    python computer-vision/clip/train.py --dataset cifar10 --objective supervised   # the reference row, 8.8 min
    python computer-vision/clip/train.py --dataset mnist --quick   # smoke test, seconds
    torchrun --standalone --nproc_per_node=2 computer-vision/clip/train.py --dataset mnist --threads 1

The run folder (default runs/clip-<dataset>, or runs/clip-<dataset>-supervised) gets config.json,
metrics.jsonl (loss, logit scale, a zero-shot monitor on 1,000 test images) and checkpoint.pt (weights,
optimizer, RNG, the CLIP config and the trained BPE tokenizer). Under torchrun the contrastive loss is over the
global batch: every rank gathers all ranks' embeddings (with gradients) before the similarity matrix.
"""
import argparse
import functools
import math
import random
import time

import torch
import torch.nn.functional as F
from tqdm import tqdm

from captions import DATASETS, CaptionData, random_crop_flip, stream
from evaluate import class_embeddings, encode_images
from model import CaptionTokenizer, CLIPConfig, Preprocess, Supervised, build, clip_loss, config_dict
from shared import distributed
from shared.checkpoint import load_checkpoint, save_checkpoint
from shared.cli import (Run, add_loop_args, autocast, experiment_parser, main_guard, non_negative_float,
                        non_negative_int, parse_args, positive_float, positive_int, probability)
from shared.errors import PlaygroundError
from shared.seeding import seed_everything

# Per-dataset defaults, sized so each default run trains in <= 30 min on a 2-core CPU (README: measured times).
# Single images: a ResNet, whose convolutions and average pooling build in translation invariance, learns more
# per CPU-minute than a ViT that must learn it from data (a ViT with 4x4 patches trains at 530 MNIST images/s
# here, the ResNet-8 at 1,400). Digit pairs: a ViT, because its learned positions keep *where* each digit is,
# which a global average pool throws away; 7x7 patches keep its cost down.
# BPE-dropout (see CaptionTokenizer.encode_with_dropout) only for CIFAR-10: there it lifts the unseen template
# "a snapshot of a {}" from 45% to 82.5%; on digits every unseen template already scored 99.6% without it, and with
# it "my favourite number is {}" fell to 82.6%, its pieces "f", "our", "e" having learned to mean "four"/"five".
DEFAULTS = {
    "mnist": dict(image_encoder="resnet", patch_size=7, vision_width=32, steps=1500, lr=2e-3, bpe_dropout=0.0),
    "cifar10": dict(image_encoder="resnet", patch_size=4, vision_width=32, steps=3000, lr=2e-3, bpe_dropout=0.1),
    "mnist-pairs": dict(image_encoder="vit", patch_size=7, vision_width=128, steps=3000, lr=1e-3, hard_negatives=True,
                        bpe_dropout=0.0),
    "mix": dict(image_encoder="vit", patch_size=7, vision_width=128, steps=2000, lr=1e-3, bpe_dropout=0.0),
}


def get_args(argv=None):
    p = experiment_parser("clip", description=__doc__)
    p.add_argument("--dataset", choices=DATASETS, default="mnist")
    p.add_argument("--objective", choices=("clip", "supervised"), default="clip",
                   help="supervised: the same image encoder + a linear classifier on the labels, same budget (reference)")
    g = p.add_argument_group("image encoder (defaults depend on --dataset, see DEFAULTS)")
    g.add_argument("--image-encoder", choices=("vit", "resnet"), default=None)
    g.add_argument("--patch-size", type=positive_int, default=None, help="ViT patch side in pixels")
    g.add_argument("--vision-width", type=positive_int, default=None, help="ViT width, or the ResNet's first-stage channels")
    g.add_argument("--vision-layers", type=positive_int, default=4, help="ViT blocks")
    g.add_argument("--vision-heads", type=positive_int, default=4)
    g = p.add_argument_group("text encoder")
    g.add_argument("--vocab-size", type=positive_int, default=512, help="BPE vocabulary (bytes + merges + 3 specials)")
    g.add_argument("--context-length", type=positive_int, default=32)
    g.add_argument("--text-width", type=positive_int, default=128)
    g.add_argument("--text-layers", type=positive_int, default=3)
    g.add_argument("--text-heads", type=positive_int, default=4)
    g.add_argument("--bpe-dropout", type=probability, default=None,
                   help="BPE-dropout while training: each merge skipped with this probability, 0 = off "
                        "(default: 0.1 for cifar10, 0 for digits; see DEFAULTS)")
    g.add_argument("--embed-dim", type=positive_int, default=128, help="size of the shared image-text space")
    g.add_argument("--hard-negatives", action=argparse.BooleanOptionalAction, default=None,
                   help="NegCLIP: add each pair caption with its digits swapped as an extra negative "
                        "(default: on for mnist-pairs, the only dataset of pairs alone)")
    g = p.add_argument_group("optimisation")
    g.add_argument("--steps", type=positive_int, default=None)
    g.add_argument("--batch-size", type=positive_int, default=256,
                   help="global batch: the number of captions each image is contrasted with")
    g.add_argument("--lr", type=positive_float, default=None, help="AdamW peak learning rate")
    g.add_argument("--weight-decay", type=non_negative_float, default=0.1, help="AdamW, on weight matrices only")
    g.add_argument("--warmup", type=non_negative_int, default=200, help="linear warmup steps, then cosine to 0")
    g.add_argument("--crop-pad", type=non_negative_int, default=None,
                   help="random shifts of up to this many pixels (default 4 for cifar10, 2 for digits)")
    g = p.add_argument_group("bookkeeping")
    g.add_argument("--log-every", type=positive_int, default=50)
    g.add_argument("--eval-every", type=positive_int, default=250, help="zero-shot monitor on 1,000 test images")
    g.add_argument("--checkpoint-every", type=positive_int, default=250)
    add_loop_args(g, "autocast precision of the forward pass (bf16: about 2x faster on this CPU)")
    quick = dict(steps=30, batch_size=32, vision_width=32, vision_layers=1, text_width=32, text_layers=1, embed_dim=32,
                 log_every=10, eval_every=15, checkpoint_every=15, warmup=5)
    args = parse_args(p, argv, quick=quick)
    for name, value in DEFAULTS[args.dataset].items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    if args.crop_pad is None:
        args.crop_pad = 4 if args.dataset == "cifar10" else 2
    if args.out == p.get_default("out"):
        args.out = args.out.with_name(f"clip-{args.dataset}" + ("-supervised" if args.objective == "supervised" else ""))
    if args.hard_negatives is None:
        args.hard_negatives = False
    if args.hard_negatives and args.dataset != "mnist-pairs":
        raise PlaygroundError("--hard-negatives swaps the digits of pair captions; use it with --dataset mnist-pairs")
    if args.objective == "supervised" and args.dataset not in ("mnist", "cifar10"):
        raise PlaygroundError("--objective supervised is the reference for mnist and cifar10; pick one of those")
    return args


def lr_factor(step: int, args) -> float:
    if step < args.warmup:
        return (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def make_optimizer(model, args):
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]  # gains, biases, logit_scale, class token
    # CLIP's Adam settings (beta2 0.98, eps 1e-6: steadier with a learned temperature)
    return torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98), eps=1e-6)


@torch.no_grad()
def zero_shot_monitor(model, data, tokenizer, preprocess, device, n: int = 1000) -> dict:
    """Zero-shot accuracy on a fixed random subset of n test images with the training templates, averaged text embeddings."""
    model.eval()
    out = {}
    if data.singles:
        images, labels = data.test_singles(n)
        feats = encode_images(model, preprocess, images, device)
        classes = class_embeddings(model, tokenizer, data.single_prompts(heldout_templates=False), device)
        out["zero_shot"] = (feats @ classes.T).argmax(1).eq(labels.to(device)).float().mean().item()
    if data.pairs:
        images, a, b = data.test_pairs(n)
        feats = encode_images(model, preprocess, images, device)
        classes = class_embeddings(model, tokenizer, data.pair_prompts(heldout_templates=False), device)
        out["pair_zero_shot"] = (feats @ classes.T).argmax(1).eq((10 * a + b).to(device)).float().mean().item()
    model.train()
    return out


@torch.no_grad()
def supervised_monitor(classifier, data, preprocess, device, n: int = 1000) -> dict:
    classifier.eval()
    images, labels = data.test_singles(n)
    x = preprocess.normalize(images.to(device))
    acc = classifier(x).argmax(1).eq(labels.to(device)).float().mean().item()
    classifier.train()
    return {"test_accuracy": acc}


def main(argv=None):
    args = get_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)  # the same seed on every rank: identical initial weights
    dist = distributed.setup(args.device, batch_size=args.batch_size)
    device = dist.device
    with dist.main_first():  # rank 0 decodes the dataset into the cache, the others read it
        data = CaptionData(args.dataset, data_dir=args.data_dir, quick=args.quick)

    run = Run(args.out, config=vars(args), write=dist.is_main)
    resuming = args.resume and run.checkpoint_path.exists()
    if resuming:  # the tokenizer is part of the run: a resumed run keeps the one it started with
        from shared.checkpoint import read_checkpoint
        tokenizer = CaptionTokenizer.from_str(read_checkpoint(run.checkpoint_path)["extra"]["tokenizer"], args.context_length)
    else:
        tokenizer = CaptionTokenizer.train(data.training_corpus(), args.vocab_size, args.context_length)
    try:
        cfg = CLIPConfig(image_encoder=args.image_encoder, image_size=data.image_size, in_channels=data.channels,
                         mean=data.mean, std=data.std, patch_size=args.patch_size, vision_width=args.vision_width,
                         vision_layers=args.vision_layers, vision_heads=args.vision_heads,
                         vocab_size=tokenizer.vocab_size, context_length=args.context_length,
                         text_width=args.text_width, text_layers=args.text_layers, text_heads=args.text_heads,
                         embed_dim=args.embed_dim)
    except ValueError as e:
        raise PlaygroundError(str(e)) from None
    preprocess = Preprocess(cfg)
    model = build(cfg, tokenizer).to(device)
    n_classes = 10
    trained = Supervised(model, n_classes).to(device) if args.objective == "supervised" else model
    optimizer = make_optimizer(trained, args)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, args))
    if device.type == "cpu" and args.image_encoder == "resnet":
        trained = trained.to(memory_format=torch.channels_last)  # oneDNN's fast convolution layout on CPU

    step, elapsed, running = 0, 0.0, 0.0
    if resuming:
        state = load_checkpoint(run.checkpoint_path, model=trained, optimizer=optimizer, scheduler=scheduler,
                                map_location=device)
        step, elapsed, running = state["step"], state["extra"]["elapsed"], state["extra"]["running"]
        run.truncate_metrics(step)
        print(f"resumed from {run.checkpoint_path} at step {step}")
    ddp = dist.wrap(trained)
    params = sum(p.numel() for p in trained.parameters())
    print(f"{args.objective} {args.image_encoder} on {args.dataset}: {params / 1e6:.2f}M params, {data.n_train} train "
          f"images, {args.steps} steps of {args.batch_size}, BPE vocabulary {tokenizer.vocab_size}")

    def checkpoint():
        running_all = dist.all_reduce_mean(running)
        if dist.is_main:
            save_checkpoint(run.checkpoint_path, model=trained, optimizer=optimizer, scheduler=scheduler, step=step,
                            config=run.config, extra={"clip_config": config_dict(cfg), "tokenizer": tokenizer.to_str(),
                                                      "objective": args.objective, "elapsed": elapsed,
                                                      "running": running_all})

    def monitor():
        if args.objective == "supervised":
            return supervised_monitor(trained, data, preprocess, device)
        return zero_shot_monitor(model, data, tokenizer, preprocess, device)

    if step == 0 and dist.is_main:
        run.log(0, **monitor())
    trained.train()
    t0 = time.time()
    bar = tqdm(total=args.steps, initial=step, desc=f"train {args.dataset}", disable=None if dist.is_main else True,
               dynamic_ncols=True)
    stop_at = args.steps if args.stop_after is None else min(args.steps, step + args.stop_after)
    while step < stop_at:
        images, captions, labels = data.batch(step, args.batch_size, args.seed)
        negatives = dist.shard(data.last_negatives) if args.hard_negatives else None
        g = stream("augment", args.seed, step)  # independent of the caption draws (see captions.stream)
        subwords = random.Random(torch.randint(2**62, (1,), generator=stream("subwords", args.seed, step)).item())
        tokenize = functools.partial(tokenizer, dropout=args.bpe_dropout, rng=subwords)
        images = random_crop_flip(images, args.crop_pad, data.flip, g)
        images, captions, labels = dist.shard(images), dist.shard(captions), dist.shard(labels)
        x = preprocess.normalize(images.to(device))
        if args.image_encoder == "resnet" and device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, args.precision):
            if args.objective == "supervised":
                loss = F.cross_entropy(ddp(x).float(), labels.to(device))
            elif args.hard_negatives:  # one forward pass over captions and their swapped twins (DDP: one call)
                image_features, both, scale = ddp(x, tokenize(captions + negatives).to(device))
                text_features, negative_features = both.split(len(captions))
                loss = clip_loss(dist.all_gather(image_features), dist.all_gather(text_features), scale,
                                 dist.all_gather(negative_features))
            else:
                image_features, text_features, scale = ddp(x, tokenize(captions).to(device))
                loss = clip_loss(dist.all_gather(image_features), dist.all_gather(text_features), scale)
        run.check_finite(step + 1, loss=loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        model.clamp_logit_scale()
        step += 1
        running += loss.item()
        bar.update(1)
        if step % args.log_every == 0:
            now = time.time()
            elapsed += now - t0
            rate = args.log_every * args.batch_size / (now - t0)
            running = dist.all_reduce_mean(running)
            run.log(step, loss=running / args.log_every, logit_scale=model.logit_scale.exp().item(),
                    lr=scheduler.get_last_lr()[0], imgs_per_s=rate, elapsed_s=elapsed)
            bar.set_postfix(loss=f"{running / args.log_every:.3f}", scale=f"{model.logit_scale.exp().item():.1f}",
                            img_s=f"{rate:.0f}")
            running, t0 = 0.0, now
        if (step % args.eval_every == 0 or step == args.steps) and dist.is_main:
            run.log(step, **monitor())
            t0 = time.time()  # monitoring is not training time
        if step % args.checkpoint_every == 0 or step == stop_at:
            checkpoint()
    bar.close()
    dist.close()
    print(f"done: {step} steps, {elapsed / 60:.1f} min of training, checkpoint {run.checkpoint_path}")


if __name__ == "__main__":
    main_guard(main)()
