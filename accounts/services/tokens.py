"""API tokens: bearer credentials for an officer's case system.

A token is ``ptk_`` + 43 URL-safe characters (256 random bits). It is shown once, at
creation; the portal keeps only its SHA-256 (a token has too much entropy for a slow
hash to add anything) and its first characters to recognise it in lists. A token
expires after at most ``ApiToken.MAX_LIFETIME_DAYS`` and can be revoked at any time.

Using a token proves nothing about the officer's standing: every use checks that the
officer is active and the agency verified, so suspending either ends its tokens at once.
"""

import functools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, models, transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from portal import crypto
from portal.audit import audit_append

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


# The token read of every API call: the token with its officer, the officer's user and
# agency, as ``select_related("officer__user", "officer__agency")`` would read them, in one
# statement. Its SQL is written out once per process from the models' columns: building
# and compiling that queryset through the ORM on every call cost several times what the
# statement itself costs (bench/intake.py). The row is read afresh on every call; only the
# text of the statement is kept.
_TOKEN_JOIN: tuple[tuple[type[models.Model], str, str, str], ...] = (
    # (model, its alias, the alias of the row that points at it, the pointing field)
    (ApiToken, "t", "", ""),
    (Officer, "o", "t", "officer"),
    (User, "u", "o", "user"),
    (Agency, "a", "o", "agency"),
)
type _Converter = Callable[[Any, Any, Any], Any]


@functools.cache
def _token_statement(
    vendor: str,
) -> tuple[str, list[tuple[type[models.Model], list[str], list[tuple[Any, list[_Converter]]]]]]:
    """The statement's SQL, and per model its attribute names and each column's converters."""
    quote = connection.ops.quote_name
    models_by_alias = {alias: model for model, alias, _, _ in _TOKEN_JOIN}
    columns, tables, layout = [], [], []
    for model, alias, parent, pointer in _TOKEN_JOIN:
        fields = list(model._meta.concrete_fields)
        cols = [field.get_col(alias) for field in fields]
        columns += [f"{alias}.{quote(str(field.column))}" for field in fields]
        table = f"{quote(model._meta.db_table)} {alias}"
        if parent:
            via = models_by_alias[parent]._meta.get_field(pointer)
            assert isinstance(via, models.ForeignKey)  # noqa: S101 (fixed joins, by name)
            on = f"{alias}.{quote(str(model._meta.pk.column))} = {parent}.{quote(via.column)}"
            table = f"INNER JOIN {table} ON {on}"
        tables.append(table)
        converters = [
            (col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
            for col in cols
        ]
        layout.append((model, [field.attname for field in fields], converters))
    where = quote(str(ApiToken._meta.get_field("token_hash").column))
    # Only table and column names from the models' metadata; the hash is a parameter.
    sql = f"SELECT {', '.join(columns)} FROM {' '.join(tables)} WHERE t.{where} = %s"  # noqa: S608  (names)
    return sql, layout


def _token_read(digest: str) -> ApiToken | None:
    """The token with this hash, its officer, user and agency loaded with it; or ``None``."""
    sql, layout = _token_statement(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    loaded = []
    start = 0
    for model, attnames, converters in layout:
        values = list(row[start : start + len(attnames)])
        start += len(attnames)
        for index, (col, functions) in enumerate(converters):
            for function in functions:
                values[index] = function(values[index], col, connection)
        loaded.append(model.from_db(connection.alias, attnames, values))
    token, officer = cast(ApiToken, loaded[0]), cast(Officer, loaded[1])
    officer.user = cast(User, loaded[2])
    officer.agency = cast(Agency, loaded[3])
    token.officer = officer
    return token


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
