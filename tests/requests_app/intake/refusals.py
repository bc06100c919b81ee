"""What an intake refusal leaves behind: one line in the rejection log, and nothing else.

The answer itself is checked with ``tests.problems.assert_problem``; this checks the
database (and the storage) after it.
"""

from pathlib import Path

from accounts.models import Officer
from portal.models import AuditEvent
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import Attachment, LegalRequest


def assert_only_the_rejection_logged(
    code: str,
    *,
    channel: str,
    body_hashed: bool = False,
    officer: Officer | None = None,
    storage: Path | None = None,
) -> IntakeRejection:
    """The refusal is logged once with ``code``; no request, document or receipt event exists.

    ``body_hashed``: the log holds the SHA-256 of the body (not when the body was never
    read). ``officer``: the log names the officer and their agency. ``storage``: not a
    byte was written there either.
    """
    rejection = IntakeRejection.objects.get()
    assert rejection.code == code
    assert rejection.channel == channel
    if body_hashed:
        assert len(rejection.body_sha256) == 64
    if officer is not None:
        assert rejection.officer == officer
        assert rejection.agency == officer.agency
    assert LegalRequest.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert not AuditEvent.objects.filter(action="legal_request.received").exists()
    if storage is not None:
        assert not storage.exists() or not any(storage.rglob("*"))
    return rejection
