"""Officer registration and the proof of an officer's mailbox.

A registration creates an inactive user and an officer waiting for the mailbox link
(and, for an agency not yet known, a pending agency with its one domain). Until the
mailbox is confirmed none of that holds anything against anyone else: see
``accounts.services.unconfirmed`` for how such registrations end. The link is
signed, expires after ``MAILBOX_LINK_HOURS`` and works once: it carries a fingerprint of
the officer's mailbox state, which changes when the mailbox is verified. Following it
also asks for the password chosen at registration, so that someone who registers
another person's address cannot take over the account when its owner clicks the link.

Public forms must not tell who has an account: a repeated registration and a request
for a new link answer exactly as the real thing does, and send nothing that grants
access.
"""

from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import idna
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from portal.audit import audit_append
from portal.models import AuditEvent

from ..domains import (
    DomainError,
    canonical_email,
    domain_owner,
    email_domain,
    holding_claims,
    lookalike_domain_problem,
    official_domain_problem,
)
from ..models import Agency, AgencyDomain, Officer, Role, User
from ..preferences import language_valid, recipient_locale
from .throttle import auth_failure_record, auth_failures_clear, lockout_seconds
from .unconfirmed import EXPIRED, registration_discard, registration_expired, stale_claims_release

MAILBOX_LINK_SALT = "accounts.registration.mailbox-link"
# Limits on what anyone on the internet can make the portal store or send.
REGISTRATIONS_PER_ADDRESS_PER_HOUR = 10
LINKS_PER_OFFICER_PER_HOUR = 3
NOTES_PER_ACCOUNT_PER_HOUR = 3


@dataclass(frozen=True)
class AgencyProposal:
    """An agency an officer proposes because theirs is not listed yet.

    ``domain`` is normalised (IDNA ASCII form) and ``callback_phone`` is E.164.
    """

    name: str
    country: str
    kind: str
    domain: str
    callback_phone: str


