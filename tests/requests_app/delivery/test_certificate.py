"""The certificate of authenticity in every sealed response (certificate.pdf, PROTOCOL §6.8).

Read back as a court's clerk would: the PDF's text, extracted with pypdf, names the
platform, the request and its authority, every file and record set with its SHA-256, the
custodian and their role, the date, and the statement the legal team set for the
authority's country; the PDF's own SHA-256 is the one the signed response.json lists.
"""

import hashlib
import io
import json
import re
import zipfile
from datetime import UTC, datetime

import pypdf
import pyrage
import pytest
import rfc8785
from django.test import Client
from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import Role
from portal.models import AuditEvent
from requests_app.delivery.sealing import response_seal
from requests_app.demo_source.directory import platform_file_store
from requests_app.demo_source.models import PlatformAccount
from requests_app.policy.defaults import DEFAULT_CERTIFICATE_STATEMENT
from requests_app.policy.models import CountryPolicy
from tests.audit_marks import actions_since, audit_mark
from tests.factories import log_in, make_officer, make_supervisor, make_user, make_vetting_admin
from tests.requests_app.delivery_helpers import approved_disclosure, tmp_storage

pytestmark = pytest.mark.django_db

DOCUMENT = b"at,ip,port\n2026-02-01T10:00:00Z,198.51.100.7,40112\n"


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def flat(text: str) -> str:
    """The text with its line breaks and runs of spaces as single spaces."""
    return re.sub(r"\s+", " ", text)


def seal_and_open(client, settings, tmp_path, **kwargs):
    tmp_storage(settings, tmp_path / "storage")
    delivery = approved_disclosure(client, **kwargs)
    platform_file_store(
        account=PlatformAccount.objects.get(username="suspect_one"),
        name="connections-2026-02-01.csv",
        media_type="text/csv",
        category="ip_addresses",
        data=DOCUMENT,
        at=datetime(2026, 2, 1, 10, tzinfo=UTC),
    )
    sealed = response_seal(disclosure_id=delivery.disclosure.pk)
    assert sealed is not None
    plaintext = pyrage.decrypt(sealed.file.read(), [delivery.identity])
    return delivery, zipfile.ZipFile(io.BytesIO(plaintext))


def test_the_certificate_names_every_file_and_record_set_with_its_sha256(
    client, settings, tmp_path
):
    settings.PLATFORM_NAME = "Example Platform Inc."
    delivery, archive = seal_and_open(client, settings, tmp_path)
    document = json.loads(archive.read("response.json"))
    certificate = archive.read("certificate.pdf")

    # The PDF is the one the signed response.json lists.
    assert document["certificate"] == {
        "name": "certificate.pdf",
        "media_type": "application/pdf",
        "size": len(certificate),
        "sha256": hashlib.sha256(certificate).hexdigest(),
    }
    assert certificate.startswith(b"%PDF-")
    text = flat(pdf_text(certificate))

    request = delivery.request
    decision = delivery.disclosure.decision
    for stated in (
        "Certificate of authenticity of records",
        "Example Platform Inc.",
        request.reference,
        request.agency.name,
        "Germany",
        "Judge A. Example (judge)",
        decision.confirmed_by.full_name,
        "Reviewer, who confirmed the decision",
        flat(str(DEFAULT_CERTIFICATE_STATEMENT)),
    ):
        assert stated in text, stated
    # In the portal's language and zone, as every page writes times (portal_time).
    issued = datetime.fromisoformat(document["issued_at"].replace("Z", "+00:00"))
    assert f"Date {date_format(timezone.localtime(issued), 'DATETIME_FORMAT')}" in text
    # Every file, with the SHA-256 of its bytes ...
    (target,) = document["records"]
    (listed,) = target["files"]
    assert listed["sha256"] == hashlib.sha256(DOCUMENT).hexdigest()
    assert f"{listed['name']} ({len(DOCUMENT)} bytes) SHA-256 {listed['sha256']}" in text
    # ... and every record set, with the SHA-256 of its RFC 8785 form in response.json.
    assert target["records"]
    for category, value in target["records"].items():
        digest = hashlib.sha256(rfc8785.dumps(value)).hexdigest()
        assert f"SHA-256 {digest}" in text, category
    assert "IP addresses with timestamps: 2 records SHA-256" in text


