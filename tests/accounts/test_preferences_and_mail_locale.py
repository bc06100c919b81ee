"""Each mail is written in its recipient's language and zone; bad preferences fall back."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.template import loader
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import ApiToken, User
from accounts.services.factors import FactorChange, factor_change_notify
from accounts.services.tokens import api_token_created_notify
from portal.models import AuditEvent
from tests.factories import log_in, make_officer, make_user, registration_form

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 12, 16, 11, 57, tzinfo=UTC)


def html_lang(page: str) -> str:
    start = page.index("<html")
    return page[start : page.index(">", start) + 1]


@pytest.fixture
def rendered_under(monkeypatch):
    """Record the language and zone active while each template is rendered."""
    seen: list[tuple[str, str, str]] = []
    real = loader.render_to_string

    def recording(template_name, context=None, request=None, using=None):
        seen.append(
            (template_name, translation.get_language(), timezone.get_current_timezone_name())
        )
        return real(template_name, context, request, using)

    monkeypatch.setattr("accounts.services.factors.render_to_string", recording)
    monkeypatch.setattr("accounts.services.tokens.render_to_string", recording)
    return seen


def test_a_mail_to_a_user_who_chose_portuguese_is_rendered_in_portuguese(
    rendered_under, mailoutbox, django_capture_on_commit_callbacks
):
    user = make_user(language="pt-br", time_zone="America/Sao_Paulo")
    # The request that sends it is read in English: the mail follows its recipient.
    assert translation.get_language() == "en"
    with django_capture_on_commit_callbacks(execute=True):
        factor_change_notify(user=user, change=FactorChange.PASSKEY_ADDED)
    assert rendered_under == [("accounts/email/factor_changed.txt", "pt-br", "America/Sao_Paulo")]
    (mail,) = mailoutbox
    assert mail.to == [user.email]
    # The sender's own language is back once the mail is written.
    assert translation.get_language() == "en"


def test_a_mail_to_a_user_without_a_choice_is_in_english_and_their_default_zone(
    rendered_under, mailoutbox, django_capture_on_commit_callbacks
):
    officer = make_officer()
    officer.user.language = "xx"  # stored before the language was dropped, or tampered
    with translation.override("de"), django_capture_on_commit_callbacks(execute=True):
        factor_change_notify(user=officer.user, change=FactorChange.TOTP_ADDED)
    ((_template, language, _zone),) = rendered_under
    assert language == settings.LANGUAGE_CODE
    assert mailoutbox[0].subject == (
        "A new authenticator app was set up for your authority portal account"
    )


@pytest.mark.parametrize(
    ("zone", "shown", "not_shown"),
    [
        ("America/Sao_Paulo", "8:57 a.m. -03", "11:57"),
        ("Asia/Kolkata", "5:27 p.m. IST", "11:57"),
        ("", "11:57 a.m. UTC", "8:57"),  # no choice: a reviewer's default, UTC
    ],
)
def test_times_in_a_mail_are_in_the_recipients_zone(
    zone, shown, not_shown, mailoutbox, django_capture_on_commit_callbacks
):
    user = make_user(time_zone=zone)
    token = ApiToken(
        name="case system",
        prefix="ptk_abcdef",
        created_at=MOMENT,
        expires_at=MOMENT + timedelta(days=30),
    )
    with timezone.override("Pacific/Auckland"), django_capture_on_commit_callbacks(execute=True):
        api_token_created_notify(token=token, user=user)
    (mail,) = mailoutbox
    assert shown in mail.body, mail.body
    assert not_shown not in mail.body
    assert "<time" not in mail.body  # a plain-text mail carries no markup
    assert "ptk_abcdef" in mail.body


def test_an_unknown_zone_or_language_posted_is_refused_with_a_form_error(client):
    user = make_user(time_zone="Asia/Kolkata")
    log_in(client, user)
    events = AuditEvent.objects.count()
    for posted in (
        {"language": "", "time_zone": "Mars/Olympus_Mons"},
        {"language": "tlh", "time_zone": ""},
        {"language": '"><script>alert(1)</script>', "time_zone": ""},
    ):
        response = client.post(reverse("account-preferences"), posted)
        assert response.status_code == 400
        page = response.content.decode()
        assert "Your choices are not saved" in page
        assert "Select a valid choice" in page
        assert "<script>alert(1)" not in page
    stored = User.objects.get(pk=user.pk)
    assert (stored.language, stored.time_zone) == ("", "Asia/Kolkata")
    assert AuditEvent.objects.count() == events


def test_an_unknown_language_or_zone_stored_falls_back_to_english_and_utc(client):
    user = make_user()
    log_in(client, user)
    User.objects.filter(pk=user.pk).update(language="xx-yy", time_zone="Mars/Olympus_Mons")
    response = client.get(reverse("account-preferences"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'lang="en"' in html_lang(page)
    assert "Times are shown in <strong>UTC</strong>" in page


def test_an_unknown_language_cookie_falls_back_to_english_on_the_preferences_page(client):
    user = make_user()
    log_in(client, user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "xx-yy"
    response = client.get(reverse("account-preferences"))
    assert response.status_code == 200
    assert 'lang="en"' in html_lang(response.content.decode())


def test_a_registration_read_in_portuguese_keeps_portuguese_for_the_mailbox_mail(
    client, police, monkeypatch, django_capture_on_commit_callbacks
):
    seen: list[str] = []
    real = loader.render_to_string

    def recording(template_name, context=None, request=None, using=None):
        seen.append(translation.get_language())
        return real(template_name, context, request, using)

    monkeypatch.setattr("accounts.services.registration.render_to_string", recording)
    form = registration_form(agency=police, email="ana.souza@police.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/register/", form, HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9")
    assert response.status_code == 302
    assert User.objects.get(email="ana.souza@police.example").language == "pt-br"
    assert seen == ["pt-br"]


def test_a_registration_in_an_unknown_language_saves_none(client, police):
    form = registration_form(agency=police, email="kahless@police.example")
    response = client.post("/register/", form, HTTP_ACCEPT_LANGUAGE="tlh")
    assert response.status_code == 302
    assert User.objects.get(email="kahless@police.example").language in ("", "en")
