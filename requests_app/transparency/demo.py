"""A plausible year of history for `make run`, so the transparency report has something to show.

Written with ``bulk_create`` (a few thousand rows in about a second), from a seeded random
generator, so every seed gives the same shape. The requests are synthetic: they never
went through intake (their signatures are placeholders) and belong to a records officer
per agency who cannot log in, so the demo officers' own pages stay as the demo requests
left them. Past quarters are then published through the real service, one of them with a
correction. Never loaded in production; safe to run again (it seeds once).
"""

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from accounts.models import Agency, AgencyDomain, Officer, Role, User
from requests_app.delivery.models import Disclosure
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import LegalRequest, RequestKind, RequestTarget, ReviewState
from requests_app.policy.defaults import DEFAULT_RULES, EU_MEMBER_STATES, EVIDENCE_REGULATION_STATES
from requests_app.review.models import Decision, RejectionReason
from requests_app.transparency.models import ReviewTeam, ReviewTeamMember, Snapshot
from requests_app.transparency.periods import Period, quarters_back
from requests_app.transparency.services import current_snapshot, snapshot_publish

CASE_PREFIX = "HIST-"
SEED = 20260401
REQUESTS_PER_DAY = 4.0
REJECTIONS_PER_DAY = 1.5
PUBLISHER = "vetting@platform.example"
S = LegalRequest.Status

# Countries and how many of the requests each sends; Luxembourg sends one or two a quarter,
# so the report shows how a small country is folded into "Other countries".
COUNTRY_WEIGHTS = {
    "US": 26,
    "DE": 14,
    "BR": 12,
    "IN": 12,
    "FR": 9,
    "GB": 8,
    "ES": 5,
    "IT": 4,
    "MX": 4,
    "JP": 3,
    "CA": 3,
}
# Agencies the demo accounts do not already create: (country, name, kind, domain, phone).
EXTRA_AGENCIES = [
    ("GB", "National Crime Agency", Agency.Kind.POLICE, "nca.example.uk", "+442079388000"),
    ("ES", "Policía Nacional", Agency.Kind.POLICE, "policia.example.es", "+34915822900"),
    ("IT", "Polizia Postale", Agency.Kind.POLICE, "poliziapostale.example.it", "+390646201"),
    (
        "MX",
        "Fiscalía General de la República",
        Agency.Kind.PROSECUTOR,
        "fgr.example.mx",
        "+525553460000",
    ),
    ("JP", "National Police Agency", Agency.Kind.POLICE, "npa.example.jp", "+81335810141"),
    (
        "CA",
        "Royal Canadian Mounted Police",
        Agency.Kind.POLICE,
        "rcmp.example.ca",
        "+16139931111",
    ),
    ("LU", "Police grand-ducale", Agency.Kind.POLICE, "police.example.lu", "+35224400"),
]
KIND_WEIGHTS = {
    "subscriber_data": 40,
    "preservation": 22,
    "court_order": 12,
    "search_warrant": 10,
    "eu_epoc": 6,
    "emergency": 10,
}
OFFENCES = [
    "fraud",
    "cybercrime",
    "threats",
    "drug_trafficking",
    "child_sexual_abuse",
    "extortion",
    "money_laundering",
    "terrorism",
    "other_serious",
]
CATEGORIES = ["subscriber_info", "phone_number", "email_address", "ip_addresses", "login_history"]
REJECTION_CODES = {
    # code: (weight, HTTP status, sender recognised?)
    "unknown_key": (26, 401, False),
    "bad_signature": (18, 401, True),
    "malformed": (12, 400, False),
    "policy_violation": (12, 422, True),
    "stale": (9, 400, True),
    "rate_limited": (8, 429, True),
    "key_not_active": (6, 403, True),
    "replay": (5, 409, True),
    "unauthenticated": (4, 401, False),
}
TEAMS = {
    "EU and UK desk": "reviewer@platform.example",
    "Rest of the world": "second.reviewer@platform.example",
}
EUROPE = set(EU_MEMBER_STATES) | {"GB"}


@dataclass(frozen=True)
class HistorySummary:
    requests: int
    published: list[str]


