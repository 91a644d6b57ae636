"""Measure samples with an MNIST classifier this folder trains itself.

    # judge .npz files written by sample.py
    python gan/ddpm/evaluate.py --samples runs/ddpm/samples.npz
    # the README's whole results table: sample every set from a checkpoint, judge them, write results/
    python gan/ddpm/evaluate.py --suite --checkpoint runs/ddpm/checkpoint.pt \\
        --guidance-classifier runs/ddpm_classifier/checkpoint.pt

Metrics, per set of samples:
- frechet_clf: Frechet distance between Gaussians fitted to the classifier's 128-d penultimate
  features of the samples and of the 10,000 MNIST test images. It is *not* FID (no Inception network);
  two reference rows give it a scale: real train images vs test (the floor) and a trivial baseline,
  an independent-pixel model (every pixel drawn from its own marginal over the training set).
- mean_max_prob: the classifier's mean confidence (recognisable digits score near 1).
- class_entropy_bits: entropy of the predicted-class histogram (log2 10 = 3.32 is uniform: diversity).
- requested_accuracy: share classified as the requested digit (class-guided sets only).
- within_class_spread: per requested class, sqrt(trace of the feature covariance) of the samples over
  that of the test images of that class, averaged (1 = as varied as real digits; guidance lowers it).
- nn_train_median: median pixel L2 distance (pixels in [0, 1]) from a sample to its nearest training
  image; the test images' own value is the reference (much smaller would mean memorisation).
"""
import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from tqdm import tqdm

from model import MNISTClassifier
from shared.checkpoint import file_digest, read_checkpoint, save_state
from shared.cli import PRECISIONS, experiment_parser, main_guard, non_negative_float, positive_int, resolve_device
from shared.data import mnist
from shared.errors import PlaygroundError, reason
from shared.plotting import save_csv, save_json
from shared.seeding import seed_everything

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------- the judge
def to_input(images_uint8) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images_uint8)).float().div(127.5).sub(1)
    return x[:, None] if x.dim() == 3 else x


