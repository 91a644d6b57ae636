"""Image-caption pairs built from the datasets we have offline (MNIST, CIFAR-10), with held-out wording.

CLIP learns from 400M web (image, alt-text) pairs. We have labelled images, so we write the captions: each
training image gets a caption drawn at random from many templates and class names ("a blurry photo of a
kitty", "the digit 7", "handwritten seven"). Some templates, some class names and some digit pairs never
appear in training; evaluation uses them to ask whether the model learned the *words* or memorised strings.

Datasets:
- mnist:        28x28 digits, captions name the digit (numeral or word)
- cifar10:      32x32 colour photos, captions name the class (several synonyms each)
- mnist-pairs:  28x56 canvases with two digits side by side, captions say both digits *and their order*
                ("a 3 to the left of a 7", "a 7 to the right of a 3"); the pairs in HELDOUT_PAIRS (both
                orders) never appear in training, so the text encoder must compose "3", "7" and "left of".
                A quarter of the canvases hold one digit on one side ("a 3 on the left"), see SIDE_FRACTION
- mix:          single digits (centred on the same 28x56 canvas) and pairs in one shared space

Every random draw comes from a generator seeded by (seed, step), so a resumed run sees the same batches.
"""
import hashlib
from dataclasses import dataclass

import torch

from shared.data import CIFAR10_CLASSES, load_image_dataset
from shared.errors import PlaygroundError

DATASETS = ("mnist", "cifar10", "mnist-pairs", "mix")

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGIT_NAMES = tuple((str(d), DIGIT_WORDS[d]) for d in range(10))  # both forms are used in training

DIGIT_TEMPLATES = (
    "a photo of the number {}", "the digit {}", "a {}", "handwritten {}", "a handwritten {}", "an image of a {}",
    "the number {}", "{}", "a picture of the digit {}", "a scan of a handwritten {}", "a {} written by hand",
    "a white {} on a black background", "someone wrote a {}", "a small {}", "a drawing of a {}", "this is a {}",
    "handwritten number {}", "a photo of a {}",
)
DIGIT_TEMPLATES_HELDOUT = (
    "a blurry picture of a {}", "a quick sketch of the number {}", "it is a {}", "a close-up of the digit {}",
    "my favourite number is {}", "look, a {}",
)

CIFAR_NAMES = (
    ("airplane", "plane", "aircraft"), ("car", "automobile", "sedan"), ("bird", "sparrow"), ("cat", "kitty"),
    ("deer", "fawn"), ("dog", "puppy"), ("frog", "toad"), ("horse", "pony"), ("ship", "boat"), ("truck", "lorry"),
)
# Never in a training caption. Some contain a training name ("bullfrog", "steamship", "pickup truck"), others
# have nothing to go on ("jet", "stag", "stallion"): a text encoder trained only on our captions cannot know a
# word it never saw, which is why CLIP needs 400M varied captions.
CIFAR_NAMES_HELDOUT = ("jet", "motorcar", "songbird", "kitten", "stag", "doggy", "bullfrog", "stallion",
                       "steamship", "pickup truck")
CIFAR_TEMPLATES = (
    "a photo of a {}", "a photo of the {}", "a picture of a {}", "an image of a {}", "a blurry photo of a {}",
    "a low resolution photo of a {}", "a close-up photo of a {}", "a photo of a small {}", "a photo of a big {}",
    "a bright photo of a {}", "a dark photo of a {}", "a cropped photo of a {}", "a good photo of a {}",
    "a pixelated photo of a {}", "the {}", "a {}", "a blurry picture of a {}", "a photo of my {}",
    # Words after the class name, as in some of CLIP's ImageNet prompts ("a {} in a video game"). Without these,
    # every training caption ended with the class, and the text encoder (causal, read at <eot>) learned to read
    # the last word: "there is a {} in this picture" scored 12.7% against 82.7% for "there is a {}" (measured
    # before these six were added).
    "a {} in the scene", "a photo of a {} in the scene", "a {} seen from the side", "a {} in the distance",
    "a {}, photographed outdoors", "a low resolution {} in a photo",
)
CIFAR_TEMPLATES_HELDOUT = (
    "a jpeg photo of a {}", "a snapshot of a {}", "itap of a {}", "there is a {} in this picture",
    "a rendition of a {}", "a nice {}",
)

