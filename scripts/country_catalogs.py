"""Country names that django-countries does not translate, from CLDR (Babel): ``locale_countries/``.

django-countries names countries through gettext, with its own catalogs for most languages
but none for Hindi, so a Hindi page showed them in English. For each language of
``settings.LANGUAGES`` but the source language, this writes
``locale_countries/<ll>/LC_MESSAGES/django.po`` (and its ``.mo``) with, for each country
whose name django-countries' own catalog leaves untranslated in that language (neither its
current name nor an older one it falls back to), the name CLDR gives it
(``babel.Locale.territories``), keyed by django-countries' current English name. A
language django-countries covers gets no catalog. Nothing is typed by hand: the names come
from the CLDR data Babel ships, and the file is written again whenever django-countries or
Babel changes.

``locale_countries`` is in ``settings.LOCALE_PATHS``, so Django merges it into each
language's translations (after the portal's own ``locale``, before the apps' catalogs).
``scripts/check_catalogs.py`` fails when a file here is not exactly what this script
writes (a stale name, a missing or extra catalog) or its ``.mo`` is not what ``msgfmt``
makes of it; ``check_catalogs.py --regenerate`` runs this too.

    python scripts/country_catalogs.py               # write the catalogs and their .mo
    python scripts/country_catalogs.py --print       # what it would write, as JSON

``--root DIR`` works on another tree laid out like this one (the tests use small ones); a
tree whose settings do not install django_countries gets no catalog.
"""

import argparse
import gettext
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DIRECTORY = "locale_countries"


def _setup(root: Path) -> Any:
    """The tree's settings and apps, as manage.py loads them (no database is touched)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    sys.path.insert(0, str(root))
    import django
    from django.conf import settings

    django.setup()
    return settings


def _msgids(value: Any, older: list[Any]) -> list[str]:
    """A country's English names as django-countries marks them: its current one first,
    then the older ones it falls back to when the current one has no translation."""
    from django.utils import translation

    if isinstance(value, dict):
        names = list(value["names"]) if "names" in value else [value["name"]]
    else:
        names = [value, *older]
    with translation.override(None):  # no catalog: a lazy name reads as its msgid
        return [str(name) for name in names]


def _translated(mo: str | None) -> set[str]:
    """The msgids a compiled catalog translates (none when there is no catalog)."""
    if mo is None:
        return set()
    from babel.messages.mofile import read_mo

    with open(mo, "rb") as file:
        return {
            message.id
            for message in read_mo(file)
            if isinstance(message.id, str) and message.id and message.string  # not plurals
        }


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def expected(root: Path = ROOT) -> dict[str, str]:
    """``{path under root: text}`` of every country catalog the tree should hold."""
    settings = _setup(root)
    if "django_countries" not in settings.INSTALLED_APPS:
        return {}
    if root / DIRECTORY not in [Path(path) for path in settings.LOCALE_PATHS]:
        raise SystemExit(f"settings.LOCALE_PATHS does not list {root / DIRECTORY}")
    import babel
    import django_countries
    from babel.messages.plurals import get_plural
    from django.utils.translation import to_locale
    from django_countries import countries

    own = Path(django_countries.__file__).parent / "locale"
    source = settings.LANGUAGE_CODE.split("-")[0]
    found = {}
    for code, _ in settings.LANGUAGES:
        name = to_locale(code)
        if name.split("_")[0].lower() == source:
            continue
        translated = _translated(gettext.find("django", localedir=str(own), languages=[name]))
        territories = babel.Locale.parse(name).territories
        entries = []
        for country, value in countries.countries.items():
            names = _msgids(value, countries.shadowed_names.get(country, []))
            if any(msgid in translated for msgid in names):
                continue  # django-countries translates it (perhaps under an older name)
            if country not in territories:
                raise SystemExit(f"CLDR has no {name} name for the country {country}")
            entries.append((names[0], territories[country], country))
        if not entries:
            continue
        lines = [
            "# Country names django-countries does not translate, from CLDR "
            f"{babel.core.get_cldr_version()} (Babel {babel.__version__}).",
            "# Written by scripts/country_catalogs.py: do not edit, run it again.",
            'msgid ""',
            'msgstr ""',
            '"Content-Type: text/plain; charset=UTF-8\\n"',
            '"Content-Transfer-Encoding: 8bit\\n"',
            f'"Language: {name}\\n"',
            f'"Plural-Forms: {get_plural(name).plural_forms}\\n"',
        ]
        for msgid, msgstr, country in sorted(entries):
            lines += ["", f"#. {country}", f'msgid "{_escape(msgid)}"']
            lines.append(f'msgstr "{_escape(msgstr)}"')
        found[f"{DIRECTORY}/{name}/LC_MESSAGES/django.po"] = "\n".join(lines) + "\n"
    return found


def committed(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_text()
        for path in sorted((root / DIRECTORY).glob("*/LC_MESSAGES/*.po"))
    }


def write(root: Path, catalogs: dict[str, str]) -> None:
    """Write ``catalogs`` (and their .mo), and remove the ones no longer wanted."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from check_catalogs import compiled_bytes

    for path in committed(root).keys() - catalogs.keys():
        (root / path).unlink()
        (root / path).with_suffix(".mo").unlink(missing_ok=True)
    for path, text in catalogs.items():
        po = root / path
        po.parent.mkdir(parents=True, exist_ok=True)
        po.write_text(text)
        po.with_suffix(".mo").write_bytes(compiled_bytes(po))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree to work on")
    parser.add_argument("--print", action="store_true", help="print the catalogs as JSON")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    catalogs = expected(root)
    if args.print:
        print(json.dumps(catalogs, ensure_ascii=False))
        return 0
    write(root, catalogs)
    print(f"{len(catalogs)} country catalog(s) written under {root / DIRECTORY}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