class MailboxLinkRefused(Exception):
    """A mailbox link that cannot verify anything; ``reason`` says why.

    ``expired``: older than MAILBOX_LINK_HOURS; ``used``: the mailbox is already
    verified; ``discarded``: the registration was discarded or closed before its
    mailbox was confirmed; ``invalid``: altered, or made for a state the officer is no
    longer in.
    """

    def __init__(self, reason: str, officer: Officer | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.officer = officer


# --- Rules ---------------------------------------------------------------------------------


def _domains_for_people(agency: Agency) -> str:
    names = []
    for official in agency.domains.all():
        shown = idna.decode(official.domain)
        names.append(
            gettext("%(domain)s (or a subdomain)") % {"domain": shown}
            if official.allow_subdomains
            else shown
        )
    return gettext(" or ").join(names) or gettext("its official domain")


def _taken_domain_message(owner: AgencyDomain) -> str:
    if owner.agency.is_verified:
        return gettext(
            "This domain belongs to %(agency)s. If that is your agency, choose it "
            "from the list instead of proposing it."
        ) % {"agency": owner.agency.name}
    return gettext(
        "This domain was already proposed for an agency that is waiting for verification. "
        "You can register once the platform has verified it."
    )


def registration_refusals(
    *, email: str, agency: Agency | None, proposal: AgencyProposal | None
) -> dict[str, str]:
    """Return why these details cannot register, by form field; empty when they can.

    The address must be on one of the chosen agency's domains (the most specific match
    among all agencies), or exactly on the proposed domain, which no agency may hold yet.
    Rejected agencies and unconfirmed proposals hold no domain and no name.
    """
    try:
        address_domain = email_domain(email)
    except DomainError as exc:
        return {"email": str(exc)}
    errors: dict[str, str] = {}
    problem = official_domain_problem(address_domain)
    if problem is not None:
        errors["email"] = problem

    if proposal is not None:
        owner = domain_owner(proposal.domain)
        problem = official_domain_problem(proposal.domain)
        if problem is None and owner is None:
            problem = lookalike_domain_problem(proposal.domain, country=proposal.country)
        if problem is not None:
            errors["new_agency_domain"] = problem
        elif owner is not None:
            errors["new_agency_domain"] = _taken_domain_message(owner)
        elif address_domain != proposal.domain:
            shown = idna.decode(proposal.domain)
            errors.setdefault(
                "email",
                gettext("Your address must be on the domain you propose: name@%(domain)s.")
                % {"domain": shown},
            )
        same_name = Agency.objects.filter(country=proposal.country, name__iexact=proposal.name)
        if same_name.filter(holding_claims()).exists():
            errors["new_agency_name"] = gettext(
                "An agency of this name in this country is already known. Choose it from the "
                "list, or wait until the platform has verified it."
            )
    elif agency is not None:
        if not agency.is_verified:
            errors["agency"] = gettext("Choose a verified agency from the list.")
        owner = domain_owner(address_domain)
        if owner is None or owner.agency_id != agency.pk:
            errors.setdefault(
                "email",
                gettext(
                    "This address is not on an official domain of %(agency)s. "
                    "Use your address at %(domains)s."
                )
                % {"agency": agency.name, "domains": _domains_for_people(agency)},
            )
    else:
        errors["agency"] = gettext("Choose your agency, or propose a new one.")
    return errors


def _recent_events(*, action: str, target: Any, hours: int = 1) -> int:
    return AuditEvent.objects.filter(
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        created_at__gte=timezone.now() - timedelta(hours=hours),
    ).count()


def registration_allowed(*, ip: str | None) -> bool:
    """Whether the address may register again (the audit chain holds the count)."""
    if not ip:
        return True
    recent = AuditEvent.objects.filter(
        action__in=["officer.registered", "account.registration_repeated"],
        created_at__gte=timezone.now() - timedelta(hours=1),
        data__ip=ip,
    )
    return recent.count() < REGISTRATIONS_PER_ADDRESS_PER_HOUR


def mailbox_unconfirmed(*, user: Any) -> bool:
    """Whether the user is an officer who has not yet followed the mailbox link."""
    return Officer.objects.filter(user=user, status=Officer.Status.EMAIL_UNVERIFIED).exists()


# --- The mailbox link ------------------------------------------------------------------------


def _mailbox_fingerprint(officer: Officer) -> str:
    # Changes once the mailbox is verified or the address changes: the link is single-use.
    state = f"{officer.pk}|{officer.user.email}|{officer.email_verified_at}|{officer.status}"
    return salted_hmac(MAILBOX_LINK_SALT, state, algorithm="sha256").hexdigest()[:32]


def mailbox_token_make(*, officer: Officer) -> str:
    """Return the signed, timestamped token of an officer's mailbox link."""
    return signing.dumps(
        {"officer": officer.pk, "state": _mailbox_fingerprint(officer)}, salt=MAILBOX_LINK_SALT
    )


def _officer_in(payload: Any) -> Officer | None:
    if not isinstance(payload, dict) or not isinstance(payload.get("officer"), int):
        return None
    return Officer.objects.select_related("user", "agency").filter(pk=payload["officer"]).first()


def mailbox_link_officer(*, token: str) -> Officer:
    """Return the officer whose mailbox the link verifies, or raise ``MailboxLinkRefused``."""
    max_age = timedelta(hours=settings.MAILBOX_LINK_HOURS)
    try:
        payload = signing.loads(token, salt=MAILBOX_LINK_SALT, max_age=max_age)
    except signing.SignatureExpired:
        # The signature is ours and only old: say whose link it was, for the audit.
        raise MailboxLinkRefused(
            "expired", _officer_in(signing.loads(token, salt=MAILBOX_LINK_SALT))
        ) from None
    except signing.BadSignature:
        raise MailboxLinkRefused("invalid") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("officer"), int):
        raise MailboxLinkRefused("invalid")
    officer = _officer_in(payload)
    if officer is None:
        # Our signature, for an officer who no longer exists: the registration was discarded.
        raise MailboxLinkRefused("discarded")
    if officer.email_verified_at is not None:
        raise MailboxLinkRefused("used", officer)
    if officer.status != Officer.Status.EMAIL_UNVERIFIED:
        raise MailboxLinkRefused("discarded", officer)
    if not constant_time_compare(str(payload.get("state")), _mailbox_fingerprint(officer)):
        raise MailboxLinkRefused("invalid", officer)
    return officer


def _mailbox_link_url(officer: Officer, *, view: str = "mailbox-verify") -> str:
    # The portal's configured origin, never the request's Host header: a forged Host
    # must not turn the link into one that leads elsewhere.
    token = mailbox_token_make(officer=officer)
    return settings.PORTAL_AUDIENCE + reverse(view, args=[token])


