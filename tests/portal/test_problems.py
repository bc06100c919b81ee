"""Every error under /api/ leaves as application/problem+json with a stable code (PROTOCOL §5).

Errors outside /api/ stay HTML pages. The views that provoke each error are in
``tests/portal/problem_views.py``.
"""

import json
from typing import Any

import pytest
from django.test import Client

from portal.problems import PROBLEM_CONTENT_TYPE, TYPE_PREFIX

from .problem_views import THROTTLE_WAIT_SECONDS

PROBLEM_VIEWS = "tests.portal.problem_views"


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """Check the status, media type and common members; return the document."""
    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    document = json.loads(response.content)
    assert document["type"] == TYPE_PREFIX + code
    assert document["title"]
    assert document["status"] == status
    assert document["detail"]
    assert document["code"] == code
    return document


@pytest.fixture
def lenient_client() -> Client:
    """A client that lets the server answer an uncaught exception, as in production."""
    return Client(raise_request_exception=False)


def test_unknown_api_url_is_a_not_found_problem(client: Client) -> None:
    response = client.get("/api/v1/does-not-exist")

    assert_problem(response, 404, "not_found")


def test_unknown_page_url_is_the_html_not_found_page(client: Client) -> None:
    response = client.get("/does-not-exist")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"Page not found" in response.content


def test_wrong_method_on_the_schema_is_a_json_problem_with_allow(client: Client) -> None:
    response = client.post("/api/v1/schema")

    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


@pytest.mark.urls(PROBLEM_VIEWS)
def test_schema_mismatch_lists_each_field_including_nested_ones(client: Client) -> None:
    body = {
        "request": {
            "targets": [
                {"kind": "email", "value": "someone@example.org"},
                {"kind": "fax", "value": ""},
            ]
        }
    }

    response = client.post("/api/test/submit", body, content_type="application/json")

    document = assert_problem(response, 400, "malformed")
    errors = document["errors"]
    assert all(set(error) == {"field", "message"} for error in errors)
    assert all(error["message"] for error in errors)
    assert {error["field"] for error in errors} == {
        "purpose",
        "request.reference",
        "request.targets.1.kind",
        "request.targets.1.value",
    }


@pytest.mark.urls(PROBLEM_VIEWS)
def test_body_that_is_not_json_is_malformed(client: Client) -> None:
    response = client.post("/api/test/submit", "{not json", content_type="application/json")

    assert_problem(response, 400, "malformed")


@pytest.mark.urls(PROBLEM_VIEWS)
def test_body_of_an_unsupported_media_type_is_refused(client: Client) -> None:
    response = client.post("/api/test/submit", "purpose=x", content_type="text/plain")

    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.urls(PROBLEM_VIEWS)
def test_caller_without_credentials_is_unauthenticated(client: Client) -> None:
    response = client.get("/api/test/needs-login")

    assert_problem(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.urls(PROBLEM_VIEWS)
def test_caller_without_permission_is_forbidden(client: Client) -> None:
    response = client.get("/api/test/forbidden")

    document = assert_problem(response, 403, "forbidden")
    assert document["detail"] == "Nobody may see this."


@pytest.mark.urls(PROBLEM_VIEWS)
def test_django_permission_denied_in_an_api_view_is_forbidden(client: Client) -> None:
    response = client.get("/api/test/django-denied")

    assert_problem(response, 403, "forbidden")


@pytest.mark.urls(PROBLEM_VIEWS)
def test_http404_in_an_api_view_is_not_found(client: Client) -> None:
    response = client.get("/api/test/http404")

    assert_problem(response, 404, "not_found")


@pytest.mark.urls(PROBLEM_VIEWS)
def test_throttled_caller_is_rate_limited_with_retry_after(client: Client) -> None:
    response = client.get("/api/test/throttled")

    document = assert_problem(response, 429, "rate_limited")
    wait = int(THROTTLE_WAIT_SECONDS) + 1  # rounded up, never down
    assert response["Retry-After"] == str(wait)
    assert document["retry_after"] == wait


@pytest.mark.urls(PROBLEM_VIEWS)
def test_json_body_over_the_upload_limit_is_too_large(client: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"purpose": "x" * 2048})

    response = client.post("/api/test/submit", body, content_type="application/json")

    assert_problem(response, 413, "too_large")


@pytest.mark.urls(PROBLEM_VIEWS)
def test_body_over_the_upload_limit_outside_drf_is_too_large(client: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = client.post("/api/test/plain-body", "x" * 2048, content_type="text/plain")

    assert_problem(response, 413, "too_large")


@pytest.mark.urls(PROBLEM_VIEWS)
def test_portal_problem_keeps_its_code_status_and_extra_members(client: Client) -> None:
    response = client.get("/api/test/problem")

    document = assert_problem(response, 409, "replay")
    assert document["detail"] == "This nonce was used before."
    assert document["nonce"] == "n-1"


@pytest.mark.urls(PROBLEM_VIEWS)
def test_unexpected_exception_in_the_api_is_a_server_error_problem(
    lenient_client: Client,
) -> None:
    response = lenient_client.get("/api/test/crash")

    assert_problem(response, 500, "server_error")
    assert b"secret internal detail" not in response.content


@pytest.mark.urls(PROBLEM_VIEWS)
def test_unexpected_exception_on_a_page_renders_the_html_error_page(
    lenient_client: Client,
) -> None:
    response = lenient_client.get("/page-fails")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"Something went wrong" in response.content
    assert b"Traceback" not in response.content
    assert b"secret internal detail" not in response.content
