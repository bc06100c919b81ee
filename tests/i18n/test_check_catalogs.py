"""scripts/check_catalogs.py, the CI gate on the translation catalogs, tried on small trees.

Each test copies one tiny project laid out like the portal (``manage.py``, a
``portal/settings.py`` with two languages, a template, a Python module and a browser
source, each with marked strings), whose catalogs ``--regenerate`` made and the test filled
in, breaks one thing, and runs the script as ``make lint`` does: it must exit 1 with a line
naming that finding, and exit 0 on the untouched tree.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_catalogs.py"

pytestmark = pytest.mark.needs_commands("msgfmt", "xgettext", "msgmerge")

SETTINGS = """\
SECRET_KEY = "tiny tree of the catalog check"
INSTALLED_APPS = []
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("pt-br", "Português (Brasil)")]
USE_I18N = True
"""
TEMPLATE = """\
{% load i18n %}
<h1>{% translate "Requests awaiting review" %}</h1>
<p>{% blocktranslate with when=deadline %}Due {{ when }}{% endblocktranslate %}</p>
"""
PYTHON = """\
from django.utils.translation import gettext_lazy as _

PRESERVATION = _("Preservation order")
"""
SCRIPT_JS = """\
const label = gettext("Open the response");
"""
TRANSLATIONS = {
    "Requests awaiting review": "Pedidos aguardando análise",
    "Due %(when)s": "Prazo %(when)s",
    "Preservation order": "Ordem de preservação",
    "Open the response": "Abrir a resposta",
}
PT_BR = Path("locale/pt_BR/LC_MESSAGES")


def check(tree: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603  (our own script)
        [sys.executable, str(SCRIPT), "--root", str(tree), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def translate(path: Path, translations: dict[str, str]) -> None:
    """Fill the empty msgstr of each msgid named, in the catalog's own layout."""
    text = path.read_text()
    for msgid, msgstr in translations.items():
        entry = f'msgid "{msgid}"\nmsgstr ""\n'
        if entry in text:
            text = text.replace(entry, f'msgid "{msgid}"\nmsgstr "{msgstr}"\n')
    path.write_text(text)


def translated(tree: Path, folder: Path, translations: dict[str, str]) -> Path:
    """``tree`` with its catalogs made by the script's own ``--regenerate``, both domains'
    catalogs in ``folder`` (relative to the tree) filled in from ``translations``, and
    compiled by its ``--compile``."""
    regenerated = check(tree, "--regenerate")
    assert regenerated.returncode == 0, regenerated.stderr
    for domain in ("django", "djangojs"):
        translate(tree / folder / f"{domain}.po", translations)
    compiled = check(tree, "--compile")
    assert compiled.returncode == 0, compiled.stderr
    return tree


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """The tiny tree with complete, current catalogs (made by the script's own regeneration)."""
    tree = tmp_path_factory.mktemp("tiny") / "tree"
    (tree / "portal").mkdir(parents=True)
    (tree / "portal" / "__init__.py").write_text("")
    (tree / "portal" / "settings.py").write_text(SETTINGS)
    (tree / "portal" / "labels.py").write_text(PYTHON)
    (tree / "templates").mkdir()
    (tree / "templates" / "queue.html").write_text(TEMPLATE)
    (tree / "frontend").mkdir()
    (tree / "frontend" / "reply.js").write_text(SCRIPT_JS)
    shutil.copy2(ROOT / "manage.py", tree / "manage.py")
    return translated(tree, PT_BR, TRANSLATIONS)


