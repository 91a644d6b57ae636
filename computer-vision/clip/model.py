"""A minimal CLIP (Radford et al. 2021) in one file: image encoder, text encoder, contrastive loss.

    model, tokenizer, preprocess = load("runs/clip-mnist/checkpoint.pt")
    image_features = model.encode_image(preprocess(images))          # [N, embed_dim], unit norm
    text_features = model.encode_text(tokenizer(["a 3", "a 7"]))     # [M, embed_dim], unit norm
    probs = (model.logit_scale.exp() * image_features @ text_features.T).softmax(dim=-1)

The interface is open_clip's (encode_image, encode_text, logit_scale, a tokenizer that maps a list of strings
to a [N, context_length] tensor, load() -> model, tokenizer, preprocess); the sizes are a laptop's.

Pieces, as in the paper:
- Image encoder: a Vision Transformer (patches -> tokens, a class token, learned positions, pre-LN blocks, the
  class token's final state) or a small ResNet (global average pool), then a linear projection.
- Text encoder: a causal transformer over byte-level BPE tokens; the caption is represented by the state at its
  end-of-text token (with causal attention that state has read the whole caption and nothing after it), then a
  linear projection.
- Both embeddings are L2-normalized, so their dot product is a cosine similarity; a learned temperature
  (logit_scale = log(1 / 0.07) at init, clamped so exp(logit_scale) <= 100) scales the similarities into logits,
  and the loss is the symmetric cross-entropy over the batch's image-text similarity matrix.
"""
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from shared.errors import PlaygroundError

MAX_LOGIT_SCALE = math.log(100.0)
SOT, EOT, PAD = "<sot>", "<eot>", "<pad>"


# ----------------------------------------------------------------------------- configuration
@dataclass
class CLIPConfig:
    # images
    image_encoder: str = "vit"          # "vit" or "resnet"
    image_size: tuple = (28, 28)        # (height, width)
    in_channels: int = 1
    mean: tuple = (0.1307,)             # per-channel pixel normalization (preprocess)
    std: tuple = (0.3081,)
    patch_size: int = 4                 # ViT
    vision_width: int = 128             # ViT token width, or the ResNet's first-stage channels
    vision_layers: int = 4              # ViT blocks (the ResNet has 3 stages of one residual block)
    vision_heads: int = 4
    # text
    vocab_size: int = 512
    context_length: int = 32
    text_width: int = 128
    text_layers: int = 3
    text_heads: int = 4
    # shared space
    embed_dim: int = 128

    def __post_init__(self):
        self.image_size = tuple(self.image_size)
        self.mean, self.std = tuple(self.mean), tuple(self.std)
        if self.image_encoder not in ("vit", "resnet"):
            raise ValueError(f"image_encoder must be 'vit' or 'resnet', got '{self.image_encoder}'")
        if self.image_encoder == "vit" and any(s % self.patch_size for s in self.image_size):
            raise ValueError(f"image size {self.image_size} is not a multiple of --patch-size {self.patch_size}")
        for width, heads, name in ((self.vision_width, self.vision_heads, "vision"), (self.text_width, self.text_heads, "text")):
            if name == "vision" and self.image_encoder == "resnet":
                continue
            if width % heads:
                raise ValueError(f"--{name}-width {width} does not split over --{name}-heads {heads}")


# ----------------------------------------------------------------------------- transformer (both towers)
class Block(nn.Module):
    """Pre-LN transformer block: x + attn(LN(x)), then x + MLP(LN(x)) (GPT-2 / CLIP style)."""

    def __init__(self, width: int, heads: int, causal: bool):
        super().__init__()
        self.heads, self.causal = heads, causal
        self.ln_1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln_1(x)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        x = x + self.proj(attended.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.ln_2(x))


