"""Byte-level BPE on tweets (GPT-2's tokenizer recipe), trained with the `tokenizers` library.

Byte level: the base alphabet is the 256 bytes, so any Unicode string (emoji, other scripts, URLs)
encodes without an <unk> and decodes back to exactly the same string. BPE then merges the most
frequent adjacent pairs until the vocabulary is full, so '@user', 'http' and common emoji become
single tokens. Special tokens: <pad> (id 0, ignored by the loss), <s> and </s> around each tweet.
"""
import hashlib
import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from shared.errors import PlaygroundError
from shared.paths import cache_dir

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
SPECIALS = (PAD, BOS, EOS)  # ids 0, 1, 2 in this order


class TweetTokenizer:
    def __init__(self, tok: Tokenizer):
        # A tweet that literally contains "<s>" is text, not a marker: encode special strings as bytes.
        tok.encode_special_tokens = True
        self.tok = tok
        self.pad_id, self.bos_id, self.eos_id = (tok.token_to_id(s) for s in SPECIALS)
        if None in (self.pad_id, self.bos_id, self.eos_id):
            raise PlaygroundError("tokenizer lacks the special tokens <pad> <s> </s>; retrain it with train.py")

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    def encode(self, text: str, specials: bool = True) -> list:
        ids = self.tok.encode(text).ids
        return [self.bos_id] + ids + [self.eos_id] if specials else ids

    def encode_batch(self, texts, specials: bool = True) -> list:
        out = [e.ids for e in self.tok.encode_batch(list(texts))]
        return [[self.bos_id] + ids + [self.eos_id] for ids in out] if specials else out

    def decode(self, ids) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=True)

    def to_str(self) -> str:
        return self.tok.to_str()

    @classmethod
    def from_str(cls, text: str) -> "TweetTokenizer":
        return cls(Tokenizer.from_str(text))

    def save(self, path) -> None:
        Path(path).write_text(self.to_str(), encoding="utf-8")


def train_tokenizer(texts, vocab_size: int) -> TweetTokenizer:
    if vocab_size < 256 + len(SPECIALS):
        raise PlaygroundError(f"--vocab-size {vocab_size} is below the 256 bytes + {len(SPECIALS)} special tokens; use >= 300")
    tok = Tokenizer(models.BPE())
    # No prefix space: tweets are encoded as they are, so decode(encode(x)) == x exactly.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2)
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return TweetTokenizer(tok)


def cached_tokenizer(texts, vocab_size: int) -> TweetTokenizer:
    """Train once per (corpus, vocab size); later runs load it from the cache folder."""
    h = hashlib.sha1(json.dumps([vocab_size, len(texts)]).encode())
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass") + b"\n")
    path = cache_dir("gpt") / f"tokenizer-{vocab_size}-{h.hexdigest()[:16]}.json"
    if path.exists():
        return TweetTokenizer(Tokenizer.from_file(str(path)))
    tok = train_tokenizer(texts, vocab_size)
    tmp = path.with_suffix(".tmp")
    tok.save(tmp)
    tmp.replace(path)
    return tok
