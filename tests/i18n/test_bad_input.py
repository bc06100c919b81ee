"""Bad language and time-zone input: English or UTC, no error, nothing injected or stored.

An unknown language from ``Accept-Language``, the language cookie or a ``set_language``
POST leaves the page in English; a tampered cookie or parameter carrying markup is never
written into the page nor saved on the account; an unknown time zone saved on a user shows
times in UTC.
"""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import tinyhtml5
from django.conf import settings

from accounts.models import User
from tests.factories import log_in
from tests.i18n.leftovers import XHTML
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = pytest.mark.django_db

INJECTION = '"><script>alert(1)</script><b data-injected="'
HTML_LANG = re.compile(r'<html[^>]*\blang="([^"]*)"')
TIME = re.compile(r'<time[^>]*\bdatetime="([^"]+)"[^>]*>(.*?)</time>', re.S)


def html_lang(response) -> str:
    found = HTML_LANG.search(response.content.decode())
    assert found, "the page has no <html lang>"
    return found.group(1)


def injected(body: str) -> list[str]:
    """What of INJECTION a browser would take as markup: a script, an element it made."""
    tree = tinyhtml5.parse(body)
    found = ["script" for e in tree.iter(f"{XHTML}script") if "alert(1)" in "".join(e.itertext())]
    found += [e.tag for e in tree.iter() if "data-injected" in e.attrib]
    return found


def assert_untouched(response) -> None:
    """The page is whole, in English, and nothing of the injection made it in as markup."""
    body = response.content.decode()
    assert response.status_code == 200
    assert injected(body) == []
    assert "<script>alert(1)" not in body
    assert html_lang(response) == "en"


@pytest.mark.parametrize(
    "header",
    ["tlh", "xx-YY,zz;q=0.9", "pt-xx;q=1.5", "*", INJECTION, "en;q=abc,,,;;", "a" * 500],
)
def test_an_unknown_accept_language_gives_english(client, header):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE=header)

    assert_untouched(response)


@pytest.mark.parametrize("value", ["tlh", "pt_BR_x", "", INJECTION, "../../etc/passwd"])
def test_an_unknown_or_tampered_language_cookie_gives_english(client, value):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = value

    for path in ("/", "/login/", "/transparency/"):
        assert_untouched(client.get(path, HTTP_ACCEPT_LANGUAGE="en"))


@pytest.mark.parametrize("value", ["tlh", INJECTION])
def test_set_language_refuses_an_unknown_language_and_stores_nothing(officer_client, value):
    user = User.objects.get(pk=officer_client.session["_auth_user_id"])

    response = officer_client.post(
        "/i18n/setlang/", {"language": value, "next": "/"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code in (302, 204)
    cookie = response.cookies.get(settings.LANGUAGE_COOKIE_NAME)
    assert cookie is None or cookie.value in {code for code, _ in settings.LANGUAGES}
    user.refresh_from_db()
    assert user.language == ""
    assert_untouched(officer_client.get("/", HTTP_ACCEPT_LANGUAGE="en"))


def test_set_language_with_a_tampered_next_stays_on_the_portal(client):
    response = client.post(
        "/i18n/setlang/",
        {"language": "pt-br", "next": 'https://evil.example/"><script>alert(1)</script>'},
    )

    assert response.status_code == 302
    assert not response["Location"].startswith("https://evil.example")
    assert "<script>" not in response["Location"]


def test_a_known_language_posted_is_kept_and_saved(officer_client):
    """The control: the same form with a real language does switch and save it."""
    user = User.objects.get(pk=officer_client.session["_auth_user_id"])

    officer_client.post("/i18n/setlang/", {"language": "pt-br", "next": "/"})

    user.refresh_from_db()
    assert user.language == "pt-br"
    assert html_lang(officer_client.get("/")) == "pt-br"


def assert_times_in(pages, zone: str) -> None:
    """Every page opened, nothing injected, and every <time> of day shown in ``zone``."""
    times = []
    for response in pages:
        assert response.status_code == 200
        body = response.content.decode()
        assert injected(body) == []
        times += TIME.findall(body)
    with_a_time = [(at, text) for at, text in times if "T" in at]
    assert with_a_time, "no <time> with a time of day on these pages"
    for at, text in with_a_time:
        local = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
        shown = re.sub(r"<[^>]+>", "", text)
        assert f"{local:%H:%M}" in shown or f"{local:%-I:%M}" in shown, (zone, at, shown)


UNKNOWN_ZONES = ["Mars/Olympus_Mons", "", INJECTION, "../../etc/localtime"]


@pytest.mark.parametrize("zone", UNKNOWN_ZONES)
def test_an_unknown_time_zone_on_a_reviewer_shows_utc(client, zone):
    reviewer = make_reviewer()
    legal_request = make_legal_request()
    User.objects.filter(pk=reviewer.pk).update(time_zone=zone)
    log_in(client, reviewer)

    assert_times_in([client.get(f"/review/{legal_request.reference}/")], "UTC")
    assert client.get("/account/preferences/").status_code == 200


@pytest.mark.parametrize("zone", UNKNOWN_ZONES)
def test_an_unknown_time_zone_on_an_officer_shows_their_agency_zone(officer_client, officer, zone):
    """An officer's default is the zone of their agency's country (Berlin here), not UTC."""
    legal_request = make_legal_request(officer=officer)
    User.objects.filter(pk=officer.user.pk).update(time_zone=zone)

    pages = [
        officer_client.get(f"/requests/mine/{legal_request.reference}/"),
        officer_client.get("/requests/mine/"),
        officer_client.get("/account/preferences/"),
    ]

    assert officer.agency.country == "DE"
    assert_times_in(pages, "Europe/Berlin")
