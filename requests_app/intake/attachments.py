"""Step 5: every declared attachment was uploaded, matches its size, hash and type; nothing else."""

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from portal.problems import Problem

ALLOWED_MEDIA_TYPES = {"application/pdf", "image/png", "image/jpeg"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True)
class VerifiedAttachment:
    filename: str
    media_type: str
    sha256: str
    size: int
    upload: UploadedFile


def filename_sanitise(name: str) -> str:
    """Keep a readable, harmless file name: no path, no control or odd characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = _SAFE_NAME.sub("_", base).strip(" .")
    return (base or "document")[:120]


def _digest(upload: UploadedFile) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return digest.hexdigest(), size


def _head(upload: UploadedFile, length: int = 16) -> bytes:
    upload.seek(0)
    head = upload.read(length)
    upload.seek(0)
    return head


def pdf_is_valid(upload: UploadedFile) -> bool:
    """A PDF must really be one: the header, and a document pypdf can read pages from."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not _head(upload, 5) == b"%PDF-":
        return False
    try:
        upload.seek(0)
        reader = PdfReader(io.BytesIO(upload.read()), strict=True)
        valid = len(reader.pages) > 0
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError):
        valid = False
    finally:
        upload.seek(0)
    return valid


def media_type_matches(upload: UploadedFile, media_type: str) -> bool:
    if media_type == "application/pdf":
        return pdf_is_valid(upload)
    if media_type == "image/png":
        return _head(upload, 8) == b"\x89PNG\r\n\x1a\n"
    if media_type == "image/jpeg":
        return _head(upload, 3) == b"\xff\xd8\xff"
    return False


def _mismatch(detail: str, **extra: Any) -> Problem:
    return Problem("attachment_mismatch", 422, detail, **extra)


def attachments_check(
    *, declared: list[dict[str, Any]], uploads: list[UploadedFile]
) -> list[VerifiedAttachment]:
    """Pair each declared attachment with its upload, or raise ``attachment_mismatch``."""
    if len(uploads) > settings.INTAKE_MAX_ATTACHMENTS:
        raise Problem("too_large", 413, "Too many attachments.")
    total = sum(upload.size or 0 for upload in uploads)
    if total > settings.INTAKE_MAX_TOTAL_BYTES or any(
        (upload.size or 0) > settings.INTAKE_MAX_ATTACHMENT_BYTES for upload in uploads
    ):
        raise Problem("too_large", 413, "An attachment, or all of them together, is too large.")

    by_hash: dict[str, tuple[UploadedFile, int]] = {}
    for upload in uploads:
        digest, size = _digest(upload)
        if digest in by_hash:
            raise _mismatch("The same file was uploaded twice.", sha256=digest)
        by_hash[digest] = (upload, size)

    verified = []
    for index, item in enumerate(declared):
        found = by_hash.pop(item["sha256"], None)
        if found is None:
            raise _mismatch(
                f"Declared attachment {index} ({item['filename']}) was not uploaded, "
                "or its bytes do not match the declared SHA-256.",
                index=index,
            )
        upload, size = found
        if size != item["size"]:
            raise _mismatch(f"Attachment {index} is {size} bytes, not {item['size']}.", index=index)
        if item["media_type"] not in ALLOWED_MEDIA_TYPES:
            raise _mismatch(
                f"Attachment {index}: {item['media_type']} is not accepted "
                f"({', '.join(sorted(ALLOWED_MEDIA_TYPES))}).",
                index=index,
            )
        if not media_type_matches(upload, item["media_type"]):
            raise _mismatch(
                f"Attachment {index} is not a valid {item['media_type']} file.", index=index
            )
        verified.append(
            VerifiedAttachment(
                filename=filename_sanitise(item["filename"]),
                media_type=item["media_type"],
                sha256=item["sha256"],
                size=size,
                upload=upload,
            )
        )
    if by_hash:
        raise _mismatch("A file was uploaded that the signed payload does not declare.")
    return verified
