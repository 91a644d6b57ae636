"""The three networks the initializations are compared on.

- MLP: the official ZerO notebook's bias-free ReLU MLP, 784 -> 784 -> n_h -> n_h -> 10.
- ResNet: a CIFAR ResNet (He et al. 2016, Section 4.2): a 3x3 stem, three stages of basic blocks at widths
  w, 2w, 4w (stride 2 between stages, 1x1 projection shortcuts), global average pooling, a linear classifier.
  Post-activation blocks (default) or pre-activation ones as in the official ZerO code (`block="pre"`);
  BatchNorm by default, as in the paper's CIFAR-10 ResNet; `norm="none"` drops it.
- PlainNet: a deep ReLU MLP with no residuals and no normalization, for the depth experiment: MNIST pooled
  2x2 to 14x14 = 196 inputs (a fixed average, no weights), then depth - 1 hidden layers of `width`, then 10.

Layers that ZerO sets to zero carry `starts_at_zero = True` (see init.py).
"""
import torch.nn as nn
import torch.nn.functional as F


def _output_layer(n_in, n_out, bias):
    layer = nn.Linear(n_in, n_out, bias=bias)
    layer.starts_at_zero = True
    return layer


class MLP(nn.Module):
    def __init__(self, n_in=784, hidden=(784, 1024, 1024), n_out=10, bias=False, pool=1):
        super().__init__()
        self.pool = pool
        sizes = [n_in, *hidden]
        self.hidden = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = _output_layer(sizes[-1], n_out, bias)

    def forward(self, x):
        if self.pool > 1:
            x = F.avg_pool2d(x, self.pool)
        x = x.flatten(1)
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.out(x)


def notebook_mlp(n_h, bias=False):
    model = MLP(784, (784, n_h, n_h), 10, bias=bias)
    model.rank_tracked = ("hidden.1", "hidden.2")  # l2 and l3 of the notebook (it tracks l3); SVDs of 784^2 cost
    return model


def plain_net(depth, width, pool=2, image_pixels=784):
    """depth linear layers in all (depth - 1 hidden + output), no skip connections, no normalization."""
    return MLP(image_pixels // pool ** 2, (width,) * (depth - 1), 10, bias=False, pool=pool)


def _norm(kind, channels):
    return nn.BatchNorm2d(channels) if kind == "batch" else nn.Identity()


class BasicBlock(nn.Module):
    """relu(F(x) + shortcut(x)), F = conv-norm-relu-conv-norm. The branch's last conv starts at zero under ZerO,
    so a block whose sizes match is relu(x) = x on the non-negative activations it receives: the identity."""

    def __init__(self, c_in, c_out, stride=1, norm="batch"):
        super().__init__()
        bias = norm == "none"
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=bias)
        self.bn1 = _norm(norm, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=bias)
        self.conv2.starts_at_zero = True
        self.bn2 = _norm(norm, c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), _norm(norm, c_out))

    def forward(self, x):
        branch = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(branch + self.shortcut(x))


class PreActBlock(nn.Module):
    """x + F(x), F = norm-relu-conv-norm-relu-conv (He et al. 2016, "Identity mappings"; the official ZerO code's
    CIFAR ResNet is pre-activation too). The branch *ends* in the conv ZerO zeroes, so the block is exactly x
    at init, with no BatchNorm after the zero conv (BN of an all-zero map scales its gradient by 1/sqrt(eps))."""

    def __init__(self, c_in, c_out, stride=1, norm="batch"):
        super().__init__()
        bias = norm == "none"
        self.bn1 = _norm(norm, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=bias)
        self.bn2 = _norm(norm, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=bias)
        self.conv2.starts_at_zero = True
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, bias=False)

    def forward(self, x):
        h = F.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(h)
        return skip + self.conv2(F.relu(self.bn2(self.conv1(h))))


class ResNet(nn.Module):
    def __init__(self, width=16, blocks_per_stage=1, n_classes=10, norm="batch", in_channels=3, block="post"):
        super().__init__()
        self.pre = block == "pre"
        Block = PreActBlock if self.pre else BasicBlock
        stem = [nn.Conv2d(in_channels, width, 3, 1, 1, bias=norm == "none")]
        self.stem = nn.Sequential(*stem) if self.pre else nn.Sequential(*stem, _norm(norm, width))
        blocks, c = [], width
        for stage, c_out in enumerate((width, 2 * width, 4 * width)):
            for i in range(blocks_per_stage):
                blocks.append(Block(c, c_out, 2 if stage > 0 and i == 0 else 1, norm))
                c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.final_norm = _norm(norm, c) if self.pre else nn.Identity()
        self.out = _output_layer(c, n_classes, bias=True)

    def forward(self, x):
        x = self.stem(x)
        x = F.relu(self.final_norm(self.blocks(x))) if self.pre else self.blocks(F.relu(x))
        return self.out(x.mean((2, 3)))


def build_model(name, *, n_h=512, width=16, depth=32, blocks=1, norm="batch", in_channels=3, block="post"):
    if name == "mlp":
        return notebook_mlp(n_h)
    if name == "plain":
        return plain_net(depth, width)
    if name == "resnet":
        return ResNet(width, blocks, norm=norm, in_channels=in_channels, block=block)
    raise ValueError(f"unknown model '{name}'")


def tracked_weights(model):
    """Weight matrices whose stable rank train.py logs: every Linear / Conv2d except the 1x1 shortcuts, or the
    model's `rank_tracked` subset."""
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)) and not (isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)):
            out[name] = m.weight
    keep = getattr(model, "rank_tracked", None)
    return {k: v for k, v in out.items() if keep is None or k in keep}
