"""Request parsers of the API."""

import io
import logging
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .jsondepth import JSONTooDeep, json_depth_check, json_too_deep_message

logger = logging.getLogger(__name__)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing a body that nests deeper than ``JSON_MAX_DEPTH`` first.

    A deeper body is ``400 malformed`` and a logged rejection; Python's parser never
    recurses into it (``portal.jsondepth``).
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        try:
            json_depth_check(raw)
        except JSONTooDeep as exc:
            request = (parser_context or {}).get("request")
            logger.warning(
                "JSON body rejected: nests deeper than %d levels (%s %s)",
                exc.limit,
                getattr(request, "method", ""),
                getattr(request, "path", ""),
            )
            raise ParseError(json_too_deep_message(exc.limit)) from None
        return super().parse(io.BytesIO(raw), media_type, parser_context)