def _mail(*, to: User, subject: str | Promise, template: str, context: dict[str, Any]) -> None:
    """Render and send one mail in its recipient's language and time zone."""
    with recipient_locale(to):
        body = render_to_string(template, context)
        subject_text = str(subject)
    EmailMessage(subject=subject_text, body=body, to=[to.email]).send()


def _mail_mailbox_link(officer: Officer) -> None:
    transaction.on_commit(
        partial(
            _mail,
            to=officer.user,
            subject=_("Confirm your mailbox for the authority portal"),
            template="accounts/email/mailbox_link.txt",
            # Nothing the registrant typed goes into the message: the portal must not carry
            # someone's text to an official mailbox that is not theirs.
            context={
                "email": officer.user.email,
                "link": _mailbox_link_url(officer),
                "discard_link": _mailbox_link_url(officer, view="register-discard"),
                "hours": settings.MAILBOX_LINK_HOURS,
                "resend_url": settings.PORTAL_AUDIENCE + reverse("register-mailbox"),
            },
        )
    )


# --- Services ----------------------------------------------------------------------------------


def _registration_repeated(*, user: User, password: str, ip: str | None) -> None:
    """Answer a registration for a taken address: audit it, tell the owner, grant nothing."""
    # Hash the password anyway, so that the answer takes as long as a real registration.
    make_password(password)
    with transaction.atomic():
        quiet = (
            _recent_events(action="account.registration_repeated", target=user)
            >= NOTES_PER_ACCOUNT_PER_HOUR
        )
        audit_append(
            actor=None,
            action="account.registration_repeated",
            target=user,
            data={"ip": ip, "note_sent": not quiet},
        )
        if not quiet:
            transaction.on_commit(
                partial(
                    _mail,
                    to=user,
                    subject=_("Someone tried to register with your address"),
                    template="accounts/email/registration_repeated.txt",
                    context={
                        "email": user.email,
                        "login_url": settings.PORTAL_AUDIENCE + reverse("login"),
                        "resend_url": settings.PORTAL_AUDIENCE + reverse("register-mailbox"),
                    },
                )
            )


def officer_register(
    *,
    full_name: str,
    title: str,
    badge_number: str,
    email: str,
    password: str,
    agency: Agency | None = None,
    proposal: AgencyProposal | None = None,
    ip: str | None = None,
    supervisor: bool = False,
    language: str = "",
) -> Officer | None:
    """Register an officer and mail the mailbox link; ``None`` if the address is taken.

    ``supervisor`` registers the agency's supervisor instead (``Role.SUPERVISOR``), vetted
    the same way; the administrator confirms the role on the callback.

    Raise ``ValidationError`` (by form field) when the details break a rule of
    ``registration_refusals``. The caller answers both outcomes the same way.
    """
    if agency is not None and proposal is not None:
        raise ValueError("Give an agency or a proposal, not both.")
    try:
        address = canonical_email(email)
    except DomainError as exc:
        raise ValidationError({"email": str(exc)}) from exc
    errors = registration_refusals(email=address, agency=agency, proposal=proposal)
    if errors:
        raise ValidationError(errors)

    existing = User.objects.filter(email__iexact=address).first()
    if existing is not None:
        expired = registration_expired(user=existing)
        if expired is None or not registration_discard(
            officer_id=expired.pk, reason=EXPIRED, ip=ip
        ):
            _registration_repeated(user=existing, password=password, ip=ip)
            return None
    try:
        with transaction.atomic():
            if proposal is not None:
                stale_claims_release(
                    domain=proposal.domain, country=proposal.country, name=proposal.name, ip=ip
                )
            user = User.objects.create_user(
                address,
                password,
                full_name=full_name,
                role=Role.SUPERVISOR if supervisor else Role.OFFICER,
                is_active=False,
                # The language the form was read in: the mailbox link mail is written in it.
                language=language if language_valid(language) else "",
            )
            if proposal is not None:
                agency = Agency.objects.create(
                    name=proposal.name,
                    country=proposal.country,
                    kind=proposal.kind,
                    callback_phone=proposal.callback_phone,
                    status=Agency.Status.PENDING,
                    proposed_by=user,
                )
                AgencyDomain.objects.create(agency=agency, domain=proposal.domain)
                audit_append(
                    actor=user,
                    action="agency.proposed",
                    target=agency,
                    data={
                        "after": {
                            "name": proposal.name,
                            "country": proposal.country,
                            "kind": proposal.kind,
                            "domain": proposal.domain,
                            "callback_phone": proposal.callback_phone,
                            "status": Agency.Status.PENDING,
                        },
                        "ip": ip,
                    },
                )
            if agency is None:
                raise ValueError("Give an agency or a proposal.")
            officer = Officer.objects.create(
                user=user,
                agency=agency,
                title=title,
                badge_number=badge_number,
                status=Officer.Status.EMAIL_UNVERIFIED,
                supervisor_proposed_at=timezone.now() if supervisor else None,
            )
            audit_append(
                actor=user,
                action="officer.registered",
                target=officer,
                data={
                    "after": {
                        "email": address,
                        "agency": agency.pk,
                        "title": title,
                        "badge_number": badge_number,
                        "status": Officer.Status.EMAIL_UNVERIFIED,
                        "role": str(user.role),
                    },
                    "ip": ip,
                },
            )
            _mail_mailbox_link(officer)
    except IntegrityError:
        # A concurrent registration took the address, the domain or the agency name first.
        existing = User.objects.filter(email__iexact=address).first()
        if existing is not None:
            _registration_repeated(user=existing, password=password, ip=ip)
            return None
        errors = registration_refusals(email=address, agency=agency, proposal=proposal)
        if errors:
            raise ValidationError(errors) from None
        raise
    return officer


