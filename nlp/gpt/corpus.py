"""The pre-training corpus: train + val tweets of the TweetEval tasks, never their test tweets.

Each tweet becomes `<s> tokens </s>`; all tweets are concatenated into one id stream, and a
training example is the `block_size` tokens that start at a random tweet's <s>. Starting at a
tweet boundary matches how embed.py feeds a single tweet (position 0 = <s>), while packing
keeps every position busy (padding each tweet to 64 tokens would waste about half the compute).
"""
import random

import torch

from shared.data import tweeteval
from shared.errors import PlaygroundError

CORPUS_TASKS = ("emoji", "emotion", "hate", "irony", "offensive")


def corpus_texts(data_dir=None, tasks=CORPUS_TASKS) -> list:
    """Train and val texts of every task (read line by line by shared.data, so stray quotes can't merge rows)."""
    texts = []
    for task in tasks:
        for split in ("train", "val"):
            texts += tweeteval(task, split, data_dir).texts
    if not texts:
        raise PlaygroundError("the corpus is empty; point --data-dir at a folder with tweeteval/<task>/train_text.txt")
    return texts


def split_corpus(texts, val_fraction: float, max_tweets: int = 0):
    """Shuffle with a fixed seed (the held-out set is the same for every --seed) and split."""
    order = list(range(len(texts)))
    random.Random(1234).shuffle(order)
    if max_tweets:
        order = order[:max_tweets]
    n_val = max(1, int(round(len(order) * val_fraction)))
    if len(order) - n_val < 1:
        raise PlaygroundError(f"{len(order)} tweets leave none for training after holding out {n_val} for "
                              "validation; use more tweets (--max-tweets 0 = all) or a smaller --val-fraction")
    return [texts[i] for i in order[n_val:]], [texts[i] for i in order[:n_val]]


def pretraining_split(data_dir=None, val_fraction: float = 0.02, max_tweets: int = 0):
    """(tweets the GPT trains on, held-out tweets), exactly as train.py builds them; evaluate.py rebuilds the
    first list from a checkpoint's config to find test tweets that the GPT has already read."""
    return split_corpus(corpus_texts(data_dir, CORPUS_TASKS), val_fraction, max_tweets)


class PackedTweets:
    """One id stream plus the offset of every tweet's <s>; batches are windows starting at those offsets."""

    def __init__(self, token_lists, block_size: int, pad_id: int):
        self.block_size, self.pad_id = block_size, pad_id
        self.lengths = torch.tensor([len(t) for t in token_lists])
        self.starts = torch.cumsum(self.lengths, 0) - self.lengths
        flat = [i for ids in token_lists for i in ids]
        # Pad the tail so a window that starts at the last tweet is still block_size + 1 long.
        self.stream = torch.tensor(flat + [pad_id] * (block_size + 1), dtype=torch.long)
        self.n_tokens = len(flat)

    def __len__(self):
        return len(self.starts)

    def windows(self, tweet_idx):
        """Inputs and next-token targets [len(tweet_idx), block_size]."""
        offsets = self.starts[tweet_idx].unsqueeze(1) + torch.arange(self.block_size + 1)
        chunk = self.stream[offsets]
        return chunk[:, :-1], chunk[:, 1:]

    def tweet_windows(self):
        """Inputs and targets [n_windows, block_size] that score every token of every tweet exactly once (all but
        its <s>), each tweet on its own: targets past the tweet's </s> are pad (the loss ignores them), and a tweet
        longer than the context is cut into consecutive block_size-token windows. Rows are sorted by their number
        of targets, longest first, so a batch of rows can be cut to its longest row (validation_loss does)."""
        n_windows = (self.lengths - 2) // self.block_size + 1  # a tweet has length - 1 targets
        tweet = torch.repeat_interleave(torch.arange(len(self)), n_windows)
        first_window = torch.cumsum(n_windows, 0) - n_windows
        begin = self.starts[tweet] + (torch.arange(len(tweet)) - first_window[tweet]) * self.block_size
        offsets = begin.unsqueeze(1) + torch.arange(self.block_size + 1)
        chunk = self.stream[offsets]
        inside = offsets[:, 1:] < (self.starts + self.lengths)[tweet].unsqueeze(1)
        x, y = chunk[:, :-1], torch.where(inside, chunk[:, 1:], self.pad_id)
        order = torch.argsort(inside.sum(1), descending=True, stable=True)
        return x[order], y[order]

    def batch(self, batch_size: int, generator: torch.Generator):
        return self.windows(torch.randint(len(self), (batch_size,), generator=generator))
