"""Fail when a translation catalog is stale, incomplete or does not compile.

For every language of ``settings.LANGUAGES`` but English (the source language):

1. ``makemessages`` run on a copy of the tree would not change the committed catalogs
   (``locale/<ll>/LC_MESSAGES/django.po`` and ``djangojs.po``): a string added to the code
   without its translations fails here;
2. no entry is untranslated or fuzzy (``msgfmt --statistics``);
3. every catalog compiles (``msgfmt --check``: format strings match their msgid).

    python scripts/check_catalogs.py        # exit 1 and one line per finding

`make messages` regenerates the catalogs (same options as below); translate the new
entries, then `make lint` runs this check.
"""

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What makemessages reads: the Python packages, the templates and the browser sources.
SOURCES = ["portal", "accounts", "requests_app", "project", "templates", "frontend", "manage.py"]
MAKEMESSAGES = [
    ["makemessages", "--all", "--no-location", "--no-obsolete", "--ignore=node_modules/*"],
    [
        "makemessages",
        "--all",
        "--domain=djangojs",
        "--no-location",
        "--no-obsolete",
        "--ignore=node_modules/*",
        "--ignore=static/*",
    ],
]
MSGFMT = shutil.which("msgfmt") or "msgfmt"  # GNU gettext (Debian: gettext)
HEADER_NOISE = re.compile(r'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"$', re.M)


def catalogs(tree: Path) -> dict[str, str]:
    found = {}
    for path in sorted((tree / "locale").glob("*/LC_MESSAGES/*.po")):
        found[str(path.relative_to(tree))] = HEADER_NOISE.sub("", path.read_text())
    return found


def run_makemessages(tree: Path) -> None:
    for args in MAKEMESSAGES:
        subprocess.run(  # noqa: S603  (fixed arguments, our own tools)
            [sys.executable, "manage.py", *args],
            cwd=tree,
            check=True,
            capture_output=True,
            text=True,
        )


def problems() -> list[str]:
    found: list[str] = []
    committed = catalogs(ROOT)
    if not committed:
        return ["no catalog under locale/: run `make messages` and translate"]
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch)
        for name in SOURCES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, tree / name)
        shutil.copytree(ROOT / "locale", tree / "locale")
        run_makemessages(tree)
        regenerated = catalogs(tree)
    for name in sorted(set(committed) | set(regenerated)):
        if committed.get(name) != regenerated.get(name):
            found.append(f"{name}: makemessages would change it (run `make messages`)")
    for path in sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po")):
        result = subprocess.run(  # noqa: S603  (fixed arguments)
            [MSGFMT, "--check", "--statistics", "-o", "/dev/null", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        where = path.relative_to(ROOT)
        if result.returncode != 0:
            found.append(f"{where}: does not compile: {result.stderr.strip()}")
        stats = result.stderr
        for kind in ("untranslated", "fuzzy"):
            count = re.search(rf"(\d+) {kind}", stats)
            if count and int(count.group(1)):
                found.append(f"{where}: {count.group(1)} {kind} entries")
    return found


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    if found:
        return 1
    print("catalogs complete and current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