# {a} is the left digit, {b} the right one; half the templates name the right digit first, so word order
# alone does not give the answer. The last two name one digit and its side.
PAIR_TEMPLATES = (
    "a {a} to the left of a {b}", "a {b} to the right of a {a}", "{a} then {b}", "{a} followed by {b}",
    "{a} on the left and {b} on the right", "{b} on the right and {a} on the left", "the digits {a} and {b}",
    "a {b} with a {a} before it", "two digits, {a} and {b}", "a {a} left of a {b}",
    "a {a} on the left", "a {b} on the right",
)
# The templates that name both digits: order accuracy is measured on these ("3 left of 7" vs "7 left of 3").
PAIR_TEMPLATES_BOTH = tuple(t for t in PAIR_TEMPLATES if "{a}" in t and "{b}" in t)
PAIR_TEMPLATES_HELDOUT = (
    "first a {a}, then a {b}", "from left to right: {a}, {b}", "a {b} that has a {a} on its left",
)
PAIR_CANONICAL = PAIR_TEMPLATES[0]
# A quarter of each mnist-pairs batch is one digit alone on the left or the right half ("a 3 on the left").
# Why: with pairs only, training settles in a bag-of-words saddle. Telling "3 left of 7" from "7 left of 3" needs
# an image encoder that sees order *and* a text encoder that reads it, and each gets a gradient towards order
# only in proportion to how much the other already has; the digits' identities are learned first, order-blind,
# and both stay there (we measured order accuracy 50.3%, image vs its half-swapped twin at cosine 0.9997,
# "a 3 on the left" vs "a 3 on the right" at 0.9999). A lone digit's side is visible in raw pixels, so these
# images start far apart, the words "left" and "right" get meaning, and order is no longer a saddle.
SIDE_FRACTION = 0.25
SIDE_TEMPLATES = (("a {} on the left", "a {} on the right"), ("a {} on the left side", "a {} on the right side"),
                  ("{}, left half", "{}, right half"), ("on the left, a {}", "on the right, a {}"))

