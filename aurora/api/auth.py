"""Token checks as dependencies: ``X-OPS-TOKEN`` for ops, ``X-API-TOKEN``/Bearer for trading.

Comparison is constant-time (``hmac.compare_digest``); a failure answers 401 with no hint and counts
``aurora_ops_auth_fail_total{scope}``. Without a configured ops token the ops endpoints stay closed
(fail closed); without an api token the trading endpoints are open (development).

The checks read the headers themselves in one ``async`` dependency each: FastAPI's ``APIKeyHeader`` /
``HTTPBearer`` sub-dependencies cost ~15 µs apiece on the hot path, so the OpenAPI security schemes
are declared by :func:`document_security` instead.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from aurora.events.codes import EventCode
from aurora.gate.gate_service import GateService, TokenStore

UNAUTHORIZED = "unauthorized"

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "OpsToken": {"type": "apiKey", "in": "header", "name": "X-OPS-TOKEN", "description": "Operator token (OPS_TOKEN)."},
    "ApiToken": {"type": "apiKey", "in": "header", "name": "X-API-TOKEN",
                 "description": "Trading token (AURORA_API_TOKEN); required when configured."},
    "BearerToken": {"type": "http", "scheme": "bearer", "description": "Alternative to X-API-TOKEN."},
}  # fmt: skip
OPS_SECURITY = [{"OpsToken": []}]
API_SECURITY = [{"ApiToken": []}, {"BearerToken": []}]


async def get_gate(request: Request) -> GateService:
    return request.app.gate


Gate = Annotated[GateService, Depends(get_gate)]


def _refuse(gate: GateService, request: Request, scope: str) -> HTTPException:
    gate.metrics.auth_fail.labels(scope).inc()
    try:
        gate.emit(EventCode.OPS_AUTH_FAIL, {"scope": scope, "path": request.url.path})
    except OSError:  # the answer to a stranger stays 401 on a full disk (the counter above still counts it)
        pass
    return HTTPException(status.HTTP_401_UNAUTHORIZED, UNAUTHORIZED)


async def require_ops(request: Request) -> None:
    gate: GateService = request.app.gate
    if not TokenStore.matches(gate.tokens.ops, request.headers.get("x-ops-token")):
        raise _refuse(gate, request, "ops")


async def require_api(request: Request) -> None:
    check_api_token(request.app.gate, request)


def check_api_token(gate: GateService, request: Request) -> None:
    """Raise 401 unless the request carries the trading token (no token configured: open)."""
    expected = gate.tokens.api
    if expected is None:
        return
    headers = request.headers
    given = headers.get("x-api-token")
    if given is None:
        auth = headers.get("authorization")
        if auth is not None and auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
    if not TokenStore.matches(expected, given):
        raise _refuse(gate, request, "api")


async def require_metrics(request: Request) -> None:
    """Open in development; elsewhere the ops token is required."""
    gate: GateService = request.app.gate
    if gate.mode != "development":
        await require_ops(request)


OpsAuth = Depends(require_ops)
ApiAuth = Depends(require_api)
MetricsAuth = Depends(require_metrics)


#: An operation anyone may call (OpenAPI: the empty requirement).
OPEN: list[dict[str, list]] = [{}]


def security_for(path: str, gate: GateService | None = None) -> list[dict[str, list]] | None:
    """The token an operation takes, as this gate enforces it: trading endpoints are open while no API token
    is configured, ``/metrics`` in development (then a token is accepted but not needed)."""
    if path.startswith(("/pretrade/", "/posttrade/")):
        return OPEN if gate is not None and gate.tokens.api is None else API_SECURITY
    if path == "/metrics" and gate is not None and gate.mode == "development":
        return [*OPEN, *OPS_SECURITY]
    if path.startswith(("/ops/", "/aurora/")) or path in ("/liveness", "/readiness", "/metrics"):
        return OPS_SECURITY
    return None


def document_security(schema: dict[str, Any], gate: GateService | None = None) -> dict[str, Any]:
    """Add the security schemes and each operation's requirement to an OpenAPI document, and the
    schemas of request bodies the endpoints parse themselves (:mod:`aurora.api.request_body`)."""
    from aurora.api.request_body import BODY_MODELS

    components = schema.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.setdefault("schemas", {})
    for model in BODY_MODELS:
        js = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(js.pop("$defs", {}))
        schemas[model.__name__] = js
    for path, operations in schema.get("paths", {}).items():
        sec = security_for(path, gate)
        if sec is not None:
            for op in operations.values():
                op["security"] = sec
    return schema
