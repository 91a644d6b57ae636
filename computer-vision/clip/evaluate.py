"""Evaluate a trained CLIP: zero-shot classification, retrieval, linear probe, and digit-pair order.

    python computer-vision/clip/evaluate.py --checkpoint runs/clip-mnist/checkpoint.pt --output computer-vision/clip/results/mnist.json
    python computer-vision/clip/evaluate.py --checkpoint runs/clip-cifar10/checkpoint.pt \
        --reference runs/clip-cifar10-supervised/checkpoint.pt --output computer-vision/clip/results/cifar10.json

Measured on the dataset the checkpoint was trained on (its config says which), on the test split:
- zero-shot accuracy: each class is described by prompts; an image gets the class whose prompt embedding is most
  similar. Reported per template with training templates and with held-out ones (mean and spread over
  templates), and with prompt ensembling (the class embedding is the normalized mean over its prompts);
  on CIFAR-10 also with held-out class names never seen in a caption;
- retrieval, recall@1/5/10, image -> text and text -> image, on 1,000 held-out test (image, caption) pairs with
  held-out templates; our captions describe the class (or pair), not the individual image, so a retrieved item
  counts when it shows the same class (pair) as the query;
- linear probe: logistic regression on the frozen image embeddings (10,000 random train images) -> test accuracy;
- digit pairs: for each test canvas of a pair never seen in training, does "a {left} to the left of a {right}"
  score higher than the swapped caption? Also 100-way zero-shot accuracy over ordered pairs.
--reference adds the supervised model trained by `train.py --objective supervised` (same encoder and budget).
"""
import json
import time
from pathlib import Path

import numpy as np
import torch

from captions import (CIFAR_NAMES, CIFAR_NAMES_HELDOUT, CIFAR_TEMPLATES, CIFAR_TEMPLATES_HELDOUT, DIGIT_NAMES,
                      DIGIT_TEMPLATES, DIGIT_TEMPLATES_HELDOUT, HELDOUT_PAIRS, PAIR_CANONICAL, PAIR_TEMPLATES_BOTH,
                      PAIR_TEMPLATES_HELDOUT, CaptionData, is_heldout_pair, pair_caption)
from model import CaptionTokenizer, Preprocess, Supervised, build, config_from_dict, load
from shared.checkpoint import read_checkpoint
from shared.cli import ArgumentParser, check_output_file, main_guard, positive_int, resolve_device, DEVICES
from shared.errors import PlaygroundError
from shared.plotting import save_json


# ----------------------------------------------------------------------------- building blocks
@torch.no_grad()
def encode_images(model, preprocess, images_uint8, device, batch_size: int = 500) -> torch.Tensor:
    """Unit-norm image embeddings [N, D] of uint8 images."""
    out = []
    for i in range(0, len(images_uint8), batch_size):
        x = preprocess(images_uint8[i:i + batch_size]).to(device)
        if model.cfg.image_encoder == "resnet" and device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        out.append(model.encode_image(x))
    return torch.cat(out)


@torch.no_grad()
def encode_texts(model, tokenizer, texts, device, batch_size: int = 1000) -> torch.Tensor:
    return torch.cat([model.encode_text(tokenizer(texts[i:i + batch_size]).to(device))
                      for i in range(0, len(texts), batch_size)])


@torch.no_grad()
def class_embeddings(model, tokenizer, prompts, device) -> torch.Tensor:
    """Prompt ensembling (CLIP section 3.1.4): a class's embedding is the normalized mean of its prompts'
    unit embeddings. prompts[c] is a list of captions; a one-caption list is a single prompt."""
    flat = [p for ps in prompts for p in ps]
    emb = encode_texts(model, tokenizer, flat, device)
    sizes = [len(ps) for ps in prompts]
    means = torch.stack([chunk.mean(0) for chunk in emb.split(sizes)])
    return torch.nn.functional.normalize(means, dim=-1)