# Unordered pairs never shown in training, in either order (10 of the 100 ordered pairs).
HELDOUT_PAIRS = ((3, 7), (1, 8), (0, 5), (2, 9), (4, 6))

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def stream(purpose: str, seed: int, step: int) -> torch.Generator:
    """A random stream for one purpose ("batch", "augment") of one training step. Purposes must never share a
    seed: with one seed, the k-th crop offset and the k-th caption template are made from the same random word,
    and contrastive training learns to read the template off the image's black border (we measured it: the
    loss fell to 1.1, below the log(26) floor of 26 same-class images per batch, and rose to 13 when captions
    were shuffled among images of the same class)."""
    digest = hashlib.sha256(f"{purpose}:{seed}:{step}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def is_heldout_pair(a: int, b: int) -> bool:
    return (a, b) in HELDOUT_PAIRS or (b, a) in HELDOUT_PAIRS


def pair_caption(template: str, a: str, b: str) -> str:
    return template.format(a=a, b=b)


@dataclass
class ZeroShotTask:
    """What zero-shot classification compares an image against: one list of prompts per class."""
    name: str
    class_names: list          # short display names
    prompts: list              # prompts[c] = list of captions for class c
    labels: torch.Tensor       # the test images' class indices


class CaptionData:
    """Training batches (uint8 images + captions) and fixed test sets for one --dataset."""

    def __init__(self, dataset: str, data_dir=None, quick: bool = False):
        if dataset not in DATASETS:
            raise PlaygroundError(f"unknown dataset '{dataset}'; choose one of: {', '.join(DATASETS)}")
        self.dataset = dataset
        source = "cifar10" if dataset == "cifar10" else "mnist"
        x_train, y_train = load_image_dataset(source, train=True, data_dir=data_dir)
        x_test, y_test = load_image_dataset(source, train=False, data_dir=data_dir)
        if x_train.ndim == 3:
            x_train, x_test = x_train[:, None], x_test[:, None]
        if quick:  # a fixed random subset: the CIFAR-10 folders are read class by class
            keep_train = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(0))[:2048]
            keep_test = torch.randperm(len(x_test), generator=torch.Generator().manual_seed(0))[:500]
            x_train, y_train, x_test, y_test = x_train[keep_train], y_train[keep_train], x_test[keep_test], y_test[keep_test]
        self.x_train, self.y_train, self.x_test, self.y_test = x_train, y_train, x_test, y_test
        self.singles = dataset in ("mnist", "cifar10", "mix")
        self.pairs = dataset in ("mnist-pairs", "mix")
        self.channels = x_train.shape[1]
        self.image_size = (28, 56) if self.pairs else tuple(x_train.shape[-2:])
        self.mean, self.std = (CIFAR_MEAN, CIFAR_STD) if dataset == "cifar10" else (MNIST_MEAN, MNIST_STD)
        # horizontal flips would swap "left" and "right" (pairs) and mirror digits: only CIFAR photos flip
        self.flip = dataset == "cifar10"
        self.n_train = len(x_train)
        self._by_digit_train = digit_table(y_train) if self.pairs else None
        self._allowed_pairs = torch.tensor([(a, b) for a in range(10) for b in range(10) if not is_heldout_pair(a, b)])

    # ----------------------------------------------------------------------- captions
    def _single_wording(self):
        if self.dataset == "cifar10":
            return CIFAR_TEMPLATES, CIFAR_NAMES
        return DIGIT_TEMPLATES, DIGIT_NAMES

    def training_corpus(self) -> list:
        """Every caption training can produce: the tokenizer's BPE is trained on this (and on nothing held out)."""
        corpus = []
        if self.singles:
            templates, names = self._single_wording()
            corpus += [t.format(n) for t in templates for forms in names for n in forms]
        if self.dataset == "mnist-pairs":
            corpus += [t.format(n) for both in SIDE_TEMPLATES for t in both for forms in DIGIT_NAMES for n in forms]
        if self.pairs:
            corpus += [pair_caption(t, fa, fb) for t in PAIR_TEMPLATES for a, b in self._allowed_pairs.tolist()
                       for fa in DIGIT_NAMES[a] for fb in DIGIT_NAMES[b]]
        return corpus

    def _captions_single(self, labels, g) -> list:
        templates, names = self._single_wording()
        t = torch.randint(len(templates), (len(labels),), generator=g).tolist()
        pick = torch.rand(len(labels), generator=g).tolist()
        return [templates[ti].format(names[c][int(u * len(names[c]))]) for c, ti, u in zip(labels.tolist(), t, pick)]

    def _captions_pairs(self, a, b, g) -> tuple:
        """(captions, hard negatives): each negative is its caption with the two digits swapped (same template,
        same name form in each slot), so only the order tells them apart; for a double ("a 4 to the left of a 4") a digit
        the caption names is changed instead."""
        t = torch.randint(len(PAIR_TEMPLATES), (len(a),), generator=g).tolist()
        fa = torch.randint(2, (len(a),), generator=g).tolist()
        fb = torch.randint(2, (len(a),), generator=g).tolist()
        captions, negatives = [], []
        for x, y, ti, i, j in zip(a.tolist(), b.tolist(), t, fa, fb):
            template = PAIR_TEMPLATES[ti]
            captions.append(pair_caption(template, DIGIT_NAMES[x][i], DIGIT_NAMES[y][j]))
            # a double has no swap: change a digit the template names ("a {a} on the left" names only the left one)
            nx, ny = (y, x) if x != y else ((x, (y + 1) % 10) if "{b}" in template else ((x + 1) % 10, y))
            negatives.append(pair_caption(template, DIGIT_NAMES[nx][i], DIGIT_NAMES[ny][j]))
        return captions, negatives

    def _captions_side(self, digits, sides, g) -> tuple:
        """(captions, hard negatives) of lone digits: "a 3 on the left", and the same words with the other side."""
        t = torch.randint(len(SIDE_TEMPLATES), (len(digits),), generator=g).tolist()
        form = torch.randint(2, (len(digits),), generator=g).tolist()
        captions = [SIDE_TEMPLATES[ti][s].format(DIGIT_NAMES[d][f]) for d, s, ti, f in zip(digits.tolist(), sides.tolist(), t, form)]
        negatives = [SIDE_TEMPLATES[ti][1 - s].format(DIGIT_NAMES[d][f]) for d, s, ti, f in zip(digits.tolist(), sides.tolist(), t, form)]
        return captions, negatives

    # ----------------------------------------------------------------------- images
    def _place_single(self, x):
        """Single images on the pair canvas (mix): centred, black around."""
        if not self.pairs:
            return x
        return torch.nn.functional.pad(x, (14, 14))

    def _place_on_side(self, x, sides):
        """Lone digits on the pair canvas: side 0 puts the digit in the left half, 1 in the right; black elsewhere."""
        blank = torch.zeros_like(x)
        left = torch.where(sides[:, None, None, None] == 0, x, blank)
        return self._pair_canvas(left, torch.where(sides[:, None, None, None] == 1, x, blank))

    def _pair_canvas(self, left, right):
        return torch.cat([left, right], dim=-1)

    def _draw_pairs(self, n, g):
        which = torch.randint(len(self._allowed_pairs), (n,), generator=g)
        a, b = self._allowed_pairs[which].unbind(1)
        left, right = sample_digits(self._by_digit_train, a, g), sample_digits(self._by_digit_train, b, g)
        return self._pair_canvas(self.x_train[left], self.x_train[right]), a, b

    def batch(self, step: int, batch_size: int, seed: int):
        """(uint8 images [B, C, H, W], captions [B], labels [B]) of training step `step`, the same for the same
        (seed, step). Labels (for the supervised reference): the class; 10 a + b for the pair (a, b); in mix,
        100 + digit for single digits; in mnist-pairs, 200 + 10 side + digit for lone digits (side 0 left, 1 right),
        which come first. Hard negatives (the pair's digits swapped, the lone digit's other side) are left in
        self.last_negatives, one per pair or lone-digit row, in row order."""
        g = stream("batch", seed, step)
        n_side = int(batch_size * SIDE_FRACTION) if self.dataset == "mnist-pairs" else 0
        n_pairs = 0 if not self.pairs else (batch_size - n_side if not self.singles else batch_size // 2)
        n_singles = batch_size - n_pairs - n_side
        images, captions, labels, negatives = [], [], [], []
        if n_side:
            idx = torch.randint(self.n_train, (n_side,), generator=g)
            sides = torch.randint(2, (n_side,), generator=g)
            images.append(self._place_on_side(self.x_train[idx], sides))
            side_captions, side_negatives = self._captions_side(self.y_train[idx], sides, g)
            captions += side_captions
            negatives += side_negatives
            labels.append(200 + 10 * sides + self.y_train[idx])
        if n_singles:
            idx = torch.randint(self.n_train, (n_singles,), generator=g)
            images.append(self._place_single(self.x_train[idx]))
            captions += self._captions_single(self.y_train[idx], g)
            labels.append(self.y_train[idx] + (100 if self.pairs else 0))
        if n_pairs:
            canvas, a, b = self._draw_pairs(n_pairs, g)
            images.append(canvas)
            pair_captions, pair_negatives = self._captions_pairs(a, b, g)
            captions += pair_captions
            negatives += pair_negatives
            labels.append(10 * a + b)
        self.last_negatives = negatives
        return torch.cat(images), captions, torch.cat(labels)

    # ----------------------------------------------------------------------- test sets
    def test_singles(self, n: int = None):
        """(uint8 images, labels) of the test split, on this dataset's canvas; n: a fixed random subset of n."""
        if n is None or n >= len(self.y_test):
            return self._place_single(self.x_test), self.y_test
        keep = torch.randperm(len(self.y_test), generator=torch.Generator().manual_seed(0))[:n]
        return self._place_single(self.x_test[keep]), self.y_test[keep]

    def test_pairs(self, n: int = 10_000, seed: int = 1234):
        """A fixed set of test canvases from test-split digits, uniform over all 100 ordered pairs (held-out
        pairs included): (images, left digits, right digits)."""
        g = torch.Generator().manual_seed(seed)
        by_digit = digit_table(self.y_test)
        pairs = torch.randint(10, (n, 2), generator=g)
        left, right = sample_digits(by_digit, pairs[:, 0], g), sample_digits(by_digit, pairs[:, 1], g)
        return self._pair_canvas(self.x_test[left], self.x_test[right]), pairs[:, 0], pairs[:, 1]

    def class_names(self) -> list:
        if self.dataset == "cifar10":
            return list(CIFAR10_CLASSES)
        return [str(d) for d in range(10)]

    def single_prompts(self, heldout_templates: bool, heldout_names: bool = False) -> list:
        """prompts[c]: the captions of class c for zero-shot classification. Training names with training or
        held-out templates, or (CIFAR-10) the held-out names in training templates."""
        templates, names = self._single_wording()
        if heldout_templates:
            templates = DIGIT_TEMPLATES_HELDOUT if self.dataset != "cifar10" else CIFAR_TEMPLATES_HELDOUT
        if heldout_names:
            if self.dataset != "cifar10":
                raise ValueError("held-out names exist for cifar10 only (digits have no more names)")
            return [[t.format(CIFAR_NAMES_HELDOUT[c]) for t in templates] for c in range(10)]
        return [[t.format(n) for t in templates for n in names[c]] for c in range(10)]

    def pair_prompts(self, heldout_templates: bool) -> list:
        """prompts[10 a + b]: captions of the ordered pair (a left, b right)."""
        templates = PAIR_TEMPLATES_HELDOUT if heldout_templates else PAIR_TEMPLATES
        return [[pair_caption(t, fa, fb) for t in templates for fa in DIGIT_NAMES[a] for fb in DIGIT_NAMES[b]]
                for a in range(10) for b in range(10)]


def digit_table(labels):
    """(indices [10, max count] padded with -1, counts [10]): the images of each digit, for vectorized draws."""
    groups = [torch.nonzero(labels == d).flatten() for d in range(10)]
    counts = torch.tensor([len(x) for x in groups])
    table = torch.full((10, int(counts.max())), -1, dtype=torch.long)
    for d, x in enumerate(groups):
        table[d, :len(x)] = x
    return table, counts


def sample_digits(by_digit, digits, g):
    """One random image index of each requested digit."""
    table, counts = by_digit
    position = (torch.rand(len(digits), generator=g) * counts[digits]).long()
    return table[digits, position]


def random_crop_flip(x, pad: int, flip: bool, g: torch.Generator):
    """Batched augmentation with per-image random parameters: shift by up to `pad` pixels (zero fill) and,
    when `flip`, mirror half the images. x: [B, C, H, W] (any dtype); returns the same shape."""
    b, c, h, w = x.shape
    if pad:
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        oy = torch.randint(2 * pad + 1, (b,), generator=g)
        ox = torch.randint(2 * pad + 1, (b,), generator=g)
        rows = (oy[:, None] + torch.arange(h))[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w))[:, None, None, :]
        x = padded[torch.arange(b)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    if flip:
        mirror = torch.rand(b, generator=g) < 0.5
        x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
    return x
