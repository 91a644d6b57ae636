import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from shared.errors import PlaygroundError
from shared.imports import load_module

HERE = Path(__file__).resolve().parents[1]
model = load_module(HERE / "model.py")
diffusion = load_module(HERE / "diffusion.py")


def tiny_unet(**kw):
    cfg = dict(base_channels=8, channel_mult=(1, 2), attention_levels=(1,), num_heads=2, groups=4, dropout=0.0)
    cfg.update(kw)
    return model.UNet(model.UNetConfig(**cfg))


@pytest.mark.parametrize("schedule", diffusion.SCHEDULES)
def test_schedule_properties(schedule):
    d = diffusion.Diffusion(schedule, 1000)
    ab = d.alpha_bar
    assert ((ab > 0) & (ab < 1)).all()
    assert (ab[1:] < ab[:-1]).all()  # strictly decreasing: every step adds noise
    assert ab[0] > 0.99 and ab[-1] < 1e-3  # starts near the data, ends near pure noise
    assert ((d.betas > 0) & (d.betas < 1)).all()


@pytest.mark.parametrize("schedule", diffusion.SCHEDULES)
def test_closed_form_matches_iterated_forward_process(schedule):
    torch.manual_seed(0)
    d = diffusion.Diffusion(schedule, 200)
    x0 = torch.tensor([-0.8, 0.1, 0.9]).repeat(20000, 1)  # 20k chains per start value
    x = x0.clone()
    for t in range(200):
        x = (1 - d.betas[t]).sqrt().float() * x + d.betas[t].sqrt().float() * torch.randn_like(x)
        if t in (9, 99, 199):
            tt = torch.full((len(x0),), t)
            closed = d.q_sample(x0, tt, torch.randn_like(x0))
            ab = d.alpha_bar[t].item()
            for sample in (x, closed):
                assert torch.allclose(sample.mean(0), ab ** 0.5 * x0[0], atol=0.02)
                assert torch.allclose(sample.var(0), torch.full((3,), 1 - ab), atol=0.02)


def test_unet_shapes_for_both_datasets():
    for size, ch in ((28, 1), (32, 3)):
        m = model.UNet(model.UNetConfig(image_size=size, in_channels=ch, base_channels=16, num_classes=10))
        x, t = torch.randn(2, ch, size, size), torch.tensor([0, 999])
        assert m(x, t).shape == x.shape
        assert m(x, t, torch.tensor([3, 10])).shape == x.shape  # 10 = the null label
        clf = model.NoisyClassifier(model.UNetConfig(image_size=size, in_channels=ch, base_channels=16))
        assert clf(x, t).shape == (2, 10)


def test_adaptive_group_norm_uses_timestep_and_class():
    torch.manual_seed(0)
    m = tiny_unet(num_classes=10)
    for p in m.parameters():  # undo zero-init so every path carries signal
        if p.dim() > 1 and p.abs().sum() == 0:
            nn.init.normal_(p, std=0.05)
    x = torch.randn(1, 1, 28, 28)
    base = m(x, torch.tensor([10]), torch.tensor([1]))
    assert not torch.allclose(base, m(x, torch.tensor([500]), torch.tensor([1])))
    assert not torch.allclose(base, m(x, torch.tensor([10]), torch.tensor([2])))


