"""Dataset loaders shared by the paper folders.

Every loader returns plain tensors/lists (no DataLoader magic), the same format whichever way
the data was found:
- `mnist(train)`      -> images uint8 [N, 28, 28], labels int64 [N]
- `cifar10(train)`    -> images uint8 [N, 3, 32, 32], labels int64 [N]  (classes = CIFAR10_CLASSES)
- `tweeteval(task, split)` -> TweetEvalSplit(texts: list[str], labels: int64 [N], names: list[str])

Data root: --data-dir, else $PLAYGROUND_DATA, else a per-user cache (see shared.paths). Missing
data with no network raises PlaygroundError naming the folder looked in and how to provide it.
"""
import contextlib
import hashlib
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from shared.errors import PlaygroundError, reason
from shared.paths import cache_dir, data_root

DATASETS = ("mnist", "cifar10")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TWEETEVAL_TASKS = ("emoji", "emotion", "hate", "irony", "offensive", "sentiment", "stance")
STANCE_TARGETS = ("abortion", "atheism", "climate", "feminist", "hillary")
TWEETEVAL_URL = "https://raw.githubusercontent.com/cardiffnlp/tweeteval/main/datasets"

_HOW = "point --data-dir or $PLAYGROUND_DATA at a folder that has it, or connect to the internet to download it"
_REPLACE = "delete it to download it again, or replace it with a good copy"


@contextlib.contextmanager
def _undo_new_folders(*folders):
    """If the body fails (e.g. a download offline), remove those of `folders` it created, with what it
    left in them, so the data root is as it was (no empty MNIST/raw folder that looks like a dataset)."""
    new = [Path(f) for f in folders if not Path(f).exists()]
    try:
        yield
    except BaseException:
        for folder in new:  # outermost first: removing it removes the ones inside
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
        raise


def load_image_dataset(name: str, train: bool = True, data_dir=None):
    """(images uint8, labels int64) for 'mnist' or 'cifar10'; PlaygroundError for other names."""
    if name == "mnist":
        return mnist(train, data_dir)
    if name == "cifar10":
        return cifar10(train, data_dir)
    raise PlaygroundError(f"unknown dataset '{name}'; choose one of: {', '.join(DATASETS)}")


