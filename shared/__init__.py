"""Helpers that at least two paper folders need: data, seeding, checkpoints, plots, CLI.

Nothing paper-specific lives here. Every user-facing failure raises `PlaygroundError`,
which `shared.cli.main_guard` turns into one line on stderr and exit code 2.
"""
from shared.errors import PlaygroundError

__all__ = ["PlaygroundError"]