class VisionTransformer(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        h, w = cfg.image_size
        n_patches = (h // cfg.patch_size) * (w // cfg.patch_size)
        # A conv with stride = kernel = patch size is "cut into patches, flatten each, apply one linear map".
        self.patch_embed = nn.Conv2d(cfg.in_channels, cfg.vision_width, cfg.patch_size, stride=cfg.patch_size, bias=False)
        self.class_token = nn.Parameter(torch.randn(cfg.vision_width) * cfg.vision_width ** -0.5)
        self.positions = nn.Parameter(torch.randn(n_patches + 1, cfg.vision_width) * 0.02)
        self.ln_pre = nn.LayerNorm(cfg.vision_width)
        self.blocks = nn.Sequential(*[Block(cfg.vision_width, cfg.vision_heads, causal=False) for _ in range(cfg.vision_layers)])
        self.ln_post = nn.LayerNorm(cfg.vision_width)
        self.out_features = cfg.vision_width

    def forward(self, images):
        tokens = self.patch_embed(images).flatten(2).transpose(1, 2)           # [B, patches, width]
        cls = self.class_token.expand(tokens.shape[0], 1, -1).to(tokens.dtype)
        x = self.ln_pre(torch.cat([cls, tokens], dim=1) + self.positions.to(tokens.dtype))
        return self.ln_post(self.blocks(x)[:, 0])                               # the class token's final state


class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity() if c_in == c_out and stride == 1 else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    """A CIFAR-style ResNet-8: 3x3 stem, stages of width w, 2w, 4w (strides 1, 2, 2), global average pool.
    (CLIP's ResNets pool with attention; an average is enough at this size.)"""

    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        w = cfg.vision_width
        self.stem = nn.Sequential(nn.Conv2d(cfg.in_channels, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        self.stages = nn.Sequential(ResidualBlock(w, w, 1), ResidualBlock(w, 2 * w, 2), ResidualBlock(2 * w, 4 * w, 2))
        self.out_features = 4 * w

    def forward(self, images):
        return self.stages(self.stem(images)).mean(dim=(2, 3))


class TextTransformer(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.text_width)
        # CLIP's init: token embeddings at std 0.02, positions at 0.01. PyTorch's default (std 1) makes every token
        # 50x louder than its position, the positions never catch up, and the encoder reads a caption as a bag
        # of words: "a 3 left of a 7" and "a 7 left of a 3" came out identical (cosine 1.000) after training.
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.positions = nn.Parameter(torch.randn(cfg.context_length, cfg.text_width) * 0.01)
        self.blocks = nn.Sequential(*[Block(cfg.text_width, cfg.text_heads, causal=True) for _ in range(cfg.text_layers)])
        self.ln_final = nn.LayerNorm(cfg.text_width)

    def forward(self, tokens, eot_positions):
        x = self.token_embedding(tokens) + self.positions[:tokens.shape[1]]
        x = self.ln_final(self.blocks(x))
        # Causal attention: the end-of-text state has read the whole caption and none of the padding after it.
        return x[torch.arange(x.shape[0], device=x.device), eot_positions]


# ----------------------------------------------------------------------------- CLIP
class CLIP(nn.Module):
    def __init__(self, cfg: CLIPConfig, eot_id: int = 2):
        super().__init__()
        self.cfg, self.eot_id = cfg, eot_id
        self.visual = VisionTransformer(cfg) if cfg.image_encoder == "vit" else ResNet(cfg)
        self.text = TextTransformer(cfg)
        self.image_projection = nn.Linear(self.visual.out_features, cfg.embed_dim, bias=False)
        self.text_projection = nn.Linear(cfg.text_width, cfg.embed_dim, bias=False)
        # The temperature is learned: the loss itself finds how peaked the softmax over the batch should be.
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_image(self, images, normalize: bool = True):
        features = self.image_projection(self.visual(images))
        return F.normalize(features.float(), dim=-1) if normalize else features

    def encode_text(self, tokens, normalize: bool = True):
        features = self.text_projection(self.text(tokens, eot_positions(tokens, self.eot_id)))
        return F.normalize(features.float(), dim=-1) if normalize else features

    def forward(self, images, tokens):
        return self.encode_image(images), self.encode_text(tokens), self.logit_scale.exp()

    @torch.no_grad()
    def clamp_logit_scale(self):
        """CLIP clips the temperature so logits are scaled by at most 100 (training stays stable)."""
        self.logit_scale.clamp_(0, MAX_LOGIT_SCALE)


class Supervised(nn.Module):
    """train.py --objective supervised, the reference row: CLIP's image encoder with a linear classifier, trained on the labels with cross-entropy."""

    def __init__(self, clip_model, n_classes: int):
        super().__init__()
        self.visual = clip_model.visual
        self.head = nn.Linear(self.visual.out_features, n_classes)

    def forward(self, images):
        return self.head(self.visual(images))



def eot_positions(tokens, eot_id: int):
    """Index of each row's end-of-text token (the first one; padding after it is ignored)."""
    is_eot = tokens == eot_id
    if not bool(is_eot.any(dim=1).all()):
        raise ValueError("every token row needs an end-of-text token; make tokens with the model's tokenizer")
    return is_eot.int().argmax(dim=1)


def clip_loss(image_features, text_features, logit_scale, negative_features=None):
    """Symmetric InfoNCE: image i's caption is text i among the batch's texts, and text i's image is image i.

    negative_features (NegCLIP, Yuksekgonul et al. 2023): extra captions that match no image in the batch, added
    to every image's candidates (image -> text direction only). A caption with its two digits swapped is such a
    hard negative: in-batch negatives rarely differ from the right caption by word order alone, so vanilla CLIP
    can score well while reading captions as bags of words."""
    logits = logit_scale * image_features @ text_features.T
    targets = torch.arange(len(logits), device=logits.device)
    texts_per_image = logits
    if negative_features is not None:
        texts_per_image = torch.cat([logits, logit_scale * image_features @ negative_features.T], dim=1)
    return (F.cross_entropy(texts_per_image, targets) + F.cross_entropy(logits.T, targets)) / 2


# ----------------------------------------------------------------------------- tokenizer
class CaptionTokenizer:
    """Byte-level BPE trained on the caption corpus (the `tokenizers` library); `tokenizer(texts)` gives
    [len(texts), width] int64: <sot> tokens <eot> then <pad> (a caption that is too long is cut and still ends
    with <eot>, as in CLIP)."""

    def __init__(self, tok, context_length: int):
        tok.encode_special_tokens = True  # a caption that says "<eot>" is text, not a marker
        self.tok, self.context_length = tok, context_length
        self.pad_id, self.sot_id, self.eot_id = (tok.token_to_id(s) for s in (PAD, SOT, EOT))
        self._merge_ranks = self._vocab = None  # read from the tokenizer on the first BPE-dropout call
        if None in (self.pad_id, self.sot_id, self.eot_id):
            raise PlaygroundError("the tokenizer lacks <pad> <sot> <eot>; the checkpoint was not written by clip/train.py")

    @classmethod
    def train(cls, captions, vocab_size: int, context_length: int) -> "CaptionTokenizer":
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, SOT, EOT], show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(captions, trainer)
        return cls(tok, context_length)

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    def __call__(self, texts, pad_to_context: bool = False, dropout: float = 0.0, rng=None) -> torch.Tensor:
        """Rows are padded to the longest caption (our captions are ~6-12 tokens: a 32-token row would triple
        the text tower's work for nothing) or, with pad_to_context, to context_length as open_clip does.
        dropout > 0 (training only) segments each word with BPE-dropout, drawing from rng (a random.Random)."""
        if isinstance(texts, str):
            texts = [texts]
        texts = [t.lower() for t in texts]
        if dropout > 0:
            encoded = [self.encode_with_dropout(t, dropout, rng) for t in texts]
        else:
            encoded = [enc.ids for enc in self.tok.encode_batch(texts)]
        rows = [[self.sot_id] + ids[:self.context_length - 2] + [self.eot_id] for ids in encoded]
        width = self.context_length if pad_to_context else max(len(r) for r in rows)
        out = torch.full((len(texts), width), self.pad_id, dtype=torch.long)
        for i, ids in enumerate(rows):
            out[i, :len(ids)] = torch.tensor(ids)
        return out

    tokenize = __call__

    def encode_with_dropout(self, text: str, p: float, rng) -> list:
        """BPE-dropout (Provilkov et al. 2020): merge as BPE does, lowest-rank pair first, but at every step each
        applicable merge is skipped with probability p; the word stops merging when all are skipped.
        Why: our BPE is trained on the captions themselves, so every training word becomes one whole token and
        the byte-level pieces that spell any *other* word ("snapshot" -> s n a p s ho t) never reach training;
        their embeddings stay random and an unseen word in a prompt is noise the model never learned to ignore.
        Segmenting training words at random trains those pieces and shows the model words spelt in pieces."""
        if self._merge_ranks is None:
            import json
            model = json.loads(self.tok.to_str())["model"]
            self._vocab = model["vocab"]
            self._merge_ranks = {tuple(m.split(" ") if isinstance(m, str) else m): r for r, m in enumerate(model["merges"])}
        ids = []
        for word, _ in self.tok.pre_tokenizer.pre_tokenize_str(text):
            symbols = list(word)
            while len(symbols) > 1:
                kept = [(self._merge_ranks[pair], i) for i, pair in enumerate(zip(symbols, symbols[1:]))
                        if pair in self._merge_ranks and rng.random() >= p]
                if not kept:
                    break
                _, i = min(kept)
                symbols[i:i + 2] = [symbols[i] + symbols[i + 1]]
            ids += [self._vocab[s] for s in symbols]
        return ids

    def to_str(self) -> str:
        return self.tok.to_str()

    @classmethod
    def from_str(cls, text: str, context_length: int) -> "CaptionTokenizer":
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(text), context_length)


def tokenize(texts, tokenizer: CaptionTokenizer) -> torch.Tensor:
    """open_clip-style function form: token rows for a list of strings."""
    return tokenizer(texts)


# ----------------------------------------------------------------------------- preprocessing and loading
class Preprocess:
    """uint8 images -> the model's normalized float input. Accepts a tensor/array [N, H, W] (grayscale),
    [N, H, W, 3] or [N, C, H, W], or a list of PIL images; resizes to the model's size and converts
    colour <-> grayscale to its channel count."""

    def __init__(self, cfg: CLIPConfig):
        self.size, self.channels = tuple(cfg.image_size), cfg.in_channels
        self.mean = torch.tensor(cfg.mean).view(1, -1, 1, 1)
        self.std = torch.tensor(cfg.std).view(1, -1, 1, 1)

    def to_uint8_nchw(self, images) -> torch.Tensor:
        if isinstance(images, (list, tuple)):  # PIL images of any size
            from PIL import Image

            mode = "L" if self.channels == 1 else "RGB"
            arrays = [np.asarray(im.convert(mode).resize(self.size[::-1], Image.BILINEAR)) for im in images]
            images = np.stack(arrays)
        x = torch.as_tensor(np.asarray(images))
        if x.dtype != torch.uint8:
            raise ValueError(f"images must be uint8 pixels (0-255), got {x.dtype}")
        if x.ndim == 3:
            x = x[:, None]
        elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
            x = x.permute(0, 3, 1, 2)
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"images must be [N,H,W], [N,H,W,3] or [N,C,H,W], got shape {tuple(x.shape)}")
        if x.shape[1] != self.channels:
            x = x.float().mean(dim=1, keepdim=True).round().to(torch.uint8) if self.channels == 1 else x.expand(-1, 3, -1, -1)
        if tuple(x.shape[-2:]) != self.size:
            x = F.interpolate(x.float(), size=self.size, mode="bilinear", antialias=True, align_corners=False)
            x = x.round().clamp(0, 255).to(torch.uint8)
        return x.contiguous()

    def normalize(self, x_uint8) -> torch.Tensor:
        return (x_uint8.float() / 255 - self.mean.to(x_uint8.device)) / self.std.to(x_uint8.device)

    def __call__(self, images) -> torch.Tensor:
        return self.normalize(self.to_uint8_nchw(images))


def build(cfg: CLIPConfig, tokenizer: CaptionTokenizer) -> CLIP:
    return CLIP(cfg, eot_id=tokenizer.eot_id)


def config_from_dict(d: dict) -> CLIPConfig:
    names = CLIPConfig.__dataclass_fields__
    return CLIPConfig(**{k: v for k, v in d.items() if k in names})


def load(checkpoint, device="cpu", ema: bool = False):
    """(model in eval mode, tokenizer, preprocess) from a checkpoint written by train.py."""
    from shared.checkpoint import read_checkpoint

    state = read_checkpoint(checkpoint, map_location=device)
    extra = state.get("extra") or {}
    if "clip_config" not in extra or "tokenizer" not in extra:
        raise PlaygroundError(f"{checkpoint} is not a CLIP checkpoint (no clip_config/tokenizer); pass one written by "
                              "computer-vision/clip/train.py")
    cfg = config_from_dict(extra["clip_config"])
    tokenizer = CaptionTokenizer.from_str(extra["tokenizer"], cfg.context_length)
    model = build(cfg, tokenizer).to(device)
    model.load_state_dict(state["model"])
    return model.eval(), tokenizer, Preprocess(cfg)


def config_dict(cfg: CLIPConfig) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}