def zero_shot_probs(image_features, class_features, logit_scale) -> torch.Tensor:
    """softmax over classes of the scaled cosine similarities: rows sum to 1."""
    return (logit_scale * image_features @ class_features.T).softmax(dim=-1)


def accuracy(image_features, class_features, labels) -> float:
    return (image_features @ class_features.T).argmax(1).cpu().eq(labels.cpu()).float().mean().item()


def per_template_accuracy(model, tokenizer, image_features, labels, prompts_by_template, device) -> list:
    """Accuracy with one prompt per class, for each template in turn."""
    return [accuracy(image_features, class_embeddings(model, tokenizer, [[p] for p in prompts], device), labels)
            for prompts in prompts_by_template]


def recall_at_k(similarity, query_labels, item_labels, ks=(1, 5, 10)) -> dict:
    """Fraction of queries with an item of the same label among the k most similar items."""
    top = similarity.topk(max(ks), dim=1).indices.cpu()
    hit = item_labels.cpu()[top] == query_labels.cpu()[:, None]
    return {f"R@{k}": hit[:, :k].any(1).float().mean().item() for k in ks}


def confusion(predictions, labels, n: int) -> list:
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (labels.cpu().numpy(), predictions.cpu().numpy()), 1)
    return m.tolist()


def linear_probe(train_features, train_labels, test_features, test_labels, seed: int = 0) -> float:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000, C=1.0, random_state=seed)
    clf.fit(train_features.cpu().numpy(), train_labels.cpu().numpy())
    return float(clf.score(test_features.cpu().numpy(), test_labels.cpu().numpy()))


def single_template_prompts(templates, names) -> list:
    """prompts_by_template[t][c]: template t filled with class c's first (canonical) name."""
    return [[t.format(names[c][0]) for c in range(len(names))] for t in templates]


# ----------------------------------------------------------------------------- the evaluation
def evaluate_singles(model, tokenizer, preprocess, data, device, probe_train: int) -> dict:
    cifar = data.dataset == "cifar10"
    names = CIFAR_NAMES if cifar else DIGIT_NAMES
    train_t, heldout_t = (CIFAR_TEMPLATES, CIFAR_TEMPLATES_HELDOUT) if cifar else (DIGIT_TEMPLATES, DIGIT_TEMPLATES_HELDOUT)
    images, labels = data.test_singles()
    feats = encode_images(model, preprocess, images, device)
    out = {"n_test": len(labels)}
    per_train = per_template_accuracy(model, tokenizer, feats, labels, single_template_prompts(train_t, names), device)
    per_heldout = per_template_accuracy(model, tokenizer, feats, labels, single_template_prompts(heldout_t, names), device)
    out["zero_shot_train_templates"] = {"mean": float(np.mean(per_train)), "std": float(np.std(per_train)),
                                        "per_template": dict(zip(train_t, per_train))}
    out["zero_shot_heldout_templates"] = {"mean": float(np.mean(per_heldout)), "std": float(np.std(per_heldout)),
                                          "per_template": dict(zip(heldout_t, per_heldout))}
    ensemble_train = class_embeddings(model, tokenizer, data.single_prompts(heldout_templates=False), device)
    ensemble_heldout = class_embeddings(model, tokenizer, data.single_prompts(heldout_templates=True), device)
    out["zero_shot_ensemble_train_templates"] = accuracy(feats, ensemble_train, labels)
    out["zero_shot_ensemble_heldout_templates"] = accuracy(feats, ensemble_heldout, labels)
    predictions = (feats @ ensemble_heldout.T).argmax(1)
    out["confusion_heldout_ensemble"] = confusion(predictions, labels, 10)
    if cifar:  # words the text encoder never saw in a caption
        unseen = class_embeddings(model, tokenizer, data.single_prompts(heldout_templates=False, heldout_names=True), device)
        pred = (feats @ unseen.T).argmax(1).cpu()
        out["zero_shot_heldout_names"] = {
            "accuracy": pred.eq(labels).float().mean().item(),
            "per_class_recall": {name: pred[labels == c].eq(c).float().mean().item()
                                 for c, name in enumerate(CIFAR_NAMES_HELDOUT)}}

    # retrieval on 1,000 test pairs, each image with one held-out-template caption
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(labels), generator=g)[:1000]
    t = torch.randint(len(heldout_t), (1000,), generator=g)
    form = torch.randint(2, (1000,), generator=g)
    captions = [heldout_t[ti].format(names[c][fi % len(names[c])]) for c, ti, fi in zip(labels[idx].tolist(), t.tolist(), form.tolist())]
    text_feats = encode_texts(model, tokenizer, captions, device)
    sim = feats[idx] @ text_feats.T
    out["retrieval"] = {"image_to_text": recall_at_k(sim, labels[idx], labels[idx]),
                        "text_to_image": recall_at_k(sim.T, labels[idx], labels[idx]), "n": len(idx)}

    # linear probe on frozen embeddings
    keep = torch.randperm(len(data.y_train), generator=torch.Generator().manual_seed(0))[:probe_train]  # CIFAR is stored class by class
    x_train, y_train = data.x_train[keep], data.y_train[keep]
    train_feats = encode_images(model, preprocess, data._place_single(x_train), device)
    out["linear_probe"] = linear_probe(train_feats, y_train, feats, labels)
    out["linear_probe_train_images"] = len(y_train)
    return out