@pytest.fixture
def tree(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    shutil.copytree(pristine, copy)
    return copy


def test_a_complete_current_catalog_passes(tree):
    result = check(tree)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "catalogs complete and current" in result.stdout
    # Both domains were made and checked: Python and templates, and the browser source.
    assert 'msgstr "Abrir a resposta"' in (tree / PT_BR / "djangojs.po").read_text()
    assert 'msgstr "Ordem de preservação"' in (tree / PT_BR / "django.po").read_text()


def test_an_untranslated_entry_fails(tree):
    po = tree / PT_BR / "django.po"
    po.write_text(po.read_text().replace('msgstr "Ordem de preservação"', 'msgstr ""'))

    result = check(tree)

    assert result.returncode == 1
    assert "locale/pt_BR/LC_MESSAGES/django.po: 1 untranslated entries" in result.stdout


def test_a_fuzzy_entry_fails(tree):
    po = tree / PT_BR / "djangojs.po"
    po.write_text(
        po.read_text().replace('msgid "Open the response"', '#, fuzzy\nmsgid "Open the response"')
    )

    result = check(tree)

    assert result.returncode == 1
    assert "locale/pt_BR/LC_MESSAGES/djangojs.po: 1 fuzzy entries" in result.stdout


def test_a_string_marked_without_its_translation_fails(tree):
    template = tree / "templates" / "queue.html"
    template.write_text(template.read_text() + '{% translate "Emergency disclosure" %}\n')

    result = check(tree)

    assert result.returncode == 1
    assert re.search(
        r"locale/pt_BR/LC_MESSAGES/django\.po: makemessages would change it .*"
        r"new: 'Emergency disclosure'",
        result.stdout,
    ), result.stdout
    # The check worked on a copy: the tree's own catalog is as it was.
    assert "Emergency disclosure" not in (tree / PT_BR / "django.po").read_text()


def test_a_string_removed_from_the_code_fails(tree):
    (tree / "portal" / "labels.py").write_text("")

    result = check(tree)

    assert result.returncode == 1
    assert "no longer in the code: 'Preservation order'" in result.stdout


@pytest.mark.parametrize(
    ("msgstr", "finding"),
    [
        ("Prazo %(quando)s", "argument 'quando', as in 'msgstr', doesn't exist in 'msgid'"),
        ("Prazo", "argument 'when' doesn't exist in 'msgstr'"),
    ],
    ids=["renamed", "dropped"],
)
def test_a_msgstr_whose_placeholders_differ_fails(tree, msgstr, finding):
    po = tree / PT_BR / "django.po"
    po.write_text(po.read_text().replace('msgstr "Prazo %(when)s"', f'msgstr "{msgstr}"'))

    result = check(tree)

    assert result.returncode == 1
    assert re.search(
        r"locale/pt_BR/LC_MESSAGES/django\.po: does not compile: line \d+: .*" + re.escape(finding),
        result.stdout,
    ), result.stdout


def test_a_missing_language_fails(tree):
    shutil.rmtree(tree / "locale" / "pt_BR")

    result = check(tree)

    assert result.returncode == 1
    assert "locale/pt_BR/LC_MESSAGES/django.po: missing" in result.stdout
    assert "locale/pt_BR/LC_MESSAGES/djangojs.po: missing" in result.stdout


def test_a_catalog_of_a_language_the_portal_does_not_offer_fails(tree):
    shutil.copytree(tree / "locale" / "pt_BR", tree / "locale" / "it")

    result = check(tree)

    assert result.returncode == 1
    assert "locale/it: not a language of settings.LANGUAGES" in result.stdout


def test_a_compiled_catalog_older_than_its_source_fails(tree):
    """The committed .mo is what the portal reads: a translation not compiled is not shown."""
    po = tree / PT_BR / "django.po"
    po.write_text(po.read_text().replace("Ordem de preservação", "Ordem de conservação"))

    result = check(tree)

    assert result.returncode == 1
    assert "locale/pt_BR/LC_MESSAGES/django.mo: not what msgfmt makes of django.po" in result.stdout


def test_a_missing_compiled_catalog_fails(tree):
    (tree / PT_BR / "djangojs.mo").unlink()

    result = check(tree)

    assert result.returncode == 1
    assert "locale/pt_BR/LC_MESSAGES/djangojs.mo: not what msgfmt makes of" in result.stdout


# --- The country names from CLDR (scripts/country_catalogs.py) -----------------------------------

COUNTRY_SETTINGS = """\
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "tiny tree of the catalog check, with countries"
INSTALLED_APPS = ["django_countries"]
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("hi", "Hindi")]
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_countries"]
USE_I18N = True
"""
# The tiny tree's own strings, in Hindi (its test data, not the portal's catalogs).
HINDI = {
    "Requests awaiting review": "समीक्षा की प्रतीक्षा में अनुरोध",
    "Due %(when)s": "नियत %(when)s",
    "Preservation order": "संरक्षण आदेश",
    "Open the response": "उत्तर खोलें",
}
HI = Path("locale/hi/LC_MESSAGES")
COUNTRIES_HI = Path("locale_countries/hi/LC_MESSAGES")


@pytest.fixture(scope="module")
def pristine_with_countries(pristine: Path, tmp_path_factory) -> Path:
    """The tiny tree with django-countries installed and Hindi offered: its catalogs and the
    Hindi country names made by ``--regenerate``, its own strings translated."""
    tree = tmp_path_factory.mktemp("countries") / "tree"
    shutil.copytree(pristine, tree, ignore=shutil.ignore_patterns("locale"))
    (tree / "portal" / "settings.py").write_text(COUNTRY_SETTINGS)
    return translated(tree, HI, HINDI)


@pytest.fixture
def countries_tree(pristine_with_countries: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    shutil.copytree(pristine_with_countries, copy)
    return copy


def india(tree: Path) -> str:
    """The Hindi name of India in the tree's country catalog."""
    text = (tree / COUNTRIES_HI / "django.po").read_text()
    return re.search(r'#\. IN\nmsgid "India"\nmsgstr "([^"]+)"', text).group(1)


def test_the_regenerated_country_catalog_holds_cldr_s_names_and_passes(countries_tree):
    import babel

    result = check(countries_tree)

    assert result.returncode == 0, result.stdout + result.stderr
    assert india(countries_tree) == babel.Locale.parse("hi").territories["IN"]
    assert (countries_tree / COUNTRIES_HI / "django.mo").is_file()


def test_a_stale_country_name_fails(countries_tree):
    """A name CLDR no longer gives (or one typed by hand) is found, and so is its .mo."""
    po = countries_tree / COUNTRIES_HI / "django.po"
    po.write_text(po.read_text().replace(india(countries_tree), "इंडिया"))
    (countries_tree / COUNTRIES_HI / "django.mo").write_bytes(
        subprocess.run(  # noqa: S603  (fixed arguments)
            ["msgfmt", "-o", "-", str(po)], capture_output=True, check=True
        ).stdout
    )

    result = check(countries_tree)

    assert result.returncode == 1
    assert (
        "locale_countries/hi/LC_MESSAGES/django.po: not what CLDR and django-countries give "
        "now (0 names added or removed, 1 translations differ" in result.stdout
    ), result.stdout


def test_a_country_missing_from_the_catalog_fails(countries_tree):
    po = countries_tree / COUNTRIES_HI / "django.po"
    entry = f'\n#. IN\nmsgid "India"\nmsgstr "{india(countries_tree)}"\n'
    po.write_text(po.read_text().replace(entry, ""))

    result = check(countries_tree)

    assert result.returncode == 1
    assert "(1 names added or removed, 0 translations differ" in result.stdout
    assert "locale_countries/hi/LC_MESSAGES/django.mo: not what msgfmt makes of" in result.stdout


def test_a_missing_country_catalog_fails(countries_tree):
    shutil.rmtree(countries_tree / "locale_countries")

    result = check(countries_tree)

    assert result.returncode == 1
    assert "locale_countries/hi/LC_MESSAGES/django.po: missing" in result.stdout


def test_a_country_catalog_django_merges_nowhere_fails(countries_tree):
    settings = countries_tree / "portal" / "settings.py"
    settings.write_text(settings.read_text().replace(', BASE_DIR / "locale_countries"]', "]"))

    result = check(countries_tree)

    assert result.returncode == 1
    assert "settings.LOCALE_PATHS does not list" in result.stdout


def test_a_country_catalog_no_longer_wanted_fails(countries_tree):
    """A language whose names django-countries (or no one) needs from CLDR: left over."""
    shutil.copytree(
        countries_tree / "locale_countries" / "hi", countries_tree / "locale_countries" / "en"
    )

    result = check(countries_tree)

    assert result.returncode == 1
    assert "locale_countries/en/LC_MESSAGES/django.po: not wanted" in result.stdout
