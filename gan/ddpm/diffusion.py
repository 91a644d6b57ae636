"""The Gaussian diffusion process: noise schedules, q(x_t | x_0), the eps-prediction loss, and the samplers
(ancestral DDPM over all T steps, DDIM over a subsequence), with classifier guidance and
classifier-free guidance.

Images live in [-1, 1]. Timesteps are integers 0..T-1 (t = 0 is the first, least noisy step).
"""
import math

import torch
import torch.nn.functional as F

from shared.distributed import unwrap

SCHEDULES = ("linear", "cosine")


def make_betas(schedule: str, T: int) -> torch.Tensor:
    if schedule == "linear":  # DDPM: 1e-4 .. 0.02 at T = 1000, rescaled so other T give the same process
        scale = 1000 / T
        return torch.linspace(scale * 1e-4, scale * 0.02, T, dtype=torch.float64)
    if schedule == "cosine":  # improved DDPM: alpha_bar(t) = cos^2(((t/T + s) / (1 + s)) * pi/2), betas clipped at 0.999
        s = 0.008
        f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
        return torch.tensor([min(1 - f((i + 1) / T) / f(i / T), 0.999) for i in range(T)], dtype=torch.float64)
    raise ValueError(f"unknown schedule '{schedule}'; choose one of {SCHEDULES}")


def noise_like(x: torch.Tensor, generator=None) -> torch.Tensor:
    """Noise shaped like x, drawn on the generator's device and moved to x's (a CPU seed: the same noise on a GPU)."""
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=device).to(x.device)


