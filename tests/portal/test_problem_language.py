"""A problem's ``title`` and ``detail`` follow Accept-Language; its ``code`` never does.

The catalogs are written in a later round, so the test gives the Portuguese catalog its
own entries for the English texts: a text that is not marked, or is rendered before the
request's language is active, comes out in English and fails the check.
"""

from collections.abc import Iterator

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import trans_real

from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

PORTUGUESE = {
    "Not Found": "Não encontrado",
    "There is nothing at this address.": "Não há nada neste endereço.",
    "Unauthorized": "Não autorizado",
    "Method Not Allowed": "Método não permitido",
    "%(method)s is not allowed here.": "%(method)s não é permitido aqui.",
}


@pytest.fixture
def portuguese_catalog() -> Iterator[dict[str, str]]:
    catalog = trans_real.translation("pt-br")._catalog  # type: ignore[attr-defined]
    saved = {msgid: catalog.get(msgid) for msgid in PORTUGUESE}
    for msgid, text in PORTUGUESE.items():
        catalog[msgid] = text
    yield PORTUGUESE
    for msgid, text in saved.items():
        if text is None:
            for part in catalog._catalogs:
                part.pop(msgid, None)
        else:
            catalog[msgid] = text


def test_an_unknown_api_url_answers_in_the_callers_language_with_the_same_code(
    client: Client, portuguese_catalog: dict[str, str]
) -> None:
    response = client.get("/api/v1/does-not-exist", HTTP_ACCEPT_LANGUAGE="en")
    english = assert_problem(response, status=404, code="not_found")
    response = client.get("/api/v1/does-not-exist", HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9")
    portuguese = assert_problem(response, status=404, code="not_found")

    assert english["title"] == "Not Found"
    assert portuguese["code"] == english["code"] == "not_found"
    assert portuguese["type"] == english["type"]
    with translation.override("pt-br"):
        assert portuguese["title"] == translation.gettext(english["title"]) == "Não encontrado"
        assert portuguese["detail"] == translation.gettext(english["detail"])
    assert portuguese["detail"] == "Não há nada neste endereço."
    assert response["Content-Language"] == "pt-br"


def test_a_refused_credential_answers_its_title_in_the_callers_language(
    client: Client, portuguese_catalog: dict[str, str]
) -> None:
    response = client.get("/api/v1/submissions/PR-1", HTTP_ACCEPT_LANGUAGE="pt-BR")

    document = assert_problem(response, status=401, code="unauthenticated")
    assert document["title"] == "Não autorizado"


def test_a_method_not_taken_names_the_method_inside_the_translated_sentence(
    client: Client, portuguese_catalog: dict[str, str]
) -> None:
    response = client.generic("PATCH", "/api/v1/portal-key", HTTP_ACCEPT_LANGUAGE="pt-BR")

    document = assert_problem(response, status=405, code="method_not_allowed")
    assert document["title"] == "Método não permitido"


def test_an_unknown_language_gets_the_english_problem_without_an_error(client: Client) -> None:
    response = client.get("/api/v1/does-not-exist", HTTP_ACCEPT_LANGUAGE="tlh,xx-YY;q=0.5")

    document = assert_problem(response, status=404, code="not_found")
    assert document["title"] == "Not Found"
    assert document["detail"] == "There is nothing at this address."
