"""Each viewer's language and time zone: chosen, saved, and never a way in for bad input."""

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import User
from accounts.preferences import zone_for_country
from portal.models import AuditEvent
from portal.templatetags.portal_time import when_html
from tests.factories import log_in, make_agency, make_officer, make_user

pytestmark = pytest.mark.django_db


def html_lang(response) -> str:
    text = response.content.decode()
    start = text.index("<html")
    return text[start : text.index(">", start) + 1]


def test_a_first_visit_follows_accept_language(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9,en;q=0.5")
    assert response.status_code == 200
    assert 'lang="pt-br"' in html_lang(response)
    assert 'dir="ltr"' in html_lang(response)


def test_an_unknown_language_falls_back_to_english_without_an_error(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="tlh,xx-YY;q=0.8")
    assert response.status_code == 200
    assert 'lang="en"' in html_lang(response)


def test_every_page_has_the_switcher_posting_to_set_language(client):
    page = client.get(reverse("transparency")).content.decode()
    assert f'action="{reverse("set_language")}"' in page
    for code, _name in settings.LANGUAGES:
        assert f'value="{code}"' in page
    assert "<script>" not in page.split("language-switcher", 1)[1].split("</form>", 1)[0]


def test_the_switcher_sets_the_language_and_saves_it_on_the_user(client):
    user = make_user()
    log_in(client, user)
    response = client.post(reverse("set_language"), {"language": "de", "next": "/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    user.refresh_from_db()
    assert user.language == "de"
    assert AuditEvent.objects.filter(action="user.preferences_changed").exists()
    assert 'lang="de"' in html_lang(client.get(reverse("account-preferences")))


def test_an_unknown_language_posted_changes_nothing(client):
    user = make_user()
    log_in(client, user)
    events = AuditEvent.objects.count()
    response = client.post(reverse("set_language"), {"language": "xx<script>", "next": "/"})
    assert response.status_code == 302
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    user.refresh_from_db()
    assert user.language == ""
    assert AuditEvent.objects.count() == events


def test_a_tampered_language_cookie_injects_nothing(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = '"><script>alert(1)</script>'
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'lang="en"' in html_lang(response)
    assert "alert(1)" not in response.content.decode()


def test_set_language_redirects_only_to_this_site(client):
    response = client.post(
        reverse("set_language"), {"language": "fr", "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert not response["Location"].startswith("https://evil.example")


def test_an_officer_sees_times_in_the_zone_of_the_agency_country_until_choosing():
    officer = make_officer(agency=make_agency(country="BR"))
    assert zone_for_country("BR") == "America/Sao_Paulo"
    assert zone_for_country("IN") == "Asia/Kolkata"
    assert zone_for_country("ZZ") == "UTC"
    from accounts.preferences import user_zone

    assert user_zone(officer.user) == "America/Sao_Paulo"
    officer.user.time_zone = "Europe/Lisbon"
    assert user_zone(officer.user) == "Europe/Lisbon"
    officer.user.time_zone = "Mars/Olympus_Mons"
    assert user_zone(officer.user) == "America/Sao_Paulo"


def test_the_account_page_saves_a_zone_and_refuses_an_unknown_one(client):
    user = make_user()
    log_in(client, user)
    response = client.post(
        reverse("account-preferences"), {"language": "", "time_zone": "Asia/Kolkata"}
    )
    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).time_zone == "Asia/Kolkata"
    page = client.get(reverse("account-preferences")).content.decode()
    assert "Asia/Kolkata" in page
    assert "IST" in page

    events = AuditEvent.objects.count()
    response = client.post(
        reverse("account-preferences"), {"language": "", "time_zone": "Mars/Olympus_Mons"}
    )
    assert response.status_code == 400
    assert User.objects.get(pk=user.pk).time_zone == "Asia/Kolkata"
    assert AuditEvent.objects.count() == events


def test_a_time_is_shown_in_the_viewers_zone_with_utc_for_machines():
    moment = datetime(2026, 12, 16, 11, 57, tzinfo=UTC)
    with translation.override("pt-br"), timezone.override("America/Sao_Paulo"):
        html = when_html(moment)
    assert html.startswith('<time datetime="2026-12-16T11:57:00Z">')
    assert "08:57" in html
    assert "-03" in html
    with translation.override("en"), timezone.override("UTC"):
        assert "11:57" in when_html(moment)
