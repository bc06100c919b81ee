"""The database-backed data source (PlatformAccount, its IP events and its files)."""

import hashlib
import ipaddress
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, time
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection
from django.db.models import Q

from requests_app.demo_source.models import PlatformAccount, PlatformFile, PlatformIpEvent
from requests_app.sources.base import Scope, Target, TargetFile, TargetRecords

CHUNK = 1024 * 1024


def _account_for(target: Target) -> PlatformAccount | None:
    """The account a target names (docs/platform-data-source.md, "How the directory matches")."""
    if target.type == "channel":
        return _account_owning(target.value.lstrip("@"))
    if target.type == "ip_address":
        return _account_using(target)
    if target.type == "url":
        return _account_at(target.value)
    query = {
        "username": Q(username__iexact=target.value.lstrip("@")),
        "user_id": Q(user_id=target.value),
        "phone": Q(phone_number=target.value.replace(" ", "")),
        "email": Q(email__iexact=target.value),
    }.get(target.type)
    if query is None:
        return None
    return PlatformAccount.objects.filter(query).first()


def _account_using(target: Target) -> PlatformAccount | None:
    """The account that used the address within the window: of several, the latest user."""
    if target.window is None:
        return None
    try:
        address = str(ipaddress.ip_address(target.value))
    except ValueError:
        return None
    event = (
        PlatformIpEvent.objects.filter(ip=address, at__range=target.window)
        .select_related("account")
        .order_by("-at", "-pk")
        .first()
    )
    return event.account if event is not None else None


# The platform's public addresses of an account: its profile and its channels.
PROFILE_PATH = re.compile(r"/u/([^/]+)/?")
CHANNEL_PATH = re.compile(r"/c/([^/]+)/?")


def _account_at(url: str) -> PlatformAccount | None:
    """The account whose profile (https://<host>/u/<username>) or channel (/c/<name>) it is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme != "https" or (parts.hostname or "") not in settings.PLATFORM_URL_HOSTS:
        return None
    path = unquote(parts.path)
    if profile := PROFILE_PATH.fullmatch(path):
        return PlatformAccount.objects.filter(username__iexact=profile.group(1)).first()
    if channel := CHANNEL_PATH.fullmatch(path):
        return _account_owning(channel.group(1))
    return None


def _account_owning(channel: str) -> PlatformAccount | None:
    if connection.features.supports_json_field_contains:
        return PlatformAccount.objects.filter(channels__contains=[channel]).first()
    # SQLite (the embedded default) has no JSON containment: narrow by the JSON text of
    # the name, then match exactly.
    candidates = PlatformAccount.objects.filter(channels__icontains=json.dumps(channel))
    return next((a for a in candidates if channel in (a.channels or [])), None)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def platform_file_store(
    *,
    account: PlatformAccount,
    name: str,
    media_type: str,
    category: str,
    data: bytes,
    at: datetime | None = None,
) -> PlatformFile:
    """Put a file in the directory's file store, with its size and SHA-256 (demo, tests)."""
    stored = PlatformFile(
        account=account,
        name=name,
        media_type=media_type,
        category=category,
        at=at,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    # The storage name is made from the hash, never from the platform's name for the file.
    stored.content.save(f"{stored.sha256}.bin", ContentFile(data), save=False)
    stored.save()
    return stored


def _file_chunks(stored: PlatformFile) -> Iterator[bytes]:
    with stored.content.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _target_file(stored: PlatformFile) -> TargetFile:
    return TargetFile(
        name=stored.name,
        media_type=stored.media_type,
        size=stored.size,
        sha256=stored.sha256,
        category=stored.category,
        at=_rfc3339(stored.at) if stored.at else None,
        opener=lambda: _file_chunks(stored),
    )


class DirectorySource:
    """Looks targets up in the portal's own copy of the platform directory."""

    name = "directory"

    def lookup(self, scope: Scope) -> list[TargetRecords]:
        start = datetime.combine(scope.period_from, time.min, tzinfo=UTC)
        end = datetime.combine(scope.period_to, time.max, tzinfo=UTC)
        answers = []
        for target in scope.targets:
            account = _account_for(target)
            if account is None:
                answers.append(TargetRecords(target, found=False))
                continue
            records: dict[str, object] = {}
            if "subscriber_info" in scope.categories:
                records["subscriber_info"] = {
                    "user_id": account.user_id,
                    "username": account.username,
                    "display_name": account.display_name,
                    "registered_at": account.registered_at.isoformat().replace("+00:00", "Z"),
                }
            if "phone_number" in scope.categories:
                records["phone_number"] = {"phone_number": account.phone_number}
            if "email_address" in scope.categories:
                records["email_address"] = {"email": account.email}
            events = PlatformIpEvent.objects.filter(account=account, at__range=(start, end))
            if "ip_addresses" in scope.categories:
                records["ip_addresses"] = [
                    {
                        "ip": e.ip,
                        "port": e.port,
                        "at": e.at.isoformat().replace("+00:00", "Z"),
                        "kind": e.kind,
                    }
                    for e in events
                ]
            if "login_history" in scope.categories:
                records["login_history"] = [
                    {"at": e.at.isoformat().replace("+00:00", "Z"), "ip": e.ip}
                    for e in events
                    if e.kind == PlatformIpEvent.Kind.LOGIN
                ]
            if "device_info" in scope.categories:
                records["device_info"] = [
                    {"at": e.at.isoformat().replace("+00:00", "Z"), "device": e.device}
                    for e in events
                    if e.device
                ]
            # Files of the asked categories, in the period or without a time (static
            # ones); the scope limit then checks each again, as for every source.
            files = [
                _target_file(stored)
                for stored in PlatformFile.objects.filter(
                    Q(at__isnull=True) | Q(at__range=(start, end)),
                    account=account,
                    category__in=sorted(scope.categories),
                )
            ]
            answers.append(TargetRecords(target, found=True, records=records, files=files))
        return answers