def _hex(rng: random.Random, size: int = 64) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(size))


def _history_officers(admin: User) -> dict[str, Officer]:
    """One records officer per country (who cannot log in), with the agencies missing."""
    now = timezone.now()
    for country, name, kind, domain, phone in EXTRA_AGENCIES:
        if Agency.objects.filter(country=country, name=name).exists():
            continue
        agency = Agency.objects.create(
            name=name,
            country=country,
            kind=kind,
            callback_phone=phone,
            status=Agency.Status.VERIFIED,
            verified_by=admin,
            verified_at=now,
        )
        AgencyDomain.objects.create(agency=agency, domain=domain)
    officers: dict[str, Officer] = {}
    for country in [*COUNTRY_WEIGHTS, "LU"]:
        found = Agency.objects.filter(country=country).order_by("pk").first()
        if found is None:
            continue
        official = found.domains.first()
        email = f"records.desk@{official.domain if official else country.lower() + '.example'}"
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email, None, full_name="Records desk", role=Role.OFFICER, is_active=False
            )
        officer = Officer.objects.filter(user=user).first() or Officer.objects.create(
            user=user,
            agency=found,
            title="Records desk (synthetic history)",
            badge_number=f"HIST-{country}",
            status=Officer.Status.ACTIVE,
            email_verified_at=now,
            vetted_by=admin,
            vetted_at=now,
        )
        officers[country] = officer
    return officers


def _teams(reviewers: dict[str, User]) -> None:
    for name, email in TEAMS.items():
        team, _ = ReviewTeam.objects.get_or_create(name=name)
        if (
            email in reviewers
            and not ReviewTeamMember.objects.filter(user=reviewers[email]).exists()
        ):
            ReviewTeamMember.objects.create(team=team, user=reviewers[email])


def _answer_hours(rng: random.Random, deadline: int, emergency: bool) -> float:
    """How long the reviewers took: mostly well within the deadline, about 1 in 9 late."""
    if rng.random() < 0.11:
        return deadline * rng.uniform(1.05, 1.8)
    typical = 0.25 if emergency else 0.35
    return max(0.3, min(deadline * 0.98, rng.lognormvariate(0, 0.6) * deadline * typical))


def _arrivals(
    rng: random.Random, start: datetime, now: datetime, countries: list[str]
) -> list[tuple[datetime, str]]:
    """When each request arrives, and from which country, oldest first."""
    span = (now - start).total_seconds()
    weights = [COUNTRY_WEIGHTS[c] for c in countries]
    found = [
        (start + timedelta(seconds=rng.uniform(0, span - 3600)), rng.choices(countries, weights)[0])
        for _ in range(int(span / 86400 * REQUESTS_PER_DAY))
    ]
    # Luxembourg: one or two a quarter, never enough to be named.
    quarter = Period.quarter_of(start.date())
    while quarter.start < now - timedelta(days=10):
        for _ in range(rng.choice((1, 2))):
            moment = quarter.start + timedelta(days=rng.uniform(1, 80))
            if moment < now - timedelta(days=1):
                found.append((moment, "LU"))
        quarter = Period.quarter_of(quarter.last_day + timedelta(days=1))
    return sorted(found)


