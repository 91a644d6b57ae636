"""Loaders on the real data (PLAYGROUND_DATA, as CI sets it) and on tiny synthetic folders."""
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from shared import data
from shared.errors import PlaygroundError
from shared.paths import REPO_ROOT, data_root

REAL = data_root()
needs_real_data = pytest.mark.skipif(
    not (REAL / "MNIST").exists() and os.environ.get("CI") != "true",  # in CI a missing folder must fail, not skip
    reason="real data not found: export PLAYGROUND_DATA=../shared/data")


# ----------------------------------------------------------------------------- real data
@needs_real_data
def test_mnist_real():
    x, y = data.mnist(train=True)
    assert x.shape == (60000, 28, 28) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert int((y == 1).sum()) == 6742
    xt, yt = data.mnist(train=False)
    assert xt.shape == (10000, 28, 28) and torch.equal(torch.bincount(yt).sort().values[:1], torch.tensor([892]))


@needs_real_data
def test_cifar10_real():
    x, y = data.cifar10(train=True)
    assert x.shape == (50000, 3, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert torch.equal(torch.bincount(y), torch.full((10,), 5000))
    assert 100 < x.float().mean() < 140  # real photos, not blank
    xt, yt = data.cifar10(train=False)
    assert xt.shape == (10000, 3, 32, 32) and torch.equal(torch.bincount(yt), torch.full((10,), 1000))
    x2, y2 = data.cifar10(train=True)  # second load comes from the cache and is identical
    assert torch.equal(x, x2) and torch.equal(y, y2)


@needs_real_data
def test_tweeteval_real():
    hate = data.tweeteval("hate", "train")
    assert len(hate.texts) == 9000 and len(hate.labels) == 9000 and hate.names == ["not-hate", "hate"]
    emotion = data.tweeteval("emotion", "test")
    assert len(emotion.texts) == 1421 and emotion.names == ["anger", "joy", "optimism", "sadness"]
    assert set(data.available_tweeteval_tasks()) >= {"emoji", "emotion", "hate", "irony", "offensive"}


# ----------------------------------------------------------------------------- synthetic data
def write_idx(path, array):
    dims = array.shape
    header = struct.pack(">HBB", 0, 0x08, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_synthetic(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 7), ("t10k", 3)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    x, y = data.mnist(train=True, data_dir=tmp_path)
    assert x.shape == (7, 28, 28) and y.tolist() == list(range(7))
    x, y = data.load_image_dataset("mnist", train=False, data_dir=tmp_path)
    assert x.shape == (3, 28, 28)


def make_cifar_tree(root, per_class=2):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label, cls in enumerate(data.CIFAR10_CLASSES):
            folder = root / "cifar10" / split / cls
            folder.mkdir(parents=True)
            for i in range(per_class):
                img = np.full((32, 32, 3), label * 20, np.uint8)
                img[0, 0] = rng.integers(0, 256, 3)
                Image.fromarray(img).save(folder / f"{i:04d}.png")


def test_cifar10_image_folder_synthetic(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_CACHE", str(tmp_path / "cache"))
    make_cifar_tree(tmp_path / "data")
    x, y = data.cifar10(train=True, data_dir=tmp_path / "data")
    assert x.shape == (20, 3, 32, 32) and x.dtype == torch.uint8
    assert y.tolist() == [c for c in range(10) for _ in range(2)]
    assert x[5, :, 10, 10].tolist() == [40, 40, 40]  # class 2 (bird) pixels, channel-first
    assert list((tmp_path / "cache" / "cifar10").glob("train-*.images.npy"))  # cache went to the cache folder
    assert not list((tmp_path / "data").rglob("*.npy"))  # ... never into the data folder
    (tmp_path / "data/cifar10/train/cat/0002.png").write_bytes((tmp_path / "data/cifar10/train/cat/0000.png").read_bytes())
    x3, y3 = data.cifar10(train=True, data_dir=tmp_path / "data")  # a new file invalidates the cache
    assert x3.shape[0] == 21 and int((y3 == 3).sum()) == 3


def test_cifar10_missing_class_folder(tmp_path):
    make_cifar_tree(tmp_path)
    (tmp_path / "cifar10/train/ship").rename(tmp_path / "cifar10/train/boat")
    with pytest.raises(PlaygroundError, match="ship"):
        data.cifar10(train=True, data_dir=tmp_path)


def test_tweeteval_synthetic_keeps_quotes_and_lines(tmp_path):
    folder = tmp_path / "tweeteval" / "irony"
    folder.mkdir(parents=True)
    texts = ['he said "no way', "plain tweet", '" another, with, commas', "emoji 😂 and @user"]
    (folder / "train_text.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    (folder / "train_labels.txt").write_text("1\n0\n1\n0\n")
    (folder / "mapping.txt").write_text("0\tnon_irony\n1\tirony\n")
    split = data.tweeteval("irony", "train", data_dir=tmp_path)
    assert split.texts == texts and split.labels.tolist() == [1, 0, 1, 0] and split.names == ["non_irony", "irony"]
    (folder / "val_text.txt").write_text("a\nb\n")
    (folder / "val_labels.txt").write_text("0\n")
    with pytest.raises(PlaygroundError, match="damaged"):
        data.tweeteval("irony", "val", data_dir=tmp_path)


def test_stance_target_layout(tmp_path):
    folder = tmp_path / "tweeteval" / "stance" / "abortion"
    folder.mkdir(parents=True)
    (folder / "test_text.txt").write_text("x\ny\n")
    (folder / "test_labels.txt").write_text("1\n2\n")
    (folder / "mapping.txt").write_text("0\tnone\n1\tagainst\n2\tfavor\n")
    split = data.tweeteval("stance/abortion", "test", data_dir=tmp_path)
    assert split.names == ["none", "against", "favor"] and data.available_tweeteval_tasks(tmp_path) == ["stance/abortion"]


def test_unknown_names():
    with pytest.raises(PlaygroundError, match="unknown dataset 'svhn'"):
        data.load_image_dataset("svhn")
    with pytest.raises(PlaygroundError, match="unknown TweetEval task"):
        data.tweeteval("sarcasm")


def test_missing_data_is_one_line_exit_2(tmp_path):
    """No data and no way to download it: one line naming the folder looked in, exit code 2."""
    for name, where in (("mnist", "MNIST"), ("tweeteval/irony", "tweeteval")):
        done = subprocess.run([sys.executable, "-m", "shared.data", name, "--data-dir", str(tmp_path / "nothing")],
                              capture_output=True, text=True, cwd=REPO_ROOT,
                              env={**os.environ, "no_proxy": "", "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"})
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and str(tmp_path / "nothing" / where) in lines[0]
        assert "PLAYGROUND_DATA" in lines[0]