def test_the_certificate_carries_the_statement_the_legal_team_set_for_the_country(
    client, settings, tmp_path
):
    CountryPolicy.objects.create(
        country="DE",
        certificate_statement="Ich versichere die Echtheit der aufgeführten Aufzeichnungen.",
    )
    CountryPolicy.objects.create(country="FR", certificate_statement="Je certifie autre chose.")

    _, archive = seal_and_open(client, settings, tmp_path)

    text = flat(pdf_text(archive.read("certificate.pdf")))
    assert "Ich versichere die Echtheit der aufgeführten Aufzeichnungen." in text
    assert "Je certifie" not in text
    assert flat(str(DEFAULT_CERTIFICATE_STATEMENT))[:60] not in text


def test_text_from_outside_is_printed_as_text_and_nothing_is_fetched(
    client, settings, tmp_path, monkeypatch
):
    fetched = []

    import urllib.request

    monkeypatch.setattr(
        urllib.request.OpenerDirector, "open", lambda *a, **k: fetched.append(a) or None
    )
    hostile = '<img src="http://attacker.example/x.png"><b>bold</b>'
    CountryPolicy.objects.create(country="DE", certificate_statement=hostile)

    _, archive = seal_and_open(client, settings, tmp_path)

    text = flat(pdf_text(archive.read("certificate.pdf")))
    assert hostile in text
    assert fetched == []


# --- The statements, kept by staff --------------------------------------------------------------


def browser(user) -> Client:
    client = Client()
    log_in(client, user)
    return client


def test_a_vetting_administrator_sets_a_countrys_statement_with_a_reason(settings):
    admin = browser(make_vetting_admin())
    mark = audit_mark()

    page = admin.get("/staff/policy/certificate/")
    assert page.status_code == 200
    assert flat(str(DEFAULT_CERTIFICATE_STATEMENT))[:50] in flat(page.content.decode())
    missing_reason = admin.post(
        "/staff/policy/certificate/", {"country": "DE", "statement": "Text.", "reason": ""}
    )
    assert missing_reason.status_code == 400
    assert not CountryPolicy.objects.exists()

    saved = admin.post(
        "/staff/policy/certificate/",
        {"country": "DE", "statement": "Ich versichere.", "reason": "Advice of 2 May."},
    )
    assert saved.status_code == 302
    assert CountryPolicy.objects.get(country="DE").certificate_statement == "Ich versichere."
    (event,) = AuditEvent.objects.filter(seq__gt=mark)
    assert event.action == "country_policy.certificate_statement_changed"
    assert event.data["before"] == {"certificate_statement": ""}
    assert event.data["after"] == {"certificate_statement": "Ich versichere."}
    assert event.data["reason"] == "Advice of 2 May."
    shown = admin.get("/staff/policy/certificate/?country=DE").content.decode()
    assert "Ich versichere." in shown
    # The country's row names it, in the reader's language.
    assert '<a href="?country=DE#statement-form">Germany</a>' in shown
    in_german = admin.get("/staff/policy/certificate/", headers={"accept-language": "de"})
    assert '<a href="?country=DE#statement-form">Deutschland</a>' in in_german.content.decode()

    # A blank text returns the country to the default statement.
    admin.post(
        "/staff/policy/certificate/",
        {"country": "DE", "statement": "", "reason": "Back to the default."},
    )
    from requests_app.policy.selectors import certificate_statement

    assert certificate_statement(country="DE") == str(DEFAULT_CERTIFICATE_STATEMENT)


@pytest.mark.parametrize("role", ["reviewer", "officer", "supervisor"])
def test_nobody_else_sets_a_statement(role):
    user = {
        "reviewer": lambda: make_user(role=Role.REVIEWER),
        "officer": lambda: make_officer().user,
        "supervisor": lambda: make_supervisor().user,
    }[role]()
    attacker = browser(user)
    mark = audit_mark()

    assert attacker.get("/staff/policy/certificate/").status_code == 403
    response = attacker.post(
        "/staff/policy/certificate/",
        {"country": "DE", "statement": "Anything.", "reason": "Because."},
    )

    assert response.status_code == 403
    assert not CountryPolicy.objects.exists()
    assert actions_since(mark) == []
