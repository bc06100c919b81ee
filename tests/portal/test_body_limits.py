"""A body over its limit is refused with 413 before anything reads it, CSRF check included.

The attack: a 100 MB multipart POST to any page (the login form, or the submissions API
from a logged-in session) used to be read whole, its file parts written to the temporary
directory, by Django's CSRF check or DRF's session authentication, before any limit
applied. Each test sends a body that is made lazily as it is read, and checks that it was
not read, that no temporary file appeared while it was sent, and that nothing was kept.
"""

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django_otp import DEVICE_ID_SESSION_KEY

from portal import middleware
from portal.models import AuditEvent
from requests_app.models import Attachment, IntakeRejection, LegalRequest
from tests.factories import PASSWORD, make_officer, totp_code

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
BOUNDARY = "portal-test-boundary"


class LazyMultipart:
    """A multipart body of ``size`` bytes with one file part, made as it is read.

    It remembers how much was read and, from each read on, which files the temporary
    directories held: the proof that an upload was spooled to disk.
    """

    def __init__(self, size: int, temp_dirs: list[Path]) -> None:
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.size = size
        self.head, self.tail = head, tail
        self.read_bytes = 0
        self.temp_dirs = temp_dirs
        self.seen_on_disk: set[str] = set()

    def _byte_range(self, start: int, end: int) -> bytes:
        body_end = self.size - len(self.tail)
        out = bytearray()
        for position in range(start, end):  # only the edges are not zeros
            if position < len(self.head):
                out.append(self.head[position])
            elif position >= body_end:
                out.append(self.tail[position - body_end])
            else:
                out.extend(bytes(min(end, body_end) - position))
                return bytes(out) + self._byte_range(min(end, body_end), end)
        return bytes(out)

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            size = self.size - self.read_bytes
        size = min(size, self.size - self.read_bytes, 4 * MB)
        data = self._byte_range(self.read_bytes, self.read_bytes + size)
        self.read_bytes += len(data)
        for folder in self.temp_dirs:
            self.seen_on_disk.update(os.listdir(folder))
        return data

    def readline(self, size: int = -1, /) -> bytes:
        return self.read(size if size and size > 0 else 64 * 1024)


@pytest.fixture
def temp_dirs(settings, tmp_path) -> list[Path]:
    upload_dir = tmp_path / "uploads"
    upload_dir.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(upload_dir)
    return [upload_dir, Path(tempfile.gettempdir())]


def big_post(client, path: str, body: LazyMultipart, **extra: Any):
    return client.post(
        path,
        data=b"",
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        CONTENT_LENGTH=str(body.size),
        **{"wsgi.input": body},
        **extra,
    )


def listing(folders: list[Path]) -> set[str]:
    return {f"{folder}/{name}" for folder in folders for name in os.listdir(folder)}


def test_a_100_mb_post_to_the_login_page_is_refused_unread(temp_dirs) -> None:
    client = Client(enforce_csrf_checks=True)  # as a browser's: the CSRF check runs
    before = listing(temp_dirs)
    body = LazyMultipart(100 * MB, temp_dirs)

    response = big_post(client, "/login/", body)

    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert "more data than this page takes" in response.content.decode()
    assert body.read_bytes == 0
    assert os.listdir(temp_dirs[0]) == []
    assert body.seen_on_disk <= {path.rsplit("/", 1)[1] for path in before}
    assert listing(temp_dirs) == before
    assert not AuditEvent.objects.filter(action__startswith="auth.").exists()


def test_a_body_within_the_limit_still_reaches_the_page(client) -> None:
    response = client.post("/login/", {"username": "x@platform.example", "password": "y"})

    assert response.status_code == 200
    assert "could not log you in" in response.content.decode()


def test_the_limit_is_a_setting(client, settings) -> None:
    settings.MAX_REQUEST_BODY_BYTES = 100

    response = client.post("/login/", {"username": "x@platform.example", "password": "y" * 200})

    assert response.status_code == 413


