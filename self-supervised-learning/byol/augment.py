"""BYOL's augmentations for 32x32 images, on a whole batch at once with per-image random parameters.

All randomness comes from the torch.Generator passed in, so a (seed, step) pair always gives the same views
(exact resume needs nothing but the step). Images: float [B, 3, H, W] in [0, 1].

    view 1: crop + flip, colour jitter (p 0.8), grayscale (p 0.2), blur (p 1.0), no solarization
    view 2: crop + flip, colour jitter (p 0.8), grayscale (p 0.2), blur (p 0.1), solarization (p 0.2)
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

GRAY_WEIGHTS = (0.299, 0.587, 0.114)
# RGB <-> YIQ: rotating the (I, Q) chroma plane by an angle shifts the hue by that angle (no HSV round trip)
RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
YIQ_TO_RGB = torch.linalg.inv(RGB_TO_YIQ)


@dataclass(frozen=True)
class ViewConfig:
    crop_scale: tuple = (0.2, 1.0)
    crop_ratio: tuple = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.2
    hue: float = 0.1
    gray_p: float = 0.2
    blur_p: float = 1.0
    blur_sigma: tuple = (0.1, 2.0)
    blur_kernel: int = 3  # the paper's 23 pixels is 10% of a 224 image; 3 is ~10% of 32
    solarize_p: float = 0.0


def byol_views(crop_min: float = 0.2):
    """The paper's two asymmetric views (blur 1.0 / 0.1, solarize 0 / 0.2)."""
    return (ViewConfig(crop_scale=(crop_min, 1.0), blur_p=1.0, solarize_p=0.0),
            ViewConfig(crop_scale=(crop_min, 1.0), blur_p=0.1, solarize_p=0.2))


def _uniform(n, low, high, g, device):
    return torch.empty(n, device=device).uniform_(low, high, generator=g) if g.device == torch.device(device) \
        else (low + (high - low) * torch.rand(n, generator=g)).to(device)


def _coin(n, p, g, device):
    return _uniform(n, 0.0, 1.0, g, device) < p


