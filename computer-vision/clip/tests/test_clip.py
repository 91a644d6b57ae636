"""CLIP: the loss, the temperature, end-of-text pooling, the zero-shot arithmetic, the caption data, and the
command lines end to end on real MNIST."""
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from shared.imports import load_module

HERE = Path(__file__).resolve().parents[1]
model = load_module(HERE / "model.py")
captions = load_module(HERE / "captions.py")
evaluate = load_module(HERE / "evaluate.py")


def tiny_clip(**kw):
    cfg = dict(image_encoder="vit", image_size=(28, 28), vision_width=32, vision_layers=1, vision_heads=2,
               vocab_size=300, context_length=16, text_width=32, text_layers=2, text_heads=2, embed_dim=16)
    cfg.update(kw)
    return model.CLIP(model.CLIPConfig(**cfg), eot_id=2)


# ----------------------------------------------------------------------------- the loss and the temperature
def test_loss_is_symmetric_in_images_and_texts():
    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(8, 16, generator=g), dim=1)
    txt = torch.nn.functional.normalize(torch.randn(8, 16, generator=g), dim=1)
    assert model.clip_loss(img, txt, 14.3).item() == pytest.approx(model.clip_loss(txt, img, 14.3).item(), abs=1e-6)
    # and it is the mean of the two directions' cross-entropies, not one of them
    logits = 14.3 * img @ txt.T
    one_way = torch.nn.functional.cross_entropy(logits, torch.arange(8)).item()
    other_way = torch.nn.functional.cross_entropy(logits.T, torch.arange(8)).item()
    assert one_way != pytest.approx(other_way, abs=1e-3)
    assert model.clip_loss(img, txt, 14.3).item() == pytest.approx((one_way + other_way) / 2, abs=1e-6)


@pytest.mark.parametrize("batch", [4, 32, 256])
def test_uninformative_embeddings_cost_log_batch_size(batch):
    same = torch.nn.functional.normalize(torch.ones(batch, 16), dim=1)  # every image like every text
    assert model.clip_loss(same, same, 50.0).item() == pytest.approx(math.log(batch), rel=1e-5)


def test_perfectly_aligned_batch_costs_almost_nothing():
    basis = torch.eye(16)[:10]  # ten orthonormal embeddings, image i == text i
    assert model.clip_loss(basis, basis, 100.0).item() < 1e-3
    # closed form: diagonal logits s, off-diagonal 0, so each row costs log(1 + (B - 1) e^-s)
    for scale in (1.0, 1 / 0.07):
        exact = math.log(1 + 9 * math.exp(-scale))
        assert model.clip_loss(basis.double(), basis.double(), scale).item() == pytest.approx(exact, rel=1e-9)


def test_hard_negatives_enter_only_the_image_to_text_direction():
    basis = torch.eye(16)[:10].double()
    far = -basis  # negatives no image resembles: (almost) nothing changes
    assert model.clip_loss(basis, basis, 100.0, far).item() < 1e-3
    # a negative as similar as the true caption makes each image's choice a coin flip between the two:
    # image -> text costs log 2, text -> image still ~0, so the mean is log(2) / 2
    assert model.clip_loss(basis, basis, 100.0, basis.clone()).item() == pytest.approx(math.log(2) / 2, rel=1e-6)


def test_temperature_starts_at_one_over_007_and_is_clamped_at_100():
    m = tiny_clip()
    assert m.logit_scale.exp().item() == pytest.approx(1 / 0.07, rel=1e-6)
    with torch.no_grad():
        m.logit_scale.fill_(10.0)  # exp(10) = 22026
    m.clamp_logit_scale()
    assert m.logit_scale.exp().item() == pytest.approx(100.0, rel=1e-6)
    with torch.no_grad():
        m.logit_scale.fill_(-3.0)
    m.clamp_logit_scale()
    assert m.logit_scale.item() == 0.0


# ----------------------------------------------------------------------------- encoders
def test_embeddings_have_unit_norm_for_both_encoders_and_towers():
    for enc in ("vit", "resnet"):
        m = tiny_clip(image_encoder=enc, vision_width=8 if enc == "resnet" else 32).eval()
        img = m.encode_image(torch.randn(5, 1, 28, 28))
        tokens = torch.tensor([[1, 5, 6, 2, 0, 0], [1, 9, 2, 0, 0, 0]])
        txt = m.encode_text(tokens)
        assert img.shape == (5, 16) and txt.shape == (2, 16)
        assert torch.allclose(img.norm(dim=1), torch.ones(5), atol=1e-5)
        assert torch.allclose(txt.norm(dim=1), torch.ones(2), atol=1e-5)


