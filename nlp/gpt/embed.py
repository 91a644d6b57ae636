"""Turn tweets into vectors with a trained GPT: one tweet per line in, one float32 row per line out.

    python nlp/gpt/embed.py --checkpoint runs/gpt/checkpoint.pt --input tweets.txt --output vectors.npy
    python nlp/gpt/embed.py ... --pooling last      # the hidden state at </s> instead of the mean

A tweet is fed as `<s> tokens </s>` (as in training) and the final-LayerNorm hidden states are pooled:
`mean` averages all its positions (every token contributes; the default), `last` takes the </s>
position, which under causal attention is the only one that has seen the whole tweet, `layers`
concatenates the mean of every layer's states (embedding output, each block; (n_layer+1) x n_embd dims),
and `wide` adds the max of every layer's states and the max of every MLP neuron (GELU output) over the
tweet: "did this learned pattern fire anywhere", a dense cousin of TF-IDF's n-gram indicators
(2 (n_layer+1) n_embd + 4 n_layer n_embd dims, 6,656 for the default model).
Whitespace is normalized first (see `normalize_whitespace`). A tweet longer than the context keeps its
first block_size tokens, except for `last`, which keeps its first block_size - 1 tokens and its </s>;
empty lines become `<s> </s>`.
"""
import argparse
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from model import GPT, GPTConfig
from shared.checkpoint import read_checkpoint
from shared.cli import PRECISIONS, ArgumentParser, autocast, check_output_file, main_guard, positive_int
from shared.data import read_lines
from shared.errors import PlaygroundError
from tokenizer import TweetTokenizer

POOLINGS = ("mean", "last", "layers", "wide")
WHITESPACE = ("normalize", "keep")


def load_gpt(path, random_weights: bool = False, seed: int = 0):
    """(model in eval mode, tokenizer) from a train.py checkpoint; random_weights keeps the architecture
    and tokenizer but re-initializes the weights (the 'random twin' baseline)."""
    ckpt = read_checkpoint(path)
    extra = ckpt.get("extra", {})
    if "model_config" not in extra or "tokenizer" not in extra:
        raise PlaygroundError(f"{path} has no model config/tokenizer; pass a checkpoint written by nlp/gpt/train.py")
    names = {f.name for f in fields(GPTConfig)}
    config = GPTConfig(**{k: v for k, v in extra["model_config"].items() if k in names})
    if random_weights:
        torch.manual_seed(seed)
    model = GPT(config)
    if not random_weights:
        model.load_state_dict(ckpt["model"])
    return model.eval(), TweetTokenizer.from_str(extra["tokenizer"])


def normalize_whitespace(text: str) -> str:
    """Runs of spaces/tabs and leading/trailing blanks carry no meaning in a tweet, but they can carry an
    annotation artifact: TweetEval's ironic train/val tweets end in two spaces where `#irony`/`#not` was
    cut out, while its test tweets keep the hashtag. A byte-level model sees every space, so the vector
    ignores them, as TF-IDF's word and character analyzers do."""
    return " ".join(text.split())


def encode_tweets(tok: TweetTokenizer, texts, block_size: int, whitespace: str = "normalize", keep_end: bool = False) -> list:
    """`<s> ids </s>` per tweet (whitespace-normalized unless whitespace="keep"), cut to the context: an
    over-long tweet keeps its first block_size tokens, or with keep_end (for `last` pooling, which must read </s>)
    its first block_size - 1 tokens and its closing </s>."""
    if whitespace not in WHITESPACE:
        raise PlaygroundError(f"unknown whitespace mode '{whitespace}'; choose one of {', '.join(WHITESPACE)}")
    if whitespace == "normalize":
        texts = [normalize_whitespace(t) for t in texts]
    cut = (lambda ids: ids[:block_size - 1] + ids[-1:]) if keep_end else (lambda ids: ids[:block_size])
    return [ids if len(ids) <= block_size else cut(ids) for ids in tok.encode_batch(texts)]


def layer_states(model: GPT, x, mlp: bool = False):
    """Hidden states after the embedding and after every block ([B, T, C] each; the last after ln_f),
    captured with forward hooks so model.py keeps a single forward path. With mlp=True also every
    block's MLP neurons after the GELU ([B, T, 4C] each), returned as a second list."""
    captured, neurons = [], []
    hooks = [m.register_forward_hook(lambda mod, inp, out: captured.append(out)) for m in (model.drop, *model.blocks[:-1])]
    if mlp:
        hooks += [b.mlp.gelu.register_forward_hook(lambda mod, inp, out: neurons.append(out)) for b in model.blocks]
    try:
        final = model.hidden_states(x)
    finally:
        for h in hooks:
            h.remove()
    return (captured + [final], neurons) if mlp else captured + [final]