def _plan(
    rng: random.Random,
    number: int,
    received: datetime,
    country: str,
    now: datetime,
    reviewers: list[User],
) -> dict[str, Any]:
    """What happened to one request: its deadline, decision, outcome and state."""
    kind = rng.choices(list(KIND_WEIGHTS), list(KIND_WEIGHTS.values()))[0]
    if kind == "eu_epoc" and country not in EVIDENCE_REGULATION_STATES:
        kind = "subscriber_data"
    deadline = DEFAULT_RULES[RequestKind(kind)][3]
    paused = 0
    if kind not in ("emergency", "preservation") and rng.random() < 0.1:
        paused = int(rng.uniform(1, 5) * 86400)
    hours = _answer_hours(rng, deadline, kind == "emergency") + paused / 3600
    decided: datetime | None = received + timedelta(hours=hours)
    outcome = "open"
    if decided is not None and decided >= now:
        decided = None
    else:
        roll = rng.random()
        if roll < 0.03:
            outcome, decided = "withdrawn", None
        elif roll < 0.26:
            outcome = "rejected"
        elif kind == "preservation":
            outcome = "preserved"
        else:
            outcome = "partial" if rng.random() < 0.2 else "disclosed"
    closed = decided is not None and now - decided > timedelta(days=30)
    status = {
        "open": S.RECEIVED if rng.random() < 0.35 else S.IN_REVIEW,
        "withdrawn": S.WITHDRAWN,
        "rejected": S.CLOSED if closed else S.REJECTED,
        "preserved": S.CLOSED if closed else S.APPROVED,
        "disclosed": S.CLOSED if closed else S.DISCLOSED,
        "partial": S.CLOSED if closed else S.DISCLOSED,
    }[outcome]
    assignee = None
    if status not in (S.RECEIVED, S.WITHDRAWN):
        assignee = reviewers[0] if country in EUROPE else reviewers[-1]
        if rng.random() < 0.2:
            assignee = rng.choice(reviewers)
    return {
        "number": number,
        "country": country,
        "kind": kind,
        "received": received,
        "due": received + timedelta(hours=deadline, seconds=paused),
        "paused": paused,
        "decided": decided,
        "closed": decided + timedelta(days=rng.uniform(2, 20)) if closed and decided else None,
        "status": status,
        "outcome": outcome,
        "assignee": assignee,
        "targets": [
            ("username", f"user_{rng.randrange(1, 2500):04d}")
            for _ in range(rng.choice((1, 1, 1, 2, 3)))
        ],
    }


def _requests(
    rng: random.Random,
    start: datetime,
    now: datetime,
    officers: dict[str, Officer],
    reviewers: list[User],
) -> int:
    """Create the requests with their targets, review rows, decisions and disclosures."""
    countries = [c for c in COUNTRY_WEIGHTS if c in officers]
    plans = [
        _plan(rng, number, received, country, now, reviewers)
        for number, (received, country) in enumerate(_arrivals(rng, start, now, countries), 1)
        if country in officers
    ]
    requests = LegalRequest.objects.bulk_create(
        _legal_request(rng, plan, officers) for plan in plans
    )
    RequestTarget.objects.bulk_create(
        RequestTarget(request=request, type=kind, value=value)
        for request, plan in zip(requests, plans, strict=True)
        for kind, value in plan["targets"]
    )
    ReviewState.objects.bulk_create(
        ReviewState(
            request=request,
            assignee=plan["assignee"],
            assigned_at=plan["received"] + timedelta(minutes=30) if plan["assignee"] else None,
            paused_seconds=plan["paused"],
            decided_at=plan["decided"],
            closed_at=plan["closed"],
            preservation_expires_at=(
                plan["received"]
                + timedelta(days=60 if plan["country"] in EVIDENCE_REGULATION_STATES else 90)
                if plan["kind"] == "preservation"
                else None
            ),
        )
        for request, plan in zip(requests, plans, strict=True)
    )
    _decisions(rng, requests, plans, reviewers)
    return len(requests)


def _legal_request(
    rng: random.Random, plan: dict[str, Any], officers: dict[str, Officer]
) -> LegalRequest:
    officer = officers[plan["country"]]
    received: datetime = plan["received"]
    reference = f"LR-{received:%Y}-H{plan['number']:011X}"
    case = f"{CASE_PREFIX}{plan['number']:05d}"
    categories = sorted(rng.sample(CATEGORIES, rng.choice((1, 2, 3))))
    payload = {
        "portal": settings.PORTAL_AUDIENCE,
        "nonce": f"history-{plan['number']}-{_hex(rng, 24)}",
        "signed_at": received.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "request": {
            "kind": plan["kind"],
            "case_reference": case,
            "legal_basis": "Synthetic history for the demonstration",
            "targets": [{"type": t, "value": v} for t, v in plan["targets"]],
            "data_categories": categories,
        },
    }
    digest = hashlib.sha256(repr(payload).encode()).hexdigest()
    return LegalRequest(
        reference=reference,
        agency=officer.agency,
        officer=officer,
        channel="api",
        status=plan["status"],
        kind=plan["kind"],
        emergency=plan["kind"] == "emergency",
        country=plan["country"],
        case_reference=case,
        offence=rng.choice(OFFENCES),
        data_categories=categories,
        period_from=(received - timedelta(days=90)).date(),
        period_to=received.date(),
        payload=payload,
        payload_sha256=digest,
        envelope_sha256=hashlib.sha256(digest.encode()).hexdigest(),
        signature={"alg": "ed25519", "key_id": "ed25519:synthetic-history", "value": ""},
        key_id="ed25519:synthetic-history",
        nonce=payload["nonce"],
        signed_at=received - timedelta(seconds=2),
        signature_verified_at=received,
        received_at=received,
        due_at=plan["due"],
        receipt={"reference": reference, "payload_sha256": digest, "synthetic": True},
    )