def _gather(a: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return a.to(x.device)[t].float().reshape(-1, *([1] * (x.dim() - 1)))


class Diffusion:
    def __init__(self, schedule: str = "cosine", T: int = 1000):
        self.T = T
        self.betas = make_betas(schedule, T)
        self.alphas = 1 - self.betas
        self.alpha_bar = torch.cumprod(self.alphas, 0)
        self.alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bar[:-1]])
        # q(x_{t-1} | x_t, x_0) = N(coef0 * x_0 + coeft * x_t, posterior_var)
        self.posterior_var = self.betas * (1 - self.alpha_bar_prev) / (1 - self.alpha_bar)
        self.posterior_coef0 = self.betas * self.alpha_bar_prev.sqrt() / (1 - self.alpha_bar)
        self.posterior_coeft = (1 - self.alpha_bar_prev) * self.alphas.sqrt() / (1 - self.alpha_bar)

    # ------------------------------------------------------------------ training
    def q_sample(self, x0, t, noise):
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, the closed form of t forward steps."""
        return _gather(self.alpha_bar.sqrt(), t, x0) * x0 + _gather((1 - self.alpha_bar).sqrt(), t, x0) * noise

    def loss(self, model, x0, y=None, label_drop: float = 0.0, dist=None):
        """L_simple: || eps - eps_theta(x_t, t) ||^2 at a uniformly random t.

        dist (shared.distributed): x0 and y are this rank's rows of a global batch. t, noise and label drops are
        drawn for the whole global batch (the same draws on every rank: their RNGs share the seed) and sliced, so
        W ranks train on exactly the noised images one process would, and the RNG streams stay in step."""
        shard = dist.shard if dist is not None else (lambda v: v)
        n = x0.shape[0] * (dist.world_size if dist is not None else 1)
        t = shard(torch.randint(0, self.T, (n,), device=x0.device))
        noise = shard(torch.randn((n, *x0.shape[1:]), dtype=x0.dtype, device=x0.device))
        if y is not None and label_drop > 0:  # classifier-free guidance: sometimes train the unconditional model
            drop = shard(torch.rand((n,), device=y.device) < label_drop)
            y = torch.where(drop, torch.full_like(y, unwrap(model).cfg.num_classes), y)
        return F.mse_loss(model(self.q_sample(x0, t, noise), t, y).float(), noise)

    # ------------------------------------------------------------------ guidance
    def eps(self, model, x, t, y=None, cfg_scale: float = 0.0):
        """eps_theta, with classifier-free guidance (1 + w) eps(x, y) - w eps(x, null) when cfg_scale = w > 0."""
        if y is None or cfg_scale == 0:
            return model(x, t, y).float()
        null = torch.full_like(y, model.cfg.num_classes)
        e = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null])).float()
        cond, uncond = e.chunk(2)
        return cond + cfg_scale * (cond - uncond)

    @staticmethod
    def classifier_grad(classifier, x, t, y):
        """grad_x log p_phi(y | x_t, t)."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            log_probs = F.log_softmax(classifier(x, t).float(), dim=-1)
            selected = log_probs[torch.arange(len(y), device=y.device), y].sum()
            return torch.autograd.grad(selected, x)[0]

    @staticmethod
    def guided_mean(mean, var, grad, scale):
        """The paper's Algorithm 1 (classifier-guided ancestral step): mu + s * Sigma * grad log p(y | x_t)."""
        return mean + scale * var * grad

    @staticmethod
    def guided_eps(eps, alpha_bar, grad, scale):
        """The paper's Algorithm 2 (classifier-guided DDIM): eps_hat = eps - s * sqrt(1 - alpha_bar) * grad log p(y | x_t)."""
        return eps - scale * (1 - alpha_bar).sqrt() * grad

    # ------------------------------------------------------------------ samplers
    def _x0_from_eps(self, x, t, eps):
        ab = _gather(self.alpha_bar, t, x)
        return ((x - (1 - ab).sqrt() * eps) / ab.sqrt()).clamp(-1, 1)

    @torch.no_grad()
    def ddpm_sample(self, model, x_T, y=None, cond_y=None, cfg_scale=0.0, classifier=None, guidance=0.0,
                    generator=None, trajectory_every=0, progress=None):
        """Ancestral sampling over all T steps (DDPM Algorithm 2).

        y: labels the model is conditioned on (None = unconditional / null label).
        classifier + guidance s: the paper's Algorithm 1, mean shift mu + s * Sigma * grad log p(cond_y | x_t).
        Returns (x_0, trajectory list of intermediate x_t).
        """
        x, traj = x_T, []
        for i in reversed(range(self.T)):
            t = torch.full((x.shape[0],), i, device=x.device, dtype=torch.long)
            eps = self.eps(model, x, t, y, cfg_scale)
            x0 = self._x0_from_eps(x, t, eps)
            mean = _gather(self.posterior_coef0, t, x) * x0 + _gather(self.posterior_coeft, t, x) * x
            # posterior variance at t = 0 is 0; use beta_1 there (only the guidance shift sees it, no noise is added)
            var = _gather(self.posterior_var if i > 0 else self.betas, t, x)
            if classifier is not None and guidance > 0:
                mean = self.guided_mean(mean, var, self.classifier_grad(classifier, x, t, cond_y), guidance)
            if i > 0:
                x = mean + var.sqrt() * noise_like(x, generator)
            else:
                x = mean
            if trajectory_every and (i % trajectory_every == 0):
                traj.append(x.clone())
            if progress is not None:
                progress.update(1)
        return x.clamp(-1, 1), traj

    def ddim_timesteps(self, steps: int) -> list:
        """Evenly spaced subsequence of {0..T-1} (descending), always ending at t = 0."""
        if not 1 <= steps <= self.T:
            raise ValueError(f"DDIM steps must lie in 1..{self.T}, got {steps}")
        return sorted({round(i * (self.T - 1) / max(steps - 1, 1)) for i in range(steps)}, reverse=True)

    @torch.no_grad()
    def ddim_sample(self, model, x_T, steps=50, eta=0.0, y=None, cond_y=None, cfg_scale=0.0, classifier=None,
                    guidance=0.0, generator=None, trajectory_every=0, progress=None):
        """DDIM (Song et al. 2021) over `steps` timesteps; eta = 0 is deterministic given x_T.

        Classifier guidance is the paper's Algorithm 2: eps_hat = eps - s * sqrt(1 - alpha_bar) * grad log p(y | x_t).
        """
        x, traj = x_T, []
        seq = self.ddim_timesteps(steps)
        for k, i in enumerate(seq):
            t = torch.full((x.shape[0],), i, device=x.device, dtype=torch.long)
            ab = _gather(self.alpha_bar, t, x)
            ab_prev = _gather(self.alpha_bar, torch.full_like(t, seq[k + 1]), x) if k + 1 < len(seq) else torch.ones_like(ab)
            eps = self.eps(model, x, t, y, cfg_scale)
            if classifier is not None and guidance > 0:
                eps = self.guided_eps(eps, ab, self.classifier_grad(classifier, x, t, cond_y), guidance)
            x0 = self._x0_from_eps(x, t, eps)
            eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt()  # consistent with the clipped x0
            sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()
            x = ab_prev.sqrt() * x0 + (1 - ab_prev - sigma ** 2).clamp(min=0).sqrt() * eps
            if eta > 0 and k + 1 < len(seq):
                x = x + sigma * noise_like(x, generator)
            if trajectory_every and (k % trajectory_every == 0 or k + 1 == len(seq)):
                traj.append(x.clone())
            if progress is not None:
                progress.update(1)
        return x.clamp(-1, 1), traj

    def sample(self, model, x_T, sampler="ddim", steps=50, **kwargs):
        if sampler == "ddpm":
            kwargs.pop("eta", None)
            return self.ddpm_sample(model, x_T, **kwargs)
        return self.ddim_sample(model, x_T, steps=steps, **kwargs)


# ---------------------------------------------------------------------- data and trained models
def load_dataset(name: str, train: bool = True, data_dir=None):
    """Images as float [N, C, H, W] in [-1, 1] and labels int64 [N] ('mnist' or 'cifar10')."""
    from shared.data import load_image_dataset

    images, labels = load_image_dataset(name, train, data_dir)
    x = images.float().div(127.5).sub(1)
    return (x[:, None] if x.dim() == 3 else x), labels


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 images with the channel dim dropped for grayscale."""
    u = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return u[:, 0] if u.shape[1] == 1 else u


def load_trained(path, ema: bool = True, map_location="cpu"):
    """(UNet, Diffusion, config) from a train.py checkpoint, on map_location; the EMA weights unless ema=False."""
    from model import UNet, UNetConfig
    from shared.checkpoint import read_checkpoint
    from shared.errors import PlaygroundError

    state = read_checkpoint(path, map_location)
    config = state["config"]
    if "model" not in config or "schedule" not in config:
        raise PlaygroundError(f"{path} is not a gan/ddpm/train.py checkpoint; pass the checkpoint.pt of a ddpm run")
    model = UNet(UNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in config["model"].items()}))
    model.load_state_dict(state["extra"]["ema"] if ema else state["model"])
    model.to(map_location).eval()
    return model, Diffusion(config["schedule"], config["T"]), config
