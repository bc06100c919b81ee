"""The rollups give the same figures as counting the requests themselves.

``period_figures`` counts a period of whole months from the rollups, which triggers and
``rollups.fold`` keep up to date; ``period_figures_raw`` counts the requests, the
reference. After random creations, changes, decisions, disclosures, moves across months
and countries, and deletions, both must agree exactly, figure by figure, on SQLite and
on PostgreSQL (CI runs this file on both).
"""

import hashlib
import random
from datetime import UTC, date, datetime, timedelta
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from requests_app.delivery.models import Disclosure
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import LegalRequest, RequestTarget, ReviewState
from requests_app.review.models import Decision
from requests_app.transparency import rollups
from requests_app.transparency.figures import (
    period_figures,
    period_figures_raw,
    scope_figures,
    scope_figures_raw,
)
from requests_app.transparency.models import RequestFact
from requests_app.transparency.periods import Period, PeriodKind
from tests.factories import make_agency, make_officer
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = pytest.mark.django_db

S = LegalRequest.Status
COUNTRIES = ["DE", "FR", "LU", "JP"]
STATES = list(S.values)
KINDS = ["subscriber_data", "preservation", "emergency", "court_order"]
NAMES = ["alice", "Alice", "bob", "carol", "ALICE", "dave"]
AS_OF = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
PERIODS = [
    Period.quarter(2026, 1),
    Period.quarter(2026, 2),
    Period.year(2026),
    Period(date(2026, 2, 1), date(2026, 4, 30), PeriodKind.CUSTOM),
    Period(date(2025, 12, 1), date(2026, 12, 31), PeriodKind.CUSTOM),
]
_numbers = count()


def moment(month: int, day: int, minute: int) -> datetime:
    """A time in 2025-12 .. 2026-06; day 0 is the last second of the month before."""
    year, month = (2025, 12) if month == 0 else (2026, month)
    if day == 0:
        return datetime(year, month, 1, tzinfo=UTC) - timedelta(seconds=1)
    return datetime(year, month, day, tzinfo=UTC) + timedelta(minutes=minute)


class World:
    """Agencies, officers and reviewers made once per test, shared by its examples."""

    def __init__(self) -> None:
        self.agencies = {code: make_agency(country=code) for code in COUNTRIES}
        self.officers = {code: make_officer(agency=a) for code, a in self.agencies.items()}
        self.reviewer = make_reviewer()
        self.second = make_reviewer()


def _request(world: World, values: tuple[int, ...]) -> None:
    country, month, day, minute, status, kind, names, hours, paused = values
    received = moment(month % 7, day % 29, minute)
    request = make_legal_request(
        officer=world.officers[COUNTRIES[country % len(COUNTRIES)]],
        status=STATES[status % len(STATES)],
        kind=KINDS[kind % len(KINDS)],
        received_at=received,
        due_at=received + timedelta(hours=24 * (1 + hours % 10)),
        targets=[("username", NAMES[(names + i) % len(NAMES)]) for i in range(1 + names % 2)],
        audited=False,
    )
    if status % 3:
        ReviewState.objects.create(
            request=request,
            paused_seconds=3600 * (paused % 50),
            # Ties on purpose: many answers take the same whole number of hours.
            decided_at=received + timedelta(hours=hours % 300) if status % 3 == 2 else None,
        )


def _pick(values: tuple[int, ...]) -> LegalRequest | None:
    found = list(LegalRequest.objects.order_by("pk").values_list("pk", flat=True))
    return LegalRequest.objects.get(pk=found[values[0] % len(found)]) if found else None


