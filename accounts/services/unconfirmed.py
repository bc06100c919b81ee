"""Registrations whose mailbox was never confirmed, and how they stop holding anything.

A registration reserves an address, and a proposal an agency's name and domain, before
anyone has proved the mailbox. So that such a claim cannot squat, it ends:

- when the mailbox's owner says it was not them (the emailed link offers that);
- when every link sent for it has expired (a periodic task, or a new registration for
  the same address);
- for a proposal, when someone proposes the same agency again: an unproven claim never
  blocks a new one, and whoever proves a mailbox first holds it.

Ending a registration deletes its officer, and the agency it proposed if nothing else
uses it. The user row stays, its address parked under ``.invalid`` and its password
unusable: the audit chain names that user as the actor of the registration, the chain
cannot change, and so the row cannot go; but the address is free for its owner again.
"""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import (
    CharField,
    Exists,
    OuterRef,
    ProtectedError,
    Q,
    QuerySet,
    RestrictedError,
)
from django.db.models.functions import Cast
from django.utils import timezone

from portal.audit import audit_append
from portal.models import AuditEvent

from ..domains import holding_no_claim, unconfirmed_proposal
from ..models import Agency, AgencyDomain, Officer, User
from .throttle import auth_failures_clear

DISCARDED_DOMAIN = "discarded.invalid"
# Why a registration was discarded, as the audit event records it.
NOT_ME = "not_me"
EXPIRED = "expired"
DISPLACED = "displaced"
REASONS = (NOT_ME, EXPIRED, DISPLACED)
LINK_RESENT = "officer.mailbox_link_resent"
# An officer rejected before confirming the mailbox holds the address just the same.
_UNCONFIRMED_STATUSES = (Officer.Status.EMAIL_UNVERIFIED, Officer.Status.REJECTED)
_STILL_USED = (ProtectedError, RestrictedError)
NAME_MAX_LENGTH = 200  # Agency.name


# --- Which registrations have expired -------------------------------------------------------


def _link_cutoff(now: datetime | None) -> datetime:
    return (now or timezone.now()) - timedelta(hours=settings.MAILBOX_LINK_HOURS)


def registrations_expired(*, now: datetime | None = None) -> QuerySet[Officer]:
    """Return the officers whose mailbox was never confirmed and whose every link expired.

    A link lives MAILBOX_LINK_HOURS from when it was sent: at registration, or when the
    officer asked for a new one (the audit chain records each).
    """
    cutoff = _link_cutoff(now)
    recent_link = AuditEvent.objects.filter(
        action=LINK_RESENT,
        target_type=Officer._meta.label_lower,
        target_id=Cast(OuterRef("pk"), output_field=CharField()),
        created_at__gte=cutoff,
    )
    return Officer.objects.filter(
        email_verified_at__isnull=True,
        status__in=_UNCONFIRMED_STATUSES,
        created_at__lt=cutoff,
    ).exclude(Exists(recent_link))


def registration_expired(*, user: User, now: datetime | None = None) -> Officer | None:
    """Return the user's officer if their registration has expired unconfirmed, else None."""
    return registrations_expired(now=now).filter(user=user).first()


# --- Discarding one registration ---------------------------------------------------------


def _agency_discard(agency: Agency) -> dict[str, object]:
    """Delete a proposed agency, or close it if something already refers to it.

    Return what it was, for the audit event: the agency row may be gone afterwards.
    """
    record: dict[str, object] = {
        "agency_id": agency.pk,
        "agency_name": agency.name,
        "domains": sorted(agency.domains.values_list("domain", flat=True)),
    }
    try:
        with transaction.atomic():
            agency.delete()
        return {**record, "agency": "deleted"}
    except _STILL_USED:
        pass
    before = agency.status
    agency.status = Agency.Status.REJECTED
    agency.status_reason = "The proposal was discarded: its proposer never confirmed the mailbox."
    agency.save(update_fields=["status", "status_reason"])
    AgencyDomain.objects.filter(agency=agency).delete()
    audit_append(
        action="agency.proposal_closed",
        target=agency,
        data={
            "before": {"status": before, "domains": record["domains"]},
            "after": {"status": Agency.Status.REJECTED, "domains": []},
        },
    )
    return {**record, "agency": "closed"}


def _officer_discard(officer: Officer) -> str:
    """Delete the officer, or close them if a record (a callback) refers to them."""
    try:
        with transaction.atomic():
            Officer.objects.filter(pk=officer.pk).delete()
        return "deleted"
    except _STILL_USED:
        officer.status = Officer.Status.REJECTED
        officer.status_reason = "The registration was discarded before the mailbox was confirmed."
        officer.save(update_fields=["status", "status_reason"])
        return "closed"


