"""Publishing freezes a period's figures; a correction is a new version, never an edit."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from portal.audit import audit_chain_verify
from portal.models import AuditEvent
from requests_app.transparency.cache import generation
from requests_app.transparency.models import Snapshot, SnapshotChanged
from requests_app.transparency.periods import Period
from requests_app.transparency.report import document_sha256
from requests_app.transparency.selectors import published_report
from requests_app.transparency.services import (
    TransparencyRefused,
    figures_fingerprint,
    snapshot_publish,
)
from tests.requests_app.factories import make_legal_request
from tests.requests_app.transparency.fixture import AS_OF, PERIOD, at

pytestmark = pytest.mark.django_db


def _late_request(quarter) -> None:
    """A German request of the period recorded after the first publication."""
    make_legal_request(
        officer=quarter.requests["d1"].officer,
        received_at=at(6, 15),
        due_at=at(6, 25),
        audited=False,
    )


def test_publishing_stores_the_public_document_and_audits_its_hash(quarter, admin) -> None:
    snapshot = snapshot_publish(actor=admin, period=PERIOD, now=AS_OF)

    assert snapshot.period_key == "2026-Q2"
    assert snapshot.published_at == AS_OF
    assert snapshot.document["world"]["received"] == 23
    assert [row["country"] for row in snapshot.document["countries"]] == ["DE", "FR"]
    assert snapshot.document_sha256 == document_sha256(snapshot.document)
    event = AuditEvent.objects.order_by("-seq").first()
    assert event.action == "transparency.snapshot_published"
    assert event.actor_id == admin.pk
    assert event.target_id == str(snapshot.pk)
    assert event.data["period"] == "2026-Q2"
    assert event.data["document_sha256"] == snapshot.document_sha256
    assert event.data["supersedes"] is None
    assert audit_chain_verify().ok


def test_published_figures_stay_frozen_when_new_data_arrives(quarter, admin) -> None:
    snapshot_publish(actor=admin, period=PERIOD, now=AS_OF)
    _late_request(quarter)

    report = published_report("2026-Q2")

    assert report.document["countries"][0]["properly_formed"] == 9
    assert Snapshot.objects.count() == 1


def test_a_correction_needs_a_reason_and_a_changed_figure(quarter, admin) -> None:
    first = snapshot_publish(actor=admin, period=PERIOD, now=AS_OF)

    with pytest.raises(TransparencyRefused, match="needs a reason"):
        snapshot_publish(actor=admin, period=PERIOD, now=AS_OF)
    with pytest.raises(TransparencyRefused, match="nothing to correct"):
        snapshot_publish(actor=admin, period=PERIOD, reason="Recount", now=AS_OF)
    assert Snapshot.objects.count() == 1

    _late_request(quarter)
    later = AS_OF + timedelta(days=3)
    second = snapshot_publish(actor=admin, period=PERIOD, reason="A late request.", now=later)

    assert second.supersedes == first
    assert second.correction_reason == "A late request."
    assert second.document["countries"][0]["properly_formed"] == 10
    first.refresh_from_db()
    assert first.document["countries"][0]["properly_formed"] == 9  # never edited
    event = AuditEvent.objects.order_by("-seq").first()
    assert event.action == "transparency.snapshot_corrected"
    assert event.data["supersedes"] == first.pk
    assert event.data["changed_areas"] == ["world", "DE"]
    assert event.data["reason"] == "A late request."


def test_the_public_report_shows_the_newest_version_and_its_history(quarter, admin) -> None:
    first = snapshot_publish(actor=admin, period=PERIOD, now=AS_OF)
    _late_request(quarter)
    second = snapshot_publish(actor=admin, period=PERIOD, reason="A late request.", now=AS_OF)

    report = published_report("2026-Q2")

    assert report.version.id == second.pk
    assert [v.id for v in report.versions] == [first.pk, second.pk]
    assert report.corrections[0].correction_reason == "A late request."
    assert report.corrections[0].changed_names == ["World", "Germany"]
    assert report.version_document()["supersedes"] == first.pk


def test_a_period_is_published_only_once_it_is_over(quarter, admin) -> None:
    with pytest.raises(TransparencyRefused, match="has not ended"):
        snapshot_publish(actor=admin, period=PERIOD, now=at(6, 30, 23, 59))

    assert not Snapshot.objects.exists()


def test_a_custom_range_is_never_published(quarter, admin) -> None:
    with pytest.raises(TransparencyRefused, match="quarter or a whole year"):
        snapshot_publish(actor=admin, period=Period.custom(at(4, 1).date(), at(4, 30).date()))

    assert not Snapshot.objects.exists()


def test_only_a_vetting_administrator_publishes(quarter) -> None:
    with pytest.raises(TransparencyRefused, match="vetting administrator"):
        snapshot_publish(actor=quarter.r1, period=PERIOD, now=AS_OF)

    assert not Snapshot.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="transparency.").exists()


def test_figures_that_changed_since_the_preview_are_not_published(quarter, admin) -> None:
    from requests_app.transparency.figures import period_figures
    from requests_app.transparency.report import public_document

    seen = figures_fingerprint(public_document(period_figures(period=PERIOD, as_of=AS_OF)))
    _late_request(quarter)

    with pytest.raises(TransparencyRefused, match="changed since you looked"):
        snapshot_publish(actor=admin, period=PERIOD, expected_fingerprint=seen, now=AS_OF)
    assert not Snapshot.objects.exists()


def test_a_snapshot_row_cannot_be_changed_by_the_model_or_by_sql(quarter, admin) -> None:
    snapshot = snapshot_publish(actor=admin, period=PERIOD, now=AS_OF)

    snapshot.document = {"world": {}}
    with pytest.raises(SnapshotChanged):
        snapshot.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        Snapshot.objects.filter(pk=snapshot.pk).update(document={"world": {}})
    snapshot.refresh_from_db()
    assert snapshot.document["world"]["received"] == 23


def test_two_first_versions_of_a_period_cannot_both_be_stored(quarter, admin) -> None:
    first = snapshot_publish(actor=admin, period=PERIOD, now=AS_OF)

    with pytest.raises(IntegrityError), transaction.atomic():
        Snapshot.objects.create(
            period_key=first.period_key,
            period_kind=first.period_kind,
            first_day=first.first_day,
            last_day=first.last_day,
            document=first.document,
            document_sha256=first.document_sha256,
            published_by=admin,
            published_at=AS_OF,
        )


def test_publishing_makes_every_cached_public_page_stale(
    quarter, admin, django_capture_on_commit_callbacks
) -> None:
    before = generation()
    with django_capture_on_commit_callbacks(execute=True):
        snapshot_publish(actor=admin, period=PERIOD, now=AS_OF)

    assert generation() == before + 1
