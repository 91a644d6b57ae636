"""Text -> image search with a trained CLIP: the k images most similar to a sentence, as a grid.

    python computer-vision/clip/retrieve.py --checkpoint runs/clip-mnist-pairs/checkpoint.pt \
        --query "a 3 to the left of a 7" -k 8 --output retrieval.png
    python computer-vision/clip/retrieve.py --checkpoint runs/clip-cifar10/checkpoint.pt --query "a photo of a kitty" \
        --images my_photos/

--images: a folder of PNG/JPG files or an .npz with a uint8 `images` array (as zero_shot.py); default: the test
split of the dataset the model was trained on (for mnist-pairs, the fixed 10,000 test canvases). Prints the
ranked image names and similarities; --output writes the grid (default retrieval.png).
"""
from pathlib import Path

import torch

from captions import CaptionData
from evaluate import encode_texts
from model import load
from zero_shot import read_images
from shared.checkpoint import read_checkpoint
from shared.cli import DEVICES, ArgumentParser, check_output_file, main_guard, positive_int, resolve_device
from shared.errors import PlaygroundError
from shared.plotting import save_image_grid


@torch.no_grad()
def search(model, tokenizer, preprocess, images, query: str, k: int, device, batch_size: int = 500):
    """(indices, cosine similarities) of the k images most similar to the query, best first."""
    text = encode_texts(model, tokenizer, [query], device)[0]
    sims = torch.cat([model.encode_image(preprocess(images[i:i + batch_size]).to(device)) @ text
                      for i in range(0, len(images), batch_size)]).cpu()
    top = sims.topk(min(k, len(sims)))
    return top.indices, top.values


def test_images(config: dict, data_dir=None):
    data = CaptionData(config["dataset"], data_dir=data_dir, quick=config.get("quick", False))
    images = data.test_pairs()[0] if data.dataset == "mnist-pairs" else data.test_singles()[0]
    return [f"test[{i}]" for i in range(len(images))], images


def get_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", type=Path, required=True, help="checkpoint.pt written by train.py")
    p.add_argument("--query", required=True, help="a sentence, e.g. \"a 3 to the left of a 7\"")
    p.add_argument("--images", type=Path, default=None, help="folder of PNG/JPG files or .npz (default: the test split)")
    p.add_argument("-k", type=positive_int, default=8, help="how many images to show")
    p.add_argument("--output", type=Path, default=Path("retrieval.png"), help="the grid of the top images")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--threads", type=positive_int, default=2)
    return p.parse_args(argv)


def main(argv=None):
    args = get_args(argv)
    if not args.query.strip():
        raise PlaygroundError("--query is empty; pass a sentence like \"a photo of a cat\"")
    check_output_file(args.output)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    model, tokenizer, preprocess = load(args.checkpoint, device=device)
    if args.images is not None:
        names, images = read_images(args.images)
    else:
        names, images = test_images(read_checkpoint(args.checkpoint)["config"], args.data_dir)
    try:
        indices, sims = search(model, tokenizer, preprocess, images, args.query, args.k, device)
    except ValueError as e:
        raise PlaygroundError(f"--images {args.images}: {e}") from None
    for rank, (i, s) in enumerate(zip(indices.tolist(), sims.tolist()), 1):
        print(f"{rank}\t{names[i]}\t{s:.3f}")
    top = indices.tolist()
    shown = preprocess.to_uint8_nchw([images[i] for i in top] if isinstance(images, list) else images[top])
    save_image_grid(shown.float() / 255, args.output, nrow=min(8, len(indices)), title=f'"{args.query}"')
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main_guard(main)()
