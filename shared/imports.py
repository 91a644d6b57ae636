"""Import a module from a paper folder by path.

Paper folders have hyphens (`rl/rl-book`) and several hold a `model.py`, so they can't be
packages. `load_module("nlp/gpt/train.py")` runs the file with its own folder first on sys.path
(so its `import model` finds *its* sibling) and then renames those sibling modules to unique
names, so another folder's `model` can be loaded next without clashing.
"""
import importlib.util
import re
import sys
from pathlib import Path

from shared.paths import REPO_ROOT


def _unique_name(path: Path) -> str:
    try:
        rel = path.relative_to(REPO_ROOT)
    except ValueError:
        rel = Path(*path.parts[1:])
    return "playground." + ".".join(re.sub(r"\W", "_", p) for p in rel.with_suffix("").parts)


def load_module(path):
    path = Path(path)
    if not path.is_absolute():
        path = REPO_ROOT / path
    path = path.resolve()
    name = _unique_name(path)
    if name in sys.modules:
        return sys.modules[name]
    folder = path.parent
    siblings = {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir() if (p / "__init__.py").exists()}
    siblings.discard(path.stem)
    prefix = name.rsplit(".", 1)[0] + "."

    def is_sibling(mod_name):
        return mod_name.split(".")[0] in siblings

    saved = {n: sys.modules.pop(n) for n in list(sys.modules) if is_sibling(n)}
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    finally:
        sys.path.remove(str(folder))
        for n in [n for n in sys.modules if is_sibling(n)]:
            sys.modules.setdefault(prefix + n, sys.modules.pop(n))
        sys.modules.update(saved)
    return module
