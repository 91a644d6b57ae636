"""BYOL (Grill et al. 2020): encoders, the projector / predictor MLPs, the online + EMA target pair and the loss.

    online:  image -> encoder -> projector (z) -> predictor (p)
    target:  image -> encoder -> projector (z')          an exponential moving average of the online weights
    loss:    2 - 2 cos(p(view 1), z'(view 2)) + 2 - 2 cos(p(view 2), z'(view 1))

The target gets no gradient; after every optimizer step it moves towards the online weights by
theta' <- tau theta' + (1 - tau) theta, with tau rising from tau_base (0.996) to 1 on a cosine schedule.
"""
import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ENCODERS = ("convnet", "resnet18")
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


class Normalize(nn.Module):
    """Encoders take images in [0, 1]; the per-channel CIFAR-10 statistics are part of the model, not the data."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CIFAR_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        return (x - self.mean) / self.std


def conv_bn_relu(c_in, c_out, stride=1):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class ConvNet(nn.Module):
    """The CPU encoder: one 3x3 conv + BN + ReLU per stage, 2x2 max-pool between stages, global average pool.
    Small enough for a BYOL pre-training of 50 epochs in ~41 minutes on 2 CPU cores (see benchmark.py)."""

    def __init__(self, widths=(32, 64, 128, 256)):
        super().__init__()
        layers, c_in = [Normalize()], 3
        for i, width in enumerate(widths):
            layers += [conv_bn_relu(c_in, width)] + ([nn.MaxPool2d(2)] if i < len(widths) - 1 else [])
            c_in = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dim = c_in

    def forward(self, x):
        return self.features(x)


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = conv_bn_relu(c_in, c_out, stride)
        self.conv2 = nn.Sequential(nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return F.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class ResNet18(nn.Module):
    """The CIFAR ResNet-18 of the BYOL/SimCLR CIFAR experiments: a 3x3 stem, no max-pool, 4 stages of 2 blocks."""

    def __init__(self):
        super().__init__()
        blocks, c_in = [], 64
        for i, width in enumerate((64, 128, 256, 512)):
            for j in range(2):
                blocks.append(BasicBlock(c_in, width, 2 if (i > 0 and j == 0) else 1))
                c_in = width
        self.features = nn.Sequential(Normalize(), conv_bn_relu(3, 64), *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dim = 512

    def forward(self, x):
        return self.features(x)


def build_encoder(name: str, width: int = 32) -> nn.Module:
    """`width`: the first stage's channels of the convnet (doubled at each of its 4 stages)."""
    if name == "convnet":
        return ConvNet(tuple(width * 2 ** i for i in range(4)))
    if name == "resnet18":
        return ResNet18()
    raise ValueError(f"unknown encoder '{name}'; choose one of {', '.join(ENCODERS)}")


def mlp(dim_in: int, hidden: int, dim_out: int) -> nn.Sequential:
    """BYOL's projector and predictor: Linear - BatchNorm - ReLU - Linear."""
    return nn.Sequential(nn.Linear(dim_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, dim_out))


class Online(nn.Module):
    """The trained network. forward -> (projection z, prediction p): z feeds the collapse check, p the loss."""

    def __init__(self, encoder: nn.Module, hidden: int, proj_dim: int):
        super().__init__()
        self.encoder = encoder
        self.projector = mlp(encoder.dim, hidden, proj_dim)
        self.predictor = mlp(proj_dim, hidden, proj_dim)

    def forward(self, x):
        z = self.projector(self.encoder(x))
        return z, self.predictor(z)


class Target(nn.Module):
    def __init__(self, online: Online):
        super().__init__()
        self.encoder = copy.deepcopy(online.encoder)
        self.projector = copy.deepcopy(online.projector)
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        return self.projector(self.encoder(x))


class BYOL(nn.Module):
    """Online network (trained) + target network (an EMA of the online encoder and projector, starting equal)."""

    def __init__(self, encoder: nn.Module, hidden: int = 1024, proj_dim: int = 256):
        super().__init__()
        self.online = Online(encoder, hidden, proj_dim)
        self.target = Target(self.online)

    @torch.no_grad()
    def update_target(self, tau: float) -> None:
        """theta' <- tau theta' + (1 - tau) theta for every target parameter. The target's BatchNorm running
        statistics are its own (it normalizes with batch statistics while training, and is never evaluated)."""
        online = [*self.online.encoder.parameters(), *self.online.projector.parameters()]
        target = list(self.target.parameters())
        torch._foreach_mul_(target, tau)
        torch._foreach_add_(target, online, alpha=1 - tau)


def tau_schedule(step: int, total_steps: int, tau_base: float = 0.996) -> float:
    """tau_k = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2: tau_base at step 0, 1 at the last step."""
    progress = min(step, total_steps) / max(1, total_steps)
    return 1 - (1 - tau_base) * (math.cos(math.pi * progress) + 1) / 2


def regression_loss(p, z):
    """Per-row normalized MSE ||p/|p| - z/|z|||^2 = 2 - 2 cos(p, z)."""
    return 2 - 2 * F.cosine_similarity(p, z.detach(), dim=-1)


def byol_loss(p1, p2, z1_target, z2_target):
    """The symmetrized loss: each view's prediction regresses the *other* view's target projection."""
    return regression_loss(p1, z2_target).mean() + regression_loss(p2, z1_target).mean()


def projection_std(z) -> float:
    """Collapse check: the mean over dimensions of the per-dimension std of the L2-normalized projections.
    A collapsed network (every image -> the same vector) gives 0; well-spread unit vectors give ~1/sqrt(dim)."""
    return F.normalize(z.float(), dim=1).std(dim=0).mean().item()