# ----------------------------------------------------------------------------- MNIST
def _check_idx_file(path: Path, magic: int, ndim: int) -> None:
    """An MNIST idx file: big-endian magic number (dtype, ndim), then ndim sizes, then the uint8 data."""
    size = path.stat().st_size
    with path.open("rb") as f:
        header = f.read(4 + 4 * ndim)
    if len(header) < 4 + 4 * ndim or int.from_bytes(header[:4], "big") != magic:
        raise PlaygroundError(f"{path} is not an MNIST idx file (wrong header); {_REPLACE}")
    dims = [int.from_bytes(header[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if size != expected:
        raise PlaygroundError(f"{path} holds {size:,} bytes but its header announces {expected:,}; {_REPLACE}")


def mnist(train: bool = True, data_dir=None):
    import torchvision

    root = data_root(data_dir)
    raw = root / "MNIST" / "raw"
    prefix = "train" if train else "t10k"
    files = {raw / f"{prefix}-{kind}-idx{d}-ubyte": (magic, d) for kind, d, magic in (("images", 3, 2051), ("labels", 1, 2049))}
    for path, (magic, ndim) in files.items():
        if path.exists():
            _check_idx_file(path, magic, ndim)
    have = all(p.exists() or p.with_name(p.name + ".gz").exists() for p in files)
    try:
        with _undo_new_folders(root, root / "MNIST", raw):
            ds = torchvision.datasets.MNIST(str(root), train=train, download=not have)
    except (urllib.error.URLError, OSError, RuntimeError) as e:
        raise PlaygroundError(f"MNIST not found in {raw} and could not be downloaded ({reason(e)}); {_HOW}") from None
    return ds.data.clone(), ds.targets.clone().long()


# ----------------------------------------------------------------------------- CIFAR-10
def _decode_image_folder(split_dir: Path, classes, size: int = 32):
    from PIL import Image, UnidentifiedImageError

    images, labels = [], []
    for label, cls in enumerate(classes):
        files = sorted(p for p in (split_dir / cls).iterdir() if p.is_file())
        if not files:
            raise PlaygroundError(f"class folder {split_dir / cls} holds no images; put the class's images there")
        for f in files:
            try:
                with Image.open(f) as im:
                    image = np.asarray(im.convert("RGB"), dtype=np.uint8)
            except (UnidentifiedImageError, OSError, ValueError) as e:
                raise PlaygroundError(f"{f} is not a readable image ({reason(e)}); {_REPLACE}") from None
            if image.shape != (size, size, 3):
                raise PlaygroundError(f"{f} is {image.shape[1]}x{image.shape[0]} pixels, expected {size}x{size}; {_REPLACE}")
            images.append(image)
        labels += [label] * len(files)
    x = np.stack(images).transpose(0, 3, 1, 2).copy()  # N, 3, H, W
    return x, np.asarray(labels, dtype=np.int64)


def cifar10(train: bool = True, data_dir=None):
    """CIFAR-10 from `<root>/cifar10/{train,test}/<class>/*` (decoded once into a cache), else torchvision."""
    root = data_root(data_dir)
    split = "train" if train else "test"
    split_dir = root / "cifar10" / split
    if split_dir.is_dir():
        missing = [c for c in CIFAR10_CLASSES if not (split_dir / c).is_dir()]
        if missing:
            raise PlaygroundError(f"{split_dir} lacks class folders {missing}; expected one folder per class: {', '.join(CIFAR10_CLASSES)}")
        # Cache key: the folder's path and its file names, so added/removed/renamed images invalidate it.
        h = hashlib.sha1(str(split_dir.resolve()).encode())
        for c in CIFAR10_CLASSES:
            h.update(("\n".join(sorted(os.listdir(split_dir / c))) + "|").encode())
        cached = cache_dir("cifar10") / f"{split}-{h.hexdigest()[:16]}"
        images_file, labels_file = cached.with_suffix(".images.npy"), cached.with_suffix(".labels.npy")
        if images_file.exists() and labels_file.exists():
            return torch.from_numpy(np.load(images_file)), torch.from_numpy(np.load(labels_file))
        x, y = _decode_image_folder(split_dir, CIFAR10_CLASSES)
        for path, array in ((labels_file, y), (images_file, x)):  # images last: their presence marks completion
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                np.save(f, array)
            tmp.replace(path)
        return torch.from_numpy(x), torch.from_numpy(y)

    import torchvision

    try:
        with _undo_new_folders(root, root / "cifar10"):
            ds = torchvision.datasets.CIFAR10(str(root / "cifar10"), train=train, download=True)
    except (urllib.error.URLError, OSError, RuntimeError) as e:
        raise PlaygroundError(f"CIFAR-10 not found in {split_dir} and could not be downloaded ({reason(e)}); {_HOW}") from None
    x = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
    return x, torch.tensor(ds.targets, dtype=torch.int64)


# ----------------------------------------------------------------------------- TweetEval
@dataclass
class TweetEvalSplit:
    texts: list
    labels: torch.Tensor
    names: list  # label id -> name, from mapping.txt


def read_lines(path: Path) -> list:
    """One entry per '\\n'-terminated line (a lone '\\r' stays inside its line; a UTF-8 BOM is dropped).
    Not csv: some tweets hold unbalanced quotes that merge rows."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")  # bytes, not read_text: it would split at a lone '\\r'
    except UnicodeDecodeError as e:
        raise PlaygroundError(f"{path} is not UTF-8 text (byte {e.start} is not valid UTF-8); convert it to UTF-8") from None
    except OSError as e:
        raise PlaygroundError(f"cannot read {path} ({reason(e)})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _fetch(url: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=30) as r:
        payload = r.read()
    tmp = dest.with_suffix(dest.suffix + ".tmp")
    tmp.write_bytes(payload)
    tmp.replace(dest)


def tweeteval_dir(task: str, data_dir=None) -> Path:
    """Folder of one task; `stance/<target>` for a single stance target."""
    names = [t for t in TWEETEVAL_TASKS] + [f"stance/{t}" for t in STANCE_TARGETS]
    if task not in names:  # a name, never a path: 'irony/../../x' must not reach the file system
        raise PlaygroundError(f"unknown TweetEval task '{task}'; choose one of: {', '.join(names)}")
    return data_root(data_dir) / "tweeteval" / task


def tweeteval(task: str, split: str = "train", data_dir=None, download: bool = True) -> TweetEvalSplit:
    if split not in ("train", "val", "test"):
        raise PlaygroundError(f"unknown split '{split}'; choose train, val or test")
    folder = tweeteval_dir(task, data_dir)
    if task == "stance":
        raise PlaygroundError("stance has one dataset per target; load 'stance/<target>' with a target from "
                              + ", ".join(STANCE_TARGETS))
    files = {"text": folder / f"{split}_text.txt", "labels": folder / f"{split}_labels.txt", "mapping": folder / "mapping.txt"}
    root = data_root(data_dir)
    new_folders = [root, *(root / Path(*folder.relative_to(root).parts[:i])
                           for i in range(1, len(folder.relative_to(root).parts) + 1))]
    with _undo_new_folders(*new_folders):  # data root, tweeteval/, <task>/ (stance/, <target>/)
        for kind, path in files.items():
            if path.exists():
                continue
            if not download:
                raise PlaygroundError(f"TweetEval file {path} is missing; {_HOW}")
            try:
                _fetch(f"{TWEETEVAL_URL}/{task}/{path.name}", path)
            except (urllib.error.URLError, OSError) as e:
                raise PlaygroundError(f"TweetEval file {path} is missing and could not be downloaded ({reason(e)}); {_HOW}") from None
    texts = read_lines(files["text"])
    names = {}
    for number, line in enumerate(read_lines(files["mapping"]), 1):
        if line.strip():
            idx, *name = line.split("\t") if "\t" in line else line.split()
            if not idx.strip().isdigit() or not name:
                raise PlaygroundError(f"{files['mapping']} line {number} is not '<label id> <name>': {line[:40]!r}; {_REPLACE}")
            names[int(idx)] = " ".join(part.strip() for part in name)  # emoji: "❤ _red_heart_"
    if not names:
        raise PlaygroundError(f"{files['mapping']} lists no labels; {_REPLACE}")
    labels = []
    for number, line in enumerate(read_lines(files["labels"]), 1):
        if line.strip() == "":
            continue
        if not line.strip().isdigit() or int(line) not in names:
            raise PlaygroundError(f"{files['labels']} line {number} holds {line[:20]!r}, not a label id of "
                                  f"{files['mapping'].name} ({min(names)}..{max(names)}); {_REPLACE}")
        labels.append(int(line))
    if len(texts) != len(labels):
        raise PlaygroundError(f"{files['text']} has {len(texts)} lines but {files['labels']} has {len(labels)} labels; the files are damaged")
    return TweetEvalSplit(texts, torch.tensor(labels, dtype=torch.int64), [names[i] for i in sorted(names)])


def available_tweeteval_tasks(data_dir=None) -> list:
    """Tasks whose folders exist locally (stance expands to its targets)."""
    root = data_root(data_dir) / "tweeteval"
    found = []
    for task in TWEETEVAL_TASKS:
        if task == "stance":
            found += [f"stance/{t}" for t in STANCE_TARGETS if (root / "stance" / t).is_dir()]
        elif (root / task).is_dir():
            found.append(task)
    return found


def main(argv=None):
    """`python -m shared.data mnist cifar10 tweeteval/irony`: check that datasets load, print their sizes."""
    import time

    from shared.cli import ArgumentParser, main_guard

    parser = ArgumentParser(description=main.__doc__)
    parser.add_argument("datasets", nargs="+", help="mnist, cifar10 or tweeteval/<task>")
    parser.add_argument("--data-dir", default=None)

    @main_guard
    def run():
        args = parser.parse_args(argv)
        print(f"data root: {data_root(args.data_dir)}")
        for name in args.datasets:
            if name.startswith("tweeteval/"):
                task = name.split("/", 1)[1]
                for split in ("train", "val", "test"):
                    s = tweeteval(task, split, args.data_dir)
                    print(f"{name} {split}: {len(s.texts)} tweets, labels {s.names}")
            else:
                for train in (True, False):
                    t0 = time.perf_counter()
                    x, y = load_image_dataset(name, train, args.data_dir)
                    print(f"{name} {'train' if train else 'test'}: images {tuple(x.shape)} {x.dtype}, "
                          f"{len(y.unique())} classes, loaded in {time.perf_counter() - t0:.2f} s")

    run()


if __name__ == "__main__":
    main()
