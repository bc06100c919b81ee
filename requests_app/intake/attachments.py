"""Step 5: every declared attachment was uploaded, matches its size, hash and type; nothing else."""

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

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
    """A PDF must really be one: the header, and a document qpdf reads pages from.

    qpdf (through pikepdf) reads the cross-reference table as written, with its recovery
    turned off: a damaged file is refused rather than rebuilt by guesswork, as the pypdf
    check it replaces refused it in strict mode. It reads a page-long PDF about four
    times faster than pypdf did, which counted on every submission (bench/intake.py).
    """
    import pikepdf

    # The upload's own file (in memory, or on disk for a large one): no copy made.
    source = upload.file
    if source is None or not _head(upload, 5) == b"%PDF-":
        return False
    try:
        upload.seek(0)
        with pikepdf.open(cast(BinaryIO, source), attempt_recovery=False) as document:
            valid = len(document.pages) > 0
    except (pikepdf.PdfError, pikepdf.PasswordError, ValueError, RuntimeError, OSError):
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


# The words of each refusal, the same on the web page (before the passkey is asked) and
# through the API (PROTOCOL §3.5): a file is named by its name, never by its position.
_TYPE_NAMES = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG"}


def too_many_files_message() -> str:
    return _("Attach at most %(count)d files.") % {"count": settings.INTAKE_MAX_ATTACHMENTS}


def too_large_message(filename: str) -> str:
    return _("%(name)s is larger than %(limit)s, the most one file may be.") % {
        "name": filename,
        "limit": filesizeformat(settings.INTAKE_MAX_ATTACHMENT_BYTES),
    }


def too_large_together_message() -> str:
    return _("The files are larger than %(limit)s together.") % {
        "limit": filesizeformat(settings.INTAKE_MAX_TOTAL_BYTES)
    }


def type_not_accepted_message(filename: str) -> str:
    return _("%(name)s: only PDF, PNG and JPEG files are accepted.") % {"name": filename}


def same_file_message(filename: str) -> str:
    return _("%(name)s is the same file as another one chosen.") % {"name": filename}


def not_valid_message(filename: str, media_type: str) -> str:
    if media_type == "application/pdf":
        return _(
            "%(name)s is not a valid PDF: it does not open as a PDF with at least one page. "
            "Save or scan the document again as a PDF, and choose the new file."
        ) % {"name": filename}
    return _("%(name)s is not a valid %(type)s image. Save it again as %(type)s, or as a PDF.") % {
        "name": filename,
        "type": _TYPE_NAMES.get(media_type, media_type),
    }


def size_limit_problem(uploads: list[UploadedFile]) -> Problem | None:
    """``too_large`` for too many files, one too large, or all too large together."""
    if len(uploads) > settings.INTAKE_MAX_ATTACHMENTS:
        return Problem("too_large", 413, too_many_files_message())
    for upload in uploads:
        if (upload.size or 0) > settings.INTAKE_MAX_ATTACHMENT_BYTES:
            return Problem("too_large", 413, too_large_message(upload.name or "document"))
    if sum(upload.size or 0 for upload in uploads) > settings.INTAKE_MAX_TOTAL_BYTES:
        return Problem("too_large", 413, too_large_together_message())
    return None


def attachments_check(
    *, declared: list[dict[str, Any]], uploads: list[UploadedFile]
) -> list[VerifiedAttachment]:
    """Pair each declared attachment with its upload, or raise ``attachment_mismatch``."""
    problem = size_limit_problem(uploads)
    if problem is not None:
        raise problem

    by_hash: dict[str, tuple[UploadedFile, int]] = {}
    for upload in uploads:
        digest, size = _digest(upload)
        if digest in by_hash:
            raise _mismatch(same_file_message(upload.name or "document"), sha256=digest)
        by_hash[digest] = (upload, size)

    verified = []
    for index, item in enumerate(declared):
        name = item["filename"]
        found = by_hash.pop(item["sha256"], None)
        if found is None:
            raise _mismatch(
                _(
                    "%(name)s was not sent, or its bytes differ from the SHA-256 declared "
                    "for it. Choose the file again."
                )
                % {"name": name},
                index=index,
            )
        upload, size = found
        if size != item["size"]:
            raise _mismatch(
                _("%(name)s is %(size)d bytes, not the %(declared)d declared for it.")
                % {"name": name, "size": size, "declared": item["size"]},
                index=index,
            )
        if item["media_type"] not in ALLOWED_MEDIA_TYPES:
            raise _mismatch(type_not_accepted_message(name), index=index)
        if not media_type_matches(upload, item["media_type"]):
            raise _mismatch(not_valid_message(name, item["media_type"]), index=index)
        verified.append(
            VerifiedAttachment(
                filename=filename_sanitise(name),
                media_type=item["media_type"],
                sha256=item["sha256"],
                size=size,
                upload=upload,
            )
        )
    if by_hash:
        upload, _size = next(iter(by_hash.values()))
        raise _mismatch(
            _("%(name)s was sent, but the signed payload does not declare it.")
            % {"name": upload.name or "document"}
        )
    return verified