def evaluate_pairs(model, tokenizer, preprocess, data, device) -> dict:
    images, a, b = data.test_pairs()
    feats = encode_images(model, preprocess, images, device)
    pair_labels = 10 * a + b
    heldout = torch.tensor([is_heldout_pair(x, y) for x, y in zip(a.tolist(), b.tolist())])
    out = {"n_test": len(a), "n_heldout": int(heldout.sum()), "heldout_pairs": [list(p) for p in HELDOUT_PAIRS]}

    def order_accuracy(template_list, mask) -> float:
        """image (a, b) with a != b: is caption(a, b) more similar than caption(b, a)? Text embeddings are the
        ensemble over templates and name forms."""
        prompts = lambda x, y: [pair_caption(t, fx, fy) for t in template_list for fx in DIGIT_NAMES[x] for fy in DIGIT_NAMES[y]]
        emb = class_embeddings(model, tokenizer, [prompts(x, y) for x in range(10) for y in range(10)], device)
        keep = mask & (a != b)
        right = (feats * emb[10 * a + b]).sum(1)
        swapped = (feats * emb[10 * b + a]).sum(1)
        return (right > swapped).cpu()[keep].float().mean().item()

    out["order_accuracy_heldout_pairs"] = {
        "canonical_template": order_accuracy([PAIR_CANONICAL], heldout),
        "train_templates": order_accuracy(PAIR_TEMPLATES_BOTH, heldout),
        "heldout_templates": order_accuracy(PAIR_TEMPLATES_HELDOUT, heldout)}
    out["order_accuracy_seen_pairs"] = {"train_templates": order_accuracy(PAIR_TEMPLATES_BOTH, ~heldout)}
    for name, heldout_t in (("train_templates", False), ("heldout_templates", True)):
        emb = class_embeddings(model, tokenizer, data.pair_prompts(heldout_templates=heldout_t), device)
        pred = (feats @ emb.T).argmax(1).cpu()
        correct = pred.eq(pair_labels)
        out[f"pair_zero_shot_{name}"] = {"seen_pairs": correct[~heldout].float().mean().item(),
                                         "heldout_pairs": correct[heldout].float().mean().item()}
    # text -> image retrieval with the canonical caption of each ordered pair (100 queries)
    queries = [pair_caption(PAIR_CANONICAL, str(x), str(y)) for x in range(10) for y in range(10)]
    sim = encode_texts(model, tokenizer, queries, device) @ feats.T
    out["retrieval_text_to_image_canonical"] = recall_at_k(sim, torch.arange(100), pair_labels)
    return out


