"""The networks: the diffusion UNet, the noise-aware classifier for guidance, and the MNIST classifier
that evaluate.py uses as its feature extractor.

UNet = the ADM architecture of "Diffusion Models Beat GANs" (Dhariwal & Nichol 2021, section 3) shrunk
to MNIST: residual blocks, sinusoidal timestep embedding, GroupNorm, multi-head self-attention at the
lowest resolution and in the middle, and adaptive group normalization (AdaGN): the timestep (+ class)
embedding gives every residual block a per-channel scale and shift applied right after its second
GroupNorm, AdaGN(h, e) = GroupNorm(h) * (1 + scale(e)) + shift(e).

Class conditioning adds a learned class embedding to the timestep embedding. Label index `num_classes`
is the "null" label: training drops labels to it with probability p, so the same network is also the
unconditional model that classifier-free guidance and classifier guidance sample from.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class UNetConfig:
    image_size: int = 28           # 28 (MNIST) or 32 (CIFAR-10); must halve cleanly len(channel_mult)-1 times
    in_channels: int = 1
    base_channels: int = 32        # channels at full resolution
    channel_mult: tuple = (1, 2, 2)  # per resolution level: 28 -> 14 -> 7 (or 32 -> 16 -> 8)
    num_res_blocks: int = 1        # residual blocks per level on the way down (up uses one more, as in ADM)
    attention_levels: tuple = (2,)  # levels (0 = full resolution) with self-attention; 2 = 7x7 / 8x8
    num_heads: int = 4
    dropout: float = 0.1
    num_classes: int = 0           # 0 = unconditional; otherwise embeddings for num_classes labels + 1 null label
    groups: int = 8                # GroupNorm groups


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Transformer sinusoids of the (integer) timestep: [B] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def zero_init(module: nn.Module) -> nn.Module:
    # The last layer of every residual branch starts at zero so each block starts as the identity (ADM/DDPM).
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, groups: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * out_ch)  # AdaGN: scale and shift per channel
        self.norm2 = nn.GroupNorm(groups, out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero_init(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip = nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    def __init__(self, ch: int, heads: int, groups: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = zero_init(nn.Conv2d(ch, ch, 1))

    def forward(self, x, emb=None):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).transpose(-1, -2).unbind(1)
        out = F.scaled_dot_product_attention(q, k, v)  # [b, heads, hw, c/heads]
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class Downsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=1)  # 28 -> 14 -> 7, 32 -> 16 -> 8

    def forward(self, x, emb=None):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x, emb=None):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class Sequential(nn.ModuleList):
    """Layers that all take (x, emb); the attention and resampling layers ignore emb."""

    def forward(self, x, emb):
        for layer in self:
            x = layer(x, emb)
        return x


def check_config(cfg: UNetConfig) -> None:
    levels = len(cfg.channel_mult)
    if cfg.image_size % 2 ** (levels - 1):
        raise ValueError(f"image_size {cfg.image_size} does not halve {levels - 1} times; change channel_mult")
    if any(not 0 <= lvl < levels for lvl in cfg.attention_levels):
        raise ValueError(f"attention_levels {cfg.attention_levels} must lie in 0..{levels - 1}")
    for m in cfg.channel_mult:
        if (cfg.base_channels * m) % cfg.groups or (cfg.base_channels * m) % cfg.num_heads:
            raise ValueError("base_channels * channel_mult must be divisible by groups and num_heads")


class Encoder(nn.Module):
    """Timestep embedding + the downsampling half of the UNet + the middle block.

    The UNet uses it as its first half; the noise-aware classifier is this trunk plus a head that averages over
    positions (the paper's classifier ends in an attention pool instead: a deviation, see the README).
    """

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        check_config(cfg)
        self.cfg = cfg
        ch, emb_dim = cfg.base_channels, 4 * cfg.base_channels
        self.time_mlp = nn.Sequential(nn.Linear(ch, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.class_emb = nn.Embedding(cfg.num_classes + 1, emb_dim) if cfg.num_classes else None
        self.conv_in = nn.Conv2d(cfg.in_channels, ch, 3, padding=1)
        self.down = nn.ModuleList()
        self.skip_channels = [ch]
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_res_blocks):
                block = Sequential([ResBlock(ch, cfg.base_channels * mult, emb_dim, cfg.groups, cfg.dropout)])
                ch = cfg.base_channels * mult
                if level in cfg.attention_levels:
                    block.append(Attention(ch, cfg.num_heads, cfg.groups))
                self.down.append(block)
                self.skip_channels.append(ch)
            if level < len(cfg.channel_mult) - 1:
                self.down.append(Sequential([Downsample(ch)]))
                self.skip_channels.append(ch)
        self.middle = Sequential([ResBlock(ch, ch, emb_dim, cfg.groups, cfg.dropout),
                                  Attention(ch, cfg.num_heads, cfg.groups),
                                  ResBlock(ch, ch, emb_dim, cfg.groups, cfg.dropout)])
        self.out_channels = ch

    def embed(self, t, y=None):
        emb = self.time_mlp(timestep_embedding(t, self.cfg.base_channels))
        if self.class_emb is not None:
            if y is None:  # no label given: the null label, i.e. the unconditional model
                y = torch.full_like(t, self.cfg.num_classes)
            emb = emb + self.class_emb(y)
        return emb

    def forward(self, x, t, y=None):
        emb = self.embed(t, y)
        h = self.conv_in(x)
        skips = [h]
        for block in self.down:
            h = block(h, emb)
            skips.append(h)
        return self.middle(h, emb), skips, emb


class UNet(nn.Module):
    """eps_theta(x_t, t, y): predicts the noise that was added to x_0."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        skip_channels = list(self.encoder.skip_channels)
        ch, emb_dim = self.encoder.out_channels, 4 * cfg.base_channels
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(cfg.channel_mult))):
            for i in range(cfg.num_res_blocks + 1):
                block = Sequential([ResBlock(ch + skip_channels.pop(), cfg.base_channels * mult, emb_dim,
                                             cfg.groups, cfg.dropout)])
                ch = cfg.base_channels * mult
                if level in cfg.attention_levels:
                    block.append(Attention(ch, cfg.num_heads, cfg.groups))
                if level > 0 and i == cfg.num_res_blocks:
                    block.append(Upsample(ch))
                self.up.append(block)
        self.out = nn.Sequential(nn.GroupNorm(cfg.groups, ch), nn.SiLU(),
                                 zero_init(nn.Conv2d(ch, cfg.in_channels, 3, padding=1)))

    def forward(self, x, t, y=None):
        h, skips, emb = self.encoder(x, t, y)
        for block in self.up:
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        return self.out(h)


class NoisyClassifier(nn.Module):
    """log p(y | x_t, t): the UNet's encoder with a pooling head, trained on noised images (for guidance)."""

    def __init__(self, cfg: UNetConfig, num_classes: int = 10):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        ch = self.encoder.out_channels
        self.head = nn.Sequential(nn.GroupNorm(cfg.groups, ch), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(ch, num_classes))

    def forward(self, x, t):
        h, _, _ = self.encoder(x, t)
        return self.head(h)


class MNISTClassifier(nn.Module):
    """A LeNet-style CNN for clean digits: the judge of evaluate.py (results/judge.json: 99.38% MNIST test accuracy).

    evaluate.py judges samples with it and measures distances in its 128-d penultimate feature space.
    """

    feature_dim = 128

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),   # 14x14
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # 7x7
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 7 * 7, self.feature_dim), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(self.feature_dim, 10))

    def forward(self, x, return_features=False):
        f = self.features(x)
        logits = self.head(f)
        return (logits, f) if return_features else logits
