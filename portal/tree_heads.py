"""Signed tree heads of the audit log: sign, verify, time-stamp, send to witnesses.

A tree head is ``{tree_size, root_hash, timestamp}``, signed with the portal's Ed25519 key
over its RFC 8785 encoding (exactly these three members, so a head is never mistaken for
a receipt, which the same key signs over other members). ``head_document`` is what the
API publishes and witnesses receive; ``head_verify`` is what ``verify_audit --against``
and anyone with ``openssl pkeyutl -verify`` check (docs/audit-log.md).

Publication: the newest head is time-stamped by an RFC 3161 authority (AUDIT_TSA_URL,
over SHA-256 of the head's signature: the portal had signed that head by then) and sent
to the witnesses (AUDIT_WITNESS_EMAILS, AUDIT_WITNESS_WEBHOOKS), at most once every
AUDIT_PUBLISH_INTERVAL_SECONDS: the sequencer signs a head every few seconds while events
come in, and a witness needs the newest now and then, not each one.
"""

import base64
import binascii
import json
import logging
import re
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import rfc8785
from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import crypto
from .canonical import canonical_time
from .models import AuditPublication, AuditTreeHead

logger = logging.getLogger(__name__)

HEX64 = re.compile(r"[0-9a-f]{64}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
TSA_TIMEOUT = 10
TSA_MAX_RESPONSE = 64 * 1024
TSA_CONTENT_TYPE = "application/timestamp-query"

# POSTs ``body`` to ``url`` with ``content_type``, returns the answer's bytes.
Transport = Callable[[str, bytes, str], bytes]


class HeadInvalid(Exception):
    """A tree head that is malformed or whose signature does not hold."""


def head_message(tree_size: int, root_hash: str, timestamp: str) -> bytes:
    """The bytes the portal signs: RFC 8785 of ``{root_hash, timestamp, tree_size}``."""
    return rfc8785.dumps({"tree_size": tree_size, "root_hash": root_hash, "timestamp": timestamp})


def head_create(tree_size: int, root: bytes, horizon: int) -> AuditTreeHead:
    """Sign and store the head of the tree of ``tree_size`` leaves (caller's transaction)."""
    now = timezone.now()
    timestamp = canonical_time(now)
    root_hash = root.hex()
    signature = crypto.portal_sign(head_message(tree_size, root_hash, timestamp))
    return AuditTreeHead.objects.create(
        tree_size=tree_size,
        root_hash=root_hash,
        timestamp=timestamp,
        key_id=crypto.ed25519_key_id(crypto.portal_signing_key().public_key()),
        signature=base64.b64encode(signature).decode("ascii"),
        horizon=horizon,
        created_at=now,
    )


def head_document(head: AuditTreeHead) -> dict[str, Any]:
    """The signed head as published; ``rfc3161`` once a time-stamping authority answered."""
    document: dict[str, Any] = {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "timestamp": head.timestamp,
        "alg": "ed25519",
        "key_id": head.key_id,
        "signature": head.signature,
        "rfc3161": None,
    }
    publication = _publication_of(head)
    if publication is not None and publication.tsa_response:
        document["rfc3161"] = {
            "tsa_url": publication.tsa_url,
            "response": base64.b64encode(bytes(publication.tsa_response)).decode("ascii"),
        }
    return document


def _publication_of(head: AuditTreeHead) -> AuditPublication | None:
    try:
        return head.publication
    except AuditPublication.DoesNotExist:
        return None


def head_verify(document: Any, *, public_key: Any = None) -> dict[str, Any]:
    """Check a head's form and signature; return its three signed members.

    ``public_key`` (an Ed25519 public key) defaults to the portal's own. A head that names
    another key id, or whose signature does not verify over its members, is refused.
    """
    if not isinstance(document, dict):
        raise HeadInvalid("a tree head is a JSON object")
    size, root_hash = document.get("tree_size"), document.get("root_hash")
    timestamp, signature = document.get("timestamp"), document.get("signature")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 2**53:
        raise HeadInvalid("tree_size must be a whole number")
    if not isinstance(root_hash, str) or not HEX64.fullmatch(root_hash):
        raise HeadInvalid("root_hash must be 64 lowercase hexadecimal digits")
    if not isinstance(timestamp, str) or not TIMESTAMP.fullmatch(timestamp):
        raise HeadInvalid("timestamp must be RFC 3339 UTC with microseconds")
    if not isinstance(signature, str):
        raise HeadInvalid("signature must be base64 text")
    try:
        raw = crypto.b64decode_strict(signature)
    except (ValueError, binascii.Error) as exc:
        raise HeadInvalid("signature must be base64 text") from exc
    key = public_key if public_key is not None else crypto.portal_signing_key().public_key()
    key_id = crypto.ed25519_key_id(key)
    if document.get("key_id", key_id) != key_id:
        raise HeadInvalid(f"it names the key {document.get('key_id')}, not {key_id}")
    try:
        crypto.ed25519_verify(key, raw, head_message(size, root_hash, timestamp))
    except crypto.BadSignature as exc:
        raise HeadInvalid("its signature does not verify with the portal key") from exc
    return {"tree_size": size, "root_hash": root_hash, "timestamp": timestamp}


# --- RFC 3161 time-stamps ---------------------------------------------------------------------


def _http_post(url: str, body: bytes, content_type: str) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url, data=body, method="POST", headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=TSA_TIMEOUT) as answer:  # noqa: S310 (checked above)
        data: bytes = answer.read(TSA_MAX_RESPONSE + 1)
    if len(data) > TSA_MAX_RESPONSE:
        raise crypto.TimestampInvalid("The time-stamping authority's answer is too large.")
    return data


