import sys

from shared.imports import load_module


def test_same_named_modules_in_two_folders_do_not_clash(tmp_path):
    for name, value in (("a-paper", 1), ("b-paper", 2)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "model.py").write_text(f"VALUE = {value}\n")
        (folder / "train.py").write_text("import model\nVALUE = model.VALUE * 10\n")
    a = load_module(tmp_path / "a-paper" / "train.py")
    b = load_module(tmp_path / "b-paper" / "train.py")
    assert (a.VALUE, b.VALUE) == (10, 20)
    assert a.model.VALUE == 1 and b.model.VALUE == 2
    assert "model" not in sys.modules
    assert load_module(tmp_path / "a-paper" / "train.py") is a
