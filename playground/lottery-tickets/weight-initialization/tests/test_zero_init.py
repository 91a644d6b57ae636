import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from shared.imports import load_module
from shared.paths import REPO_ROOT

HERE = Path(__file__).resolve().parents[1]
init = load_module(HERE / "init.py")
models = load_module(HERE / "models.py")


def zero_resnet(norm="batch", block="post"):
    return init.initialize(models.ResNet(width=8, blocks_per_stage=2, norm=norm, block=block), "zero")


# ----------------------------------------------------------------------------- ZerO
def test_hadamard_is_orthogonal_up_to_scale():
    for n in (1, 2, 16, 128):
        h = init.hadamard(n)
        assert set(h.unique().tolist()) <= {-1.0, 1.0}
        assert torch.equal(h @ h.T, n * torch.eye(n))
    with pytest.raises(ValueError):
        init.hadamard(12)


def test_same_size_layers_are_identity_maps():
    model = init.initialize(models.notebook_mlp(1024), "zero")
    x = torch.randn(5, 784)
    assert torch.equal(model.hidden[0](x), x)  # 784 -> 784
    assert torch.equal(model.hidden[2].weight, torch.eye(1024))  # n_h -> n_h
    assert torch.equal(init.zero_matrix(300, 500), torch.eye(300, 500))  # shrinking: partial identity


@pytest.mark.parametrize("n_out,n_in", [(16, 3), (1024, 784), (100, 60), (100, 80), (2048, 784)])
def test_dimension_increasing_layers_are_injective_and_norm_preserving(n_out, n_in):
    w = init.zero_matrix(n_out, n_in)
    s = torch.linalg.svdvals(w.double())
    assert s.min() > 0.1  # full column rank: no two inputs collide, nothing is lost
    assert s.max() <= 1 + 1e-6  # rows of an orthogonal matrix: never amplifies
    if n_out & (n_out - 1) == 0:  # n_out a power of 2: the columns are orthonormal, norms kept exactly
        x = torch.randn(7, n_in, dtype=torch.double)
        assert torch.allclose((x @ w.double().T).norm(dim=1), x.norm(dim=1))
    # the paper's constant 2^{-(m-1)/2} is sqrt(2) times ours (the notebook's 2^{-m/2})
    assert torch.allclose(init.zero_matrix(n_out, n_in, "paper"), math.sqrt(2) * w)
    m = math.ceil(math.log2(n_out))
    assert w.abs().max().item() == pytest.approx(2 ** (-m / 2))


def test_zero_init_on_mlp_uses_hadamard_for_the_wider_layer():
    model = init.initialize(models.notebook_mlp(1024), "zero")
    w = model.hidden[1].weight  # 784 -> 1024
    assert torch.equal(w, init.hadamard(1024)[:, :784] / 32)
    assert torch.equal(model.out.weight, torch.zeros(10, 1024))


@pytest.mark.parametrize("block", ["post", "pre"])
def test_residual_branch_ends_and_output_layer_are_zero(block):
    model = zero_resnet(block=block)
    ends = [m for m in model.modules() if getattr(m, "starts_at_zero", False)]
    assert len(ends) == 6 + 1  # one per block, plus the classifier
    for m in ends:
        assert torch.count_nonzero(m.weight) == 0
    x = torch.randn(4, 3, 32, 32)
    assert torch.equal(model(x), torch.zeros(4, 10))


@pytest.mark.parametrize("norm", ["batch", "none"])
@pytest.mark.parametrize("block", ["post", "pre"])
def test_same_size_residual_blocks_are_identity_at_init(norm, block):
    model = zero_resnet(norm, block)
    same = [b for b in model.blocks if b.shortcut is None or isinstance(b.shortcut, nn.Identity)]
    assert len(same) == 4
    x = torch.randn(4, 32, 16, 16)
    if block == "post":
        x = F.relu(x)  # post-activation blocks see post-ReLU (non-negative) activations; pre-activation any x
    for block in same:
        xs = x[:, :block.conv1.in_channels]
        assert torch.equal(block.train()(xs), xs)
        assert torch.equal(block.eval()(xs), xs)
    x = x[:, :8]
    model_default = models.ResNet(width=8, blocks_per_stage=2, norm=norm, block=block)  # PyTorch's default init
    first = model_default.blocks[0]
    assert not torch.allclose(first(x), x)


def test_conv_kernels_are_zero_except_the_centre_tap():
    model = zero_resnet()
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
            off_centre = m.weight.clone()
            off_centre[:, :, 1, 1] = 0
            assert torch.count_nonzero(off_centre) == 0
            if not getattr(m, "starts_at_zero", False):
                assert torch.equal(m.weight[:, :, 1, 1], init.zero_matrix(m.out_channels, m.in_channels))
    stem = model.stem[0].weight[:, :, 1, 1]  # 3 -> 8 channels: the Hadamard scheme
    assert torch.equal(stem, init.hadamard(8)[:, :3] / math.sqrt(8))