def test_end_of_text_pooling_reads_the_caption_and_ignores_padding():
    m = tiny_clip().eval()
    caption = [1, 7, 8, 9, 2]  # <sot> three tokens <eot>
    padded = torch.tensor([caption + [0] * 11, caption + [33, 44, 55, 2, 66, 0, 0, 0, 0, 0, 0]])
    out = m.encode_text(padded)
    # whatever follows <eot> (padding, even other tokens) cannot change the state at <eot> under causal attention
    assert torch.allclose(out[0], out[1], atol=1e-6)
    # the same caption without any padding gives the same embedding
    assert torch.allclose(m.encode_text(torch.tensor([caption])), out[:1], atol=1e-5)
    # and the pooled position is the <eot>, not the last position: a token before <eot> changes the result
    changed = torch.tensor([[1, 7, 8, 10, 2] + [0] * 11])
    assert not torch.allclose(m.encode_text(changed), out[:1], atol=1e-4)
    assert model.eot_positions(padded, 2).tolist() == [4, 4]


def test_vit_sees_every_patch_and_position():
    m = tiny_clip().eval()
    x = torch.zeros(1, 1, 28, 28)
    y = x.clone()
    y[..., 24:, 24:] = 3.0  # only the last patch differs
    assert not torch.allclose(m.encode_image(x), m.encode_image(y), atol=1e-5)


def test_tokenizer_pads_ends_with_eot_and_truncates_like_clip():
    tok = model.CaptionTokenizer.train(["a photo of a cat", "a photo of a dog", "the digit 7"] * 5, 300, 8)
    t = tok(["a photo of a cat", "a photo of a cat " * 10])
    assert t.shape == (2, 8) and tok(["the digit 7"]).shape[1] < 8 and tok(["the digit 7"], pad_to_context=True).shape == (1, 8)
    assert t[0, 0] == tok.sot_id and (t[0] == tok.eot_id).sum() == 1
    n = int(model.eot_positions(t[:1], tok.eot_id))
    assert (t[0, n + 1:] == tok.pad_id).all()
    assert t[1, -1] == tok.eot_id  # a caption that is too long is cut and still ends with <eot>
    assert tok.from_str(tok.to_str(), 8)(["the digit 7"]).tolist() == tok(["the digit 7"]).tolist()


def test_bpe_dropout_keeps_the_text_varies_the_pieces_and_is_seeded():
    corpus = [t.format(n) for t in captions.CIFAR_TEMPLATES for names in captions.CIFAR_NAMES for n in names]
    tok = model.CaptionTokenizer.train(corpus, 400, 32)
    every = corpus + [t.format(n) for t in captions.CIFAR_TEMPLATES_HELDOUT for n in captions.CIFAR_NAMES_HELDOUT]
    # p -> 0 is ordinary BPE (the same merges in the same order as the tokenizers library), seen words or not
    assert [tok.encode_with_dropout(t, 1e-12, random.Random(0)) for t in every] == [tok.tok.encode(t).ids for t in every]
    texts = ["a blurry photo of a kitty", "a photo of the lorry"]
    plain = [tok.tok.encode(t).ids for t in texts]
    # p = 1 skips every merge: the word is spelt in single bytes
    spelt = tok.encode_with_dropout("a kitty", 1.0, random.Random(0))
    assert [tok.tok.id_to_token(i) for i in spelt] == ["Ġ", "a", "Ġ", "k", "i", "t", "t", "y"]
    rng = random.Random(1)
    draws = [tok.encode_with_dropout(texts[0], 0.1, rng) for _ in range(200)]
    assert all(tok.tok.decode(d) == " " + texts[0] for d in draws)  # every segmentation spells the same text
    longer = sum(len(d) > len(plain[0]) for d in draws)
    assert 20 < longer < 200  # some words are split, most captions are not wholly split
    a = tok(texts, dropout=0.1, rng=random.Random(7))
    assert a.tolist() == tok(texts, dropout=0.1, rng=random.Random(7)).tolist()  # seeded: a resume sees the same


# ----------------------------------------------------------------------------- zero-shot arithmetic
class KnownEmbeddings:
    """A stand-in model whose text embeddings are known: caption -> fixed unit vector."""

    def __init__(self, table):
        self.table = table

    def encode_text(self, tokens):
        return torch.stack([self.table[int(t)] for t in tokens[:, 0]])