def _user_park(user: User) -> None:
    """Free the address: park it under .invalid, where no mail goes and nobody registers."""
    user.email = f"discarded-{user.pk}@{DISCARDED_DOMAIN}"
    user.full_name = ""
    user.is_active = False
    user.set_unusable_password()
    user.save(update_fields=["email", "full_name", "is_active", "password"])


def registration_discard(
    *, officer_id: int, reason: str, ip: str | None = None, actor: Any = None
) -> bool:
    """Discard a registration whose mailbox was never confirmed; return whether it was.

    Refuses (returns ``False``) once the mailbox is confirmed, and for ``EXPIRED`` while a
    link is still alive: both are checked under the row locks, so a confirmation racing
    the discard wins or loses as a whole.
    """
    if reason not in REASONS:
        raise ValueError(f"Unknown reason {reason!r}.")
    agency_id = Officer.objects.filter(pk=officer_id).values_list("agency_id", flat=True).first()
    if agency_id is None:
        return False
    with transaction.atomic():
        # Agency first, then officer: the order every vetting decision locks in.
        agency = Agency.objects.select_for_update().get(pk=agency_id)
        officer = (
            Officer.objects.select_for_update()
            .select_related("user")
            .filter(pk=officer_id, agency=agency)
            .first()
        )
        if officer is None or officer.email_verified_at is not None:
            return False
        if officer.status not in _UNCONFIRMED_STATUSES:
            return False
        if reason == EXPIRED and not registrations_expired().filter(pk=officer.pk).exists():
            return False
        user = officer.user
        address = user.email
        proposed = agency.proposed_by_id == user.pk and agency.status in (
            Agency.Status.PENDING,
            Agency.Status.REJECTED,
        )
        officer_outcome = _officer_discard(officer)
        agency_record = (
            _agency_discard(agency) if proposed else {"agency_id": agency_id, "agency": "kept"}
        )
        _user_park(user)
        auth_failures_clear(email=address)
        audit_append(
            actor=actor,
            action="registration.discarded",
            target_type=Officer._meta.label_lower,
            target_id=str(officer_id),
            data={
                "reason": reason,
                "email": address,
                "user_id": user.pk,
                "officer": officer_outcome,
                **agency_record,
                "ip": ip,
            },
        )
    return True


def registrations_expired_purge(*, now: datetime | None = None) -> int:
    """Discard every registration whose links all expired unconfirmed; return how many.

    Safe to run twice and alongside registrations: each one is re-checked under its lock.
    """
    discarded = 0
    for officer_id in list(registrations_expired(now=now).values_list("pk", flat=True)):
        discarded += registration_discard(officer_id=officer_id, reason=EXPIRED)
    return discarded


# --- Freeing what a new claim needs ----------------------------------------------------------


def _released_name(agency: Agency) -> str:
    suffix = f" [released #{agency.pk}]"
    return agency.name[: NAME_MAX_LENGTH - len(suffix)] + suffix


def stale_claims_release(
    *,
    domain: str,
    country: str | None = None,
    name: str | None = None,
    ip: str | None = None,
    actor: Any = None,
) -> None:
    """Free a domain (and an agency's country and name) from agencies that hold no claim.

    Call inside the transaction that takes the domain or name. An unconfirmed proposal is
    discarded as a whole (its unconfirmed registrations with it); a rejected agency keeps
    its record but gives up the domain row and, renamed, the name. The audit chain keeps
    what they were.
    """
    named = Q(country=country, name=name) if country and name else Q(pk__in=[])

    def stale_ids() -> list[int]:
        claimless = Agency.objects.filter(holding_no_claim())
        return sorted(
            set(claimless.filter(Q(domains__domain=domain) | named).values_list("pk", flat=True))
        )

    unconfirmed = Agency.objects.filter(unconfirmed_proposal(), pk__in=stale_ids())
    for officer_id in Officer.objects.filter(agency__in=unconfirmed).values_list("pk", flat=True):
        registration_discard(officer_id=officer_id, reason=DISPLACED, ip=ip, actor=actor)
    for agency in Agency.objects.select_for_update().filter(pk__in=stale_ids()).order_by("pk"):
        before: dict[str, object] = {}
        after: dict[str, object] = {}
        if AgencyDomain.objects.filter(agency=agency, domain=domain).delete()[0]:
            before["domain"], after["domain"] = domain, None
        if country and name and agency.country == country and agency.name == name:
            before["name"], after["name"] = agency.name, _released_name(agency)
            agency.name = _released_name(agency)
            agency.save(update_fields=["name"])
        if before:
            audit_append(
                actor=actor,
                action="agency.claims_released",
                target=agency,
                data={"before": before, "after": after, "status": agency.status, "ip": ip},
            )
