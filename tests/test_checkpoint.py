import subprocess
import sys

import pytest
import torch
from torch import nn

from shared import checkpoint as ckpt
from shared.errors import PlaygroundError
from shared.seeding import seed_everything


def make_run(seed=0):
    seed_everything(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    return model, opt, sched


def train_step(model, opt, sched):
    x = torch.randn(8, 4)  # data drawn from the global RNG: resume must restore it too
    loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()  # dropout draws from the RNG as well
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    return loss.item()


def test_resume_continues_the_same_run(tmp_path):
    model, opt, sched = make_run()
    uninterrupted = [train_step(model, opt, sched) for _ in range(10)]

    model, opt, sched = make_run()
    for step in range(5):
        train_step(model, opt, sched)
    ckpt.save_checkpoint(tmp_path / "c.pt", model=model, optimizer=opt, scheduler=sched, step=5, config={"lr": 1e-2})
    torch.randn(100)  # disturb the RNG: loading must restore it

    model2, opt2, sched2 = make_run(seed=123)
    state = ckpt.load_checkpoint(tmp_path / "c.pt", model=model2, optimizer=opt2, scheduler=sched2)
    assert state["step"] == 5 and state["config"] == {"lr": 1e-2}
    resumed = [train_step(model2, opt2, sched2) for _ in range(5)]
    assert resumed == uninterrupted[5:]


def test_checkpoint_loads_with_weights_only(tmp_path):
    model, opt, sched = make_run()
    ckpt.save_checkpoint(tmp_path / "c.pt", model=model, optimizer=opt, step=3, extra={"best": 0.5})
    outer = torch.load(tmp_path / "c.pt", weights_only=True)  # a payload of bytes and its checksum
    assert outer["format"] == ckpt.FORMAT and outer["payload"].dtype == torch.uint8
    assert ckpt.read_checkpoint(tmp_path / "c.pt")["extra"] == {"best": 0.5}


def test_flipped_bytes_are_caught_by_the_checksum(tmp_path):
    """Issue 12 item 5: 200 bytes flipped in the middle of a checkpoint used to resume silently."""
    model, opt, sched = make_run()
    train_step(model, opt, sched)
    path = tmp_path / "c.pt"
    ckpt.save_checkpoint(path, model=model, optimizer=opt, scheduler=sched, step=1)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 200] = bytes(b ^ 0xFF for b in data[middle:middle + 200])
    path.write_bytes(bytes(data))
    with pytest.raises(PlaygroundError, match="checksum does not match"):
        ckpt.load_checkpoint(path, model=model, optimizer=opt, scheduler=sched)


def test_checkpoints_without_checksum_still_load(tmp_path):
    """The format before checksums (v1: the state dict itself) loads, unchecked."""
    model, opt, _ = make_run()
    state = {"format": ckpt.FORMAT_V1, "model": model.state_dict(), "optimizer": None, "scheduler": None,
             "step": 4, "config": {}, "rng": {}, "extra": {}}
    torch.save(state, tmp_path / "old.pt")
    assert ckpt.load_checkpoint(tmp_path / "old.pt", model=model, restore_rng=False)["step"] == 4


def test_error_reasons_are_one_short_line(tmp_path):
    """Issue 12 item 13: reasons were cut mid-word ('... fr') or bare ('(101)')."""
    import urllib.error

    from shared.errors import reason

    torch.save({"weights": nn.Linear(2, 2)}, tmp_path / "pickled_module.pt")  # weights_only refuses a module
    with pytest.raises(PlaygroundError) as e:
        ckpt.read_checkpoint(tmp_path / "pickled_module.pt")
    message = str(e.value)
    assert "\n" not in message and "(Weights only load failed)" in message
    assert reason(urllib.error.URLError(OSError(101, "Network is unreachable"))) == "Network is unreachable"
    assert reason(OSError(101, "")) == "ENETUNREACH"
    long = reason(RuntimeError("word " * 40))
    assert long.endswith("word ...") and len(long) <= 104


def test_interrupted_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    model, opt, _ = make_run()
    ckpt.save_checkpoint(path, model=model, optimizer=opt, step=1)
    before = path.read_bytes()

    def crash_midway(obj, f):
        f.write(b"partial bytes of a checkpoint")
        raise KeyboardInterrupt  # e.g. Ctrl-C or a kill while writing

    monkeypatch.setattr(ckpt.torch, "save", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(path, model=model, optimizer=opt, step=2)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]  # no temp file left behind
    monkeypatch.undo()
    assert ckpt.read_checkpoint(path)["step"] == 1


@pytest.mark.parametrize("content", [b"not a checkpoint at all", b""])
def test_corrupt_checkpoint_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(PlaygroundError, match="corrupt" if content else "is empty"):
        ckpt.read_checkpoint(path)


def test_truncated_and_foreign_files(tmp_path):
    model, opt, _ = make_run()
    good = tmp_path / "good.pt"
    ckpt.save_checkpoint(good, model=model, optimizer=opt)
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[:200])
    with pytest.raises(PlaygroundError, match="corrupt"):
        ckpt.read_checkpoint(tmp_path / "cut.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(PlaygroundError, match="not an optimization-playground checkpoint"):
        ckpt.read_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(PlaygroundError, match="does not exist"):
        ckpt.read_checkpoint(tmp_path / "missing.pt")
    other = nn.Linear(3, 3)
    with pytest.raises(PlaygroundError, match="does not fit"):
        ckpt.load_checkpoint(good, model=other)


def test_corrupt_checkpoint_cli_exit_code(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage")
    code = ("import sys; from shared.cli import main_guard; from shared.checkpoint import read_checkpoint; "
            "main_guard(read_checkpoint)(sys.argv[1])")
    done = subprocess.run([sys.executable, "-c", code, str(bad)], capture_output=True, text=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: checkpoint") and "Traceback" not in done.stderr
