"""`seed_demo` gives the report a year of history, once, published through the real service."""

from io import StringIO

import pytest
from django.core.management import call_command

from portal.audit import audit_chain_verify
from portal.models import AuditEvent
from requests_app.delivery.models import Disclosure
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import LegalRequest
from requests_app.transparency.demo import CASE_PREFIX
from requests_app.transparency.models import ReviewTeam, Snapshot

pytestmark = pytest.mark.django_db


def test_seed_demo_publishes_a_year_of_history_once(client) -> None:
    call_command("seed_demo", stdout=StringIO())
    counts = (
        LegalRequest.objects.count(),
        IntakeRejection.objects.count(),
        Snapshot.objects.count(),
        ReviewTeam.objects.count(),
    )
    call_command("seed_demo", stdout=StringIO())

    assert (
        LegalRequest.objects.count(),
        IntakeRejection.objects.count(),
        Snapshot.objects.count(),
        ReviewTeam.objects.count(),
    ) == counts
    history = LegalRequest.objects.filter(case_reference__startswith=CASE_PREFIX)
    assert history.count() > 1000
    assert history.values("country").distinct().count() >= 10
    assert Disclosure.objects.filter(state=Disclosure.State.SEALED).count() > 300
    assert IntakeRejection.objects.filter(agency__isnull=True).exists()
    # Four past quarters, the first of them corrected once.
    current = Snapshot.objects.filter(superseded_by__isnull=True)
    assert current.filter(period_kind="quarter").count() >= 4
    assert Snapshot.objects.filter(supersedes__isnull=False).count() == 1
    assert AuditEvent.objects.filter(action="transparency.snapshot_corrected").count() == 1
    assert audit_chain_verify().ok
    page = client.get("/transparency/").content.decode()
    assert "Requests received, by country" in page
    assert "United States of America" in page


def test_the_demo_history_is_never_in_a_demo_officers_own_list() -> None:
    call_command("seed_demo", stdout=StringIO())

    demo_officers = LegalRequest.objects.filter(case_reference__startswith="DEMO-").values(
        "officer"
    )
    history = LegalRequest.objects.filter(case_reference__startswith=CASE_PREFIX)
    assert not history.filter(officer__in=demo_officers).exists()
    assert not history.filter(officer__user__is_active=True).exists()
