"""Every "PROTOCOL §N" or "§N.M" cited in code and docs is a heading of docs/PROTOCOL.md."""

import re
import subprocess

from tests.conftest import ROOT

CITATION = re.compile(r"PROTOCOL(?: v1)? §(\d+(?:\.\d+)?)")
OLD_DRAFT = "PROTOCOL" + " v1"  # spelt apart, so that this file does not cite it
HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", re.M)


def _tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [
        name
        for name in listed
        if name.endswith((".py", ".md", ".html", ".js", ".toml", ".txt"))
        and not name.startswith(("static/dist/", "node_modules/"))
        and name != "docs/PROTOCOL.md"
    ]


def test_the_protocol_is_in_the_repository_and_versioned():
    text = (ROOT / "docs" / "PROTOCOL.md").read_text()
    assert re.search(r"^(\*\*)?Version \d+\.\d+", text, re.M)
    assert {"1", "2", "3", "4", "5", "6"} <= set(HEADING.findall(text))


def test_every_citation_resolves_to_a_heading():
    headings = set(HEADING.findall((ROOT / "docs" / "PROTOCOL.md").read_text()))
    unresolved = []
    cited = 0
    for name in _tracked_files():
        path = ROOT / name
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for section in CITATION.findall(line):
                cited += 1
                if section not in headings:
                    unresolved.append(f"{name}:{number}: PROTOCOL §{section}")
    assert cited > 20, "the citation pattern no longer finds the code's citations"
    assert unresolved == []


def test_no_citation_names_the_old_draft():
    old = [
        f"{name}:{number}"
        for name in _tracked_files()
        if (ROOT / name).is_file()
        for number, line in enumerate((ROOT / name).read_text(errors="replace").splitlines(), 1)
        if OLD_DRAFT in line
    ]
    assert old == []
