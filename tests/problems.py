"""The one check that an answer is a problem document (RFC 9457, PROTOCOL §5).

Every refusal of the API, and every error under ``/api/``, is ``application/problem+json``
with the members ``type``, ``title``, ``status``, ``detail`` and a stable ``code``
(``portal.problems.problem_document``). What a refusal must also leave undone (nothing
stored, nothing sent) each test checks itself, after this.
"""

import json
from typing import Any

from portal.problems import PROBLEM_CONTENT_TYPE, TYPE_PREFIX


def assert_problem(response: Any, *, status: int, code: str) -> dict[str, Any]:
    """Check the status, the media type and the members; return the document.

    The caller asserts what else the document says (``detail``, ``errors``, ``rule``...).
    """
    streamed = getattr(response, "streaming", False)
    assert not streamed, f"a streamed {response.status_code} answer, not a problem document"
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE, response["Content-Type"]
    document = json.loads(response.content)
    assert document["code"] == code, document
    assert document["status"] == status, document
    assert document["type"] == TYPE_PREFIX + code, document
    assert document["title"], document
    assert document["detail"], document
    return document