def train_judge(data_dir=None, epochs=4, quick=False, seed=0, device="cpu"):
    """The MNIST classifier used as the judge: (model, test accuracy)."""
    seed_everything(seed)
    x, y = mnist(True, data_dir)
    xt, yt = mnist(False, data_dir)
    if quick:
        x, y, epochs = x[:2000], y[:2000], 1
    x, xt = to_input(x), to_input(xt)
    clf = MNISTClassifier().to(device)
    opt = torch.optim.Adam(clf.parameters(), 1e-3)
    steps = epochs * (len(x) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps)
    clf.train()
    gen = torch.Generator().manual_seed(seed)
    for step in tqdm(range(steps), desc="judge classifier", disable=None):
        if step % (len(x) // 128) == 0:
            perm = torch.randperm(len(x), generator=gen)
        idx = perm[(step % (len(x) // 128)) * 128:][:128]
        xb = x[idx]
        shift = torch.randint(-2, 3, (2,), generator=gen).tolist()  # small translations: a sturdier judge
        xb = torch.roll(xb, shifts=shift, dims=(2, 3)).to(device)
        loss = F.cross_entropy(clf(xb), y[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    clf.eval()
    acc = (predict(clf, xt)[0].argmax(1) == yt).float().mean().item()
    return clf, acc


def load_or_train_judge(path, data_dir=None, quick=False, seed=0, device="cpu"):
    path = Path(path)
    if path.exists():
        state = read_checkpoint(path, map_location=device)
        clf = MNISTClassifier().to(device)
        try:
            clf.load_state_dict(state["model"])
            return clf.eval(), float(state["test_accuracy"])
        except (KeyError, RuntimeError, TypeError, ValueError) as e:
            raise PlaygroundError(f"{path} is not a judge written by evaluate.py ({reason(e)}); delete it and "
                                  "evaluate.py trains a new one") from None
    clf, acc = train_judge(data_dir, quick=quick, seed=seed, device=device)
    save_state({"model": clf.state_dict(), "test_accuracy": acc}, path)
    return clf, acc


@torch.no_grad()
def predict(clf, x):
    probs, feats = [], []
    device = next(clf.parameters()).device
    for xb in x.split(1000):
        logits, f = clf(xb.to(device), return_features=True)
        probs.append(logits.softmax(1).cpu())
        feats.append(f.cpu())
    return torch.cat(probs), torch.cat(feats).double().numpy()


# ---------------------------------------------------------------------- metrics
def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) between Gaussians fitted to two feature sets."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():  # near-singular product: nudge the diagonals (as the FID code does)
        eps = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean.real))


def nearest_distances(x01: torch.Tensor, train01: torch.Tensor) -> torch.Tensor:
    """Pixel L2 distance from each row of x01 to its nearest row of train01 (both [N, D] in [0, 1])."""
    out = []
    for xb in x01.split(500):
        out.append(torch.cdist(xb, train01).min(1).values)
    return torch.cat(out)


class Reference:
    """What every set of samples is compared with: test features, per-class spread, train pixels."""

    def __init__(self, clf, data_dir=None, quick=False):
        x, y = mnist(True, data_dir)
        xt, yt = mnist(False, data_dir)
        if quick:
            x, y, xt, yt = x[:3000], y[:3000], xt[:1000], yt[:1000]
        self.clf, self.train_u8, self.test_u8, self.test_labels = clf, x, xt, yt
        self.train01 = x.reshape(len(x), -1).float() / 255
        _, self.test_feats = predict(clf, to_input(xt))
        self.class_spread = np.array([np.sqrt(np.trace(np.cov(self.test_feats[yt.numpy() == c], rowvar=False)))
                                      for c in range(10)])
        nn_test = nearest_distances(xt[:1000].reshape(-1, 784).float() / 255, self.train01)
        self.nn_test_median = nn_test.median().item()

    def judge(self, images_u8, labels=None, nn_samples=1000) -> dict:
        images_u8 = torch.as_tensor(np.asarray(images_u8))
        probs, feats = predict(self.clf, to_input(images_u8))
        pred = probs.argmax(1)
        hist = torch.bincount(pred, minlength=10).double() / len(pred)
        p = hist[hist > 0]
        row = {"n": len(images_u8),
               "frechet_clf": frechet_distance(feats, self.test_feats),
               "mean_max_prob": probs.max(1).values.mean().item(),
               "class_entropy_bits": float(-(p * p.log2()).sum()) + 0.0,
               "class_histogram": [round(v, 4) for v in hist.tolist()]}
        if labels is not None and (np.asarray(labels) >= 0).all():
            labels = torch.as_tensor(np.asarray(labels))
            row["requested_accuracy"] = (pred == labels).float().mean().item()
            spreads = [np.sqrt(np.trace(np.cov(feats[labels.numpy() == c], rowvar=False))) / self.class_spread[c]
                       for c in range(10) if (labels == c).sum() > 2]
            row["within_class_spread"] = float(np.mean(spreads))
        m = min(nn_samples, len(images_u8))
        nn = nearest_distances(images_u8[:m].reshape(m, -1).float() / 255, self.train01)
        row["nn_train_median"] = nn.median().item()
        row["nn_train_min"] = nn.min().item()
        row["nn_train_median_test_images"] = self.nn_test_median
        return row

    def reference_rows(self, n, seed=0):
        """train-vs-test (the floor) and an independent-pixel model (a trivial baseline), with n images each."""
        g = torch.Generator().manual_seed(seed)
        train = self.train_u8[torch.randperm(len(self.train_u8), generator=g)[:n]]
        flat = self.train_u8.reshape(len(self.train_u8), -1)
        donor = torch.randint(0, len(flat), (n, flat.shape[1]), generator=g)
        indep = flat.gather(0, donor).reshape(n, 28, 28)
        rows = {"reference: train images vs test": self.judge(train),
                "baseline: independent pixels": self.judge(indep)}
        # the train images are not samples: nearest-train distance is 0 by construction
        rows["reference: train images vs test"].update(nn_train_median=None, nn_train_min=None)
        return rows


# ---------------------------------------------------------------------- the suite
def sample_cache_path(work, name, checkpoint_digest, **options) -> Path:
    """work/<name>-<key>.npz, the key hashing the checkpoint's bytes and every option the samples depend on,
    so a new checkpoint, classifier or sampler setting never reuses old samples."""
    key = json.dumps({"checkpoint": checkpoint_digest, **options}, sort_keys=True)
    return Path(work) / f"{name}-{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz"


def run_suite(args, ref):
    """Every sample set of the README's tables; sample files are cached in --work-dir (see sample_cache_path)
    so a rerun resumes."""
    from diffusion import load_trained
    from sample import check_match, compile_unet, generate, load_classifier, requested_labels

    model, diffusion, config = load_trained(args.checkpoint, map_location=args.device)
    if args.compile:
        model = compile_unet(model)
    guide = load_classifier(args.guidance_classifier, args.device) if args.guidance_classifier else None
    check_match(guide, config)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)

    digest = file_digest(args.checkpoint)
    guide_digest = file_digest(args.guidance_classifier) if guide else None

    def samples(name, n, per_class=False, **kw):
        # per-class labels depend on n (n // 10 per digit), so only unconditional sets reuse a longer file's head
        options = {k: v for k, v in kw.items() if k != "classifier"}
        path = sample_cache_path(work, name, digest, **options, classifier=guide_digest if "classifier" in kw else None,
                                 per_class_n=n if per_class else None, seed=args.seed, batch_size=args.batch_size,
                                 precision=args.precision)
        if path.exists() and np.load(path)["images"].shape[0] >= n:
            d = np.load(path)
            return d["images"][:n], d["labels"][:n], float(d["seconds"]) * n / d["images"].shape[0]
        labels = requested_labels(n, per_class=per_class)
        t0 = time.time()
        x, _ = generate(model, diffusion, labels, seed=args.seed, batch_size=args.batch_size,
                        precision=args.precision, **kw)
        seconds = time.time() - t0
        images = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[:, 0].numpy()
        np.savez_compressed(path, images=images, labels=labels.numpy(), seconds=seconds)
        return images, labels.numpy(), seconds

    out = Path(args.results_dir)
    results = {}

    def record(table, name, images, labels, seconds, **info):
        row = {"set": name, **info, **ref.judge(images, labels), "sample_seconds": round(seconds, 1),
               "seconds_per_image": round(seconds / len(images), 4)}
        results.setdefault(table, []).append(row)
        print(f"[{table}] {name}: " + ", ".join(f"{k}={v:.4g}" for k, v in row.items()
                                               if isinstance(v, float)), flush=True)
        save_json(results[table], out / f"{table}.json")

    if "main" in args.tables:
        n = args.n
        for name, row in ref.reference_rows(n, args.seed).items():
            results.setdefault("main", []).append({"set": name, **row})
        imgs, labels, sec = samples("uncond_ddim50", n, sampler="ddim", steps=50)
        record("main", "unconditional, DDIM-50", imgs, labels, sec, sampler="ddim", steps=50)
        imgs, labels, sec = samples("cond_ddim50", args.n_small, per_class=True, sampler="ddim", steps=50)
        record("main", "class-conditional UNet (no guidance), DDIM-50", imgs, labels, sec, sampler="ddim", steps=50)
    if "steps" in args.tables:
        for steps in args.steps_list:
            imgs, labels, sec = samples(f"uncond_ddim{steps}", args.n_small, sampler="ddim", steps=steps)
            record("steps", f"DDIM-{steps}", imgs, labels, sec, sampler="ddim", steps=steps)
    if "ddpm" in args.tables:
        imgs, labels, sec = samples("uncond_ddpm", args.n_ddpm, sampler="ddpm")
        record("ddpm", f"DDPM-{diffusion.T} (ancestral)", imgs, labels, sec, sampler="ddpm", steps=diffusion.T)
        imgs, labels, sec = samples("uncond_ddim50", args.n_ddpm, sampler="ddim", steps=50)
        record("ddpm", "DDIM-50", imgs, labels, sec, sampler="ddim", steps=50)
        for name, row in ref.reference_rows(args.n_ddpm, args.seed).items():
            results["ddpm"].append({"set": name, **row})
        save_json(results["ddpm"], out / "ddpm.json")
    if "guidance" in args.tables:
        if guide is None:
            raise PlaygroundError("the guidance table needs --guidance-classifier (train_classifier.py checkpoint)")
        for s in args.guidance_scales:
            imgs, labels, sec = samples(f"classifier_guidance_{s:g}", args.n_guidance, per_class=True, sampler="ddim",
                                        steps=50, classifier=guide, guidance=s, condition="no")
            record("guidance", f"classifier guidance s={s:g} (unconditional UNet)", imgs, labels, sec,
                   method="classifier", scale=s)
        for s in args.cond_guidance_scales:  # the paper's ADM-G: the conditional model plus classifier guidance
            imgs, labels, sec = samples(f"cond_classifier_guidance_{s:g}", args.n_guidance, per_class=True,
                                        sampler="ddim", steps=50, classifier=guide, guidance=s, condition="yes")
            record("guidance", f"classifier guidance s={s:g} (conditional UNet)", imgs, labels, sec,
                   method="classifier+conditional", scale=s)
        for w in args.cfg_scales:
            imgs, labels, sec = samples(f"cfg_{w:g}", args.n_guidance, per_class=True, sampler="ddim", steps=50,
                                        cfg_scale=w)
            record("guidance", f"classifier-free w={w:g}", imgs, labels, sec, method="classifier-free", scale=w)
    for table, rows in results.items():
        keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k != "class_histogram"]
        save_csv([{k: r.get(k, "") for k in keys} for r in rows], out / f"{table}.csv")


def float_list(text, flag="--guidance-scales"):
    """Comma-separated numbers >= 0 (guidance scales)."""
    try:
        return [non_negative_float(v) for v in text.split(",") if v.strip()]
    except argparse.ArgumentTypeError as e:
        raise PlaygroundError(f"{flag}: {e}") from None


def main(argv=None):
    p = experiment_parser("ddpm_eval", description=__doc__)
    p.add_argument("--samples", type=Path, nargs="*", default=[], help=".npz files written by sample.py")
    p.add_argument("--judge", type=Path, default=None,
                   help="where the judge classifier is cached (trained if missing; default <out>/judge.pt)")
    p.add_argument("--suite", action="store_true", help="sample and judge every set of the README's tables")
    p.add_argument("--checkpoint", type=Path, default=None, help="train.py checkpoint (for --suite)")
    p.add_argument("--guidance-classifier", type=Path, default=None, help="train_classifier.py checkpoint")
    p.add_argument("--tables", type=str, default="main,steps,ddpm,guidance",
                   help="which tables --suite fills (main, steps, ddpm, guidance)")
    p.add_argument("--n", type=positive_int, default=10000, help="samples for the main unconditional row")
    p.add_argument("--n-small", type=positive_int, default=500, help="samples per row of the steps sweep and the conditional row")
    p.add_argument("--n-ddpm", type=positive_int, default=200, help="samples for the DDPM-1000 vs DDIM-50 row")
    p.add_argument("--n-guidance", type=positive_int, default=500, help="samples per guidance scale (50 per digit)")
    p.add_argument("--steps-list", type=str, default="10,20,50,100", help="DDIM step counts for the steps table")
    p.add_argument("--guidance-scales", type=str, default="0,0.5,1,2,4,8", help="classifier guidance scales s")
    p.add_argument("--cond-guidance-scales", type=str, default="1,2",
                   help="classifier guidance scales for the conditional UNet (the paper's ADM-G)")
    p.add_argument("--cfg-scales", type=str, default="0,1,3", help="classifier-free guidance weights w")
    p.add_argument("--precision", choices=PRECISIONS, default="bf16", help="autocast precision for sampling")
    p.add_argument("--compile", action="store_true", help="torch.compile the UNet (~1 min once, then ~10-15%% faster)")
    p.add_argument("--batch-size", type=positive_int, default=250)
    p.add_argument("--work-dir", type=Path, default=None, help="sample .npz cache for --suite (default <out>)")
    p.add_argument("--results-dir", type=Path, default=HERE / "results", help="where --suite writes its tables")
    p.add_argument("--output", type=Path, default=None, help="JSON for --samples results (default <out>/eval.json)")
    p.add_argument("--threads", type=positive_int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.device = resolve_device(args.device)
    if not args.samples and not args.suite:
        raise PlaygroundError("nothing to evaluate: pass --samples FILE.npz ... or --suite --checkpoint CKPT")
    if args.suite and args.checkpoint is None:
        raise PlaygroundError("--suite needs --checkpoint (a train.py checkpoint.pt)")
    args.tables = [t for t in args.tables.split(",") if t]
    try:
        args.steps_list = [positive_int(v) for v in args.steps_list.split(",") if v.strip()]
    except argparse.ArgumentTypeError as e:
        raise PlaygroundError(f"--steps-list: {e}") from None
    args.guidance_scales, args.cfg_scales = float_list(args.guidance_scales), float_list(args.cfg_scales, "--cfg-scales")
    args.cond_guidance_scales = float_list(args.cond_guidance_scales, "--cond-guidance-scales")
    args.work_dir = args.work_dir or args.out
    args.out.mkdir(parents=True, exist_ok=True)
    judge, acc = load_or_train_judge(args.judge or args.out / "judge.pt", args.data_dir, args.quick, args.seed, args.device)
    print(f"judge classifier: {acc:.4f} MNIST test accuracy")
    if acc < 0.99 and not args.quick:
        print("warning: the judge is below the 99% test accuracy the metrics assume")
    ref = Reference(judge, args.data_dir, args.quick)
    save_json({"judge_test_accuracy": acc, "nn_train_median_test_images": ref.nn_test_median},
              (args.results_dir if args.suite else args.out) / "judge.json")
    if args.suite:
        run_suite(args, ref)
    if args.samples:
        rows, n_ref = [], None
        for path in args.samples:
            if not path.is_file():
                raise PlaygroundError(f"{path} does not exist; write it with sample.py --output {path.name}")
            try:
                d = np.load(path)
                images, labels = d["images"], d["labels"]
            except (KeyError, ValueError, OSError):
                raise PlaygroundError(f"{path} is not a sample.py .npz (needs 'images' and 'labels')") from None
            if images.ndim != 3 or images.shape[1:] != (28, 28):
                raise PlaygroundError(f"{path} holds images of shape {images.shape[1:]}; the judge is for MNIST 28x28")
            info = {k: d[k].item() for k in ("sampler", "steps", "seconds") if k in d.files}  # as sample.py wrote them
            rows.append({"file": str(path), **info, **ref.judge(images, labels)})
            n_ref = n_ref or len(images)
        rows += [{"file": name, **row} for name, row in ref.reference_rows(n_ref, args.seed).items()]
        out = args.output or args.out / "eval.json"
        save_json(rows, out)
        print(json.dumps([{k: v for k, v in r.items() if k != "class_histogram"} for r in rows], indent=1))


if __name__ == "__main__":
    main_guard(main)()
