"""The command line every figure script shares: --seed, --out (default: the chapter folder), --quick."""
import argparse
from pathlib import Path


def figure_parser(description, chapter_dir):
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="seed of the numpy generator; same seed, same numbers")
    parser.add_argument("--out", type=Path, default=Path(chapter_dir),
                        help="folder for the PNGs and JSON numbers (default: the chapter folder, where they are committed)")
    parser.add_argument("--quick", action="store_true", help="reduced scale, for smoke tests")
    return parser
