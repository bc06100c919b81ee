"""One quarter of requests whose every figure is worked out by hand (see the tables below).

The period is 2026-Q2 (1 April to 30 June 2026, UTC) and the figures are counted as of
10 July 2026, 12:00 UTC. Times to answer are receipt to decision less clarification
pauses; "within" is decided at or before ``due_at`` (which a pause has moved on).

Germany (DE), 9 properly formed requests, 2 rejections at intake in the period:

| req | received    | due         | state      | decided     | hours | in time | disclosed       |
|-----|-------------|-------------|------------|-------------|-------|---------|-----------------|
| d1  | 04-01 00:00 | 04-11 00:00 | disclosed  | 04-03 00:00 | 48    | yes     | Alice, bob      |
| d2  | 04-10 10:00 | 04-10 18:00 | disclosed  | 04-10 14:00 | 4     | yes     | ALICE (emerg.)  |
| d3  | 05-01 00:00 | 05-02 00:00 | rejected   | 05-03 00:00 | 48    | no      | - (preserv.)    |
| d4  | 05-15 00:00 | 05-28 00:00 | disclosed  | 05-27 00:00 | 216   | yes     | carol, not +491 |
| d5  | 06-20 00:00 | 06-30 00:00 | in review  | -           |       | late    | -               |
| d6  | 06-29 00:00 | 07-20 00:00 | received   | -           |       | not due | -               |
| d7  | 06-01 00:00 | 06-11 00:00 | withdrawn  | -           |       | -       | -               |
| d8  | 06-02 00:00 | 06-12 00:00 | approved   | 06-05 00:00 | 72    | yes     | pending: no     |
| d9  | 06-10 00:00 | 06-20 00:00 | clarifying | -           |       | paused  | -               |

"disclosed" names the targets a sealed disclosure approved.
d4 waited 3 days for the authority (paused_seconds 259200; its due date moved from 05-25
to 05-28): 12 days from receipt to decision less 3 days is 216 hours.
DE: answered 5, within 4, unanswered past deadline 1 (d5), so 4 of 6 = 66.7%; disclosed
3; accounts alice, bob, carol = 3; median of 4, 48, 48, 72, 216 hours = 48.

France (FR), 4 requests, no rejection:

| req | received    | due         | decided     | hours | in time         | disclosed          |
|-----|-------------|-------------|-------------|-------|-----------------|--------------------|
| f1  | 04-05 00:00 | 04-15 00:00 | 04-06 00:00 | 24    | yes             | - (rejected)       |
| f2  | 04-06 00:00 | 04-16 00:00 | 04-08 00:00 | 48    | yes             | user_id 42         |
| f3  | 04-07 00:00 | 04-17 00:00 | 04-17 00:00 | 240   | yes (at the due)| alice              |
| f4  | 04-08 00:00 | 04-18 00:00 | 04-20 00:00 | 288   | no              | failed: no         |

FR: answered 4, within 3 = 75.0%; disclosed 2; accounts 2; median (48 + 240) / 2 = 144.

Luxembourg (LU), 2 requests (below the threshold of 3) and 1 rejection: l1 received
05-05, decided 05-06 (24 h, within), disclosed to lux1; l2 a preservation received 05-06,
due 05-07, still unanswered. Italy (IT): 2 rejections and no request. Unrecognised
senders: 3 rejections in the period. Outside the period (not counted): a DE request at
03-31 23:59:59 and one at 07-01 00:00:00, a DE rejection at 07-01 00:00:00 and an
unrecognised one at 03-31 23:59:59.

World: properly formed 15; rejected at intake 2 + 1 + 2 + 3 = 8; received 23; emergency
1; preservation 2; answered 10; within 8; past deadline 2 (d5, l2): 8 of 12 = 66.7%;
disclosed 6; accounts alice, bob, carol, user_id 42, lux1 = 5 (alice counts once though
Germany and France both named her); median of 4, 24, 24, 48, 48, 48, 72, 216, 240, 288
hours = 48.

Reviewer teams: "Europe desk" holds reviewer R1; R2 is in no team. R1 has d1-d5, d9, l1;
R2 has d8, f1-f4; d6, d7 and l2 are nobody's. Deadline compliance of the quarter:

| group                  | requests | answered | in time | late, unanswered | in time % |
|------------------------|----------|----------|---------|------------------|-----------|
| Europe desk            | 7        | 5        | 4       | 1 (d5)           | 66.7      |
| Assignee in no team    | 5        | 5        | 4 (f4)  | 0                | 80.0      |
| Not assigned to anyone | 3        | 0        | 0       | 1 (l2)           | 0.0       |

The queue as of 10 July 12:00 (open: received, in review, clarifying, approved): d5, d6,
d8, d9, f4, l2 and "late" (an emergency received 07-01, due 07-11 00:00) = 7; received 3,
in review 1, clarifying 1, approved 2; emergencies 1; past deadline 2 (d5, l2); due
within 48 hours 1 ("late"); not assigned 3. Europe desk: 2 open, 1 past deadline; no
team: 2 open; not assigned: 3 open, 1 emergency, 1 past deadline, 1 due soon.

Intake rejections by week (weeks start on Monday; the quarter spans the 14 weeks from
03-30 to 06-29): week of 03-30: bad_signature 1, policy_violation 2; week of 05-04:
unknown_key 3; week of 05-18: key_not_active 1; week of 06-29: stale 1.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from accounts.models import Agency, User
from requests_app.delivery.models import Disclosure
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import LegalRequest, ReviewState
from requests_app.review.models import Decision
from requests_app.transparency.models import ReviewTeam, ReviewTeamMember
from requests_app.transparency.periods import Period
from tests.factories import make_agency, make_officer
from tests.requests_app.factories import make_legal_request, make_reviewer

PERIOD = Period.quarter(2026, 2)
AS_OF = datetime(2026, 7, 10, 12, 0, tzinfo=UTC)
HOUR = 3600

S = LegalRequest.Status


def at(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


@dataclass
class Quarter:
    agencies: dict[str, Agency]
    requests: dict[str, LegalRequest]
    r1: User
    r2: User
    team: ReviewTeam


def _decide(
    request: LegalRequest,
    *,
    by: User,
    second: User,
    at_: datetime,
    outcome: str,
    approve: list[str] | None = None,
    disclosure: str | None = None,
) -> None:
    approved_ids = [t.pk for t in request.targets.all() if t.value in (approve or [])]
    decision = Decision.objects.create(
        request=request,
        outcome=outcome,
        state=Decision.State.CONFIRMED,
        proposed_by=by,
        proposed_at=at_ - timedelta(hours=1),
        confirmed_by=second,
        confirmed_at=at_,
        approved_target_ids=approved_ids,
        reason_code="" if outcome != Decision.Outcome.REJECT else "not_proportionate",
    )
    ReviewState.objects.filter(request=request).update(decided_at=at_)
    if disclosure is not None:
        Disclosure.objects.create(
            request=request, decision=decision, created_by=second, state=disclosure
        )


def _rejection(at_: datetime, agency: Agency | None, code: str = "bad_signature") -> None:
    IntakeRejection.objects.create(
        at=at_,
        channel="api",
        code=code,
        status=401,
        agency=agency,
        body_sha256=hashlib.sha256(f"{at_}{code}".encode()).hexdigest(),
    )


def build_quarter() -> Quarter:
    """Create the requests, decisions, disclosures and rejections of the tables above."""
    agencies = {code: make_agency(country=code) for code in ("DE", "FR", "LU", "IT")}
    officers = {code: make_officer(agency=agency) for code, agency in agencies.items()}
    r1, r2, r3 = (make_reviewer(full_name=name) for name in ("R1", "R2", "R3"))
    team = ReviewTeam.objects.create(name="Europe desk")
    ReviewTeamMember.objects.create(team=team, user=r1)
    requests: dict[str, LegalRequest] = {}

    def add(
        name: str,
        country: str,
        received: datetime,
        due: datetime,
        status: str,
        *,
        kind: str = "subscriber_data",
        targets: list[tuple[str, str]] | None = None,
        assignee: User | None = None,
        paused_seconds: int = 0,
    ) -> LegalRequest:
        request = make_legal_request(
            officer=officers[country],
            status=status,
            kind=kind,
            received_at=received,
            due_at=due,
            targets=targets or [("username", f"{name}_target")],
            audited=False,
        )
        ReviewState.objects.create(
            request=request,
            assignee=assignee,
            paused_seconds=paused_seconds,
            paused_since=received + timedelta(days=1)
            if status == S.AWAITING_CLARIFICATION
            else None,
        )
        requests[name] = request
        return request

    approve, reject = Decision.Outcome.APPROVE_FULL, Decision.Outcome.REJECT
    partial = Decision.Outcome.APPROVE_PARTIAL
    sealed, pending, failed = (
        Disclosure.State.SEALED,
        Disclosure.State.PENDING,
        Disclosure.State.FAILED,
    )

    d1 = add(
        "d1",
        "DE",
        at(4, 1),
        at(4, 11),
        S.DISCLOSED,
        targets=[("username", "Alice"), ("username", "bob")],
        assignee=r1,
    )
    _decide(
        d1,
        by=r1,
        second=r2,
        at_=at(4, 3),
        outcome=approve,
        approve=["Alice", "bob"],
        disclosure=sealed,
    )
    d2 = add(
        "d2",
        "DE",
        at(4, 10, 10),
        at(4, 10, 18),
        S.DISCLOSED,
        kind="emergency",
        targets=[("username", "ALICE")],
        assignee=r1,
    )
    _decide(
        d2,
        by=r1,
        second=r2,
        at_=at(4, 10, 14),
        outcome=approve,
        approve=["ALICE"],
        disclosure=sealed,
    )
    d3 = add("d3", "DE", at(5, 1), at(5, 2), S.REJECTED, kind="preservation", assignee=r1)
    _decide(d3, by=r1, second=r1, at_=at(5, 3), outcome=reject)
    d4 = add(
        "d4",
        "DE",
        at(5, 15),
        at(5, 28),
        S.DISCLOSED,
        targets=[("username", "carol"), ("phone", "+491")],
        assignee=r1,
        paused_seconds=3 * 24 * HOUR,
    )
    _decide(
        d4, by=r1, second=r2, at_=at(5, 27), outcome=partial, approve=["carol"], disclosure=sealed
    )
    add("d5", "DE", at(6, 20), at(6, 30), S.IN_REVIEW, assignee=r1)
    add("d6", "DE", at(6, 29), at(7, 20), S.RECEIVED)
    add("d7", "DE", at(6, 1), at(6, 11), S.WITHDRAWN)
    d8 = add("d8", "DE", at(6, 2), at(6, 12), S.APPROVED, assignee=r2)
    _decide(
        d8,
        by=r2,
        second=r1,
        at_=at(6, 5),
        outcome=approve,
        approve=["d8_target"],
        disclosure=pending,
    )
    add("d9", "DE", at(6, 10), at(6, 20), S.AWAITING_CLARIFICATION, assignee=r1)

    f1 = add("f1", "FR", at(4, 5), at(4, 15), S.REJECTED, assignee=r2)
    _decide(f1, by=r2, second=r2, at_=at(4, 6), outcome=reject)
    f2 = add("f2", "FR", at(4, 6), at(4, 16), S.DISCLOSED, targets=[("user_id", "42")], assignee=r2)
    _decide(f2, by=r2, second=r1, at_=at(4, 8), outcome=approve, approve=["42"], disclosure=sealed)
    f3 = add(
        "f3", "FR", at(4, 7), at(4, 17), S.DISCLOSED, targets=[("username", "alice")], assignee=r2
    )
    _decide(
        f3, by=r2, second=r1, at_=at(4, 17), outcome=approve, approve=["alice"], disclosure=sealed
    )
    f4 = add("f4", "FR", at(4, 8), at(4, 18), S.APPROVED, assignee=r2)
    _decide(
        f4,
        by=r2,
        second=r1,
        at_=at(4, 20),
        outcome=approve,
        approve=["f4_target"],
        disclosure=failed,
    )

    l1 = add(
        "l1", "LU", at(5, 5), at(5, 15), S.DISCLOSED, targets=[("username", "lux1")], assignee=r1
    )
    _decide(
        l1, by=r1, second=r2, at_=at(5, 6), outcome=approve, approve=["lux1"], disclosure=sealed
    )
    add("l2", "LU", at(5, 6), at(5, 7), S.RECEIVED, kind="preservation")

    # Outside the period, on both sides.
    early = add(
        "early",
        "DE",
        at(3, 31, 23, 59, 59),
        at(4, 10),
        S.DISCLOSED,
        targets=[("username", "zed")],
        assignee=r3,
    )
    _decide(
        early, by=r3, second=r1, at_=at(4, 2), outcome=approve, approve=["zed"], disclosure=sealed
    )
    add("late", "DE", at(7, 1), at(7, 11), S.RECEIVED, kind="emergency")

    _rejection(at(4, 1), agencies["DE"])
    _rejection(at(6, 30, 23, 59, 59), agencies["DE"], "stale")
    _rejection(at(7, 1), agencies["DE"])
    _rejection(at(5, 20), agencies["LU"], "key_not_active")
    _rejection(at(4, 2), agencies["IT"], "policy_violation")
    _rejection(at(4, 3), agencies["IT"], "policy_violation")
    for day in (4, 5, 6):
        _rejection(at(5, day), None, "unknown_key")
    _rejection(at(3, 31, 23, 59, 59), None, "unknown_key")

    return Quarter(agencies=agencies, requests=requests, r1=r1, r2=r2, team=team)