def random_resized_crop(x, scale, ratio, flip_p, g, out_size=None):
    """Crop a random rectangle (area fraction in `scale`, aspect ratio log-uniform in `ratio`) of each image, flip
    it with probability flip_p and resize it back to out_size, as one affine grid_sample over the batch."""
    b, device = x.shape[0], x.device
    area = _uniform(b, *scale, g, device)
    log_ratio = _uniform(b, math.log(ratio[0]), math.log(ratio[1]), g, device)
    aspect = log_ratio.exp()
    w = (area * aspect).sqrt().clamp(max=1.0)  # as fractions of the image side
    h = (area / aspect).sqrt().clamp(max=1.0)
    cx = (1 - w) * (2 * _uniform(b, 0, 1, g, device) - 1)  # crop centre in grid_sample's [-1, 1] coordinates
    cy = (1 - h) * (2 * _uniform(b, 0, 1, g, device) - 1)
    flip = torch.where(_coin(b, flip_p, g, device), -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 0, 2] = w * flip, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    size = out_size or x.shape[-1]
    grid = F.affine_grid(theta, (b, x.shape[1], size, size), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def grayscale(x):
    w = torch.tensor(GRAY_WEIGHTS, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def _blend(x, other, factor):
    return (factor.view(-1, 1, 1, 1) * x + (1 - factor.view(-1, 1, 1, 1)) * other).clamp(0, 1)


def rotate_hue(x, angle):
    """Rotate each image's chroma by angle (radians) in YIQ space: a hue shift that keeps luma."""
    to_yiq, to_rgb = RGB_TO_YIQ.to(x), YIQ_TO_RGB.to(x)
    yiq = torch.einsum("ij,bjhw->bihw", to_yiq, x)
    cos, sin = angle.cos().view(-1, 1, 1), angle.sin().view(-1, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack([yiq[:, 0], cos * i - sin * q, sin * i + cos * q], dim=1)
    return torch.einsum("ij,bjhw->bihw", to_rgb, yiq).clamp(0, 1)


def color_jitter(x, cfg: ViewConfig, g):
    """Brightness, contrast, saturation, hue (in this fixed order) on the images drawn with probability jitter_p."""
    b, device = x.shape[0], x.device
    apply = _coin(b, cfg.jitter_p, g, device)
    bright = _uniform(b, 1 - cfg.brightness, 1 + cfg.brightness, g, device)
    contrast = _uniform(b, 1 - cfg.contrast, 1 + cfg.contrast, g, device)
    sat = _uniform(b, 1 - cfg.saturation, 1 + cfg.saturation, g, device)
    hue = _uniform(b, -cfg.hue, cfg.hue, g, device) * 2 * math.pi
    one = torch.ones(b, device=device)
    bright, contrast, sat = (torch.where(apply, f, one) for f in (bright, contrast, sat))
    hue = torch.where(apply, hue, torch.zeros_like(hue))
    y = (x * bright.view(-1, 1, 1, 1)).clamp(0, 1)
    y = _blend(y, grayscale(y).mean(dim=(1, 2, 3), keepdim=True), contrast)
    y = _blend(y, grayscale(y), sat)
    return rotate_hue(y, hue)


def random_grayscale(x, p, g):
    gray = _coin(x.shape[0], p, g, x.device).view(-1, 1, 1, 1)
    return torch.where(gray, grayscale(x).expand_as(x), x)


def gaussian_blur(x, p, sigma_range, kernel, g):
    """A separable Gaussian blur with a per-image sigma, as one grouped convolution over all images x channels."""
    b, c, h, w = x.shape
    sigma = _uniform(b, *sigma_range, g, x.device)
    apply = _coin(b, p, g, x.device)
    offsets = torch.arange(kernel, device=x.device, dtype=x.dtype) - (kernel - 1) / 2
    weights = torch.exp(-offsets.view(1, -1) ** 2 / (2 * sigma.view(-1, 1) ** 2))
    weights = weights / weights.sum(1, keepdim=True)
    identity = (offsets == 0).to(x.dtype).expand(b, -1)
    weights = torch.where(apply.view(-1, 1), weights, identity).repeat_interleave(c, dim=0)  # [b * c, k]
    pad = kernel // 2
    y = F.pad(x.reshape(1, b * c, h, w), (pad, pad, pad, pad), mode="reflect")
    y = F.conv2d(y, weights.view(b * c, 1, kernel, 1), groups=b * c)
    y = F.conv2d(y, weights.view(b * c, 1, 1, kernel), groups=b * c)
    return y.view(b, c, h, w)


def solarize(x, p, g):
    apply = _coin(x.shape[0], p, g, x.device).view(-1, 1, 1, 1)
    return torch.where(apply & (x >= 0.5), 1 - x, x)


def augment(x, cfg: ViewConfig, g: torch.Generator):
    """One augmented view of every image in x (float [B, 3, H, W] in [0, 1])."""
    x = random_resized_crop(x, cfg.crop_scale, cfg.crop_ratio, cfg.flip_p, g)
    x = color_jitter(x, cfg, g)
    x = random_grayscale(x, cfg.gray_p, g)
    x = gaussian_blur(x, cfg.blur_p, cfg.blur_sigma, cfg.blur_kernel, g)
    x = solarize(x, cfg.solarize_p, g)
    return x.clamp(0, 1)


def two_views(images_uint8, views, g: torch.Generator):
    x = images_uint8.float() / 255
    return augment(x, views[0], g), augment(x, views[1], g)


def crop_flip(images_uint8, g: torch.Generator, pad: int = 4):
    """The light augmentation of the fine-tuning runs: a random shift of up to `pad` pixels (reflect padding) and a
    horizontal flip, per image."""
    x = images_uint8.float() / 255
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=g)
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=g)
    rows = (dy.view(b, 1) + torch.arange(h).view(1, h)).view(b, 1, h, 1).expand(b, 3, h, w + 2 * pad)
    x = padded.gather(2, rows)
    cols = (dx.view(b, 1) + torch.arange(w).view(1, w)).view(b, 1, 1, w).expand(b, 3, h, w)
    x = x.gather(3, cols)
    flip = (torch.rand(b, generator=g) < 0.5).view(b, 1, 1, 1)
    return torch.where(flip, x.flip(3), x)
