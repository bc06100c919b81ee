"""API tokens: bearer credentials for an officer's case system.

A token is ``ptk_`` + 43 URL-safe characters (256 random bits). It is shown once, at
creation; the portal keeps only its SHA-256 (a token has too much entropy for a slow
hash to add anything) and its first characters to recognise it in lists. A token
expires after at most ``ApiToken.MAX_LIFETIME_DAYS`` and can be revoked at any time.

Using a token proves nothing about the officer's standing: every use checks that the
officer is active and the agency verified, so suspending either ends its tokens at once.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from portal import crypto
from portal.audit import audit_append
from portal.compiled import compiled_first

from ..models import Agency, ApiToken, Officer, Role, User
from ..preferences import recipient_locale

TOKEN_PREFIX = "ptk_"  # noqa: S105  (a public marker, not a secret)
TOKEN_RANDOM_BYTES = 32  # token_urlsafe(32) is 43 characters
TOKEN_PATTERN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")
# How much of the token the lists show: the fixed prefix and 8 random characters.
DISPLAY_PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
DEFAULT_LIFETIME_DAYS = 30
MIN_LIFETIME_DAYS = 1
MAX_NAME_LENGTH = 120
# A token's last use is written at most this often, not on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


class TokenRefused(Exception):
    """A token the portal will not create, or a change it will not make."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class TokenNotFound(Exception):
    """No such token among the officer's own."""


class TokenInvalid(Exception):
    """The presented token is malformed, unknown, expired or revoked (401)."""


class TokenOwnerNotActive(Exception):
    """The token is valid but its officer or agency may not act now (403).

    ``code`` is the problem code of PROTOCOL §5: ``officer_not_active`` or
    ``agency_not_verified``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CreatedToken:
    """A new token and its secret, which exists only in this object and the page."""

    token: ApiToken
    secret: str


def token_hash(secret: str) -> str:
    return crypto.sha256_hex(secret.encode("ascii"))


def api_tokens_of_officer(*, officer: Officer) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(officer=officer).order_by("-created_at", "-pk")


def api_token_get_for_officer(*, officer: Officer, token_pk: int) -> ApiToken:
    """Return one of the officer's own tokens, or raise ``TokenNotFound``."""
    token = ApiToken.objects.filter(
        pk=token_pk,
        officer=officer,
    ).first()
    if token is None:
        raise TokenNotFound
    return token


def api_token_create(
    *,
    officer: Officer,
    actor: User,
    name: str,
    lifetime_days: int = DEFAULT_LIFETIME_DAYS,
) -> CreatedToken:
    """Create a token for an active officer; return it with its secret (shown once)."""
    name = " ".join((name or "").split())
    if not name:
        raise TokenRefused(
            gettext("Name the token after the system that will use it."), field="name"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise TokenRefused(
            gettext("The name can be at most %(count)d characters.") % {"count": MAX_NAME_LENGTH},
            field="name",
        )
    if not (MIN_LIFETIME_DAYS <= lifetime_days <= ApiToken.MAX_LIFETIME_DAYS):
        raise TokenRefused(
            gettext("A token lives between %(min)d and %(max)d days.")
            % {"min": MIN_LIFETIME_DAYS, "max": ApiToken.MAX_LIFETIME_DAYS},
            field="lifetime_days",
        )
    standing = officer_standing_problem(officer)
    if standing is not None or actor.pk != officer.user_id:
        raise TokenRefused(
            gettext("Only an active officer of a verified agency can create tokens.")
        )

    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_RANDOM_BYTES)
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            officer=officer,
            name=name,
            prefix=secret[:DISPLAY_PREFIX_LENGTH],
            token_hash=token_hash(secret),
            created_at=now,
            expires_at=now + timedelta(days=lifetime_days),
        )
        audit_append(
            actor=actor,
            action="api_token.created",
            target=token,
            data={
                "officer_id": officer.pk,
                "name": name,
                "prefix": token.prefix,
                "lifetime_days": lifetime_days,
                "expires_at": token.expires_at,
            },
        )
        api_token_created_notify(token=token, user=officer.user)
    return CreatedToken(token=token, secret=secret)


