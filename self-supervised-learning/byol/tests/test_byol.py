"""BYOL: the EMA target, the tau schedule, the loss, the augmentations, the evaluation code, exact resume and the
command lines end to end on real CIFAR-10."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from shared.checkpoint import read_checkpoint
from shared.imports import load_module

HERE = Path(__file__).resolve().parents[1]
model = load_module(HERE / "model.py")
augment = load_module(HERE / "augment.py")
evaluate = load_module(HERE / "evaluate.py")
train = load_module(HERE / "train.py")


def tiny_byol():
    torch.manual_seed(0)
    return model.BYOL(model.build_encoder("convnet", 4), hidden=16, proj_dim=8)


# ----------------------------------------------------------------------------- the target network
def test_target_gets_no_gradient_and_moves_by_exactly_the_ema_rule():
    byol = tiny_byol()
    x = torch.rand(6, 3, 32, 32)
    z, p = byol.online(x)
    t = byol.target(x)
    assert not t.requires_grad
    model.byol_loss(*p.chunk(2), *t.chunk(2)).backward()
    assert all(q.grad is None for q in byol.target.parameters())
    assert any(q.grad is not None and q.grad.abs().sum() > 0 for q in byol.online.predictor.parameters())

    with torch.no_grad():  # move the online weights, then one EMA update
        for q in byol.online.parameters():
            q.add_(torch.randn_like(q))
    online = [q.clone() for q in [*byol.online.encoder.parameters(), *byol.online.projector.parameters()]]
    before = [q.clone() for q in byol.target.parameters()]
    tau = 0.9
    byol.update_target(tau)
    assert len(online) == len(before) > 0
    for new, old, theta in zip(byol.target.parameters(), before, online):
        torch.testing.assert_close(new, tau * old + (1 - tau) * theta, rtol=0, atol=1e-6)
        assert not torch.equal(new, old)


def test_target_starts_as_a_copy_of_the_online_encoder_and_projector():
    byol = tiny_byol()
    x = torch.rand(4, 3, 32, 32)
    byol.eval()
    torch.testing.assert_close(byol.target(x), byol.online(x)[0])


@pytest.mark.parametrize("name, dim", [("convnet", 32), ("resnet18", 512)])
def test_encoders_map_cifar_images_to_feature_vectors(name, dim):
    encoder = model.build_encoder(name, 4)
    assert encoder.dim == dim
    assert encoder(torch.rand(2, 3, 32, 32)).shape == (2, dim)


def test_tau_schedule_endpoints_and_midpoint():
    assert model.tau_schedule(0, 1000, 0.996) == pytest.approx(0.996, abs=1e-12)
    assert model.tau_schedule(1000, 1000, 0.996) == pytest.approx(1.0, abs=1e-12)
    assert model.tau_schedule(500, 1000, 0.996) == pytest.approx(0.998, abs=1e-12)  # cosine: halfway at half time
    # cosine, not a straight line: a quarter of the way tau has moved (1 - cos(pi / 4)) / 2 = 15% of the way
    assert model.tau_schedule(250, 1000, 0.996) == pytest.approx(1 - 0.004 * (1 + math.cos(math.pi / 4)) / 2, abs=1e-12)


# ----------------------------------------------------------------------------- the loss
def test_loss_is_2_minus_2_cos_on_hand_made_vectors_and_symmetric():
    p = torch.tensor([[1.0, 0.0], [3.0, 0.0], [1.0, 1.0]])
    z = torch.tensor([[0.0, 2.0], [-1.0, 0.0], [2.0, 2.0]])  # cos = 0, -1, 1
    torch.testing.assert_close(model.regression_loss(p, z), torch.tensor([2.0, 4.0, 0.0]))
    # 45 degrees: 2 - 2 / sqrt(2), scale-free
    assert model.regression_loss(torch.tensor([[5.0, 0.0]]), torch.tensor([[1.0, 1.0]])).item() == \
        pytest.approx(2 - math.sqrt(2), abs=1e-6)
    g = torch.Generator().manual_seed(0)
    p1, p2, z1, z2 = (torch.randn(5, 7, generator=g) for _ in range(4))
    total = model.byol_loss(p1, p2, z1, z2)
    assert total.item() == pytest.approx(model.byol_loss(p2, p1, z2, z1).item(), abs=1e-6)  # swapping the views
    # each prediction regresses the *other* view's target
    assert total.item() == pytest.approx((model.regression_loss(p1, z2).mean() + model.regression_loss(p2, z1).mean()).item(), abs=1e-6)
    assert total.item() != pytest.approx((model.regression_loss(p1, z1).mean() + model.regression_loss(p2, z2).mean()).item(), abs=1e-3)


def test_collapse_check_is_zero_for_a_collapsed_batch_and_near_one_over_sqrt_dim_for_spread_vectors():
    assert model.projection_std(torch.ones(64, 16)) == pytest.approx(0.0, abs=1e-6)
    spread = torch.randn(20_000, 16, generator=torch.Generator().manual_seed(0))
    assert model.projection_std(spread) == pytest.approx(1 / math.sqrt(16), rel=0.02)


# ----------------------------------------------------------------------------- augmentations
def cifar_like_batch(n=16):
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)


def test_two_views_differ_and_keep_shape_and_range():
    images = cifar_like_batch()
    v1, v2 = augment.two_views(images, augment.byol_views(), torch.Generator().manual_seed(0))
    for v in (v1, v2):
        assert v.shape == images.shape and v.dtype == torch.float32
        assert v.min() >= 0 and v.max() <= 1
    assert (v1 - v2).abs().mean() > 0.05


def test_augmentation_is_deterministic_under_a_seed_and_per_image_parameters_differ():
    images = cifar_like_batch()
    views = augment.byol_views()
    a = augment.two_views(images, views, torch.Generator().manual_seed(3))
    b = augment.two_views(images, views, torch.Generator().manual_seed(3))
    c = augment.two_views(images, views, torch.Generator().manual_seed(4))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])
    same = images[:1].expand(8, -1, -1, -1)  # one image eight times: per-image parameters -> eight different views
    v1, _ = augment.two_views(same, views, torch.Generator().manual_seed(0))
    differences = (v1[:, None] - v1[None]).abs().flatten(2).mean(2)
    assert (differences + torch.eye(8)).min() > 1e-3


def test_hue_rotation_keeps_luma_and_a_full_turn_is_the_identity():
    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.2 + 0.4  # near gray: no clipping
    full = augment.rotate_hue(x, torch.full((4,), 2 * math.pi))
    torch.testing.assert_close(full, x, atol=1e-5, rtol=0)
    quarter = augment.rotate_hue(x, torch.full((4,), 0.3))
    assert (quarter - x).abs().mean() > 1e-3
    torch.testing.assert_close(augment.grayscale(quarter), augment.grayscale(x), atol=2e-3, rtol=0)
    # a rotation of the (I, Q) plane: the chroma's length is kept and its angle moves by exactly 0.3
    iq, iq_rotated = (torch.einsum("ij,bjhw->bihw", augment.RGB_TO_YIQ[1:], v) for v in (x, quarter))
    torch.testing.assert_close(iq_rotated.norm(dim=1), iq.norm(dim=1), atol=1e-5, rtol=0)
    turned = torch.atan2(iq_rotated[:, 1], iq_rotated[:, 0]) - torch.atan2(iq[:, 1], iq[:, 0])
    torch.testing.assert_close(torch.remainder(turned, 2 * math.pi), torch.full_like(turned, 0.3), atol=1e-4, rtol=0)


def test_blur_with_sigma_near_zero_is_the_identity_and_otherwise_smooths():
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    torch.testing.assert_close(augment.gaussian_blur(x, 1.0, (1e-3, 1e-3), 3, g), x)
    blurred = augment.gaussian_blur(x, 1.0, (2.0, 2.0), 3, g)
    assert blurred.std() < 0.8 * x.std()
    torch.testing.assert_close(blurred.mean(), x.mean(), atol=2e-3, rtol=0)


# ----------------------------------------------------------------------------- evaluation code
def toy_clusters(n_per_class=100, dim=16, classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g) * 5
    y = torch.arange(classes).repeat_interleave(n_per_class)
    x = centres[y] + 0.3 * torch.randn(len(y), dim, generator=g)
    return x, y


def test_knn_and_linear_probe_are_perfect_on_separable_data_and_chance_on_shuffled_labels():
    x, y = toy_clusters(seed=0)
    xt, yt = toy_clusters(seed=0)
    xt = xt + 0.3 * torch.randn(xt.shape, generator=torch.Generator().manual_seed(5))
    assert evaluate.knn_accuracy(x, y, xt, yt, k=200) == 1.0  # k = 2 clusters: the similarity weights decide
    assert evaluate.linear_probe(x, y, xt, yt, n_val=200)["accuracy"] == 1.0
    # labels that say nothing about the features: chance (0.1) on fresh test points
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(1))]
    noise = torch.randn(1000, 16, generator=torch.Generator().manual_seed(2))
    noise_y = torch.randint(0, 10, (1000,), generator=torch.Generator().manual_seed(3))
    assert abs(evaluate.knn_accuracy(noise, shuffled, torch.randn(1000, 16, generator=torch.Generator().manual_seed(4)), noise_y, k=50) - 0.1) < 0.04
    assert abs(evaluate.linear_probe(noise, shuffled, torch.randn(1000, 16, generator=torch.Generator().manual_seed(4)), noise_y, n_val=200)["accuracy"] - 0.1) < 0.04


def test_balanced_subset_takes_the_same_number_of_every_class():
    labels = torch.arange(10).repeat(500)
    subset = evaluate.balanced_subset(labels, 0.01, seed=0)
    assert len(subset) == 50 and len(set(subset.tolist())) == 50
    assert torch.bincount(labels[subset], minlength=10).tolist() == [5] * 10
    assert torch.equal(subset, evaluate.balanced_subset(labels, 0.01, seed=0))


def test_lars_scales_each_weight_step_by_the_trust_ratio():
    w = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))  # |w| = 5
    b = torch.nn.Parameter(torch.tensor([1.0]))
    opt = train.LARS([{"params": [w]}, {"params": [b], "weight_decay": 0.0, "lars": False}], lr=0.5, weight_decay=0.1, eta=0.02)
    w.grad, b.grad = torch.tensor([[0.0, 1.0]]), torch.tensor([2.0])
    update = w.grad + 0.1 * w.detach()  # [0.3, 1.4]
    expected = w.detach() - 0.5 * 0.02 * 5 / update.norm() * update
    opt.step()
    torch.testing.assert_close(w.detach(), expected)
    torch.testing.assert_close(b.detach(), torch.tensor([0.0]))  # plain SGD: 1 - 0.5 * 2


def test_evaluate_rebuilds_the_random_weights_byol_started_from(tmp_path):
    args = train.get_args(["--quick", "--seed", "7"])
    torch.manual_seed(7)
    initial = train.build(args).online.encoder.state_dict()
    trained = train.build(args)
    from shared.checkpoint import save_checkpoint
    save_checkpoint(tmp_path / "c.pt", model=trained, step=3, config={**vars(args), "out": "x", "data_dir": None})
    _, random_encoder, _, _ = evaluate.encoders_from_checkpoint(tmp_path / "c.pt")
    for k, v in random_encoder.state_dict().items():
        torch.testing.assert_close(v, initial[k])


# ----------------------------------------------------------------------------- command lines
def run(script, *args, cwd=None):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(HERE / script), *map(str, args)], cwd=cwd or HERE, env=env,
                          capture_output=True, text=True, timeout=300)


def test_bad_input_is_a_one_line_error_with_exit_code_2(tmp_path):
    for script, args in (("train.py", ["--optimizer", "rmsprop"]), ("train.py", ["--batch-size", "0"]),
                         ("train.py", ["--crop-min", "1.5", "--out", tmp_path / "r"]),
                         ("evaluate.py", ["--checkpoint", tmp_path / "missing.pt"]),
                         ("evaluate.py", ["--checkpoint", "x.pt", "--label-fractions", "-1"])):
        r = run(script, *args)
        assert r.returncode == 2, (script, args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "r").exists()


needs_cifar = pytest.mark.skipif(not os.environ.get("PLAYGROUND_DATA"), reason="needs CIFAR-10: set PLAYGROUND_DATA")
TINY = ["--quick", "--steps", "6", "--threads", "1", "--precision", "fp32", "--knn-every", "100", "--log-every", "1"]


@needs_cifar
@pytest.mark.slow
def test_resume_equals_an_uninterrupted_run(tmp_path):
    r = run("train.py", *TINY, "--checkpoint-every", "6", "--out", tmp_path / "whole")
    assert r.returncode == 0, r.stderr[-2000:]
    r = run("train.py", *TINY, "--checkpoint-every", "6", "--stop-after", "3", "--out", tmp_path / "split")
    assert r.returncode == 0, r.stderr[-2000:]
    assert read_checkpoint(tmp_path / "split" / "checkpoint.pt")["step"] == 3
    r = run("train.py", *TINY, "--checkpoint-every", "6", "--resume", "--out", tmp_path / "split")
    assert r.returncode == 0, r.stderr[-2000:]
    whole, split = (read_checkpoint(tmp_path / d / "checkpoint.pt") for d in ("whole", "split"))
    assert whole["step"] == split["step"] == 6
    for k, v in whole["model"].items():
        assert torch.equal(v, split["model"][k]), k
    # training moved the online weights away from the target's (they start equal), so the equality bites
    key = "encoder.features.1.0.weight"
    assert (whole["model"][f"online.{key}"] - whole["model"][f"target.{key}"]).abs().max() > 1e-4
    losses = [[row["loss"] for row in map(json.loads, (tmp_path / d / "metrics.jsonl").read_text().splitlines()) if "loss" in row]
              for d in ("whole", "split")]
    assert losses[0] == pytest.approx(losses[1], abs=1e-6) and len(losses[0]) == 6


@needs_cifar
@pytest.mark.slow
def test_quick_pretrain_and_evaluate_end_to_end_on_cifar10(tmp_path):
    r = run("train.py", "--quick", "--threads", "1", "--out", tmp_path / "run")
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [row["loss"] for row in rows if "loss" in row]
    assert len(losses) == 6 and all(0 <= v <= 4 for v in losses)
    assert losses[-1] < losses[0]  # the online network learns to predict the target
    assert all(row["proj_std"] > 0.2 / math.sqrt(64) for row in rows if "proj_std" in row)  # not collapsed
    assert sum("knn_accuracy" in row for row in rows) == 3
    out = tmp_path / "results.json"
    r = run("evaluate.py", "--checkpoint", tmp_path / "run" / "checkpoint.pt", "--quick", "--threads", "1",
            "--finetune-steps", "5", "--output", out)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["n_train"] == 2000 and res["n_test"] == 1000 and res["pretrain_steps"] == 30
    assert res["raw_pixels"]["linear_probe"]["accuracy"] > 0.2  # 2,000 images already beat chance (0.1) well
    for init in ("byol", "random"):
        assert res[init]["knn"] > 0.12
        assert 0 <= res[init]["finetune_0.01"]["accuracy"] <= 1 and res[init]["finetune_0.1"]["n_labels"] == 200
    assert set(res["times_s"]) >= {"byol_features_s", "random_finetune_0.1_s"}