def _decisions(
    rng: random.Random,
    requests: list[LegalRequest],
    plans: list[dict[str, Any]],
    reviewers: list[User],
) -> None:
    targets: dict[int, list[int]] = {}
    for request_id, target_id in RequestTarget.objects.filter(
        request__in=[r.pk for r in requests]
    ).values_list("request_id", "pk"):
        targets.setdefault(request_id, []).append(target_id)
    decisions: list[Decision] = []
    disclosing: list[tuple[LegalRequest, int]] = []
    for request, plan in zip(requests, plans, strict=True):
        decided = plan["decided"]
        if decided is None:
            continue
        first = plan["assignee"] or reviewers[0]
        second = next(r for r in reviewers if r.pk != first.pk) if len(reviewers) > 1 else first
        rejected = plan["outcome"] == "rejected"
        approved = targets[request.pk]
        if plan["outcome"] == "partial" and len(approved) > 1:
            approved = approved[:-1]
        decisions.append(
            Decision(
                request=request,
                outcome=(
                    Decision.Outcome.REJECT
                    if rejected
                    else Decision.Outcome.APPROVE_PARTIAL
                    if plan["outcome"] == "partial"
                    else Decision.Outcome.APPROVE_FULL
                ),
                state=Decision.State.CONFIRMED,
                proposed_by=first,
                proposed_at=decided - timedelta(minutes=rng.randint(20, 600)),
                confirmed_by=first if rejected else second,
                confirmed_at=decided,
                approved_target_ids=[] if rejected else approved,
                approved_categories=[] if rejected else request.data_categories,
                approved_period_from=None if rejected else request.period_from,
                approved_period_to=None if rejected else request.period_to,
                reason_code=rng.choice(RejectionReason.values) if rejected else "",
                message_to_authority="Synthetic history.",
            )
        )
        if plan["outcome"] in ("disclosed", "partial"):
            disclosing.append((request, len(decisions) - 1))
    created = Decision.objects.bulk_create(decisions)
    Disclosure.objects.bulk_create(
        Disclosure(
            request=request,
            decision=created[index],
            created_by=created[index].confirmed_by or reviewers[0],
            created_at=(created[index].confirmed_at or timezone.now()) + timedelta(minutes=5),
            state=Disclosure.State.SEALED,
        )
        for request, index in disclosing
    )


def _rejections(
    rng: random.Random, start: datetime, now: datetime, agencies: list[Agency], count: int
) -> list[IntakeRejection]:
    codes = list(REJECTION_CODES)
    weights = [REJECTION_CODES[c][0] for c in codes]
    found = []
    for _ in range(count):
        code = rng.choices(codes, weights)[0]
        _, status, recognised = REJECTION_CODES[code]
        agency = rng.choice(agencies) if recognised else None
        found.append(
            IntakeRejection(
                at=start + timedelta(seconds=rng.uniform(0, (now - start).total_seconds())),
                channel=rng.choice(("api", "api", "api", "web")),
                code=code,
                status=status,
                detail="Synthetic history.",
                language="en",
                agency=agency,
                key_id=f"ed25519:{_hex(rng)}" if code in ("unknown_key", "bad_signature") else "",
                ip=f"203.0.113.{rng.randrange(1, 255)}",
                body_sha256=_hex(rng),
            )
        )
    return found


