"""Notification mails are rendered in each recipient's saved language and time zone."""

from datetime import UTC, datetime

import pytest
from django.core import mail
from django.utils import formats, timezone, translation
from django.utils.functional import lazy

from requests_app.lifecycle.notify import (
    REQUEST_UPDATED,
    Notice,
    deadline_reminder,
    notify_now,
    notify_on_commit,
)
from tests.factories import make_officer
from tests.requests_app.factories import make_reviewer

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 12, 16, 11, 57, tzinfo=UTC)


def _probe(seen: list[tuple[str, str]]) -> Notice:
    """A notice whose body records the language and zone active while it is rendered,
    and shows a time as a mail with one would (the active zone, the language's format)."""

    def body() -> str:
        seen.append((translation.get_language(), timezone.get_current_timezone_name()))
        local = timezone.localtime(MOMENT)
        return f"Due {formats.date_format(local, 'DATETIME_FORMAT')} {local:%Z}\n"

    return Notice("Probe", lazy(body, str)())


def test_a_portuguese_recipient_gets_the_mail_rendered_in_portuguese_and_their_zone():
    reviewer = make_reviewer(language="pt-br", time_zone="America/Sao_Paulo")
    seen: list[tuple[str, str]] = []

    assert notify_now([reviewer.email], _probe(seen)) == 1

    assert seen == [("pt-br", "America/Sao_Paulo")]
    [message] = mail.outbox
    # 11:57 UTC is 08:57 in São Paulo, and Django's pt-BR format writes the month in Portuguese.
    assert "de Dezembro de 2026" in message.body
    assert "08:57" in message.body
    assert "-03" in message.body
    assert translation.get_language() == "en"  # nothing leaks to the sender's language


def test_each_recipient_gets_their_own_language_when_one_notice_goes_to_several():
    english = make_reviewer(language="en", time_zone="Europe/Berlin")
    portuguese = make_reviewer(language="pt-br", time_zone="America/Sao_Paulo")
    seen: list[tuple[str, str]] = []

    notify_now([english.email, portuguese.email], _probe(seen))

    assert seen == [("en", "Europe/Berlin"), ("pt-br", "America/Sao_Paulo")]
    bodies = {message.to[0]: message.body for message in mail.outbox}
    assert "Dec. 16, 2026, 12:57 p.m. CET" in bodies[english.email]
    assert "de Dezembro de 2026" in bodies[portuguese.email]


def test_a_mail_sent_on_commit_is_rendered_in_the_recipients_language(
    django_capture_on_commit_callbacks,
):
    reviewer = make_reviewer(language="pt-br", time_zone="America/Sao_Paulo")
    seen: list[tuple[str, str]] = []

    with translation.override("de"), django_capture_on_commit_callbacks(execute=True):
        notify_on_commit([reviewer.email], _probe(seen))

    assert seen == [("pt-br", "America/Sao_Paulo")]


def test_a_recipient_without_a_saved_language_gets_english_in_their_agencys_zone():
    officer = make_officer()
    officer.agency.country = "BR"
    officer.agency.save(update_fields=["country"])
    seen: list[tuple[str, str]] = []

    with translation.override("fr"):
        notify_now([officer.user.email], _probe(seen))

    assert seen == [("en", "America/Sao_Paulo")]


def test_an_unknown_saved_language_falls_back_to_english_without_an_error():
    reviewer = make_reviewer(time_zone="Not/AZone")
    type(reviewer).objects.filter(pk=reviewer.pk).update(language="xx")
    seen: list[tuple[str, str]] = []

    assert notify_now([reviewer.email], _probe(seen)) == 1

    assert seen == [("en", "UTC")]


def test_the_real_notices_still_read_in_english_and_carry_the_footer():
    reviewer = make_reviewer()

    notify_now([reviewer.email], REQUEST_UPDATED)
    notify_now([reviewer.email], deadline_reminder(2))
    notify_now([reviewer.email], deadline_reminder(1))

    update, two, one = mail.outbox
    assert update.subject == "A request of yours has an update"
    assert update.body.endswith(
        "Log in to the portal to read it.\n\nThis email carries no details on purpose.\n"
    )
    assert two.body.startswith(
        "2 requests in your review queue will reach the deadline soon or have passed it."
    )
    assert one.body.startswith(
        "1 request in your review queue will reach the deadline soon or has passed it."
    )
