"""The page shell in every language: lang and dir, the switcher on every page (error pages
included), the folding menu, and bad language input that changes nothing but the language.
"""

import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.factories import log_in, make_user

from .problem_views import page_fails, serve

pytestmark = pytest.mark.django_db


def html_tag(page: str) -> str:
    start = page.index("<html")
    return page[start : page.index(">", start) + 1]


def switcher(page: str) -> str:
    """The language switcher's form, which must be on the page."""
    match = re.search(r'<form[^>]*class="language-switcher".*?</form>', page, re.S)
    assert match, "no language switcher on the page"
    return match.group(0)


def assert_switcher_posts_to_set_language(page: str) -> None:
    form = switcher(page)
    assert f'action="{reverse("set_language")}"' in form
    assert 'method="post"' in form
    assert 'name="csrfmiddlewaretoken"' in form
    for code, _name in settings.LANGUAGES:
        assert f'value="{code}"' in form
    assert "<script" not in form
    assert " on" not in re.sub(r'"[^"]*"', '""', form)  # no onchange= or any handler


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/login/", 200),
        ("/transparency/", 200),
        ("/api/v1/docs", 200),
        ("/no-such-page/", 404),
    ],
)
def test_every_public_page_and_the_not_found_page_carry_the_switcher(
    client: Client, path: str, status: int
) -> None:
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == status
    page = response.content.decode()
    assert html_tag(page).startswith('<html lang="de" dir="ltr"')
    assert_switcher_posts_to_set_language(page)
    assert '<option value="de" lang="de" selected>Deutsch</option>' in switcher(page)
    # Each language in its own name, whatever the page's language.
    assert '<option value="en" lang="en">English</option>' in switcher(page)
    assert '<option value="pt-br" lang="pt-br">Português (Brasil)</option>' in switcher(page)


def test_the_server_error_page_is_in_the_callers_language_with_the_switcher() -> None:
    response: Any = serve(page_fails, "get", "/page-fails", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 500
    page = response.content.decode()
    assert html_tag(page) == '<html lang="fr" dir="ltr">'
    assert_switcher_posts_to_set_language(page)
    assert "secret internal detail" not in page


def test_the_too_large_page_has_the_switcher_and_the_callers_language(client: Client) -> None:
    body = b"x" * (settings.MAX_REQUEST_BODY_BYTES + 1)
    response = client.post("/login/", body, content_type="text/plain", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 413
    page = response.content.decode()
    assert html_tag(page) == '<html lang="es" dir="ltr">'
    assert_switcher_posts_to_set_language(page)


def test_the_menu_folds_into_a_details_element_without_any_inline_script(
    client: Client,
) -> None:
    user = make_user()
    log_in(client, user)
    page = client.get(reverse("home")).content.decode()
    header = page[page.index("<header") : page.index("</header>")]
    assert '<details class="site-menu">' in header
    assert "<summary>Menu</summary>" in header
    assert header.index("<summary>") < header.index('<nav aria-label="Main">')
    assert header.index('<nav aria-label="Main">') < header.index("</details>")
    assert "Log out" in header
    # Scripts only from the portal itself, never inline.
    for tag in re.findall(r"<script[^>]*>", page):
        assert re.search(r'src="/', tag), tag


@pytest.mark.parametrize(
    "header",
    [
        '"><script>alert(1)</script>',
        'de"><svg onload=alert(1)>',
        "xx-YY, tlh;q=0.9",
        "*",
        "",
    ],
)
def test_a_tampered_accept_language_gets_english_and_injects_nothing(
    client: Client, header: str
) -> None:
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE=header)
    assert response.status_code == 200
    page = response.content.decode()
    assert html_tag(page).startswith('<html lang="en" dir="ltr"') or header.startswith("de")
    assert "alert(1)" not in page
    assert "<svg onload" not in page


def test_a_tampered_catalog_address_is_escaped_and_serves_the_active_language(
    client: Client,
) -> None:
    response = client.get(
        reverse("javascript-catalog") + '?language="></script><script>alert(1)</script>',
        HTTP_ACCEPT_LANGUAGE="pt-BR",
    )
    assert response.status_code == 200
    assert response["Content-Language"] == "pt-br"
    assert b"alert(1)" not in response.content


def test_a_language_posted_with_markup_is_refused_and_the_next_page_is_english(
    client: Client,
) -> None:
    response = client.post(
        reverse("set_language"), {"language": '<b>pt-br</b>"', "next": "/login/"}
    )
    assert response.status_code == 302
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    page = client.get("/login/").content.decode()
    assert html_tag(page).startswith('<html lang="en"')
    assert "<b>pt-br</b>" not in page


def test_the_switcher_returns_to_the_page_it_was_on_in_the_chosen_language(
    client: Client,
) -> None:
    page = client.get("/transparency/?period=2026-Q1").content.decode()
    assert 'name="next" value="/transparency/?period=2026-Q1"' in switcher(page)
    response = client.post(
        reverse("set_language"), {"language": "hi", "next": "/transparency/?period=2026-Q1"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/transparency/?period=2026-Q1"
    assert html_tag(client.get("/transparency/").content.decode()).startswith(
        '<html lang="hi" dir="ltr"'
    )
