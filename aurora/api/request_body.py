"""Request bodies: bounded, JSON only, no duplicate keys, parsed and validated in one step.

The endpoints that take a body read it themselves instead of declaring it as a FastAPI parameter:
FastAPI would decode the JSON with the standard library first and validate the resulting dicts
afterwards, and resolve the body before the token check. Here the token is checked first (a
stranger gets 401, never a schema hint), then, before anything is parsed:

* **413** — a ``Content-Length`` above ``api.max_body_bytes`` is refused before a byte of the body is
  read; a body without a length (chunked) is read only until it passes the limit;
* **415** — a content type other than ``application/json`` (or ``application/*+json``; charset utf-8);
* **422** — a key given twice in one object (JSON parsers, pydantic's included, silently keep the last:
  ``{"qty": 1, "qty": 100}`` must not mean 100 to the gate and 1 to the client's log).

``model_validate_json`` then parses and validates at once; its errors become the same 422 as everywhere
else (``body.<field>``). The OpenAPI document still shows the model (:func:`body_openapi`).

Duplicate keys are found without a second parse: with no backslash in the body every ``"`` delimits a
string, so the keys are exactly the ``"`` followed by ``:`` (whitespace allowed); their number must
equal the number of distinct keys the validated model holds (:func:`key_count`; the models forbid
unknown keys). A body with a backslash takes the slow, exact path (the standard library's parser with
a hook that sees every object's pairs).
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

DEFAULT_MAX_BODY = 65_536
_KEY_END = re.compile(rb'"[ \t\r\n]*:')
_SPACED_KEY_END = re.compile(rb'"[ \t\r\n]+:')


class PayloadTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes (api.max_body_bytes)")


class UnsupportedMediaType(HTTPException):
    def __init__(self, got: str | None) -> None:
        super().__init__(415, f"content type must be application/json, got {got or 'none'}")


def _json_content_type(value: str | None) -> bool:
    if not value:
        return False
    mime, _, params = value.partition(";")
    mime = mime.strip().lower()
    if mime != "application/json" and not (mime.startswith("application/") and mime.endswith("+json")):
        return False
    for param in params.split(";"):
        k, _, v = param.partition("=")
        if k.strip().lower() == "charset" and v.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 past ``limit`` (by its declared length first) and 415 if not JSON."""
    headers = request.headers
    declared = headers.get("content-length")
    if declared is not None:
        try:
            n = int(declared)
        except ValueError:
            raise HTTPException(400, "invalid Content-Length") from None
        if n > limit:
            raise PayloadTooLarge(limit)
    if not _json_content_type(headers.get("content-type")):
        raise UnsupportedMediaType(headers.get("content-type"))
    if declared is not None:
        return await request.body()  # uvicorn enforces the declared length; it is within the limit
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def key_count(value: Any) -> int:
    """Distinct keys in a validated model (fields given) and every dict and list inside it."""
    if isinstance(value, BaseModel):
        fields = value.model_fields_set
        return len(fields) + sum(key_count(getattr(value, f)) for f in fields)
    if isinstance(value, dict):
        return len(value) + sum(key_count(v) for v in value.values() if isinstance(v, dict | list | BaseModel))
    if isinstance(value, list):
        return sum(key_count(v) for v in value if isinstance(v, dict | list | BaseModel))
    return 0


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _DuplicateKey(dup)
    return d


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def duplicate_key(raw: bytes, model: BaseModel, counted: int | None = None) -> str | None:
    """A key given twice anywhere in ``raw`` (the body ``model`` was validated from), else None."""
    if b"\\" not in raw:
        given = raw.count(b'":') if _SPACED_KEY_END.search(raw) is None else len(_KEY_END.findall(raw))
        distinct = key_count(model) if counted is None else counted
        if given == distinct:
            return None
    try:
        json.loads(raw, object_pairs_hook=_pairs_without_duplicates)
    except _DuplicateKey as exc:
        return exc.key
    except ValueError:
        return None  # pydantic parsed it: a parser disagreement is not a duplicate
    return None


def _validation_error(exc: ValidationError) -> RequestValidationError:
    return RequestValidationError([
        {"loc": ("body", *e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ])  # fmt: skip


async def parse_body(request: Request, model: type[M], *, optional: bool = False) -> M | None:
    """Read (see :func:`read_body`), parse, validate and check ``request``'s body as ``model``.

    ``optional``: an empty body (no content type needed then) gives ``None``."""
    gate = getattr(request.app, "gate", None)
    limit = gate.cfg.api.max_body_bytes if gate is not None else DEFAULT_MAX_BODY
    if optional and request.headers.get("content-length") in ("0", None) and "transfer-encoding" not in request.headers:
        return None
    raw = await read_body(request, limit)
    try:
        value = model.model_validate_json(raw)
    except ValidationError as exc:
        raise _validation_error(exc) from None
    counter = getattr(value, "key_count", None)
    dup = duplicate_key(raw, value, counter() if counter is not None else None)
    if dup is not None:
        raise RequestValidationError([{"loc": ("body", dup), "type": "duplicate_key",
                                       "msg": f"key {dup!r} is given more than once in one object"}])  # fmt: skip
    return value


def body_openapi(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the JSON request body (components added by the app)."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": ref}}}}


#: Models referenced by ``body_openapi`` whose schemas the app adds to the OpenAPI components.
BODY_MODELS: list[type[BaseModel]] = []


def register_body_model(model: type[M]) -> type[M]:
    if model not in BODY_MODELS:
        BODY_MODELS.append(model)
    return model