def test_zero_init_is_deterministic():
    torch.manual_seed(0)
    a = init.initialize(models.ResNet(width=8), "zero").state_dict()
    torch.manual_seed(1)
    b = init.initialize(models.ResNet(width=8), "zero").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------- baselines
def _weights(name, n_out=400, n_in=600):
    torch.manual_seed(0)
    model = init.initialize(nn.Sequential(nn.Linear(n_in, n_out)), name)
    return model[0].weight


def test_kaiming_and_xavier_variances_match_their_formulas():
    n_out, n_in = 400, 600
    kaiming, xavier = _weights("kaiming"), _weights("xavier")
    assert kaiming.var().item() == pytest.approx(2 / n_in, rel=0.03)
    assert xavier.var().item() == pytest.approx(2 / (n_in + n_out), rel=0.03)
    bound = math.sqrt(6 / (n_in + n_out))  # Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out))
    assert xavier.abs().max().item() <= bound and xavier.abs().max().item() > 0.99 * bound
    assert _weights("normal").std().item() == pytest.approx(0.01, rel=0.03)
    # conv fan_in counts the kernel taps
    torch.manual_seed(0)
    conv = init.initialize(nn.Sequential(nn.Conv2d(64, 64, 3)), "kaiming")[0].weight
    assert conv.var().item() == pytest.approx(2 / (64 * 9), rel=0.05)


def test_orthogonal_rows_are_orthogonal_with_relu_gain():
    w = _weights("orthogonal", 300, 500)
    assert torch.allclose(w @ w.T, 2 * torch.eye(300), atol=1e-4)


def test_all_zeros_leaves_identical_hidden_units():
    torch.manual_seed(0)
    model = init.initialize(models.MLP(784, (64, 64), 10, bias=True), "all_zeros")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.rand(256, 1, 28, 28), torch.randint(0, 10, (256,))
    for _ in range(20):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    assert model.out.bias.abs().sum() > 0  # training did move the parameters it could
    for layer in model.hidden:
        assert (layer.weight == layer.weight[:1]).all() and (layer.bias == layer.bias[0]).all()
    # a random init breaks the symmetry: its units differ
    kaiming = init.initialize(models.MLP(784, (64, 64), 10, bias=True), "kaiming")
    assert not (kaiming.hidden[0].weight == kaiming.hidden[0].weight[:1]).all()


def test_stable_rank():
    assert init.stable_rank(torch.eye(7)) == pytest.approx(7)
    assert init.stable_rank(torch.outer(torch.randn(5), torch.randn(6))) == pytest.approx(1)
    assert init.stable_rank(torch.zeros(3, 3)) == 0


# ----------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_quick_sweep_end_to_end(tmp_path):
    if not os.environ.get("PLAYGROUND_DATA"):
        pytest.skip("needs PLAYGROUND_DATA (real MNIST)")
    cmd = [sys.executable, str(HERE / "train.py"), "--quick", "--init", "zero,kaiming,all_zeros", "--out", str(tmp_path)]
    subprocess.run(cmd, check=True, cwd=REPO_ROOT, capture_output=True, text=True)
    summary = json.loads((tmp_path / "mlp-mnist" / "summary.json").read_text())
    table, runs = summary["table"], summary["runs"]
    assert table["zero"]["same_initial_weights_across_seeds"]
    assert not table["kaiming"]["same_initial_weights_across_seeds"]
    assert table["zero"]["mean"] > 40 and table["kaiming"]["mean"] > 40  # 16 SGD steps on 1,024 images
    assert table["all_zeros"]["mean"] < 15  # chance is 10%: nothing moves
    assert all(r["test_loss"] == pytest.approx(math.log(10), abs=1e-4) for r in runs if r["init"] == "all_zeros")
    metrics = [json.loads(line) for line in
               (tmp_path / "mlp-mnist" / "zero" / "seed0" / "metrics.jsonl").read_text().splitlines()]
    assert metrics[0]["step"] == 0 and "srank/hidden.2" in metrics[0]
    assert metrics[0]["srank_delta/hidden.2"] == 0  # nothing learned yet
    assert any("train_loss" in m for m in metrics)
    # --resume on a finished sweep trains nothing and reproduces the summary
    subprocess.run(cmd + ["--resume"], check=True, cwd=REPO_ROOT, capture_output=True, text=True)
    again = json.loads((tmp_path / "mlp-mnist" / "summary.json").read_text())
    assert again["table"] == table
