"""Generate tweets from a trained GPT.

    python nlp/gpt/sample.py --checkpoint runs/gpt/checkpoint.pt --prompt "I love" --num 5 --temperature 0.8 --top-k 50

Temperature < 1 sharpens the next-token distribution (safer, more repetitive), > 1 flattens it;
top-k samples only among the k most likely tokens, which cuts off the long tail of junk tokens.
"""
import argparse
from pathlib import Path

import torch

from embed import load_gpt
from shared.cli import ArgumentParser, main_guard, positive_float, positive_int, seed_int
from shared.errors import PlaygroundError


def main(argv=None):
    p = ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="checkpoint.pt written by train.py")
    p.add_argument("--prompt", default="", help="start of the tweet ('' = start from <s> alone)")
    p.add_argument("--num", type=positive_int, default=5, help="tweets to generate")
    p.add_argument("--max-new-tokens", type=positive_int, default=40, help="tokens to add at most (stops at </s>)")
    p.add_argument("--temperature", type=positive_float, default=0.8, help="softmax temperature")
    p.add_argument("--top-k", type=positive_int, default=50, help="sample among the k most likely tokens")
    p.add_argument("--seed", type=seed_int, default=0, help="sampling seed")
    args = p.parse_args(argv)
    try:
        args.prompt.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in argv arrive as lone surrogates
        raise PlaygroundError("--prompt is not valid UTF-8 text; pass the prompt in UTF-8") from None
    torch.manual_seed(args.seed)
    model, tok = load_gpt(args.checkpoint)
    prompt = [tok.bos_id] + tok.encode(args.prompt, specials=False)
    prompt = prompt[-(model.config.block_size - 1):]  # leave room for at least one new token
    idx = torch.tensor([prompt] * args.num)
    out = model.generate(idx, args.max_new_tokens, args.temperature, args.top_k, stop_id=tok.eos_id)
    for row in out.tolist():
        new = row[len(prompt):]
        if tok.eos_id in new:
            new = new[:new.index(tok.eos_id)]
        print(tok.decode(prompt + new).replace("\n", " "))


if __name__ == "__main__":
    main_guard(main)()