def _tsa_roots() -> bytes:
    with open(settings.AUDIT_TSA_CA_FILE, "rb") as handle:
        return handle.read()


def head_timestamp(head: AuditTreeHead, *, transport: Transport | None = None) -> bytes:
    """Ask AUDIT_TSA_URL to time-stamp the head's signature; return the verified answer."""
    message = base64.b64decode(head.signature)
    request, nonce = crypto.rfc3161_request(message)
    answer = (transport or _http_post)(settings.AUDIT_TSA_URL, request, TSA_CONTENT_TYPE)
    crypto.rfc3161_verify(answer, message, roots_pem=_tsa_roots(), nonce=nonce)
    return answer


def head_timestamp_verify(document: dict[str, Any]) -> datetime:
    """The time an RFC 3161 authority vouches the head's signature existed (checked)."""
    stamp = document.get("rfc3161")
    if not stamp:
        raise crypto.TimestampInvalid("The tree head has no time-stamp.")
    return crypto.rfc3161_verify(
        base64.b64decode(stamp["response"]),
        base64.b64decode(document["signature"]),
        roots_pem=_tsa_roots(),
    )


# --- Publication ------------------------------------------------------------------------------


def publication_due(now: datetime | None = None) -> AuditTreeHead | None:
    """The newest head, if it is not published and the last publication is old enough."""
    head = AuditTreeHead.objects.order_by("-tree_size").first()
    if head is None or AuditPublication.objects.filter(head=head).exists():
        return None
    last = AuditPublication.objects.order_by("-published_at").first()
    interval = timedelta(seconds=settings.AUDIT_PUBLISH_INTERVAL_SECONDS)
    if last is not None and last.published_at > (now or timezone.now()) - interval:
        return None
    return head


def head_publish(head: AuditTreeHead, *, transport: Transport | None = None) -> bool:
    """Time-stamp the head (when a TSA is set), record it, and queue it to the witnesses.

    Returns False when another run published it first. A TSA that fails raises: nothing
    is recorded, and the next sequencer run tries again.
    """
    tsa_response = b""
    if settings.AUDIT_TSA_URL:
        tsa_response = head_timestamp(head, transport=transport)
    try:
        with transaction.atomic():
            AuditPublication.objects.create(
                head=head,
                published_at=timezone.now(),
                tsa_response=tsa_response,
                tsa_url=settings.AUDIT_TSA_URL if tsa_response else "",
            )
            for url in settings.AUDIT_WITNESS_WEBHOOKS:
                audit_witness_webhook.delay(url, head.tree_size)
            if settings.AUDIT_WITNESS_EMAILS:
                audit_witness_email.delay(head.tree_size)
    except IntegrityError:
        return False
    logger.info("published the audit tree head of size %s", head.tree_size)
    return True


def publish_due(*, transport: Transport | None = None) -> AuditTreeHead | None:
    """Publish the newest head if it is due (``publication_due``); return it if so."""
    head = publication_due()
    if head is not None and head_publish(head, transport=transport):
        return head
    return None


def latest_head_for_page() -> dict[str, Any] | None:
    """The newest signed head for a public page: the document plus ``signed_at`` (a
    datetime for ``<time>``) and whether an RFC 3161 authority time-stamped it."""
    head = AuditTreeHead.objects.select_related("publication").order_by("-tree_size").first()
    if head is None:
        return None
    document = head_document(head)
    return {
        **document,
        "signed_at": datetime.fromisoformat(head.timestamp.replace("Z", "+00:00")),
        "time_stamped": document["rfc3161"] is not None,
    }


# --- Witnesses: every published head is sent to them (Celery, retried) -----------------------


def _head_json(tree_size: int) -> bytes:
    from .audit_tree import head_of_size

    head = head_of_size(tree_size)
    if head is None:
        raise LookupError(f"there is no tree head of size {tree_size}")
    return json.dumps(head_document(head), indent=2).encode("utf-8")


@shared_task(name="portal.tasks.audit_witness_webhook")
def audit_witness_webhook(url: str, tree_size: int) -> None:
    """POST a signed tree head (JSON) to a witness; retried with backoff on failure.

    Only to an address of AUDIT_WITNESS_WEBHOOKS: a task message that names another
    (a broker written by someone else) is refused, so the broker cannot aim the
    workers at arbitrary addresses.
    """
    if url not in settings.AUDIT_WITNESS_WEBHOOKS:
        logger.error("refused to send a tree head to %s: not a configured witness", url)
        return
    _http_post(url, _head_json(tree_size), "application/json")


@shared_task(name="portal.tasks.audit_witness_email")
def audit_witness_email(tree_size: int) -> None:
    """Mail a signed tree head to the witnesses of AUDIT_WITNESS_EMAILS."""
    body = _head_json(tree_size).decode("utf-8")
    # Witnesses are addresses of the settings, not users with a saved language: the mail is
    # in the portal's default language whatever the task's thread had active.
    with translation.override(settings.LANGUAGE_CODE):
        EmailMessage(
            # Translators: the tree head is the signed summary of the tamper-evident audit log.
            subject=_("Audit log tree head, size %(size)s") % {"size": tree_size},
            body=_(
                "The authority portal's audit log has a new signed tree head. Keep it: a "
                "later head must be consistent with it (docs/audit-log.md explains how to "
                "check).\n\n%(head)s\n"
            )
            % {"head": body},
            to=list(settings.AUDIT_WITNESS_EMAILS),
        ).send()
