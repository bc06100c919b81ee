"""The browser bundles speak the page's language: Django's JavaScript catalog, served by the
portal itself and loaded before the bundles, and no sentence left outside it.
"""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import engines
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

FRONTEND = ROOT / "frontend"
# What comes just before a literal that is a msgid (or the plural of one).
MARKED = re.compile(
    r"(?:\bn?gettext\(\s*"
    r'|\bpgettext\(\s*"[^"]*",\s*'
    r'|\bngettext\(\s*"(?:[^"\\]|\\.)*",\s*)$'
)
# Text for operators, never shown on the page.
FOR_OPERATORS = re.compile(r"(?:console\.warn\(|new DOMException\()\s*$")
# A literal that reads as a sentence or a label: a capitalised word and another word, or
# words ending as a sentence does.
SENTENCE = re.compile(r"(?:\b[A-Z][a-z]+\s+\S)|(?:[a-z]{2,}\s+[a-z]{2,}.*[.…:?!]\s*$)")


def _without_comments(source: str) -> str:
    source = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), source, flags=re.S)
    return re.sub(r"(^|[\s;])//[^\n]*", r"\1", source)


def unmarked_texts(path: Path) -> list[str]:
    source = _without_comments(path.read_text())
    found = []
    for match in re.finditer(r'"((?:[^"\\\n]|\\.)*)"|`((?:[^`\\]|\\.)*)`', source):
        text = match.group(1) if match.group(1) is not None else match.group(2)
        # The file layout age-keygen writes is a format, not a text for people.
        text = re.sub(r"\$\{[^}]*\}", "", text)
        if text.startswith("# created:") or not SENTENCE.search(text):
            continue
        before = source[max(0, match.start() - 200) : match.start()]
        if MARKED.search(before) or FOR_OPERATORS.search(before):
            continue
        line = source.count("\n", 0, match.start()) + 1
        found.append(f"{path.name}:{line}: {text[:70]!r}")
    return found


def test_every_sentence_of_the_bundles_goes_through_the_catalog() -> None:
    sources = sorted(FRONTEND.glob("*.js"))
    assert {path.name for path in sources} >= {
        "submit.js",
        "reply.js",
        "decrypt.js",
        "age-keygen.js",
        "document-viewer.js",
        "passkey.js",
    }
    unmarked = [text for path in sources if path.name != "i18n.js" for text in unmarked_texts(path)]
    assert unmarked == []


def test_the_check_finds_a_sentence_left_outside_the_catalog(tmp_path: Path) -> None:
    sample = tmp_path / "sample.js"
    sample.write_text(
        'status.textContent = "Sending the request…";\n'
        'status.textContent = gettext("Sending the request…");\n'
        "status.textContent = `${name} is empty.`;\n"
        'node.className = "message warning";\n'
    )
    assert unmarked_texts(sample) == [
        "sample.js:1: 'Sending the request…'",
        "sample.js:3: ' is empty.'",
    ]


def test_no_browser_text_is_glued_from_pieces() -> None:
    for path in sorted(FRONTEND.glob("*.js")):
        source = _without_comments(path.read_text())
        assert not re.search(r"gettext\([^)]*\)\s*\+|\+\s*gettext\(", source), path.name


def test_the_catalog_is_the_portals_own_script_in_the_callers_language(client: Client) -> None:
    response = client.get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="pt-BR")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Content-Language"] == "pt-br"
    assert "Accept-Language" in response["Vary"]
    body = response.content.decode()
    assert "django.gettext = function" in body
    assert "globals.interpolate = django.interpolate" in body
    assert "eval(" not in body


def test_a_page_loads_the_catalog_before_its_bundle() -> None:
    """Every template that loads one of the portal's bundles includes the catalog first."""
    bundles = 0
    for path in sorted((ROOT / "templates").rglob("*.html")):
        source = path.read_text()
        for bundle in re.finditer(r"\{% static 'dist/[a-z-]+\.js' %\}", source):
            bundles += 1
            catalog = source.rfind('{% include "portal/_js_catalog.html" %}', 0, bundle.start())
            assert catalog != -1, f"{path.name}: {bundle.group()} without the catalog before it"
    assert bundles >= 5


def test_the_catalog_script_names_the_page_language_and_nothing_inline() -> None:
    template = engines["django"].from_string(
        '{% extends "base.html" %}{% load static %}'
        '{% block scripts %}{% include "portal/_js_catalog.html" %}'
        '<script type="module" src="{% static \'dist/submit.js\' %}"></script>{% endblock %}'
    )
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    with translation.override("pt-br"):
        page = template.render({}, request)

    catalog = page.index(f'<script src="{reverse("javascript-catalog")}?language=pt-br"></script>')
    assert catalog < page.index('<script type="module" src="/static/dist/submit.js">')
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "an inline script"