def officer_mailbox_password_check(
    *, officer: Officer, password: str, ip: str | None
) -> str | None:
    """Check the password chosen at registration before the link verifies the mailbox.

    Return what is wrong, or ``None``. Failures count towards the account's lockout.
    """
    user = officer.user
    locked = lockout_seconds(email=user.email, ip=ip)
    if not locked:
        if user.check_password(password):
            auth_failures_clear(email=user.email)
            return None
        locked = auth_failure_record(kind="password", email=user.email, ip=ip, user=user)
        if not locked:
            return gettext("That is not the password you chose when you registered.")
    minutes = max(1, (locked + 59) // 60)
    return ngettext(
        "Too many failed attempts. Try again in %(count)d minute.",
        "Too many failed attempts. Try again in %(count)d minutes.",
        minutes,
    ) % {"count": minutes}


def officer_mailbox_verify(*, officer: Officer) -> Officer:
    """Record that the officer's mailbox is theirs; the account may now log in.

    Raise ``MailboxLinkRefused("used")`` if another request verified it first.
    """
    with transaction.atomic():
        current = Officer.objects.select_for_update().select_related("user").get(pk=officer.pk)
        if (
            current.email_verified_at is not None
            or current.status != Officer.Status.EMAIL_UNVERIFIED
        ):
            raise MailboxLinkRefused("used", current)
        current.email_verified_at = timezone.now()
        current.status = Officer.Status.PENDING
        current.save(update_fields=["email_verified_at", "status"])
        user = current.user
        user.is_active = True
        user.save(update_fields=["is_active"])
        audit_append(
            actor=user,
            action="officer.mailbox_verified",
            target=current,
            data={
                "email": user.email,
                "before": {"status": Officer.Status.EMAIL_UNVERIFIED, "is_active": False},
                "after": {"status": Officer.Status.PENDING, "is_active": True},
            },
        )
    return current


def officer_mailbox_link_refuse(*, refusal: MailboxLinkRefused, ip: str | None) -> None:
    """Audit a refused mailbox link (expired, altered or used); nothing else changes."""
    with transaction.atomic():
        audit_append(
            actor=None,
            action="officer.mailbox_link_refused",
            target=refusal.officer,
            target_type="" if refusal.officer else "mailbox_link",
            data={"reason": refusal.reason, "ip": ip},
        )


def officer_mailbox_link_resend(*, email: str, ip: str | None) -> None:
    """Mail a new link if the address waits for verification; silent in every other case.

    At most LINKS_PER_OFFICER_PER_HOUR links an hour, so the form cannot flood a mailbox.
    """
    try:
        address = canonical_email(email)
    except DomainError:
        return
    officer = (
        Officer.objects.select_related("user", "agency")
        .filter(user__email=address, status=Officer.Status.EMAIL_UNVERIFIED)
        .first()
    )
    if officer is None:
        return
    with transaction.atomic():
        if (
            _recent_events(action="officer.mailbox_link_resent", target=officer)
            >= LINKS_PER_OFFICER_PER_HOUR
        ):
            return
        audit_append(
            actor=None, action="officer.mailbox_link_resent", target=officer, data={"ip": ip}
        )
        _mail_mailbox_link(officer)