def test_loss_falls_on_tiny_overfit_batch():
    torch.manual_seed(0)
    d = diffusion.Diffusion("cosine", 100)
    m = tiny_unet()
    x0 = torch.rand(8, 1, 28, 28) * 2 - 1
    opt = torch.optim.Adam(m.parameters(), 5e-3)

    def fixed_loss():  # same t and noise every time, so only the weights change it
        g = torch.Generator().manual_seed(1)
        t, noise = torch.randint(0, 100, (8,), generator=g), torch.randn(x0.shape, generator=g)
        with torch.no_grad():
            return F.mse_loss(m(d.q_sample(x0, t, noise), t), noise).item()

    before = fixed_loss()
    for _ in range(100):
        loss = d.loss(m, x0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert fixed_loss() < 0.6 * before


def test_ddim_eta0_is_deterministic_given_the_noise():
    torch.manual_seed(0)
    d = diffusion.Diffusion("linear", 100)
    m = tiny_unet().eval()
    for p in m.parameters():
        nn.init.normal_(p, std=0.02)
    x_T = torch.randn(4, 1, 28, 28)
    a, _ = d.ddim_sample(m, x_T, steps=10, eta=0.0, generator=torch.Generator().manual_seed(1))
    b, _ = d.ddim_sample(m, x_T, steps=10, eta=0.0, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    c, _ = d.ddim_sample(m, x_T, steps=10, eta=1.0, generator=torch.Generator().manual_seed(1))
    e, _ = d.ddim_sample(m, x_T, steps=10, eta=1.0, generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(c, e)  # eta > 0 draws fresh noise
    assert d.ddim_timesteps(10)[0] == 99 and d.ddim_timesteps(10)[-1] == 0


class ToyClassifier(nn.Module):
    """Class 0 = dark images, class 1 = bright images, judged from the mean pixel (and t)."""

    def __init__(self, T):
        super().__init__()
        self.T = T
        self.lin = nn.Linear(2, 2)

    def forward(self, x, t):
        return self.lin(torch.stack([x.mean((1, 2, 3)), t.float() / self.T], 1) * torch.tensor([10.0, 1.0]))


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_guidance_moves_a_trained_toy_classifier_toward_the_requested_class(sampler):
    torch.manual_seed(0)
    d = diffusion.Diffusion("cosine", 50)
    clf = ToyClassifier(50)
    opt = torch.optim.Adam(clf.parameters(), 0.05)
    for _ in range(200):  # train on noised dark/bright images, like train_classifier.py
        y = torch.randint(0, 2, (128,))
        x0 = (y.float() - 0.5).reshape(-1, 1, 1, 1).expand(-1, 1, 28, 28) * 1.2
        t = torch.randint(0, 50, (128,))
        loss = F.cross_entropy(clf(d.q_sample(x0, t, torch.randn_like(x0)), t), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    unet = tiny_unet().eval()  # zero-initialised output: predicts eps = 0, a neutral model
    x_T = torch.randn(64, 1, 28, 28)
    t0 = torch.zeros(64, dtype=torch.long)
    for target in (0, 1):
        want = torch.full((64,), target)
        plain, _ = d.sample(unet, x_T, sampler, steps=10, generator=torch.Generator().manual_seed(0))
        guided, _ = d.sample(unet, x_T, sampler, steps=10, classifier=clf, guidance=30.0, cond_y=want,
                             generator=torch.Generator().manual_seed(0))
        p_plain = clf(plain, t0).softmax(1)[:, target].mean()
        p_guided = clf(guided, t0).softmax(1)[:, target].mean()
        assert p_guided > p_plain + 0.2 and p_guided > 0.8


def test_classifier_free_guidance_extrapolates_from_unconditional():
    torch.manual_seed(0)
    d = diffusion.Diffusion("cosine", 100)
    m = tiny_unet(num_classes=10)
    for p in m.parameters():
        nn.init.normal_(p, std=0.05)
    x, t, y = torch.randn(3, 1, 28, 28), torch.tensor([5, 50, 90]), torch.tensor([1, 2, 3])
    with torch.no_grad():
        cond, uncond = m(x, t, y), m(x, t, torch.full_like(y, 10))
        assert torch.allclose(d.eps(m, x, t, y, cfg_scale=2.0), 3 * cond - 2 * uncond, atol=1e-5)
        assert torch.allclose(d.eps(m, x, t, None), uncond, atol=1e-6)  # no label = the null label


def test_frechet_distance_book_values():
    evaluate = load_module(HERE / "evaluate.py")
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    b = rng.normal(size=(20000, 3)) * 2 + 1
    # N(0, I) vs N(1, 4I): |mu|^2 + tr(I + 4I - 2 * 2I) = 3 + 3 = 6
    assert evaluate.frechet_distance(a, b) == pytest.approx(6.0, rel=0.03)
    assert evaluate.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------------- command lines
def run(script, *args, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, str(HERE / script), *map(str, args)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_resume_equals_uninterrupted(tmp_path):
    from shared.checkpoint import read_checkpoint

    common = ["--quick", "--steps", "20", "--checkpoint-every", "5", "--sample-every", "100"]
    r = run("train.py", *common, "--out", tmp_path / "full", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("train.py", *common, "--out", tmp_path / "split", "--stop-after", "15", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    first = json.loads((tmp_path / "split" / "summary.json").read_text())
    r = run("train.py", *common, "--out", tmp_path / "split", "--resume", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "resumed from" in r.stdout
    whole = json.loads((tmp_path / "split" / "summary.json").read_text())
    assert (first["steps"], whole["steps"]) == (15, 20)
    assert whole["train_seconds"] > first["train_seconds"] > 0  # 20 steps, not the last 5 alone: it counts both parts
    full, split = read_checkpoint(tmp_path / "full" / "checkpoint.pt"), read_checkpoint(tmp_path / "split" / "checkpoint.pt")
    assert full["step"] == split["step"] == 20
    for key in full["model"]:
        assert torch.equal(full["model"][key], split["model"][key]), key
        assert torch.equal(full["extra"]["ema"][key], split["extra"]["ema"][key]), key
    losses = lambda p: [row.split('"loss": ')[1].split(",")[0] for row in p.read_text().splitlines()]  # noqa: E731
    assert losses(tmp_path / "full" / "metrics.jsonl") == losses(tmp_path / "split" / "metrics.jsonl")


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    """A --quick diffusion run (runs/run) and classifier (runs/clf), shared by the tests below."""
    tmp_path = tmp_path_factory.mktemp("ddpm")
    r = run("train.py", "--quick", "--out", tmp_path / "run", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("train_classifier.py", "--quick", "--T", "100", "--out", tmp_path / "clf",
            "--output", tmp_path / "clf_copy.json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    return tmp_path


@pytest.mark.slow
def test_training_records_parameters_wall_time_and_throughput(quick_runs):
    from shared.checkpoint import read_checkpoint

    for folder, result, batch in (("run", "summary.json", 16), ("clf", "accuracy.json", 32)):
        summary = json.loads((quick_runs / folder / result).read_text())
        weights = read_checkpoint(quick_runs / folder / "checkpoint.pt")["model"]
        assert summary["params"] == sum(v.numel() for v in weights.values())  # the models hold no buffers
        assert summary["steps"] == read_checkpoint(quick_runs / folder / "checkpoint.pt")["step"]
        assert summary["batch_size"] == batch and summary["train_seconds"] > 0
        expected_rate = summary["steps"] * batch / summary["train_seconds"]
        assert summary["train_images_per_s"] == pytest.approx(expected_rate, rel=0.02)
    logged = [json.loads(line) for line in (quick_runs / "run" / "metrics.jsonl").read_text().splitlines()]
    total = json.loads((quick_runs / "run" / "summary.json").read_text())["train_seconds"]
    assert logged[-1]["elapsed_s"] <= total + 1e-3  # the last log row's time is part of the run's (rounded to ms)
    accuracy = json.loads((quick_runs / "clf" / "accuracy.json").read_text())
    assert set(accuracy["test_accuracy_at_t"]) == {"0", "25", "50", "75", "90", "99"}
    assert json.loads((quick_runs / "clf_copy.json").read_text()) == accuracy  # --output: the same file


@pytest.mark.slow
def test_quick_train_sample_evaluate_end_to_end(quick_runs):
    tmp_path = quick_runs
    assert list((tmp_path / "run").glob("samples_*.png"))
    ckpt, clf = tmp_path / "run" / "checkpoint.pt", tmp_path / "clf" / "checkpoint.pt"
    r = run("sample.py", "--checkpoint", ckpt, "--n", "20", "--per-class", "--classifier", clf, "--guidance", "2",
            "--steps", "5", "--output", tmp_path / "guided.png", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "guided.png").stat().st_size > 0
    r = run("sample.py", "--checkpoint", ckpt, "--n", "30", "--steps", "5", "--cfg-scale", "1", "--class", "3",
            "--output", tmp_path / "s.npz", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    data = np.load(tmp_path / "s.npz")
    assert data["images"].shape == (30, 28, 28) and data["images"].dtype == np.uint8
    assert (data["labels"] == 3).all()
    r = run("evaluate.py", "--quick", "--samples", tmp_path / "s.npz", "--out", tmp_path / "eval", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "frechet_clf" in (tmp_path / "eval" / "eval.json").read_text()


def test_bad_input_is_one_line_error(tmp_path):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    r = run("sample.py", "--checkpoint", bogus, "--output", tmp_path / "x.png", tmp_path=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1
    r = run("sample.py", "--checkpoint", bogus, "--output", tmp_path / "x.gif", tmp_path=tmp_path)
    assert r.returncode == 2 and "error" in r.stderr


def test_compile_without_a_compiler_is_a_clear_error(monkeypatch):
    sample = load_module(HERE / "sample.py")
    monkeypatch.setattr(sample.shutil, "which", lambda name: None)
    with pytest.raises(PlaygroundError, match="C\\+\\+ compiler"):
        sample.compile_unet(tiny_unet())



# ---------------------------------------------------------------------- issue 12: bad input is one line, exit 2
def fails_with_one_line(script, *args, tmp_path, expect):
    r = run(script, *args, tmp_path=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert expect in lines[0], lines[0]
    return r


@pytest.mark.slow
def test_refused_resume_changes_nothing(quick_runs):
    """Items 1 and 4: `--resume --base-channels 16` rewrote config.json before it was refused, and a changed
    --steps, --lr or --label-drop was accepted (it silently changes the schedule)."""
    folder = quick_runs / "run"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    fails_with_one_line("train.py", "--quick", "--resume", "--base-channels", "16", "--steps", "80", "--lr", "0.002",
                        "--label-drop", "0.1", "--out", folder, tmp_path=quick_runs,
                        expect="base_channels 16 (the run: 8), label_drop 0.1 (the run: 0.2), steps 80 (the run: 40), "
                               "lr 0.002 (the run: 0.001), model, params")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@pytest.mark.slow
def test_bad_input_to_the_ddpm_scripts(quick_runs, tmp_path):
    """Items 10 and 11: each of these ended in a traceback (exit 1) or was accepted with exit 0 but wrong."""
    ckpt = quick_runs / "run" / "checkpoint.pt"
    (tmp_path / "a_file").write_text("")
    (tmp_path / "empty.pt").write_bytes(b"")
    for script in ("train.py", "train_classifier.py"):
        fails_with_one_line(script, "--quick", "--seed", "20000000000000", "--out", tmp_path / "r", tmp_path=tmp_path,
                            expect="--seed")
    fails_with_one_line("train.py", "--qui", "--out", tmp_path / "r", tmp_path=tmp_path, expect="--qui")
    sample = ["sample.py", "--checkpoint", ckpt, "--n", "2"]
    fails_with_one_line(*sample, "--seed", "20000000000000", "--output", tmp_path / "x.png", tmp_path=tmp_path,
                        expect="--seed")
    fails_with_one_line(*sample, "--steps", "5000", "--output", tmp_path / "x.png", tmp_path=tmp_path,
                        expect="more than the model's T = 100")
    fails_with_one_line(*sample, "--eta", "inf", "--output", tmp_path / "x.png", tmp_path=tmp_path, expect="--eta")
    fails_with_one_line(*sample, "--device", "cuda", "--output", tmp_path / "x.png", tmp_path=tmp_path,
                        expect="no CUDA device")
    r = fails_with_one_line(*sample, "--n", "5000", "--output", tmp_path / "a_file" / "x.png", tmp_path=tmp_path,
                            expect="cannot be written")
    fails_with_one_line("evaluate.py", "--quick", "--samples", tmp_path / "none.npz", "--judge", tmp_path / "empty.pt",
                        "--out", tmp_path / "eval", tmp_path=tmp_path, expect="empty.pt is empty (0 bytes)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "empty.pt", "eval"]


@pytest.mark.slow
def test_diverging_training_stops_with_the_last_good_checkpoint(tmp_path):
    """Item 6: a diverging run (here a learning rate of 1e30) wrote NaN into metrics.jsonl and went on."""
    r = fails_with_one_line("train.py", "--quick", "--lr", "1e30", "--warmup", "0", "--checkpoint-every", "1",
                            "--log-every", "1", "--out", tmp_path / "r", tmp_path=tmp_path,
                            expect=f"training diverged; the last good checkpoint is {tmp_path / 'r' / 'checkpoint.pt'}")
    assert "nan" in r.stderr or "inf" in r.stderr
    text = (tmp_path / "r" / "metrics.jsonl").read_text()
    assert "NaN" not in text and "Infinity" not in text


def test_plot_out_is_the_figures_folder(tmp_path):
    """Item 11: plot.py --out was accepted and ignored."""
    plot = load_module(HERE / "plot.py")
    assert plot.parse_args(["--out", str(tmp_path / "figs")]).figures == tmp_path / "figs"
def test_sample_cache_misses_on_a_new_checkpoint_or_option(tmp_path):
    """The suite's sample files are keyed by the checkpoint's bytes and the sampler options, not by name."""
    from shared.checkpoint import file_digest

    evaluate = load_module(HERE / "evaluate.py")
    old, new = tmp_path / "old.pt", tmp_path / "new.pt"
    old.write_bytes(b"weights after 7000 steps")
    new.write_bytes(b"weights after 8000 steps")
    options = dict(sampler="ddim", steps=50, classifier=None, per_class_n=None, seed=0, batch_size=250, precision="bf16")
    hit = evaluate.sample_cache_path(tmp_path, "uncond_ddim50", file_digest(old), **options)
    assert evaluate.sample_cache_path(tmp_path, "uncond_ddim50", file_digest(tmp_path / "old.pt"), **dict(options)) == hit
    misses = [evaluate.sample_cache_path(tmp_path, "uncond_ddim50", file_digest(new), **options)]
    for change in (dict(steps=20), dict(sampler="ddpm"), dict(classifier="a1b2"), dict(per_class_n=500), dict(seed=1),
                   dict(batch_size=100), dict(precision="fp32"), dict(guidance=2.0)):
        misses.append(evaluate.sample_cache_path(tmp_path, "uncond_ddim50", file_digest(old), **{**options, **change}))
    assert hit not in misses and len(set(misses)) == len(misses)
    assert hit.parent == tmp_path and hit.name.startswith("uncond_ddim50-") and hit.suffix == ".npz"


def test_lr_decay_is_an_on_off_switch():
    train = load_module(HERE / "train.py")
    common = ["--steps", "100", "--warmup", "10"]
    on, explicit, off = (train.get_args(common + flag) for flag in ([], ["--lr-decay"], ["--no-lr-decay"]))
    assert on.lr_decay and explicit.lr_decay and not off.lr_decay
    after_warmup = range(9, 100)
    assert [train.lr_factor(s, off) for s in after_warmup] == [1.0] * len(after_warmup)
    decayed = [train.lr_factor(s, on) for s in after_warmup]
    assert decayed[0] == pytest.approx(0.1 + 0.45 * (1 + np.cos(np.pi * 0.09)))
    assert all(a > b for a, b in zip(decayed, decayed[1:])) and decayed[-1] == pytest.approx(0.1, abs=0.001)


def test_benchmark_times_the_unet_that_training_builds(monkeypatch, tmp_path):
    """benchmark.py must build train.py's default UNet (same dropout, heads, blocks...), not a copy of the numbers."""
    train, benchmark = load_module(HERE / "train.py"), load_module(HERE / "benchmark.py")
    built = []

    class Built(Exception):
        pass

    def capture(cfg):
        built.append(cfg)
        raise Built

    for module, argv in ((train, ["--out", str(tmp_path / "run")]), (benchmark, ["--out", str(tmp_path / "bench")])):
        monkeypatch.setattr(module, "UNet", capture)
        with pytest.raises(Built):
            module.main(argv)
    trained, timed = built
    assert vars(timed) == vars(trained) and trained.dropout == train.get_args([]).dropout
