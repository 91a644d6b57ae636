"""Exact answers for the samplers, on data whose optimal noise predictor is known in closed form.

Data x0 ~ N(MU, S^2), every pixel independent. Then x_t ~ N(sqrt(ab) MU, v) with v = ab S^2 + 1 - ab (ab = alpha_bar_t),
and the minimizer of L_simple is E[eps | x_t] = sqrt(1 - ab) (x_t - sqrt(ab) MU) / v. With that predictor each sampler
step is linear in x_t plus Gaussian noise, so the mean and variance of the samples follow by hand. `by_hand_*` below
propagate them in float64 from the papers' formulas (DDPM eq. 7, DDIM eq. 12, "Diffusion Models Beat GANs" Algorithms
1 and 2), written out independently of diffusion.py; the tests compare them with 20,000 samples from diffusion.py.

The last tests show that the two bugs a reviewer planted in diffusion.py (a posterior-mean coefficient without its
square root; DDIM guidance without its sqrt(1 - alpha_bar) factor) make these checks fail.
"""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from shared.imports import load_module

HERE = Path(__file__).resolve().parents[1]
diffusion = load_module(HERE / "diffusion.py")

MU, S = 0.1, 0.25          # the data distribution
N = 20_000                 # samples per check: standard error of the mean ~0.0018, of the variance ~1%
T = 100
GRAD = 0.5                 # guidance checks: a classifier with grad_x log p(y | x_t) = GRAD sqrt(alpha_bar_t), the
                           # shape of a linear classifier of x_0 (the x_0 estimate stays inside the [-1, 1] clip)


class OptimalEps(nn.Module):
    """E[eps | x_t] for Gaussian data: what a perfectly trained eps-predictor outputs."""

    def __init__(self, alpha_bar):
        super().__init__()
        self.alpha_bar = alpha_bar

    def forward(self, x, t, y=None):
        ab = self.alpha_bar[t].to(x.dtype).reshape(-1, *([1] * (x.dim() - 1)))
        return (1 - ab).sqrt() * (x - ab.sqrt() * MU) / (ab * S**2 + 1 - ab)


def schedule(d):
    betas = d.betas.numpy().astype(np.float64)
    ab = np.cumprod(1 - betas)
    return betas, ab, np.concatenate([[1.0], ab[:-1]])


def x0_hat(ab):
    """E[x0 | x_t] = MU + Cov(x0, x_t) / Var(x_t) (x_t - E x_t) = A + B x_t (Gaussian conditioning)."""
    B = np.sqrt(ab) * S**2 / (ab * S**2 + 1 - ab)
    return MU - B * np.sqrt(ab) * MU, B


def by_hand_ddpm(d, guidance=0.0):
    """Mean and variance after ancestral sampling: x_{t-1} = c0 x0_hat + ct x_t (+ s Sigma g) + sqrt(beta~) z."""
    betas, ab, ab_prev = schedule(d)
    m, V = 0.0, 1.0  # x_T ~ N(0, 1)
    for i in reversed(range(d.T)):
        c0 = np.sqrt(ab_prev[i]) * betas[i] / (1 - ab[i])
        ct = np.sqrt(1 - betas[i]) * (1 - ab_prev[i]) / (1 - ab[i])
        var = (1 - ab_prev[i]) / (1 - ab[i]) * betas[i]
        A, B = x0_hat(ab[i])
        # Algorithm 1 shifts the mean by s * Sigma * g; at t = 0, where Sigma is 0, diffusion.py uses beta_1 (documented)
        shift = guidance * (var if i > 0 else betas[i]) * GRAD * np.sqrt(ab[i])
        m, V = c0 * A + (c0 * B + ct) * m + shift, (c0 * B + ct) ** 2 * V + var
    return m, V


def by_hand_ddim(d, steps, eta, guidance=0.0):
    """Mean and variance after DDIM: x' = sqrt(ab') x0_hat + sqrt(1 - ab' - sigma^2) eps_hat + sigma z."""
    _, ab_all, _ = schedule(d)
    seq = d.ddim_timesteps(steps)
    m, V = 0.0, 1.0
    for k, i in enumerate(seq):
        ab = ab_all[i]
        ab_p = ab_all[seq[k + 1]] if k + 1 < len(seq) else 1.0
        A, B = x0_hat(ab)
        # Algorithm 2: eps_hat = eps - s sqrt(1 - ab) g, so x0_hat moves by s (1 - ab) g / sqrt(ab), g = GRAD sqrt(ab)
        A = A + guidance * (1 - ab) * GRAD
        sigma = eta * np.sqrt((1 - ab_p) / (1 - ab) * (1 - ab / ab_p))
        c = np.sqrt(max(1 - ab_p - sigma**2, 0.0))
        P = np.sqrt(ab_p) * A - c * np.sqrt(ab) * A / np.sqrt(1 - ab)
        Q = np.sqrt(ab_p) * B + c * (1 - np.sqrt(ab) * B) / np.sqrt(1 - ab)
        m, V = P + Q * m, Q**2 * V + (sigma**2 if k + 1 < len(seq) else 0.0)
    return m, V


