"""The command line every figure script shares: --seed, --out (default: the chapter folder), --quick."""
import argparse
from pathlib import Path

from shared.cli import ArgumentParser


def seed(text):
    value = int(text) if text.lstrip("-").isdigit() else None
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 (numpy seeds can't be negative), got '{text}'")
    return value


def writable_folder(text):
    path = Path(text)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise argparse.ArgumentTypeError(f"cannot create folder {path} ({e.strerror}); pass a writable --out") from None
    return path


def figure_parser(description, chapter_dir):
    parser = ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=seed, default=0, help="seed of the numpy generator; same seed, same numbers")
    parser.add_argument("--out", type=writable_folder, default=Path(chapter_dir),
                        help="folder for the PNGs and JSON numbers (default: the chapter folder, where they are committed)")
    parser.add_argument("--quick", action="store_true", help="reduced scale, for smoke tests")
    return parser