def test_zero_shot_probabilities_and_prompt_ensembling_are_the_formulas():
    table = {0: torch.tensor([1.0, 0.0]), 1: torch.tensor([0.0, 1.0]), 2: torch.tensor([0.6, 0.8])}
    tokenize = lambda texts: torch.tensor([[int(t)] for t in texts])
    stub = KnownEmbeddings(table)
    classes = evaluate.class_embeddings(stub, tokenize, [["0", "2"], ["1"]], torch.device("cpu"))
    # ensemble of (1, 0) and (0.6, 0.8): mean (0.8, 0.4), normalized
    assert torch.allclose(classes[0], torch.tensor([0.8, 0.4]) / math.hypot(0.8, 0.4), atol=1e-6)
    assert torch.allclose(classes[1], torch.tensor([0.0, 1.0]))
    image = torch.tensor([[1.0, 0.0]])
    probs = evaluate.zero_shot_probs(image, classes, 10.0)
    s0, s1 = 0.8 / math.hypot(0.8, 0.4), 0.0
    expected = math.exp(10 * s0) / (math.exp(10 * s0) + math.exp(10 * s1))
    assert probs[0, 0].item() == pytest.approx(expected, rel=1e-5)
    assert probs.sum().item() == pytest.approx(1.0)


def test_recall_at_k_counts_a_same_label_item_among_the_top_k():
    sim = torch.tensor([[0.9, 0.8, 0.1], [0.1, 0.2, 0.3]])
    r = evaluate.recall_at_k(sim, torch.tensor([1, 0]), torch.tensor([0, 1, 0]), ks=(1, 2))
    # query 0 (label 1): top-1 is item 0 (label 0) miss, top-2 has item 1 (label 1) hit
    # query 1 (label 0): top-1 is item 2 (label 0) hit
    assert r == {"R@1": 0.5, "R@2": 1.0}


def test_linear_probe_separable_is_perfect_and_shuffled_is_chance():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(400) % 4
    x = torch.nn.functional.one_hot(labels, 4).float() * 3 + 0.1 * torch.randn(400, 4, generator=g)
    assert evaluate.linear_probe(x[:300], labels[:300], x[300:], labels[300:]) == 1.0
    noise = torch.randn(400, 4, generator=g)
    assert evaluate.linear_probe(noise[:300], labels[:300], noise[300:], labels[300:]) < 0.45


# ----------------------------------------------------------------------------- caption data
def test_held_out_wording_never_reaches_the_training_corpus():
    corpus_words = set()
    for dataset in ("mnist", "cifar10", "mnist-pairs"):
        data = captions.CaptionData.__new__(captions.CaptionData)
        data.dataset = dataset
        data.singles, data.pairs = dataset != "mnist-pairs", dataset == "mnist-pairs"
        data._allowed_pairs = torch.tensor([(a, b) for a in range(10) for b in range(10) if not captions.is_heldout_pair(a, b)])
        corpus = set(data.training_corpus())
        heldout = captions.DIGIT_TEMPLATES_HELDOUT if dataset == "mnist" else captions.CIFAR_TEMPLATES_HELDOUT
        if dataset != "mnist-pairs":
            assert not corpus & {t.format(n) for t in heldout for ns in data._single_wording()[1] for n in ns}
        else:
            for a, b in captions.HELDOUT_PAIRS:  # neither order of a held-out pair is ever captioned
                for x, y in ((a, b), (b, a)):
                    assert captions.pair_caption(captions.PAIR_CANONICAL, str(x), str(y)) not in corpus
            assert captions.pair_caption(captions.PAIR_CANONICAL, "3", "8") in corpus
        corpus_words |= {w for c in corpus for w in c.split()}
    for name in captions.CIFAR_NAMES_HELDOUT:
        assert not set(name.split()) - {"truck"} <= corpus_words  # each held-out name brings a word never captioned


@pytest.fixture(scope="module")
def pair_data():
    if not os.environ.get("PLAYGROUND_DATA"):
        pytest.skip("needs MNIST: set PLAYGROUND_DATA")
    return captions.CaptionData("mnist-pairs", quick=True)


