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


# ----------------------------------------------------------------------------- issue 12: names, failed downloads, garbage
OFFLINE = {**os.environ, "no_proxy": "", "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}


def test_dataset_names_are_not_paths(tmp_path):
    """Item 8: `tweeteval/irony/../../../x` created a folder outside the data root."""
    root = tmp_path / "root" / "data"
    root.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "shared.data", "tweeteval/irony/../../../x", "--data-dir", str(root)],
                          capture_output=True, text=True, cwd=REPO_ROOT, env=OFFLINE)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "unknown TweetEval task" in done.stderr
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["root", "root/data"]


def test_failed_download_leaves_the_data_folder_as_it_was(tmp_path, monkeypatch):
    """Item 8: an offline download attempt left empty MNIST/raw and cifar10 folders behind."""
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    (tmp_path / "data").mkdir()
    loaders = {"mnist": lambda root: data.mnist(True, root), "cifar10": lambda root: data.cifar10(True, root),
               "tweeteval/irony": lambda root: data.tweeteval("irony", "train", root),
               "tweeteval/stance/abortion": lambda root: data.tweeteval("stance/abortion", "train", root)}
    for name, load in loaders.items():
        for root in (tmp_path / "data", tmp_path / "new"):  # an existing data root, and one that does not exist
            with pytest.raises(PlaygroundError, match=r"could not be downloaded \("):
                load(root)
            assert [p.name for p in tmp_path.rglob("*")] == ["data"], (name, list(tmp_path.rglob("*")))


def test_garbage_mnist_files_are_one_line_naming_the_file(tmp_path):
    """Item 9: random bytes in MNIST/raw/*-ubyte ended in a traceback."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix in ("train", "t10k"):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", np.zeros((7, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(7) % 10)
    data.mnist(train=True, data_dir=tmp_path)  # good files load
    rng = np.random.default_rng(0)
    (raw / "train-labels-idx1-ubyte").write_bytes(rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    with pytest.raises(PlaygroundError, match=r"train-labels-idx1-ubyte is not an MNIST idx file"):
        data.mnist(train=True, data_dir=tmp_path)
    write_idx(raw / "train-labels-idx1-ubyte", np.arange(7) % 10)
    images = raw / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])  # cut short
    with pytest.raises(PlaygroundError, match=r"train-images-idx3-ubyte holds 5,404 bytes but its header announces 5,504"):
        data.mnist(train=True, data_dir=tmp_path)


def test_garbage_cifar_folders_are_one_line_naming_the_file(tmp_path, monkeypatch):
    """Item 9: empty class folders or non-images in a CIFAR folder ended in a traceback."""
    monkeypatch.setenv("PLAYGROUND_CACHE", str(tmp_path / "cache"))
    make_cifar_tree(tmp_path / "data")
    bird = tmp_path / "data/cifar10/train/bird"
    (bird / "notes.txt").write_text("not an image")
    with pytest.raises(PlaygroundError, match=r"bird/notes.txt is not a readable image"):
        data.cifar10(train=True, data_dir=tmp_path / "data")
    (bird / "notes.txt").unlink()
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(bird / "small.png")
    with pytest.raises(PlaygroundError, match=r"bird/small.png is 28x28 pixels, expected 32x32"):
        data.cifar10(train=True, data_dir=tmp_path / "data")
    for f in bird.iterdir():
        f.unlink()
    with pytest.raises(PlaygroundError, match=r"class folder .*train/bird holds no images"):
        data.cifar10(train=True, data_dir=tmp_path / "data")


def test_garbage_tweeteval_files_are_one_line_naming_the_file(tmp_path):
    """Item 9: a bad label or bad UTF-8 in TweetEval files ended in a traceback."""
    folder = tmp_path / "tweeteval" / "irony"
    folder.mkdir(parents=True)
    (folder / "train_text.txt").write_text("a\nb\nc\n")
    (folder / "train_labels.txt").write_text("1\nirony\n0\n")
    (folder / "mapping.txt").write_text("0\tnon_irony\n1\tirony\n")
    with pytest.raises(PlaygroundError, match=r"train_labels.txt line 2 holds 'irony', not a label id"):
        data.tweeteval("irony", "train", data_dir=tmp_path)
    (folder / "train_labels.txt").write_text("1\n7\n0\n")
    with pytest.raises(PlaygroundError, match=r"train_labels.txt line 2 holds '7'"):
        data.tweeteval("irony", "train", data_dir=tmp_path)
    (folder / "train_labels.txt").write_text("1\n0\n0\n")
    (folder / "train_text.txt").write_bytes(b"a\nb\xff\xfe\nc\n")
    with pytest.raises(PlaygroundError, match=r"train_text.txt is not UTF-8 text \(byte 3"):
        data.tweeteval("irony", "train", data_dir=tmp_path)


def test_read_lines_splits_only_at_newlines(tmp_path):
    """Item 11: a lone '\\r' split a tweet in two (rows no longer matched input lines), a BOM stayed in tweet 1."""
    path = tmp_path / "t.txt"
    path.write_bytes("\ufeffone\rtweet\ntwo\r\n\n".encode("utf-8"))
    assert data.read_lines(path) == ["one\rtweet", "two", ""]
