"""Step 2: the channel is recognised, and the signing key is the officer's own, active key."""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.models import Officer, SigningKey
from portal.compiled import compiled_first
from portal.problems import Problem
from requests_app.lifecycle.models import Channel


@dataclass(frozen=True)
class Lookups:
    """Subqueries to read in the same statement as the sender's key.

    ``build(**values)`` makes them (name -> expression) from ``values(officer)``, this
    request's values: text and integers only, so that the statement can be compiled once
    (``portal.compiled``). ``json`` names the ones whose value is a JSON object.
    """

    build: Callable[..., Mapping[str, Any]]
    values: Callable[[Officer], Mapping[str, Any]]
    json: tuple[str, ...] = ()

    def expressions(self, officer: Officer) -> Mapping[str, Any]:
        return self.build(**self.values(officer))


@dataclass(frozen=True)
class Sender:
    """Who submitted, through which channel, with which key."""

    officer: Officer
    channel: str
    signing_key: SigningKey | None  # API channel
    webauthn_credential: Any = None  # web channel
    # What the caller's ``lookups`` read in the same query as the key (by name).
    looked_up: Mapping[str, Any] = field(default_factory=dict)


def officer_standing_check(officer: Officer | None) -> Officer:
    """Refuse anyone who is not an active officer of a verified agency."""
    if officer is None:
        raise Problem("unauthenticated", 401, _("Only officers of vetted agencies may submit."))
    if officer.agency.status != "verified":
        raise Problem("agency_not_verified", 403, _("Your agency is not verified."))
    if officer.status != Officer.Status.ACTIVE or not officer.user.is_active:
        raise Problem("officer_not_active", 403, _("Your account is not active."))
    return officer


def api_sender(
    *,
    officer: Officer | None,
    signature: dict[str, Any],
    lookups: Lookups | None = None,
) -> Sender:
    """Resolve the sender of an API submission: the token's officer and their key.

    ``lookups(officer)`` gives subqueries (name -> expression) read in the same query as
    the key, so that the reads intake's later steps need cost no round trip of their own;
    their values come back in ``Sender.looked_up``.
    """
    officer = officer_standing_check(officer)
    if signature["alg"] != "ed25519":
        raise Problem("unknown_key", 401, _("The API channel takes ed25519 signatures."))
    key = _key_read(officer=officer, key_id=signature["key_id"], lookups=lookups)
    if key is None:
        # Another officer's key id is answered like an unknown one.
        raise Problem("unknown_key", 401, _("No signing key with this id is enrolled for you."))
    if not key.is_active:
        raise Problem(
            "key_not_active",
            403,
            _("This key’s state is “%(state)s”.") % {"state": key.get_status_display()},
        )
    key.officer = officer  # the officer the token brought: no second read
    return Sender(
        officer=officer,
        channel=Channel.API,
        signing_key=key,
        looked_up={name: getattr(key, name) for name in lookups.json} if lookups else {},
    )


def _key_read(*, officer: Officer, key_id: str, lookups: Lookups | None) -> SigningKey | None:
    """The officer's key with this id, with ``lookups`` read in the same statement."""
    if lookups is None:
        return SigningKey.objects.filter(key_id=key_id, officer=officer).first()

    def build(*, key_id: str, officer_id: int, **values: Any) -> QuerySet[SigningKey]:
        keys = SigningKey.objects.filter(key_id=key_id, officer_id=officer_id)
        return keys.annotate(**lookups.build(**values)).order_by("-created_at", "-pk")

    key = compiled_first(
        ("api_sender", lookups.build),
        build,
        {"key_id": key_id, "officer_id": officer.pk, **lookups.values(officer)},
    )
    if key is not None:
        for name in lookups.json:
            # A JSON annotation arrives decoded (its field's converter); as text if the
            # database gave it so.
            value = getattr(key, name, None)
            if isinstance(value, str | bytes | bytearray):
                setattr(key, name, json.loads(value))
    return key
