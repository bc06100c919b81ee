"""The whole API, fuzzed from its own OpenAPI description by schemathesis.

Every operation of ``/api/v1/schema`` gets requests generated from the schema, valid and
deliberately invalid, sent through the real WSGI application with a live officer's API
token, and each answer must:

- never be a server error;
- have a status code, content type, headers and body the schema documents;
- if it is an error, be a problem document (``application/problem+json``) whose
  ``status`` is the HTTP status and whose ``code`` is one of the stable codes below;
- refuse the same request without the token (schemathesis' ``ignored_auth``).

Path parameters are either generated or, as often, point at objects that exist: the
officer's approved request with a sealed response, and a request still in review. A
submission cannot be valid without a signature over a fresh payload, so random bodies
end as refusals: that is the point there (every refusal a problem, never a 5xx); validly
signed payloads, in the protocol's shape or not, are tried by
``tests/requests_app/intake/test_intake_properties.py``.

Bounded and deterministic: a fixed number of examples per operation, derandomized, no
example database; every example runs in a transaction that is rolled back, so each
starts from the same rows.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.core.parameters import ParameterLocation

from portal.problems import PROBLEM_CONTENT_TYPE, TYPE_PREFIX
from portal.wsgi import application
from requests_app.lifecycle.models import LegalRequest
from requests_app.policy.defaults import policy_defaults_load
from requests_app.policy.models import PolicyRule
from tests.requests_app.delivery_helpers import Delivery, sealed_delivery, tmp_storage
from tests.requests_app.factories import make_legal_request

EXAMPLES_PER_OPERATION = 50

# The stable codes of PROTOCOL §5 and the framework refusals portal.problems maps. A new
# code is a change of the wire contract: add it here (and to PROTOCOL.md) on purpose.
STABLE_CODES = {
    # PROTOCOL §5
    "malformed",
    "unauthenticated",
    "unknown_key",
    "bad_signature",
    "key_not_active",
    "officer_not_active",
    "agency_not_verified",
    "wrong_audience",
    "stale",
    "replay",
    "attachment_mismatch",
    "policy_violation",
    "too_large",
    "rate_limited",
    "unavailable",
    # the rest of the API
    "forbidden",
    "not_found",
    "gone",
    "invalid_state",
    "method_not_allowed",
    "not_acceptable",
    "unsupported_media_type",
}

# A submission is refused for what no schema can say (a signature, a fresh timestamp,
# an unused nonce), so schema-valid bodies are answered with these as well.
SUBMISSION_REFUSALS = ["400", "401", "403", "409", "413", "422", "429"]
# Text is refused for two rules JSON Schema cannot state: no NUL characters (PostgreSQL
# cannot store them) and, for a message, not only whitespace. Both are 400 `malformed`
# (the fields' descriptions say so); the problem check holds them to the format.
TEXT_RULES = ["2xx", "400", "401", "403", "404", "409", "429"]

CONFIG = schemathesis.Config.from_dict(
    {
        # The token is sent with every request (and left out by the ignored_auth check);
        # generating Authorization headers as well would only be overridden.
        "generation": {"with-security-parameters": False},
        "operations": [
            {
                "include-operation-id": "submissions_create",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", *SUBMISSION_REFUSALS]}
                },
            },
            {
                "include-operation-id": ["submission_messages_create", "submission_withdraw"],
                "checks": {"positive_data_acceptance": {"expected-statuses": TEXT_RULES}},
            },
            {
                # first <= second: a rule between two parameters, which OpenAPI cannot state
                "include-operation-id": "audit_consistency",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404"]}
                },
            },
        ],
    }
)

schema = schemathesis.openapi.from_wsgi("/api/v1/schema?format=json", application, config=CONFIG)


def errors_are_problem_documents(ctx: Any, response: schemathesis.Response, case: Any) -> None:
    """Every 4xx and 5xx is RFC 9457 JSON with the portal's members and a stable code."""
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type == PROBLEM_CONTENT_TYPE, f"an error as {content_type!r}"
    document = response.json()
    assert isinstance(document, dict), document
    code = document.get("code")
    assert code in STABLE_CODES, f"unknown problem code {code!r}"
    assert document.get("status") == response.status_code, document
    assert document.get("type") == TYPE_PREFIX + code, document
    assert isinstance(document.get("title"), str), document
    assert document["title"], document
    assert isinstance(document.get("detail"), str), document


@contextmanager
def connection_kept_across_requests() -> Iterator[None]:
    """Let the real WSGI handler run inside the test's transaction.

    Django closes stale database connections at the start and end of each request; the
    test client switches that off around its own requests, and so must a test that
    calls the handler itself.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(client, settings, tmp_path) -> tuple[Delivery, LegalRequest]:
    """An officer with a token, a sealed response to their approved request, and a
    second request of theirs still waiting for review."""
    policy_defaults_load(PolicyRule)
    settings.INTAKE_RATE_LIMITS = dict.fromkeys(settings.INTAKE_RATE_LIMITS, "100000/min")
    tmp_storage(settings, tmp_path / "storage")
    delivery = sealed_delivery(client)
    in_review = make_legal_request(officer=delivery.officer)
    return delivery, in_review


def point_at(case: Any, target: str, world: tuple[Delivery, LegalRequest]) -> None:
    """Replace generated path parameters by those of an object that exists, unless they
    were made invalid on purpose."""
    if target == "generated" or case.meta.is_negative_at(ParameterLocation.PATH):
        return
    delivery, in_review = world
    assert delivery.sealed is not None
    references = {"approved": delivery.reference, "in_review": in_review.reference}
    if "reference" in case.path_parameters:
        case.path_parameters["reference"] = references[target]
    if "response_id" in case.path_parameters:
        case.path_parameters["response_id"] = delivery.sealed.pk


@pytest.mark.django_db
@schema.parametrize()
@schema.given(target=st.sampled_from(["generated", "approved", "in_review"]))
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_documented_and_errors_are_problems(case, target, world):
    delivery, _ = world
    point_at(case, target, world)
    with connection_kept_across_requests(), transaction.atomic():
        case.call_and_validate(
            headers={"Authorization": f"Bearer {delivery.token}"},
            additional_checks=[errors_are_problem_documents],
        )
        transaction.set_rollback(True)
    cache.clear()  # rate-limit counters are not in the database


def test_the_description_promises_a_problem_document_for_every_error(client):
    described = client.get("/api/v1/schema", {"format": "json"}).json()

    errors = {
        (path, method, status): response.get("content", {})
        for path, operations in described["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status.startswith(("4", "5"))
    }
    assert errors
    for where, content in errors.items():
        assert list(content) == [PROBLEM_CONTENT_TYPE], where
        assert content[PROBLEM_CONTENT_TYPE]["schema"] == {"$ref": "#/components/schemas/Problem"}
    for path, operations in described["paths"].items():
        for method, operation in operations.items():
            if any(operation.get("security", [])):
                assert {"401", "403"} <= set(operation["responses"]), (path, method)