@torch.no_grad()
def evaluate_supervised(checkpoint, data, device) -> dict:
    """Test accuracy of the supervised reference (train.py --objective supervised)."""
    state = read_checkpoint(checkpoint, map_location=device)
    extra = state.get("extra") or {}
    if extra.get("objective") != "supervised":
        raise PlaygroundError(f"--reference {checkpoint} is not a supervised run; train it with --objective supervised")
    cfg = config_from_dict(extra["clip_config"])
    tokenizer = CaptionTokenizer.from_str(extra["tokenizer"], cfg.context_length)
    classifier = Supervised(build(cfg, tokenizer), 10).to(device)
    classifier.load_state_dict(state["model"])
    classifier.eval()
    preprocess = Preprocess(cfg)
    images, labels = data.test_singles()
    correct = 0
    for i in range(0, len(labels), 500):
        x = preprocess(images[i:i + 500]).to(device)
        correct += classifier(x).argmax(1).cpu().eq(labels[i:i + 500]).sum().item()
    return {"test_accuracy": correct / len(labels), "steps": state["step"], "train_minutes": extra["elapsed"] / 60,
            "config": state["config"]}


def get_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", type=Path, required=True, help="checkpoint.pt written by train.py")
    p.add_argument("--reference", type=Path, default=None, help="checkpoint of train.py --objective supervised")
    p.add_argument("--output", type=Path, default=None, help="write the results JSON here")
    p.add_argument("--probe-train", type=positive_int, default=10_000, help="train images for the linear probe")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--threads", type=positive_int, default=2)
    return p.parse_args(argv)


def main(argv=None):
    args = get_args(argv)
    if args.output is not None:
        check_output_file(args.output)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    t0 = time.time()
    model, tokenizer, preprocess = load(args.checkpoint, device=device)
    state = read_checkpoint(args.checkpoint)
    config = state["config"]
    data = CaptionData(config["dataset"], data_dir=args.data_dir, quick=config.get("quick", False))
    results = {"checkpoint": str(args.checkpoint), "dataset": config["dataset"], "steps": state["step"],
               "train_minutes": state["extra"]["elapsed"] / 60, "logit_scale": model.logit_scale.exp().item(),
               "image_encoder": model.cfg.image_encoder,
               "params": sum(p.numel() for p in model.parameters())}
    if data.singles:
        results["singles"] = evaluate_singles(model, tokenizer, preprocess, data, device, args.probe_train)
    if data.pairs:
        results["pairs"] = evaluate_pairs(model, tokenizer, preprocess, data, device)
    if args.reference is not None:
        results["supervised_reference"] = evaluate_supervised(args.reference, data, device)
    results["eval_seconds"] = time.time() - t0
    print(json.dumps(summary(results), indent=1))
    if args.output is not None:
        save_json(results, args.output)
        print(f"wrote {args.output}")


def summary(results: dict) -> dict:
    """The headline numbers (the whole JSON has per-template and per-class detail)."""
    s = {k: results[k] for k in ("dataset", "steps", "train_minutes", "logit_scale")}
    if "singles" in results:
        r = results["singles"]
        s.update(zero_shot_train_templates=r["zero_shot_train_templates"]["mean"],
                 zero_shot_heldout_templates=r["zero_shot_heldout_templates"]["mean"],
                 zero_shot_ensemble_heldout=r["zero_shot_ensemble_heldout_templates"],
                 linear_probe=r["linear_probe"], retrieval=r["retrieval"])
        if "zero_shot_heldout_names" in r:
            s["zero_shot_heldout_names"] = r["zero_shot_heldout_names"]["accuracy"]
    if "pairs" in results:
        s["order_accuracy_heldout_pairs"] = results["pairs"]["order_accuracy_heldout_pairs"]
        s["pair_zero_shot_train_templates"] = results["pairs"]["pair_zero_shot_train_templates"]
    if "supervised_reference" in results:
        s["supervised_reference"] = results["supervised_reference"]["test_accuracy"]
    return s


if __name__ == "__main__":
    main_guard(main)()