def test_pair_canvas_puts_the_first_digit_left_and_its_caption_says_so(pair_data):
    images, caps, labels = pair_data.batch(step=3, batch_size=64, seed=0)
    assert images.shape == (64, 1, 28, 56) and images.dtype == torch.uint8
    lone = labels >= 200
    assert lone.sum() == int(64 * captions.SIDE_FRACTION) and lone[:lone.sum()].all()  # lone digits come first
    for img, caption, negative, label in zip(images[lone], caps, pair_data.last_negatives, labels[lone].tolist()):
        side, digit = divmod(label - 200, 10)
        halves = (img[..., :28], img[..., 28:])
        assert halves[side].sum() > 0 and halves[1 - side].sum() == 0  # the ink is on the side the caption names
        assert digit in pair_data.y_train[(pair_data.x_train == halves[side]).flatten(1).all(1)].tolist()
        words = {t[side].format(n) for t in captions.SIDE_TEMPLATES for n in captions.DIGIT_NAMES[digit]}
        other_side = {t[1 - side].format(n) for t in captions.SIDE_TEMPLATES for n in captions.DIGIT_NAMES[digit]}
        assert caption in words and negative in other_side
    n_lone = int(lone.sum())
    images, caps, labels, negatives = images[n_lone:], caps[n_lone:], labels[n_lone:], pair_data.last_negatives[n_lone:]
    for img, caption, label in zip(images, caps, labels.tolist()):
        a, b = divmod(label, 10)
        assert not captions.is_heldout_pair(a, b)
        # each half is a real MNIST digit of the label's class: find it in the training set
        left_matches = (pair_data.x_train == img[..., :28]).flatten(1).all(1)
        right_matches = (pair_data.x_train == img[..., 28:]).flatten(1).all(1)
        assert a in pair_data.y_train[left_matches].tolist() and b in pair_data.y_train[right_matches].tolist()
        assert any(caption == captions.pair_caption(t, fa, fb) for t in captions.PAIR_TEMPLATES
                   for fa in captions.DIGIT_NAMES[a] for fb in captions.DIGIT_NAMES[b])
    for caption, negative, label in zip(caps, negatives, labels.tolist()):
        a, b = divmod(label, 10)
        wrongs = [(b, a)] if a != b else [(a, (b + 1) % 10), ((a + 1) % 10, b)]
        assert any(negative == captions.pair_caption(t, fa, fb) for t in captions.PAIR_TEMPLATES for wrong in wrongs
                   for fa in captions.DIGIT_NAMES[wrong[0]] for fb in captions.DIGIT_NAMES[wrong[1]])
        assert negative != caption
    again = pair_data.batch(step=3, batch_size=64, seed=0)
    assert torch.equal(again[0][n_lone:], images) and again[1][n_lone:] == caps  # resume sees the same batch
    assert pair_data.batch(step=4, batch_size=64, seed=0)[1] != caps


def test_caption_and_augmentation_draws_come_from_independent_streams():
    """The bug this guards against: one seed for both made each crop offset a function of its caption's template."""
    for seed, step in ((0, 0), (0, 5), (3, 5)):
        captions_draws = torch.randint(2**30, (256,), generator=captions.stream("batch", seed, step))
        augment_draws = torch.randint(2**30, (256,), generator=captions.stream("augment", seed, step))
        assert (captions_draws == augment_draws).sum() == 0
        again = torch.randint(2**30, (256,), generator=captions.stream("batch", seed, step))
        assert torch.equal(captions_draws, again)  # still reproducible: resume sees the same draws


