"""How deeply a JSON document nests, checked before any parser recurses into it.

Python's ``json`` module recurses once per ``[`` or ``{``: a body of ten thousand
brackets ends in ``RecursionError`` (a 500) instead of a refusal. Every JSON body the
portal reads from a caller is measured first, without recursion, and refused as
``400 malformed`` when it nests deeper than ``JSON_MAX_DEPTH`` levels (32 by default; the
deepest document of PROTOCOL §2, the envelope, nests five). The measure is linear: the
strings are cut out (their brackets are text), everything but brackets is dropped, and
innermost pairs are removed once per level. Brackets that do not pair up count as too deep:
such a body is malformed either way.
"""

import json
import re
from typing import Any

from django.conf import settings
from django.utils.translation import gettext

# A JSON string, escapes included (the unrolled form: no backtracking on long strings).
_STRING_BYTES = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STRING_TEXT = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_INNERMOST = re.compile(rb"\[\]|\{\}")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class JSONTooDeep(ValueError):
    """The document nests deeper than the limit (or its brackets do not pair up)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nests deeper than {limit} levels.")
        self.limit = limit


def json_too_deep_message(limit: int) -> str:
    """The refusal of a body deeper than ``limit``, for a person, in the active language
    (``JSONTooDeep``'s own text is the logs')."""
    return gettext("The JSON body nests deeper than %(limit)d levels.") % {"limit": limit}


def json_max_depth() -> int:
    return int(getattr(settings, "JSON_MAX_DEPTH", 32))


def json_depth_check(document: bytes | str, limit: int | None = None) -> None:
    """Raise ``JSONTooDeep`` if ``document`` nests deeper than ``limit`` levels."""
    limit = json_max_depth() if limit is None else limit
    if isinstance(document, str):
        text = _STRING_TEXT.sub("", document)
        # Outside strings JSON is ASCII: other characters are an error json reports itself.
        raw = text.encode("utf-8", "surrogatepass")
    else:
        raw = _STRING_BYTES.sub(b"", document)
    brackets = raw.translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return
        brackets = _INNERMOST.sub(b"", brackets)
    if brackets:
        raise JSONTooDeep(limit)


def json_loads_bounded(document: bytes | str, **kwargs: Any) -> Any:
    """``json.loads`` after the depth check; ``JSONTooDeep`` is a ``ValueError``."""
    json_depth_check(document)
    return json.loads(document, **kwargs)
