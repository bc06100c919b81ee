"""Every error under /api/ leaves as application/problem+json with a stable code (PROTOCOL §5).

Errors outside /api/ stay HTML pages. Errors the portal's own addresses can be brought to
make are asked of them; the rest are provoked by the small views of
``tests/portal/problem_views.py``, called through Django's request handling as the
portal runs it (``serve``), without a URL table of their own.
"""

import json
import sys
from typing import Any

import pytest
from django.core.signals import got_request_exception
from django.test import Client

from tests.problems import assert_problem

from .problem_views import (
    RAISES_CRASH,
    RAISES_DJANGO_DENIED,
    RAISES_HTTP404,
    RAISES_PROBLEM,
    THROTTLE_WAIT_SECONDS,
    Forbidden,
    NeedsLogin,
    Submit,
    Throttled,
    page_fails,
    read_body,
    serve,
)


@pytest.fixture
def uncaught() -> Any:
    """The exceptions the server met and answered itself (the test never sees them raised)."""
    met: list[BaseException] = []

    def record(sender: Any, request: Any = None, **kwargs: Any) -> None:
        met.append(sys.exc_info()[1])

    got_request_exception.connect(record)
    yield met
    got_request_exception.disconnect(record)


def test_unknown_api_url_is_a_not_found_problem(client: Client) -> None:
    response = client.get("/api/v1/does-not-exist")

    assert_problem(response, status=404, code="not_found")


def test_unknown_page_url_is_the_html_not_found_page(client: Client) -> None:
    response = client.get("/does-not-exist")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"Page not found" in response.content


def test_wrong_method_on_the_schema_is_a_json_problem_with_allow(client: Client) -> None:
    response = client.post("/api/v1/schema")

    assert_problem(response, status=405, code="method_not_allowed")
    assert "GET" in response["Allow"]


def test_schema_mismatch_lists_each_field_including_nested_ones() -> None:
    body = {
        "request": {
            "targets": [
                {"kind": "email", "value": "someone@example.org"},
                {"kind": "fax", "value": ""},
            ]
        }
    }

    response = serve(
        Submit.as_view(), "post", "/api/test/submit", body, content_type="application/json"
    )

    document = assert_problem(response, status=400, code="malformed")
    errors = document["errors"]
    assert all(set(error) == {"field", "message"} for error in errors)
    assert all(error["message"] for error in errors)
    assert {error["field"] for error in errors} == {
        "purpose",
        "request.reference",
        "request.targets.1.kind",
        "request.targets.1.value",
    }


def test_body_that_is_not_json_is_malformed() -> None:
    response = serve(
        Submit.as_view(), "post", "/api/test/submit", "{not json", content_type="application/json"
    )

    assert_problem(response, status=400, code="malformed")


def test_body_of_an_unsupported_media_type_is_refused() -> None:
    response = serve(
        Submit.as_view(), "post", "/api/test/submit", "purpose=x", content_type="text/plain"
    )

    assert_problem(response, status=415, code="unsupported_media_type")


def test_caller_without_credentials_is_unauthenticated() -> None:
    response = serve(NeedsLogin.as_view(), "get", "/api/test/needs-login")

    assert_problem(response, status=401, code="unauthenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_caller_without_permission_is_forbidden() -> None:
    response = serve(Forbidden.as_view(), "get", "/api/test/forbidden")

    document = assert_problem(response, status=403, code="forbidden")
    assert document["detail"] == "Nobody may see this."


def test_django_permission_denied_in_an_api_view_is_forbidden() -> None:
    response = serve(RAISES_DJANGO_DENIED, "get", "/api/test/django-denied")

    assert_problem(response, status=403, code="forbidden")


def test_http404_in_an_api_view_is_not_found() -> None:
    response = serve(RAISES_HTTP404, "get", "/api/test/http404")

    assert_problem(response, status=404, code="not_found")


def test_throttled_caller_is_rate_limited_with_retry_after() -> None:
    response = serve(Throttled.as_view(), "get", "/api/test/throttled")

    document = assert_problem(response, status=429, code="rate_limited")
    wait = int(THROTTLE_WAIT_SECONDS) + 1  # rounded up, never down
    assert response["Retry-After"] == str(wait)
    assert document["retry_after"] == wait


def test_json_body_over_the_upload_limit_is_too_large(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"purpose": "x" * 2048})

    response = serve(
        Submit.as_view(), "post", "/api/test/submit", body, content_type="application/json"
    )

    assert_problem(response, status=413, code="too_large")


def test_body_over_the_upload_limit_outside_drf_is_too_large(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = serve(
        read_body, "post", "/api/test/plain-body", "x" * 2048, content_type="text/plain"
    )

    assert_problem(response, status=413, code="too_large")


def test_portal_problem_keeps_its_code_status_and_extra_members() -> None:
    response = serve(RAISES_PROBLEM, "get", "/api/test/problem")

    document = assert_problem(response, status=409, code="replay")
    assert document["detail"] == "This nonce was used before."
    assert document["nonce"] == "n-1"


def test_unexpected_exception_in_the_api_is_a_server_error_problem(uncaught: list) -> None:
    response = serve(RAISES_CRASH, "get", "/api/test/crash")

    assert_problem(response, status=500, code="server_error")
    assert b"secret internal detail" not in response.content
    # and it was the view's own error that the server answered
    assert [str(exc) for exc in uncaught] == ["secret internal detail"]


def test_unexpected_exception_on_a_page_renders_the_html_error_page(uncaught: list) -> None:
    response = serve(page_fails, "get", "/page-fails")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"Something went wrong" in response.content
    assert b"Traceback" not in response.content
    assert b"secret internal detail" not in response.content
    assert [str(exc) for exc in uncaught] == ["secret internal detail"]
