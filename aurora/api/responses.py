"""What each endpoint can answer besides its success, with the body it answers with (OpenAPI ``responses``).

Routes list the statuses they can produce (``responses(401, 422, 503)``); the descriptions and body models
live here once, so the document cannot describe the same error two ways.
"""

from __future__ import annotations

from typing import Any

from aurora.api.schemas import InvalidRequest, NotRecorded, Problem

_RESPONSES: dict[int, dict[str, Any]] = {
    400: {"model": Problem, "description": "Unreadable request framing (e.g. an invalid Content-Length)."},
    401: {"model": Problem, "description": "Missing or wrong token (the answer gives no hint which)."},
    413: {"model": Problem, "description": "Body larger than api.max_body_bytes; refused before it is read whole."},
    415: {"model": Problem, "description": "Body that is not application/json (utf-8)."},
    422: {"model": InvalidRequest, "description": "Invalid input; each error names the field (a key given twice "
                                                  "in one object included)."},
    503: {"model": NotRecorded, "description": "Not recorded, nothing changed (state or log unwritable); retry."},
}  # fmt: skip

#: The statuses of an endpoint that reads a JSON body with :func:`aurora.api.request_body.parse_body`.
BODY = (400, 413, 415, 422)


def responses(*codes: int, **custom: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the shared ones by code, plus ``custom`` (keyed ``"409"`` ...)."""
    out: dict[int | str, dict[str, Any]] = {c: dict(_RESPONSES[c]) for c in codes}
    for code, spec in custom.items():
        out[int(code.lstrip("_"))] = spec
    return out
