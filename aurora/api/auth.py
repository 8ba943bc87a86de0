"""Token checks as dependencies: ``X-OPS-TOKEN`` for ops, ``X-API-TOKEN``/Bearer for trading.

Comparison is constant-time (``hmac.compare_digest``); a failure answers 401 with no hint and counts
``aurora_ops_auth_fail_total{scope}``. Without a configured ops token the ops endpoints stay closed
(fail closed); without an api token the trading endpoints are open (development).

The checks read the headers themselves in one ``async`` dependency each: FastAPI's ``APIKeyHeader`` /
``HTTPBearer`` sub-dependencies cost ~15 µs apiece on the hot path, so the OpenAPI security schemes
are declared by :func:`document_security` instead.
"""

from __future__ import annotations

import time
import weakref
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from aurora.events.codes import EventCode
from aurora.gate.gate_service import GateService

UNAUTHORIZED = "unauthorized"

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "OpsToken": {"type": "apiKey", "in": "header", "name": "X-OPS-TOKEN", "description": "Operator token (OPS_TOKEN)."},
    "ApiToken": {"type": "apiKey", "in": "header", "name": "X-API-TOKEN",
                 "description": "Trading token (AURORA_API_TOKEN); required when configured."},
    "BearerToken": {"type": "http", "scheme": "bearer",
                    "description": "Alternative to X-API-TOKEN; on /metrics the metrics (or ops) token."},
}  # fmt: skip
OPS_SECURITY = [{"OpsToken": []}]
API_SECURITY = [{"ApiToken": []}, {"BearerToken": []}]
METRICS_SECURITY = [{"BearerToken": []}, {"OpsToken": []}]


async def get_gate(request: Request) -> GateService:
    return request.app.gate


Gate = Annotated[GateService, Depends(get_gate)]


#: At most one ``OPS.AUTH_FAIL`` event per scope and path in this many seconds (the counter counts every
#: failure): a misconfigured scraper must not flood the event log with one line per scrape.
AUTH_FAIL_EVENT_INTERVAL_S = 10.0


def _refuse(gate: GateService, request: Request, scope: str) -> HTTPException:
    gate.metrics.auth_fail.labels(scope).inc()
    path = request.url.path
    key = (scope, path)
    now = time.monotonic()
    last = _AUTH_FAIL_LAST.get(gate)
    if last is None:
        last = _AUTH_FAIL_LAST[gate] = {}
    seen = last.get(key)
    if seen is None or now - seen[0] >= AUTH_FAIL_EVENT_INTERVAL_S:
        suppressed = seen[1] if seen is not None else 0
        gate.emit(EventCode.OPS_AUTH_FAIL, {"scope": scope, "path": path, "suppressed_since_last": suppressed})
        last[key] = (now, 0)
    else:
        last[key] = (seen[0], seen[1] + 1)
    return HTTPException(status.HTTP_401_UNAUTHORIZED, UNAUTHORIZED)


_AUTH_FAIL_LAST: weakref.WeakKeyDictionary[GateService, dict[tuple[str, str], tuple[float, int]]] = (
    weakref.WeakKeyDictionary()
)


async def require_ops(request: Request) -> None:
    gate: GateService = request.app.gate
    if not gate.tokens.matches(gate.tokens.ops, request.headers.get("x-ops-token")):
        raise _refuse(gate, request, "ops")


async def require_api(request: Request) -> None:
    check_api_token(request.app.gate, request)


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth is not None and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


def check_api_token(gate: GateService, request: Request) -> None:
    """Raise 401 unless the request carries the trading token (no token configured: open)."""
    expected = gate.tokens.api
    if expected is None:
        return
    given = request.headers.get("x-api-token")
    if given is None:
        given = _bearer(request)
    if not gate.tokens.matches(expected, given):
        raise _refuse(gate, request, "api")


async def require_metrics(request: Request) -> None:
    """Open in development; elsewhere the read-only metrics token or the ops token, as
    ``Authorization: Bearer`` (what Prometheus' ``authorization`` scrape setting sends) or ``X-OPS-TOKEN``."""
    gate: GateService = request.app.gate
    if gate.mode == "development":
        return
    tokens = gate.tokens
    given = _bearer(request) or request.headers.get("x-ops-token")
    if not (tokens.matches(tokens.metrics, given) or tokens.matches(tokens.ops, given)):
        raise _refuse(gate, request, "metrics")


OpsAuth = Depends(require_ops)
ApiAuth = Depends(require_api)
MetricsAuth = Depends(require_metrics)


def security_for(path: str) -> list[dict[str, list]] | None:
    if path.startswith(("/pretrade/", "/posttrade/")):
        return API_SECURITY
    if path == "/metrics":
        return METRICS_SECURITY
    if path.startswith(("/ops/", "/aurora/")) or path in ("/liveness", "/readiness"):
        return OPS_SECURITY
    return None


def document_security(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the security schemes and each operation's requirement to an OpenAPI document, and the
    schemas of request bodies the hot endpoints parse themselves (:mod:`aurora.api.request_body`)."""
    from aurora.api.request_body import BODY_MODELS

    components = schema.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.setdefault("schemas", {})
    for model in BODY_MODELS:
        js = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(js.pop("$defs", {}))
        schemas[model.__name__] = js
    for path, operations in schema.get("paths", {}).items():
        sec = security_for(path)
        if sec is not None:
            for op in operations.values():
                op["security"] = sec
    return schema
