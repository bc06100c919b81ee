"""Fail when a translation catalog is missing, stale, incomplete or does not compile.

For every language of ``settings.LANGUAGES`` but the source language (``LANGUAGE_CODE``,
English):

1. ``makemessages`` run on a copy of the tree would neither create nor change a catalog
   (``locale/<ll>/LC_MESSAGES/django.po`` for templates and Python, ``djangojs.po`` for
   the browser sources under ``frontend/``): a missing catalog, or a string added to the
   code without its translations, fails here;
2. no entry is untranslated or fuzzy (``msgfmt --statistics``);
3. every catalog compiles (``msgfmt --check``: the placeholders of each msgstr are those
   of its msgid), and the committed ``.mo`` beside it is exactly what ``msgfmt`` makes of it
   (the compiled catalogs are committed so that ``make run`` needs no GNU gettext);
4. the country names django-countries does not translate (Hindi's), generated from CLDR
   under ``locale_countries/`` by ``scripts/country_catalogs.py``, are exactly what that
   script writes today (none missing, stale or left over), and their ``.mo`` is what
   ``msgfmt`` makes of each.

    python scripts/check_catalogs.py               # exit 1 and one line per finding
    python scripts/check_catalogs.py --regenerate  # what `make messages` runs
    python scripts/check_catalogs.py --compile     # the .mo files again, after translating

``--root DIR`` checks another tree laid out like this one (the tests use small ones).
`make messages` regenerates the catalogs with the options below; translate the new
entries, then `make lint` runs this check.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What makemessages reads: the Python packages, the templates and the browser sources.
SOURCES = ["portal", "accounts", "requests_app", "project", "templates", "frontend", "manage.py"]
DOMAINS = {
    "django": ["--no-location", "--no-obsolete", "--ignore=node_modules/*"],
    "djangojs": ["--no-location", "--no-obsolete", "--ignore=node_modules/*", "--ignore=static/*"],
}
MSGFMT = shutil.which("msgfmt") or "msgfmt"  # GNU gettext (Debian: gettext)
COUNTRY_SCRIPT = Path(__file__).resolve().parent / "country_catalogs.py"
COUNTRY_DIRECTORY = "locale_countries"  # country_catalogs.DIRECTORY
HEADER_NOISE = re.compile(r'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"$', re.M)
# The settings module's languages, read the way manage.py reads them (no app is loaded).
LANGUAGES_OF_TREE = (
    "import json; from django.conf import settings; from django.utils.translation import "
    "to_locale; print(json.dumps([settings.LANGUAGE_CODE, "
    "[to_locale(code) for code, _ in settings.LANGUAGES]]))"
)


def locales(tree: Path) -> list[str]:
    """The locale directory names the tree's settings ask for (``pt_BR``), source excluded."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"}
    out = subprocess.run(  # noqa: S603  (fixed arguments, our own interpreter)
        [sys.executable, "-c", LANGUAGES_OF_TREE],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    source, wanted = json.loads(out)
    from_source = source.split("-")[0]
    return [name for name in wanted if name.split("_")[0].lower() != from_source]


def catalogs(tree: Path) -> dict[str, str]:
    found = {}
    for path in sorted((tree / "locale").glob("*/LC_MESSAGES/*.po")):
        found[str(path.relative_to(tree))] = HEADER_NOISE.sub("", path.read_text())
    return found


def run_makemessages(tree: Path, names: list[str]) -> None:
    """Regenerate (or create) both domains' catalogs of ``names`` in ``tree``."""
    if not names:
        return
    (tree / "locale").mkdir(exist_ok=True)
    for domain, options in DOMAINS.items():
        result = subprocess.run(  # noqa: S603  (fixed arguments, our own tools)
            [
                sys.executable,
                "manage.py",
                "makemessages",
                f"--domain={domain}",
                *(f"--locale={name}" for name in names),
                *options,
            ],
            cwd=tree,
            check=False,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"makemessages --domain={domain} failed:\n{result.stderr}")


def problems(root: Path = ROOT) -> list[str]:
    found: list[str] = []
    names = locales(root)
    committed = catalogs(root)
    for name in sorted({Path(path).parts[1] for path in committed} - set(names)):
        found.append(f"locale/{name}: not a language of settings.LANGUAGES")
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch)
        for name in SOURCES:
            source = root / name
            if source.is_dir():
                shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
            elif source.is_file():
                shutil.copy2(source, tree / name)
        if (root / "locale").is_dir():
            shutil.copytree(root / "locale", tree / "locale")
        run_makemessages(tree, names)
        regenerated = catalogs(tree)
    for catalog in sorted(set(committed) | set(regenerated)):
        if catalog not in committed:
            found.append(f"{catalog}: missing (run `make messages`, then translate)")
        elif committed.get(catalog) != regenerated.get(catalog):
            new = _msgids(regenerated.get(catalog, "")) - _msgids(committed.get(catalog, ""))
            gone = _msgids(committed.get(catalog, "")) - _msgids(regenerated.get(catalog, ""))
            detail = "".join(
                f"; {label} {', '.join(repr(m) for m in sorted(ids)[:3])}"
                + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
                for label, ids in (("new:", new), ("no longer in the code:", gone))
                if ids
            )
            found.append(f"{catalog}: makemessages would change it (run `make messages`){detail}")
    found += country_problems(root)
    for path in sorted(
        [*(root / "locale").glob("*/LC_MESSAGES/*.po"), *country_catalog_paths(root)]
    ):
        result = subprocess.run(  # noqa: S603  (fixed arguments)
            [MSGFMT, "--check", "--statistics", "-o", "/dev/null", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        where = path.relative_to(root)
        if result.returncode != 0:
            errors = [
                line.replace(f"{path}:", "line ")
                for line in result.stderr.splitlines()
                if line.startswith(f"{path}:") and "warning: header field" not in line
            ]
            found.append(f"{where}: does not compile: {' / '.join(errors)}")
        compiled = path.with_suffix(".mo")
        if result.returncode == 0 and compiled_bytes(path) != (
            compiled.read_bytes() if compiled.is_file() else None
        ):
            found.append(
                f"{compiled.relative_to(root)}: not what msgfmt makes of {path.name} "
                "(run `make messages`)"
            )
        stats = result.stderr
        for kind in ("untranslated", "fuzzy"):
            count = re.search(rf"(\d+) {kind}", stats)
            if count and int(count.group(1)):
                found.append(f"{where}: {count.group(1)} {kind} entries")
    return found


def country_catalog_paths(root: Path) -> list[Path]:
    return sorted((root / COUNTRY_DIRECTORY).glob("*/LC_MESSAGES/*.po"))


def country_catalogs(root: Path, *, write: bool = False) -> dict[str, str]:
    """What scripts/country_catalogs.py makes of the tree (``{path: text}``), run with the
    tree's settings; with ``write``, it writes them and their .mo."""
    result = subprocess.run(  # noqa: S603  (our own script, fixed arguments)
        [sys.executable, str(COUNTRY_SCRIPT), "--root", str(root), *([] if write else ["--print"])],
        cwd=root,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/country_catalogs.py failed:\n{result.stderr}")
    return {} if write else json.loads(result.stdout)


def country_problems(root: Path) -> list[str]:
    """The country catalogs that are not what scripts/country_catalogs.py writes now."""
    try:
        wanted = country_catalogs(root)
    except RuntimeError as error:
        return [f"{COUNTRY_DIRECTORY}: {str(error).strip().splitlines()[-1]}"]
    have = {str(path.relative_to(root)): path.read_text() for path in country_catalog_paths(root)}
    found = []
    for path in sorted(set(wanted) | set(have)):
        if path not in have:
            found.append(f"{path}: missing (run `python scripts/country_catalogs.py`)")
        elif path not in wanted:
            found.append(
                f"{path}: not wanted (django-countries names every country in this "
                "language, or the portal no longer offers it; run "
                "`python scripts/country_catalogs.py`)"
            )
        elif have[path] != wanted[path]:
            now, then = _entries(wanted[path]), _entries(have[path])
            differ = sum(1 for msgid in now.keys() & then.keys() if now[msgid] != then[msgid])
            found.append(
                f"{path}: not what CLDR and django-countries give now "
                f"({len(now.keys() ^ then.keys())} names added or removed, {differ} "
                "translations differ; run `python scripts/country_catalogs.py`)"
            )
    return found


ENTRY = re.compile(r'^msgid "(.+)"\nmsgstr "(.*)"$', re.M)


def _entries(text: str) -> dict[str, str]:
    """``{msgid: msgstr}`` of a catalog written one line per msgid and msgstr."""
    return dict(ENTRY.findall(text))


def compiled_bytes(po: Path) -> bytes:
    """What ``msgfmt`` makes of a catalog: the ``.mo`` file that is committed beside it.

    The compiled catalogs are committed (like ``static/dist``) so that ``make run`` needs no
    GNU gettext; this check and ``make messages`` keep them equal to their sources.
    """
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "django.mo"
        subprocess.run([MSGFMT, "-o", str(out), str(po)], check=True)  # noqa: S603  (fixed arguments)
        return out.read_bytes()


def compile_all(root: Path) -> None:
    for po in sorted([*(root / "locale").glob("*/LC_MESSAGES/*.po"), *country_catalog_paths(root)]):
        po.with_suffix(".mo").write_bytes(compiled_bytes(po))


MSGID = re.compile(r'^msgid "(.*)"\n((?:".*"\n)*)', re.M)


def _msgids(text: str) -> set[str]:
    """The msgids of a catalog's text (continuation lines joined), for a readable finding."""
    ids = set()
    for first, rest in MSGID.findall(text):
        whole = first + "".join(line[1:-1] for line in rest.splitlines())
        if whole:
            ids.add(whole)
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree to check")
    parser.add_argument(
        "--regenerate",
        action="store_true",
        help="run makemessages for every language in place (what `make messages` does)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="compile every catalog to its committed .mo (after translating new entries)",
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.compile:
        compile_all(root)
        print(f"catalogs compiled under {root / 'locale'}")
        return 0
    if args.regenerate:
        run_makemessages(root, locales(root))
        country_catalogs(root, write=True)
        compile_all(root)
        print(f"catalogs regenerated and compiled under {root / 'locale'}: translate new entries")
        return 0
    found = problems(root)
    for line in found:
        print(line)
    if found:
        return 1
    print("catalogs complete and current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