def _attack(rng: random.Random, now: datetime) -> list[IntakeRejection]:
    """A week of forged submissions from one network, five weeks ago: the attack signal."""
    monday = (now - timedelta(days=35)).replace(hour=0, minute=0, second=0, microsecond=0)
    monday -= timedelta(days=monday.weekday())
    return [
        IntakeRejection(
            at=monday + timedelta(seconds=rng.uniform(0, 5 * 86400)),
            channel="api",
            code=rng.choice(("bad_signature", "unknown_key", "unknown_key")),
            status=401,
            detail="Synthetic history: forged submissions.",
            language="en",
            key_id=f"ed25519:{_hex(rng)}",
            ip=f"198.51.100.{rng.randrange(1, 30)}",
            body_sha256=_hex(rng),
        )
        for _ in range(140)
    ]


def _publish(
    admin: User, start: datetime, now: datetime, *, new_history: bool, rng: random.Random
) -> list[str]:
    """Publish every past quarter (and year) of the history not yet published."""
    periods = [
        q for q in reversed(quarters_back(now.date(), 6)) if q.start >= start and q.has_ended(now)
    ]
    years = {q.first_day.year for q in periods}
    periods += [
        Period.year(year)
        for year in sorted(years)
        if Period.year(year).start >= start and Period.year(year).has_ended(now)
    ]
    published = []
    for number, period in enumerate(periods):
        if current_snapshot(period.key) is not None:
            continue
        snapshot_publish(actor=admin, period=period, now=now)
        published.append(period.key)
        if number == 0 and new_history:
            # Rejections an API gateway logged while the database was failing over reach
            # the portal late: the first quarter is corrected, as the report shows.
            late = [
                IntakeRejection(
                    at=period.start + timedelta(days=40, hours=hour),
                    channel="api",
                    code="rate_limited",
                    status=429,
                    detail="Synthetic history: logged by the gateway, imported late.",
                    language="en",
                    agency=Agency.objects.filter(country="US").order_by("pk").first(),
                    ip="203.0.113.77",
                    body_sha256=_hex(rng),
                )
                for hour in range(6)
            ]
            IntakeRejection.objects.bulk_create(late)
            snapshot_publish(
                actor=admin,
                period=period,
                now=now,
                reason=(
                    "Six submissions refused by the API gateway during a database failover "
                    "were logged late and are now counted as rejected at intake."
                ),
            )
    return published


def seed_transparency_history(*, now: datetime | None = None) -> HistorySummary:
    """Create a year of history once, then publish what is not yet published."""
    if settings.PRODUCTION:
        raise ImproperlyConfigured("seed_demo refuses to run in production mode.")
    now = now or timezone.now()
    rng = random.Random(SEED)  # noqa: S311  (synthetic demo data, not a secret)
    start = quarters_back(now.astimezone(UTC).date(), 5)[-1].start
    admin = User.objects.get(email=PUBLISHER)
    reviewers = {
        u.email: u
        for u in User.objects.filter(role=Role.REVIEWER, email__in=TEAMS.values()).order_by("email")
    }
    _teams(reviewers)
    new_history = not LegalRequest.objects.filter(case_reference__startswith=CASE_PREFIX).exists()
    if new_history:
        officers = _history_officers(admin)
        ordered = [reviewers[email] for email in TEAMS.values() if email in reviewers]
        _requests(rng, start, now, officers, ordered)
        agencies = [officer.agency for officer in officers.values()]
        days = (now - start).total_seconds() / 86400
        IntakeRejection.objects.bulk_create(
            _rejections(rng, start, now, agencies, int(days * REJECTIONS_PER_DAY))
            + _attack(rng, now)
        )
    _publish(admin, start, now, new_history=new_history, rng=rng)
    return HistorySummary(
        requests=LegalRequest.objects.filter(case_reference__startswith=CASE_PREFIX).count(),
        published=sorted(
            Snapshot.objects.filter(superseded_by__isnull=True).values_list("period_key", flat=True)
        ),
    )
