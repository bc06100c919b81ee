"""The layers run one way and no module imports itself back: the checks `make lint` runs."""

import subprocess
import sys
from pathlib import Path

from scripts.import_cycles import import_cycles
from tests.conftest import ROOT


def test_the_project_has_no_import_circle():
    assert import_cycles(["portal", "accounts", "requests_app", "project"]) == []


def test_a_planted_circle_is_found(tmp_path, monkeypatch):
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "one.py").write_text("def f():\n    from planted import two\n")
    (package / "two.py").write_text("from planted import three\n")
    (package / "three.py").write_text("import planted.one\n")
    (package / "alone.py").write_text("import planted.one\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles(["planted"]) == [["planted.one", "planted.three", "planted.two"]]


def test_an_import_only_for_a_type_is_not_a_circle(tmp_path, monkeypatch):
    package = tmp_path / "typed"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("import typed.b\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import typed.a\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles(["typed"]) == []


def test_the_layer_contracts_hold():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