def api_token_created_notify(*, token: ApiToken, user: User) -> None:
    """Email the officer that a token was created, once it commits.

    A token is a credential that works without the second factor: its owner must hear of
    one made by someone else in their session. The mail names the token and when it was
    made; it carries neither the secret nor a link to follow.
    """
    with recipient_locale(user):
        body = render_to_string(
            "accounts/email/api_token_created.txt",
            {
                "name": token.name,
                "prefix": token.prefix,
                "at": token.created_at,
                "expires_at": token.expires_at,
                "tokens_url": settings.PORTAL_AUDIENCE + reverse("api-tokens"),
            },
        )
        subject = gettext("An API token was created for your authority portal account")
    message = EmailMessage(subject=subject, body=body, to=[user.email])
    # robust: a mail server failure must not undo or hide a token that was made.
    transaction.on_commit(partial(message.send), robust=True)


def api_token_revoke(*, token: ApiToken, actor: User, reason: str = "") -> ApiToken:
    """Revoke a token at once; it stays listed as revoked.

    ``reason`` is kept in the audit event when someone other than the owner revokes (an
    agency supervisor).
    """
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            raise TokenRefused(gettext("This token is already revoked."))
        token.revoked_at = timezone.now()
        token.revoked_by = actor
        token.save(update_fields=["revoked_at", "revoked_by"])
        audit_append(
            actor=actor,
            action="api_token.revoked",
            target=token,
            data={
                "officer_id": token.officer_id,
                "name": token.name,
                "prefix": token.prefix,
                "expired": token.expires_at <= token.revoked_at,
                **({"reason": reason} if reason else {}),
            },
        )
    return token


def api_tokens_revoke_all(*, user: User, actor: User, reason: str) -> int:
    """Revoke every live token of ``user`` (an officer's; others have none); return how many.

    Called inside the transaction of a password reset (always) or change (if asked): each
    revocation is audited with the reason. The caller holds the transaction.
    """
    now = timezone.now()
    tokens = list(
        ApiToken.objects.select_for_update()
        .filter(officer__user=user, revoked_at__isnull=True, expires_at__gt=now)
        .order_by("pk")
    )
    for token in tokens:
        token.revoked_at = now
        token.revoked_by = actor
        token.save(update_fields=["revoked_at", "revoked_by"])
        audit_append(
            actor=actor,
            action="api_token.revoked",
            target=token,
            data={
                "officer_id": token.officer_id,
                "name": token.name,
                "prefix": token.prefix,
                "expired": False,
                "reason": reason,
            },
        )
    return len(tokens)


def officer_standing_problem(officer: Officer) -> TokenOwnerNotActive | None:
    """Return why an officer may not use the API now, or ``None`` if they may."""
    if (
        officer.status != Officer.Status.ACTIVE
        or not officer.user.is_active
        or officer.user.role != Role.OFFICER
    ):
        return TokenOwnerNotActive(
            "officer_not_active", gettext("The officer's account is not active.")
        )
    if officer.agency.status != Agency.Status.VERIFIED:
        return TokenOwnerNotActive(
            "agency_not_verified", gettext("The officer's agency is not verified or is suspended.")
        )
    return None


def api_token_authenticate(*, secret: str, ip: str | None) -> ApiToken:
    """Return the usable token for a presented secret, with its officer, or raise.

    ``TokenInvalid`` for anything that is not a live token (the caller cannot tell
    which); ``TokenOwnerNotActive`` when the token is live but its officer or agency may
    not act. Records the last use at most once a minute.
    """
    if not TOKEN_PATTERN.fullmatch(secret):
        raise TokenInvalid
    token = _token_read(token_hash(secret))
    now = timezone.now()
    if token is None or not token.is_usable(now):
        raise TokenInvalid
    problem = officer_standing_problem(token.officer)
    if problem is not None:
        raise problem
    _record_use(token, now=now, ip=ip)
    return token


def _token_query(*, digest: str) -> QuerySet[ApiToken]:
    return ApiToken.objects.select_related("officer__user", "officer__agency").filter(
        token_hash=digest
    )


def _token_read(digest: str) -> ApiToken | None:
    """The token with this hash, its officer, user and agency loaded with it; or ``None``.

    Every API call reads it: its SQL is compiled once per process (``portal.compiled``),
    the row read afresh each time.
    """
    return compiled_first("accounts.api_token", _token_query, {"digest": digest})


def _record_use(token: ApiToken, *, now: datetime, ip: str | None) -> None:
    # One conditional UPDATE: the first request of a minute writes, from whichever
    # worker; the rest match no row or are skipped before the query. No audit event: a
    # use changes no state, and the chain's lock must not be taken on every API call.
    stale = now - LAST_USED_PRECISION
    if token.last_used_at is not None and token.last_used_at > stale:
        return
    updated = (
        ApiToken.objects.filter(pk=token.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale))
        .update(last_used_at=now, last_used_ip=ip)
    )
    if updated:
        token.last_used_at, token.last_used_ip = now, ip