def pooled_width(config: GPTConfig, pooling: str) -> int:
    c, n = config.n_embd, config.n_layer
    return {"mean": c, "last": c, "layers": (n + 1) * c, "wide": 2 * (n + 1) * c + 4 * n * c}[pooling]


@torch.inference_mode()
def embed_ids(model: GPT, id_lists, pooling: str = "mean", batch_size: int = 256, precision: str = "fp32") -> np.ndarray:
    if pooling not in POOLINGS:
        raise PlaygroundError(f"unknown pooling '{pooling}'; choose one of {', '.join(POOLINGS)}")
    pad = model.config.pad_id
    out = np.zeros((len(id_lists), pooled_width(model.config, pooling)), dtype=np.float32)
    # Batch tweets of similar length together so little compute goes to padding; rows go back in input order.
    order = sorted(range(len(id_lists)), key=lambda i: len(id_lists[i]))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        lengths = torch.tensor([len(id_lists[i]) for i in idx])
        x = torch.full((len(idx), int(lengths.max())), pad, dtype=torch.long)
        for row, i in enumerate(idx):
            x[row, :len(id_lists[i])] = torch.tensor(id_lists[i])
        # Right padding needs no attention mask: causal attention means real tokens never look at later pads.
        # bf16 matmuls (autocast keeps LayerNorm and softmax in fp32) run ~1.5-2x faster on CPUs with AVX-512 BF16
        neurons = []
        with autocast(x.device, precision):
            if pooling == "wide":
                states, neurons = layer_states(model, x, mlp=True)
            else:
                states = layer_states(model, x) if pooling == "layers" else [model.hidden_states(x)]
        keep = (torch.arange(x.size(1)) < lengths[:, None]).unsqueeze(-1)
        if pooling == "last":
            v = states[0].float()[torch.arange(len(idx)), lengths - 1]
        else:
            means = [(h.float() * keep).sum(1) / lengths[:, None] for h in states]
            maxes = [h.float().masked_fill(~keep, float("-inf")).amax(1) for h in states + neurons] if pooling == "wide" else []
            v = torch.cat(means + maxes, dim=1)
        out[idx] = v.numpy()
    return out


def embed_texts(model: GPT, tok: TweetTokenizer, texts, pooling: str = "mean", batch_size: int = 256,
                precision: str = "fp32", whitespace: str = "normalize") -> np.ndarray:
    ids = encode_tweets(tok, texts, model.config.block_size, whitespace, keep_end=pooling == "last")
    return embed_ids(model, ids, pooling, batch_size, precision)


def main(argv=None):
    p = ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="checkpoint.pt written by train.py")
    p.add_argument("--input", type=Path, required=True, help="UTF-8 text file, one tweet per line")
    p.add_argument("--output", type=Path, required=True, help=".npy file to write: float32 [lines, dims] (dims: n_embd for mean/last)")
    p.add_argument("--pooling", choices=POOLINGS, default="mean", help="how token states become one vector")
    p.add_argument("--whitespace", choices=WHITESPACE, default="normalize",
                   help="collapse runs of blanks first (keep: feed the raw text, artifacts included)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="tweets per forward pass")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32", help="bf16: faster matmuls; vectors differ from fp32 by ~0.1%% (relative L2)")
    p.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads")
    p.add_argument("--random-weights", action="store_true", help="same architecture, untrained weights (a baseline)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.output.suffix != ".npy":  # np.save would append .npy and write somewhere else than asked
        raise PlaygroundError(f"--output must end in .npy, got '{args.output}'")
    check_output_file(args.output)
    if not args.input.is_file():
        raise PlaygroundError(f"input file {args.input} does not exist; pass a text file with one tweet per line")
    texts = read_lines(args.input)  # one tweet per '\n': a lone '\r' stays inside its tweet, a BOM is dropped
    model, tok = load_gpt(args.checkpoint, random_weights=args.random_weights)
    vectors = embed_texts(model, tok, texts, args.pooling, args.batch_size, args.precision, args.whitespace)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "wb") as f:
        np.save(f, vectors)
    print(f"wrote {vectors.shape[0]} x {vectors.shape[1]} float32 vectors to {args.output}")


if __name__ == "__main__":
    main_guard(main)()