def sample(d, sampler, monkeypatch, guidance=0.0, **kw):
    model = OptimalEps(d.alpha_bar)
    g = torch.Generator().manual_seed(0)
    x_T = torch.randn(N, 1, 1, 1, generator=g, dtype=torch.float64).float()
    extra = {}
    if guidance:
        root_ab = d.alpha_bar.sqrt().float()
        monkeypatch.setattr(diffusion.Diffusion, "classifier_grad",
                            staticmethod(lambda c, x, t, y: GRAD * root_ab[t].reshape(-1, 1, 1, 1).expand_as(x)))
        extra = dict(classifier=object(), guidance=guidance, cond_y=torch.zeros(N, dtype=torch.long))
    x, _ = d.sample(model, x_T, sampler=sampler, generator=g, **kw, **extra)
    x = x.double().flatten()
    return x.mean().item(), x.var().item()


def assert_matches(measured, by_hand):
    (m, V), (m_hand, V_hand) = measured, by_hand
    assert m == pytest.approx(m_hand, abs=0.008), f"mean {m:.4f} vs {m_hand:.4f} by hand"
    assert V == pytest.approx(V_hand, rel=0.05), f"variance {V:.5f} vs {V_hand:.5f} by hand"


@pytest.fixture(scope="module")
def d():
    return diffusion.Diffusion("cosine", T)


def test_ddpm_with_the_optimal_predictor_recovers_the_data(d, monkeypatch):
    """The mean comes back exactly. The fixed posterior variance beta~ ignores Var[x0 | x_t], so each step adds a
    little too little noise: std 0.2348 instead of 0.25 at T = 100, 0.2481 at T = 1,000 (what learned variances fix)."""
    m, V = by_hand_ddpm(d)
    assert m == pytest.approx(MU, abs=1e-6) and np.sqrt(V) == pytest.approx(0.2348, abs=5e-4)
    m1000, V1000 = by_hand_ddpm(diffusion.Diffusion("cosine", 1000))
    assert m1000 == pytest.approx(MU, abs=1e-6) and np.sqrt(V1000) == pytest.approx(S, rel=0.01)
    assert_matches(sample(d, "ddpm", monkeypatch), (m, V))


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_matches_its_shrinkage_by_hand(d, monkeypatch, eta):
    """DDIM with few steps shrinks the variance (eta = 0: std 0.192 instead of 0.25 at 10 of 100 steps); the sampler must
    produce exactly the mean and variance that its update rule implies."""
    assert_matches(sample(d, "ddim", monkeypatch, steps=10, eta=eta), by_hand_ddim(d, 10, eta))


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_guidance_shifts_the_mean_by_the_formula(d, monkeypatch, sampler):
    """A classifier with constant grad log p(y | x_t) = g: the guided samples move by the amount the algorithm gives."""
    by_hand = by_hand_ddpm(d, guidance=1.0) if sampler == "ddpm" else by_hand_ddim(d, 10, 0.0, guidance=1.0)
    unguided = by_hand_ddpm(d) if sampler == "ddpm" else by_hand_ddim(d, 10, 0.0)
    assert by_hand[0] - unguided[0] > 0.05  # a real shift, many standard errors wide
    kw = {} if sampler == "ddpm" else dict(steps=10, eta=0.0)
    assert_matches(sample(d, sampler, monkeypatch, guidance=1.0, **kw), by_hand)


def test_a_posterior_coefficient_without_its_square_root_is_caught(monkeypatch):
    broken = diffusion.Diffusion("cosine", T)
    broken.posterior_coef0 = broken.betas * broken.alpha_bar_prev / (1 - broken.alpha_bar)  # sqrt() dropped
    with pytest.raises(AssertionError):
        assert_matches(sample(broken, "ddpm", monkeypatch), by_hand_ddpm(broken))


def test_ddim_guidance_without_its_sqrt_factor_is_caught(d, monkeypatch):
    monkeypatch.setattr(diffusion.Diffusion, "guided_eps", staticmethod(lambda eps, ab, grad, s: eps - s * grad))
    with pytest.raises(AssertionError):
        assert_matches(sample(d, "ddim", monkeypatch, guidance=1.0, steps=10, eta=0.0),
                       by_hand_ddim(d, 10, 0.0, guidance=1.0))
