"""``POST /pretrade/check``: the decision. Fail closed: any error denies ``GUARD_ERROR`` with HTTP 200."""

from __future__ import annotations

import logging

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from aurora.api.auth import check_api_token
from aurora.api.request_body import body_openapi, parse_body, register_body_model
from aurora.api.schemas import PretradeCheck, PretradeResponse
from aurora.gate.guard import Reason

router = APIRouter(tags=["trading"])
log = logging.getLogger("aurora.api")

_GUARD_ERROR = orjson.dumps(
    {"allow": False, "max_qty": 0.0, "risk_scale": 0.0, "cooldown_ms": 0.0, "reason": Reason.GUARD_ERROR,
     "observability": {"gate": {"error": "internal"}}}
)  # fmt: skip


register_body_model(PretradeCheck)


@router.post(
    "/pretrade/check",
    summary="Decide whether an order may be placed",
    responses={200: {"model": PretradeResponse}, 401: {"description": "Missing or wrong token"},
               422: {"description": "Invalid request; each error names the field"}},
    openapi_extra=body_openapi(PretradeCheck),
)  # fmt: skip
async def pretrade_check(request: Request) -> Response:
    gate = request.app.gate
    check_api_token(gate, request)  # before the body is read: a stranger learns nothing about the schema
    body = await parse_body(request, PretradeCheck)
    if body.market.ts_ns is None and gate.clock.request_driven:
        raise RequestValidationError([{"loc": ("body", "market", "ts_ns"), "type": "missing",
                                       "msg": "required: this gate runs on the request clock (start-api --clock request)"}])
    try:
        r = body.to_request()
        content = orjson.dumps(gate.response_for(r, gate.check(r)))
    except Exception as exc:  # noqa: BLE001 - GateService.check already fails closed; this is the last net
        log.exception("pretrade check failed outside the pipeline")
        try:
            gate.report_error("gate", exc)
        except Exception:  # noqa: BLE001 - e.g. the log itself is failing: still answer a deny
            pass
        content = _GUARD_ERROR
    return Response(content, media_type="application/json")
