"""Zero-shot classification with a trained CLIP: label images with sentences the model may never have seen.

    python computer-vision/clip/zero_shot.py --checkpoint runs/clip-cifar10/checkpoint.pt \
        --images my_photos/ --labels "a photo of a cat" "a photo of a dog" --output probs.json
    python computer-vision/clip/zero_shot.py --checkpoint runs/clip-mnist/checkpoint.pt --images digits.npz

--images: a folder of PNG/JPG files (read in sorted name order) or an .npz with a uint8 array `images`
[N, H, W] or [N, H, W, 3]. Images are resized to the model's input and converted to its channel count.
Without --labels the dataset's classes are used, each described by the held-out templates (prompt ensembling).
Prints the top label per image; --output writes {"labels": [...], "images": [...], "probs": [[...], ...]}
with one row per image (rows sum to 1).
"""
from pathlib import Path

import numpy as np
import torch

from captions import CIFAR10_CLASSES, DIGIT_NAMES, PAIR_TEMPLATES_HELDOUT, CaptionData, pair_caption
from evaluate import class_embeddings, zero_shot_probs
from model import load
from shared.checkpoint import read_checkpoint
from shared.cli import DEVICES, ArgumentParser, check_output_file, main_guard, positive_int, resolve_device
from shared.errors import PlaygroundError, reason

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def read_images(path) -> tuple:
    """(names, images) from a folder of PNG/JPG files or an .npz with a uint8 `images` array; images is a
    list of PIL images (folder) or a uint8 array (npz). One-line PlaygroundError for anything unreadable."""
    path = Path(path)
    if not path.exists():
        raise PlaygroundError(f"--images {path} does not exist; pass a folder of PNG/JPG files or an .npz file")
    if path.is_dir():
        from PIL import Image, UnidentifiedImageError

        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise PlaygroundError(f"--images {path} holds no .png/.jpg files; put images there or pass an .npz")
        images = []
        for f in files:
            try:
                with Image.open(f) as im:
                    im.load()
                    images.append(im.copy())
            except (UnidentifiedImageError, OSError, ValueError) as e:
                raise PlaygroundError(f"{f} is not a readable image ({reason(e)}); fix or remove it") from None
        return [f.name for f in files], images
    if path.suffix != ".npz":
        raise PlaygroundError(f"--images {path} is neither a folder nor an .npz file; pass one of those")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "images" not in archive:
                raise PlaygroundError(f"{path} has no 'images' array (it has: {', '.join(archive.files) or 'nothing'}); "
                                      "save one with np.savez(path, images=uint8_array)")
            images = archive["images"]
    except PlaygroundError:
        raise
    except (OSError, ValueError) as e:
        raise PlaygroundError(f"{path} is not a readable .npz file ({reason(e)}); pass another file") from None
    if images.dtype != np.uint8 or not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)) or not len(images):
        raise PlaygroundError(f"{path}: 'images' must be a non-empty uint8 array [N, H, W] or [N, H, W, 3], got "
                              f"{images.dtype} {list(images.shape)}")
    return [f"{path.name}[{i}]" for i in range(len(images))], images


def default_labels(config: dict) -> tuple:
    """(display labels, prompts per label): the dataset's classes in held-out templates."""
    data = CaptionData.__new__(CaptionData)  # only the wording is needed, not the images
    data.dataset = config["dataset"]
    if data.dataset == "mnist-pairs":
        labels = [f"{a} left of {b}" for a in range(10) for b in range(10)]
        prompts = [[pair_caption(t, fa, fb) for t in PAIR_TEMPLATES_HELDOUT for fa in DIGIT_NAMES[a] for fb in DIGIT_NAMES[b]]
                   for a in range(10) for b in range(10)]
        return labels, prompts
    labels = list(CIFAR10_CLASSES) if data.dataset == "cifar10" else [str(d) for d in range(10)]
    return labels, data.single_prompts(heldout_templates=True)


@torch.no_grad()
def classify(model, tokenizer, preprocess, images, prompts, device, batch_size: int = 500) -> torch.Tensor:
    """[N images, len(prompts)] probabilities; prompts[c] is one caption or several (ensembled)."""
    classes = class_embeddings(model, tokenizer, prompts, device)
    rows = []
    for i in range(0, len(images), batch_size):
        x = preprocess(images[i:i + batch_size]).to(device)
        rows.append(zero_shot_probs(model.encode_image(x), classes, model.logit_scale.exp()))
    return torch.cat(rows).cpu()


def get_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", type=Path, required=True, help="checkpoint.pt written by train.py")
    p.add_argument("--images", type=Path, required=True, help="folder of PNG/JPG files, or .npz with a uint8 'images' array")
    p.add_argument("--labels", nargs="+", default=None, help="candidate captions, e.g. \"a cat\" \"a dog\"")
    p.add_argument("--output", type=Path, default=None, help="write the probabilities as JSON here")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--threads", type=positive_int, default=2)
    return p.parse_args(argv)


def main(argv=None):
    args = get_args(argv)
    if args.labels is not None and not all(label.strip() for label in args.labels):
        raise PlaygroundError("--labels has an empty caption; pass non-empty captions like \"a cat\" \"a dog\"")
    if args.output is not None:
        check_output_file(args.output)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    model, tokenizer, preprocess = load(args.checkpoint, device=device)
    names, images = read_images(args.images)
    if args.labels is None:
        labels, prompts = default_labels(read_checkpoint(args.checkpoint)["config"])
    else:
        labels, prompts = list(args.labels), [[label] for label in args.labels]
    try:
        probs = classify(model, tokenizer, preprocess, images, prompts, device)
    except ValueError as e:
        raise PlaygroundError(f"--images {args.images}: {e}") from None
    for name, row in zip(names, probs):
        best = int(row.argmax())
        print(f"{name}\t{labels[best]}\t{row[best]:.3f}")
    if args.output is not None:
        from shared.plotting import save_json
        save_json({"labels": labels, "images": names, "probs": probs.tolist()}, args.output)
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main_guard(main)()
