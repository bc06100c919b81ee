"""The OpenAPI description's shared parts: how every error of the API answers.

``portal.problems.exception_handler`` answers every error under ``/api/`` with a problem
document, and the token authenticator refuses on every authenticated operation (401
for a bad token, 403 for an officer or agency that may not act). Saying so once here
keeps each view's annotations to what is its own, and keeps the description true for
clients and for the schema-driven tests (``tests/api/``) that hold the API to it.
"""

from typing import Any

from .problems import PROBLEM_CONTENT_TYPE

# The component drf-spectacular makes of ``accounts.api.ProblemSerializer``.
PROBLEM_COMPONENT = "Problem"
AUTHENTICATION_REFUSALS = {
    "401": "`unauthenticated`: no token, or a token that is unknown, expired or revoked.",
    "403": "`officer_not_active`, `agency_not_verified` or `forbidden`: "
    "the caller is known but may not act here.",
}
UNSUPPORTED_MEDIA_TYPE = (
    "`unsupported_media_type`: the body is in a media type the operation does not take."
)


def _is_authenticated(operation: dict[str, Any]) -> bool:
    return any(requirement for requirement in operation.get("security", []))


def problem_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every error response is a problem document.

    Each 4xx and 5xx response without a body of its own gets the ``Problem`` schema as
    ``application/problem+json``; each operation that takes credentials documents the
    authenticator's 401 and 403, and each that takes a body, the parser's 415.
    """
    schemas = result.get("components", {}).get("schemas", {})
    if PROBLEM_COMPONENT not in schemas:
        raise RuntimeError(
            f"The OpenAPI components have no {PROBLEM_COMPONENT!r} schema; "
            "an operation must use accounts.api.ProblemSerializer for it to exist."
        )
    reference = {"$ref": f"#/components/schemas/{PROBLEM_COMPONENT}"}
    problem = {PROBLEM_CONTENT_TYPE: {"schema": reference}}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if _is_authenticated(operation):
                for status, description in AUTHENTICATION_REFUSALS.items():
                    responses.setdefault(status, {"description": description})
            if "requestBody" in operation:
                responses.setdefault("415", {"description": UNSUPPORTED_MEDIA_TYPE})
            for status, response in responses.items():
                if status[:1] in ("4", "5") and not response.get("content"):
                    response["content"] = dict(problem)
    return result
