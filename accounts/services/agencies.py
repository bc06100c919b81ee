"""An agency's official email domains, kept by vetting administrators.

An agency has one or more domains; an address matches a domain exactly, or one of its
subdomains where the agency allows them. A domain is added under the same rules a
registration proposes one by (IDNA form, no free mail, no lookalike, nobody else's), and
every change carries a reason and writes an audit event in its transaction.

Removing a domain, or no longer accepting its subdomains, does not touch the officers
whose addresses were on it: the page warns about them and the event names them, and the
administrator decides about each (the vetting pages suspend). A verified agency keeps at
least one domain, so that it always has an address its officers can be matched against.
"""

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from portal.audit import audit_append

from ..domains import (
    DomainError,
    domain_owner,
    lookalike_domain_problem,
    normalise_domain,
    officers_stranded,
    official_domain_problem,
)
from ..models import Agency, AgencyDomain, Officer, Role, User
from .unconfirmed import stale_claims_release
from .vetting import REASON_MAX_LENGTH, VettingRefused


def _require_vetting_admin(actor: User) -> None:
    if actor.role != Role.VETTING_ADMIN or not actor.is_active:
        raise PermissionDenied


def _reason_clean(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise VettingRefused(gettext("Give a reason."))
    if len(text) > REASON_MAX_LENGTH:
        raise VettingRefused(
            gettext("Keep the reason under %(count)d characters.") % {"count": REASON_MAX_LENGTH}
        )
    return text


def agency_domain_problem(*, agency: Agency, domain: str) -> str | None:
    """Say why a normalised domain cannot be added to the agency, or ``None``.

    The same rules as a proposal at registration: see ``registration_refusals``.
    """
    if agency.status == Agency.Status.REJECTED:
        return gettext("This agency was rejected: its record is closed.")
    problem = official_domain_problem(domain) or lookalike_domain_problem(
        domain, country=str(agency.country), agency=agency
    )
    if problem is not None:
        return problem
    if agency.domains.filter(domain=domain).exists():
        return gettext("This domain is already one of the agency's domains.")
    owner = domain_owner(domain)
    if owner is not None and owner.agency_id != agency.pk:
        names = {"agency": owner.agency.name, "country": owner.agency.country}
        if owner.domain == domain:
            return gettext("This domain belongs to %(agency)s (%(country)s).") % names
        return gettext(
            "This domain belongs to %(agency)s (%(country)s) as a subdomain of its domain "
            "%(domain)s."
        ) % {**names, "domain": owner.domain}
    return None


def _domain_record(official: AgencyDomain) -> dict[str, object]:
    return {"domain": official.domain, "allow_subdomains": official.allow_subdomains}


def agency_domain_add(
    *, agency: Agency, actor: User, domain: str, allow_subdomains: bool, reason: str
) -> AgencyDomain:
    """Add an official domain to an agency; refuse one the rules do not allow."""
    _require_vetting_admin(actor)
    reason = _reason_clean(reason)
    try:
        normalised = normalise_domain((domain or "").strip().removeprefix("@"))
    except DomainError as exc:
        raise VettingRefused(str(exc)) from exc
    try:
        with transaction.atomic():
            locked = Agency.objects.select_for_update().get(pk=agency.pk)
            problem = agency_domain_problem(agency=locked, domain=normalised)
            if problem is not None:
                raise VettingRefused(problem)
            # A rejected agency or an unconfirmed proposal may still have the row.
            stale_claims_release(domain=normalised, actor=actor)
            official = AgencyDomain.objects.create(
                agency=locked, domain=normalised, allow_subdomains=allow_subdomains
            )
            audit_append(
                actor=actor,
                action="agency.domain_added",
                target=locked,
                data={"after": _domain_record(official), "reason": reason},
            )
    except IntegrityError:
        # Another administrator or a registration took the domain at the same moment.
        raise VettingRefused(gettext("This domain was just taken; reload the page.")) from None
    return official


def domain_change_stranded(
    *, agency: Agency, official: AgencyDomain, remove: bool = False, allow: bool | None = None
) -> list[Officer]:
    """Return the officers a change to one domain would take off all the agency's domains.

    The change is removing ``official`` or setting its ``allow_subdomains`` to ``allow``.
    """
    before = list(agency.domains.all())
    after = [
        AgencyDomain(
            pk=domain.pk,
            agency_id=domain.agency_id,
            domain=domain.domain,
            allow_subdomains=domain.allow_subdomains if allow is None else allow,
        )
        if domain.pk == official.pk
        else domain
        for domain in before
        if not (remove and domain.pk == official.pk)
    ]
    return officers_stranded(agency=agency, before=before, after=after)


def _lock_domain(*, agency: Agency, domain_id: int) -> tuple[Agency, AgencyDomain]:
    locked = Agency.objects.select_for_update().get(pk=agency.pk)
    official = AgencyDomain.objects.select_for_update().filter(pk=domain_id, agency=locked).first()
    if official is None:
        raise VettingRefused(gettext("That domain is no longer one of the agency's domains."))
    return locked, official


def agency_domain_remove(*, agency: Agency, actor: User, domain_id: int, reason: str) -> None:
    """Remove one of the agency's domains; a verified agency keeps at least one."""
    _require_vetting_admin(actor)
    reason = _reason_clean(reason)
    with transaction.atomic():
        locked, official = _lock_domain(agency=agency, domain_id=domain_id)
        remaining = list(locked.domains.exclude(pk=official.pk))
        if not remaining and locked.status == Agency.Status.VERIFIED:
            raise VettingRefused(
                gettext(
                    "A verified agency needs at least one official domain: add its new domain "
                    "before you remove the last one."
                )
            )
        stranded = domain_change_stranded(agency=locked, official=official, remove=True)
        before = _domain_record(official)
        official.delete()
        audit_append(
            actor=actor,
            action="agency.domain_removed",
            target=locked,
            data={
                "before": before,
                "reason": reason,
                "officers_off_domain": [officer.pk for officer in stranded],
            },
        )


def agency_domain_subdomains_set(
    *, agency: Agency, actor: User, domain_id: int, allow: bool, reason: str
) -> AgencyDomain:
    """Accept, or stop accepting, addresses on the subdomains of one of the agency's domains."""
    _require_vetting_admin(actor)
    reason = _reason_clean(reason)
    with transaction.atomic():
        locked, official = _lock_domain(agency=agency, domain_id=domain_id)
        if locked.status == Agency.Status.REJECTED:
            raise VettingRefused(gettext("This agency was rejected: its record is closed."))
        if official.allow_subdomains == allow:
            message = (
                gettext("Subdomains of %(domain)s are already accepted.")
                if allow
                else gettext("Subdomains of %(domain)s are already not accepted.")
            )
            raise VettingRefused(message % {"domain": official.domain})
        before = _domain_record(official)
        stranded = domain_change_stranded(agency=locked, official=official, allow=allow)
        official.allow_subdomains = allow
        official.save(update_fields=["allow_subdomains"])
        audit_append(
            actor=actor,
            action="agency.domain_subdomains_changed",
            target=locked,
            data={
                "before": before,
                "after": _domain_record(official),
                "reason": reason,
                "officers_off_domain": [officer.pk for officer in stranded],
            },
        )
    return official