def test_a_session_authenticated_80_mb_submission_is_refused_before_the_csrf_check_reads_it(
    temp_dirs,
) -> None:
    officer = make_officer()
    client = Client(enforce_csrf_checks=True)  # DRF's session authentication checks CSRF
    client.get("/login/")  # the CSRF cookie, as a browser has it (it rotates at login)
    client.post(
        "/login/",
        {"username": officer.user.email, "password": PASSWORD},
        HTTP_X_CSRFTOKEN=client.cookies["portal_csrf"].value,
    )
    client.post(
        "/login/verify/",
        {"method": "totp", "code": totp_code(officer.user)},
        HTTP_X_CSRFTOKEN=client.cookies["portal_csrf"].value,
    )
    assert client.session.get(DEVICE_ID_SESSION_KEY)
    before = listing(temp_dirs)
    body = LazyMultipart(80 * MB, temp_dirs)

    response = big_post(client, "/api/v1/submissions", body)

    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "too_large"
    assert body.read_bytes == 0
    assert os.listdir(temp_dirs[0]) == []
    assert body.seen_on_disk <= {path.rsplit("/", 1)[1] for path in before}
    assert listing(temp_dirs) == before
    # Logged as an intake rejection; nothing of the request was kept.
    rejection = IntakeRejection.objects.get()
    assert (rejection.code, rejection.status, rejection.channel) == ("too_large", 413, "api")
    assert LegalRequest.objects.count() == 0
    assert Attachment.objects.count() == 0


def test_a_submission_under_the_intake_limit_is_not_held_to_the_general_limit(
    client, settings
) -> None:
    settings.MAX_REQUEST_BODY_BYTES = 1000
    data = {"envelope": SimpleUploadedFile("envelope.json", b"[" + b" " * 5000 + b"]")}

    response = client.post("/api/v1/submissions", data=data)

    # Past the size check: intake itself answers (the envelope is no object, no token).
    assert response.status_code in (400, 401)
    assert response.json()["code"] in ("malformed", "unauthenticated")


def test_an_api_body_over_the_limit_is_a_problem_document(client, settings) -> None:
    settings.MAX_REQUEST_BODY_BYTES = 100

    response = client.post(
        "/api/v1/submissions/LR-1/withdraw", {"reason": "x" * 500}, content_type="application/json"
    )

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_a_chunked_body_is_counted_as_it_streams_and_refused_past_the_limit(
    settings, temp_dirs
) -> None:
    """Without Content-Length, the count is kept as the body is read."""
    settings.MAX_REQUEST_BODY_BYTES = MB
    body = LazyMultipart(100 * MB, temp_dirs)
    request = RequestFactory().post("/login/", data=b"", content_type="application/json")
    request.META.pop("CONTENT_LENGTH", None)
    request.environ["wsgi.input"] = body
    request.environ["wsgi.input_terminated"] = True

    def reads_the_body(request) -> HttpResponse:
        try:
            request.body  # noqa: B018
        except Exception:  # noqa: BLE001 - Django turns this into a 400 page
            return HttpResponse(status=400)
        return HttpResponse(status=200)

    response = middleware.RequestBodyLimitMiddleware(reads_the_body)(request)

    assert response.status_code == 413
    assert body.read_bytes <= MB + 1


def test_a_chunked_body_within_the_limit_is_read_whole(settings) -> None:
    settings.MAX_REQUEST_BODY_BYTES = MB
    body = LazyMultipart(1000, [])
    request = RequestFactory().post("/login/", data=b"", content_type="application/json")
    request.META.pop("CONTENT_LENGTH", None)
    request.environ["wsgi.input"] = body
    request.environ["wsgi.input_terminated"] = True
    seen: list[int] = []

    def reads_the_body(request) -> HttpResponse:
        seen.append(len(request.body))
        return HttpResponse(status=200)

    response = middleware.RequestBodyLimitMiddleware(reads_the_body)(request)

    assert response.status_code == 200
    assert seen == [1000]
