"""The plaintext of a response: response.json (RFC 8785 bytes), its portal signature, files.

Files go under ``files/``, one folder per target (``files/1-username-nightowl/``), named
from the platform's name for each file made safe: one path component, no leading dot,
no characters a file system or a shell treats specially. ``response.json`` lists each
with its path, size, SHA-256 and media type, so the officer can check what they unpacked.
"""

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

import rfc8785
from django.conf import settings

from portal import crypto
from requests_app.delivery.models import Disclosure
from requests_app.sources.base import TargetFile, TargetRecords

FILES_FOLDER = "files"
MAX_NAME_LENGTH = 100
MAX_SUFFIX_LENGTH = 16
# Characters kept besides letters and digits (of any script); everything else becomes "_".
KEPT_PUNCTUATION = frozenset("._-+")
# Names Windows reserves for devices, whatever the extension.
WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(1, 10)}
    | {f"LPT{n}" for n in range(1, 10)}
)


def _kept(character: str) -> bool:
    # Letters and digits of any script, with their combining marks (Devanagari vowel
    # signs, say); never a control, a format character (a right-to-left override) or a
    # separator.
    return (
        character.isalnum()
        or character in KEPT_PUNCTUATION
        or unicodedata.category(character) in {"Mn", "Mc"}
    )


def safe_file_name(name: str, *, fallback: str = "file") -> str:
    """Make ``name`` one safe path component for an archive member.

    Only the last component of any path survives (forward or backward slashes), so
    ``../../etc/passwd`` and ``C:\\Users\\x.png`` cannot climb out of the folder they are
    unpacked into. Controls, separators, spaces and other punctuation become ``_``; leading
    dots, dashes and underscores go (no hidden files, no ``..``, nothing that reads as a
    command option), as do trailing dots (Windows drops them). A long name is shortened,
    keeping its extension.
    """
    text = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(c if _kept(c) else "_" for c in text)
    while "__" in kept:
        kept = kept.replace("__", "_")
    kept = kept.lstrip("._-").rstrip("._")
    if not kept:
        return fallback
    stem, dot, suffix = kept.rpartition(".")
    if not dot or len(suffix) > MAX_SUFFIX_LENGTH:
        stem, suffix = kept, ""
    if stem.split(".", 1)[0].upper() in WINDOWS_DEVICES:
        stem = f"{fallback}_{stem}"
    ending = f".{suffix}" if suffix else ""
    return stem[: MAX_NAME_LENGTH - len(ending)] + ending


@dataclass(frozen=True)
class ArchiveFile:
    """A file of a target and the member name it has in the archive."""

    path: str
    file: TargetFile

    def listing(self) -> dict[str, Any]:
        """What response.json says of the file: enough to check it once unpacked."""
        entry: dict[str, Any] = {
            "name": self.path,
            "media_type": self.file.media_type,
            "size": self.file.size,
            "sha256": self.file.sha256,
            "category": self.file.category,
        }
        if self.file.at is not None:
            entry["at"] = self.file.at
        return entry


def archive_layout(records: Sequence[TargetRecords]) -> list[list[ArchiveFile]]:
    """The member name of every file, per target: unique, even where file systems ignore case."""
    layout: list[list[ArchiveFile]] = []
    for number, answer in enumerate(records, 1):
        # A target is not a path: its slashes are characters like any other here.
        target = f"{answer.target.type}-{answer.target.value}".replace("/", "_").replace("\\", "_")
        folder = f"{number}-" + safe_file_name(target, fallback="target")
        taken: set[str] = set()
        placed = []
        for file in answer.files:
            name = safe_file_name(file.name)
            path = PurePath(name)
            candidate, count = name, 1
            while candidate.casefold() in taken:
                count += 1
                candidate = f"{path.stem}-{count}{path.suffix}"
            taken.add(candidate.casefold())
            placed.append(ArchiveFile(f"{FILES_FOLDER}/{folder}/{candidate}", file))
        layout.append(placed)
    return layout


def response_document(
    disclosure: Disclosure,
    records: list[TargetRecords],
    issued_at: datetime,
    layout: list[list[ArchiveFile]] | None = None,
    certificate: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The response document (PROTOCOL §6.4); ``certificate`` is the listing of
    ``certificate.pdf`` (its name, media type, size and SHA-256), which the signature over
    the document then covers."""
    decision = disclosure.decision
    request = disclosure.request
    layout = archive_layout(records) if layout is None else layout
    document: dict[str, Any] = {
        "portal": settings.PORTAL_AUDIENCE,
        "reference": request.reference,
        "case_reference": request.case_reference,
        "decision": {
            "outcome": decision.outcome,
            "categories": sorted(decision.approved_categories),
            "period": {
                "from": str(decision.approved_period_from),
                "to": str(decision.approved_period_to),
            },
        },
        "records": [
            {
                "target": r.target.wire(),
                "found": r.found,
                "records": r.records,
                "files": [placed.listing() for placed in files],
            }
            for r, files in zip(records, layout, strict=True)
        ],
        "issued_at": issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "note": disclosure.note_to_authority or decision.message_to_authority,
        "signed_by": crypto.portal_public_key_document()["key_id"],
    }
    if certificate is not None:
        document["certificate"] = certificate
    return document


def response_files(document: dict[str, Any]) -> tuple[bytes, bytes]:
    """``response.json`` as its canonical bytes, and the portal's signature over them.

    The file is stored in canonical form, so ``openssl pkeyutl -verify -rawin -in
    response.json -sigfile response.json.sig`` checks it as it is.
    """
    body = rfc8785.dumps(document)
    return body, crypto.portal_sign(body)