def test_batched_augmentation_differs_per_image_keeps_shape_and_is_seeded():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6).repeat(16, 1, 1, 1)
    out = captions.random_crop_flip(x, 2, flip=True, g=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert len({tuple(o.flatten().tolist()) for o in out[::2]}) > 4  # per-image shifts, not one for the batch
    assert torch.equal(out, captions.random_crop_flip(x, 2, flip=True, g=torch.Generator().manual_seed(0)))
    assert torch.equal(captions.random_crop_flip(x, 0, flip=False, g=torch.Generator()), x)


# ----------------------------------------------------------------------------- command lines on real MNIST
def run(script, *args, cwd):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, str(HERE / script), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    if not os.environ.get("PLAYGROUND_DATA"):
        pytest.skip("needs MNIST: set PLAYGROUND_DATA")
    tmp = tmp_path_factory.mktemp("clip")
    r = run("train.py", "--dataset", "mnist", "--quick", "--steps", "60", "--batch-size", "64", "--out", tmp / "run", cwd=tmp)
    assert r.returncode == 0, r.stderr[-2000:]
    return tmp


@pytest.mark.slow
def test_quick_train_and_evaluate_end_to_end_beats_chance(quick_run):
    out = quick_run / "eval.json"
    r = run("evaluate.py", "--checkpoint", quick_run / "run" / "checkpoint.pt", "--output", out,
            "--probe-train", "1000", cwd=quick_run)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    singles = res["singles"]
    # 60 tiny steps (measured: ~30%) already put digits and their names in one space, twice the 10% of guessing
    assert singles["zero_shot_ensemble_train_templates"] > 0.2
    assert singles["zero_shot_heldout_templates"]["mean"] > 0.2
    assert singles["retrieval"]["text_to_image"]["R@10"] > singles["retrieval"]["text_to_image"]["R@1"]
    assert np.array(singles["confusion_heldout_ensemble"]).sum() == singles["n_test"]


@pytest.mark.slow
def test_zero_shot_reads_a_folder_and_an_npz_and_writes_the_documented_json(quick_run):
    from PIL import Image

    data = captions.CaptionData("mnist", quick=True)
    images, labels = data.test_singles()
    folder = quick_run / "pngs"
    folder.mkdir(exist_ok=True)
    order = [3, 0, 2, 1]
    for rank, i in enumerate(order):  # file names sort in `order`, not in write order
        Image.fromarray(images[i, 0].numpy()).save(folder / f"img_{rank}.png")
    np.savez(quick_run / "digits.npz", images=images[:4, 0].numpy())
    ckpt = quick_run / "run" / "checkpoint.pt"
    for source, expect in ((folder, [f"img_{r}.png" for r in range(4)]), (quick_run / "digits.npz", None)):
        out = quick_run / f"probs_{Path(source).stem}.json"
        r = run("zero_shot.py", "--checkpoint", ckpt, "--images", source, "--labels", "a 0", "a 1", "a seven",
                "--output", out, cwd=quick_run)
        assert r.returncode == 0, r.stderr[-2000:]
        res = json.loads(out.read_text())
        assert res["labels"] == ["a 0", "a 1", "a seven"] and len(res["probs"]) == 4
        assert all(len(row) == 3 and abs(sum(row) - 1) < 1e-5 for row in res["probs"])
        if expect:
            assert res["images"] == expect
        assert len(r.stdout.strip().splitlines()) == 5  # a line per image, then "wrote ..."
    # same images, same probabilities, whether read from PNG files or the npz
    from_folder = json.loads((quick_run / "probs_pngs.json").read_text())["probs"]
    from_npz = json.loads((quick_run / "probs_digits.json").read_text())["probs"]
    assert np.allclose([from_folder[order.index(i)] for i in range(4)], from_npz, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["missing", "empty_labels", "unreadable", "no_images_key"])
def test_bad_zero_shot_input_is_one_line_and_exit_2(quick_run, case):
    ckpt = quick_run / "run" / "checkpoint.pt"
    bad = quick_run / f"bad_{case}"
    bad.mkdir(exist_ok=True)
    args = ["--images", bad]
    if case == "missing":
        args = ["--images", quick_run / "nowhere"]
    elif case == "empty_labels":
        args += ["--labels", " "]
    elif case == "unreadable":
        (bad / "broken.png").write_bytes(b"not a png")
    else:
        np.savez(bad / "x.npz", pictures=np.zeros((2, 28, 28), np.uint8))
        args = ["--images", bad / "x.npz"]
    r = run("zero_shot.py", "--checkpoint", ckpt, *args, cwd=quick_run)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error:")


@pytest.mark.slow
def test_resume_equals_uninterrupted(tmp_path):
    from shared.checkpoint import read_checkpoint

    if not os.environ.get("PLAYGROUND_DATA"):
        pytest.skip("needs MNIST: set PLAYGROUND_DATA")
    common = ["--dataset", "mnist-pairs", "--quick", "--steps", "12", "--checkpoint-every", "4", "--eval-every", "100",
              "--precision", "fp32"]
    assert run("train.py", *common, "--out", tmp_path / "full", cwd=tmp_path).returncode == 0
    r = run("train.py", *common, "--out", tmp_path / "split", "--stop-after", "5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    r = run("train.py", *common, "--out", tmp_path / "split", "--resume", cwd=tmp_path)
    assert r.returncode == 0 and "resumed from" in r.stdout, r.stderr[-2000:]
    full, split = read_checkpoint(tmp_path / "full" / "checkpoint.pt"), read_checkpoint(tmp_path / "split" / "checkpoint.pt")
    assert full["step"] == split["step"] == 12
    assert full["extra"]["tokenizer"] == split["extra"]["tokenizer"]
    for k in full["model"]:
        assert torch.equal(full["model"][k], split["model"][k]), k
