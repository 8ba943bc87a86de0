"""``POST /posttrade/log``: order lifecycle events from the runner (the gate is their system of record)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from aurora.api.auth import check_api_token
from aurora.api.request_body import body_openapi, parse_body, register_body_model
from aurora.api.responses import BODY, responses
from aurora.api.schemas import Balance, BalanceAck, PosttradeAck, PosttradeEvent
from aurora.gate.state_store import StateWriteError

router = APIRouter(tags=["trading"])
log = logging.getLogger("aurora.api")

register_body_model(PosttradeEvent)
register_body_model(Balance)


@router.post(
    "/posttrade/log",
    summary="Record one ORDER.* lifecycle event",
    description="The event is checked live against the order lifecycle: anomalies are counted "
    "(aurora_lifecycle_anomalies_total{class}) and recorded as ORDER.ANOMALY events; a re-posted event is "
    "answered duplicate and changes nothing.",
    responses={200: {"model": PosttradeAck, "description": "Recorded (or already recorded)."},
               **responses(401, *BODY, 503)},
    openapi_extra=body_openapi(PosttradeEvent),
)  # fmt: skip
async def posttrade_log(request: Request) -> JSONResponse:
    gate = request.app.gate
    check_api_token(gate, request)
    body = await parse_body(request, PosttradeEvent)
    assert body is not None
    try:
        return JSONResponse(gate.posttrade(body.to_event()))
    except (OSError, StateWriteError, ValueError) as exc:  # e.g. disk full or shutting down: the runner re-posts it
        log.warning("posttrade event not recorded: %s", exc)
        return JSONResponse({"ok": False, "detail": f"event not recorded: {type(exc).__name__}"}, status_code=503)
    except Exception as exc:  # noqa: BLE001 - never a 500: not recorded, re-post
        log.exception("posttrade event not recorded")
        return JSONResponse({"ok": False, "detail": f"event not recorded: {type(exc).__name__}"}, status_code=503)


@router.post(
    "/posttrade/balance",
    summary="Report the venue's account balance (it can only lower the equity the limits use)",
    responses={200: {"model": BalanceAck, "description": "Recorded."}, **responses(401, *BODY, 503)},
    openapi_extra=body_openapi(Balance),
)  # fmt: skip
async def posttrade_balance(request: Request) -> JSONResponse:
    gate = request.app.gate
    check_api_token(gate, request)
    body = await parse_body(request, Balance)
    assert body is not None
    try:
        return JSONResponse(gate.report_balance(body.account, body.equity_usd))
    except StateWriteError as exc:
        return JSONResponse({"ok": False, "detail": f"balance not recorded: {exc}"}, status_code=503)