def _change(world: World, op: str, values: tuple[int, ...]) -> None:
    request = _pick(values)
    if request is None:
        return
    a, b = values[1], values[2]
    if op == "status":
        LegalRequest.objects.filter(pk=request.pk).update(status=STATES[a % len(STATES)])
    elif op == "move":  # to another month and country
        LegalRequest.objects.filter(pk=request.pk).update(
            received_at=moment(a % 7, b % 29, a), country=COUNTRIES[b % len(COUNTRIES)]
        )
    elif op == "decide":
        decided = request.received_at + timedelta(hours=a % 300)
        ReviewState.objects.update_or_create(
            request=request, defaults={"decided_at": decided, "paused_seconds": 60 * (b % 90)}
        )
    elif op == "undecide":
        ReviewState.objects.filter(request=request).update(decided_at=None)
    elif op == "disclose":
        targets = list(request.targets.order_by("pk"))
        # Mostly every target approved, sometimes a part (or none) of them.
        approved = [t.pk for n, t in enumerate(targets) if a % 4 or (a >> (n + 2)) & 1]
        decision = Decision.objects.create(
            request=request,
            outcome=Decision.Outcome.APPROVE_FULL,
            state=Decision.State.CONFIRMED,
            proposed_by=world.reviewer,
            confirmed_by=world.second,
            approved_target_ids=approved,
        )
        states = [Disclosure.State.PENDING, Disclosure.State.FAILED]
        state = Disclosure.State.SEALED if b % 4 else states[b % 8 // 4]
        Disclosure.objects.create(
            request=request, decision=decision, created_by=world.second, state=state
        )
    elif op == "seal":
        Disclosure.objects.filter(request=request).update(state=Disclosure.State.SEALED)
    elif op == "unseal":
        Disclosure.objects.filter(request=request).update(state=Disclosure.State.FAILED)
    elif op == "rename":  # a target's value changes case or name
        RequestTarget.objects.filter(request=request).update(value=NAMES[a % len(NAMES)])
    elif op == "delete":
        Disclosure.objects.filter(request=request).delete()
        request.delete()


def _rejection(world: World, values: tuple[int, ...]) -> None:
    sender, month, day, minute, delete = values[:5]
    if delete % 4 == 0 and IntakeRejection.objects.exists():
        IntakeRejection.objects.order_by("pk")[0].delete()
        return
    IntakeRejection.objects.create(
        at=moment(month % 7, day % 29, minute),
        channel="api",
        code="bad_signature",
        status=401,
        agency=None if sender % 5 == 0 else world.agencies[COUNTRIES[sender % len(COUNTRIES)]],
        body_sha256=hashlib.sha256(str(next(_numbers)).encode()).hexdigest(),
    )


OPERATIONS = ["create", "rejection", "status", "move", "decide", "undecide"]
OPERATIONS += ["disclose", "disclose", "seal", "unseal", "rename", "delete"]


def _apply(world: World, op: str, values: tuple[int, ...]) -> None:
    if op == "create":
        _request(world, values)
    elif op == "rejection":
        _rejection(world, values)
    else:
        _change(world, op, values)


def _assert_rollups_equal_raw() -> None:
    for period in PERIODS:
        assert rollups.months_of(period) is not None
        assert period_figures(period=period, as_of=AS_OF) == period_figures_raw(
            period=period, as_of=AS_OF
        ), period.key
        for countries in (["LU"], ["DE", "JP"], COUNTRIES):
            assert scope_figures(period=period, countries=countries) == scope_figures_raw(
                period=period, countries=countries
            ), (period.key, countries)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_rollups_equal_the_raw_aggregate_after_random_changes(seed) -> None:
    """A seeded random history (reproducible: the seed names it); compared after each round."""
    chance = random.Random(seed)

    def values() -> tuple[int, ...]:
        return tuple(chance.randrange(10_000) for _ in range(9))

    world = World()
    for _ in range(24):  # a start: requests over seven months, half of them disclosed
        _apply(world, "create", values())
        _apply(world, "disclose", values())
        _apply(world, "rejection", values())
    _assert_rollups_equal_raw()
    for _ in range(5):
        for _ in range(12):
            _apply(world, chance.choice(OPERATIONS), values())
        _assert_rollups_equal_raw()


def test_a_change_is_in_the_next_read_without_waiting_for_the_scheduled_fold() -> None:
    world = World()
    _request(world, (0, 4, 3, 0, 0, 0, 0, 5, 0))  # DE, 3 April 2026, received
    period = Period.quarter(2026, 2)
    assert period_figures(period=period, as_of=AS_OF).countries["DE"].answered == 0

    request = LegalRequest.objects.get()
    ReviewState.objects.create(request=request, decided_at=request.received_at + timedelta(hours=7))
    LegalRequest.objects.filter(pk=request.pk).update(status=S.REJECTED)

    figures = period_figures(period=period, as_of=AS_OF).countries["DE"]
    assert figures.answered == 1
    assert figures.median_hours_to_answer == 7.0


def test_a_deleted_request_leaves_the_figures_and_its_facts() -> None:
    world = World()
    _request(world, (1, 4, 3, 0, 2, 0, 0, 5, 0))  # FR, decided
    period = Period.quarter(2026, 2)
    assert period_figures(period=period, as_of=AS_OF).countries["FR"].properly_formed == 1

    LegalRequest.objects.get().delete()

    assert "FR" not in period_figures(period=period, as_of=AS_OF).countries
    assert not RequestFact.objects.exists()


def test_the_scheduled_fold_folds_every_pending_change() -> None:
    from requests_app.transparency.tasks import rollups_fold_task

    world = World()
    for n in range(3):
        _request(world, (n, 4, 3 + n, 0, 2, 0, n, 5, 0))
    assert rollups_fold_task.apply().get() >= 3
    assert RequestFact.objects.count() == 3
    assert rollups.fold() == 0  # nothing left to fold


def test_a_read_of_whole_months_never_reads_the_requests_table() -> None:
    world = World()
    for n in range(6):
        _request(world, (n, 4, 3 + n, 0, 2, n, n, 5 + n, 0))
    rollups.fold()
    with CaptureQueriesContext(connection) as read:
        period_figures(period=Period.year(2026), as_of=AS_OF)

    statements = " ".join(query["sql"] for query in read.captured_queries)
    assert "requests_app_legalrequest" not in statements
    assert "requests_app_requesttarget" not in statements


def test_rebuild_gives_the_same_figures_as_the_incremental_folds() -> None:
    world = World()
    for n in range(8):
        _request(world, (n, n, 3 + n, n, n, n, n, 7 * n, n))
    for n in range(8):
        _change(world, "disclose", (n, n, 0))
    _rejection(world, (1, 4, 2, 0, 1))
    incremental = [period_figures(period=p, as_of=AS_OF) for p in PERIODS]

    rollups.rebuild()

    assert [period_figures(period=p, as_of=AS_OF) for p in PERIODS] == incremental


def test_the_fold_is_scheduled_with_celery_beat() -> None:
    from django.conf import settings

    from portal.celery import app

    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert "requests_app.transparency.tasks.rollups_fold" in scheduled
    assert "requests_app.transparency.tasks.rollups_fold" in app.tasks
