"""``POST /posttrade/log``: order lifecycle events from the runner (the gate is their system of record)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from aurora.api.auth import ApiAuth, Gate
from aurora.api.schemas import Balance, PosttradeEvent
from aurora.gate.state_store import StateWriteError

router = APIRouter(tags=["trading"])
log = logging.getLogger("aurora.api")


@router.post(
    "/posttrade/log",
    dependencies=[ApiAuth],
    summary="Record one ORDER.* lifecycle event",
    responses={401: {"description": "Missing or wrong token"}, 422: {"description": "Invalid event"},
               503: {"description": "Not recorded (e.g. disk error); the runner re-posts it"}},
)  # fmt: skip
async def posttrade_log(body: PosttradeEvent, request: Request) -> JSONResponse:
    gate = request.app.gate
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
    dependencies=[ApiAuth],
    summary="Report the venue's account balance (it can only lower the equity the limits use)",
    responses={401: {"description": "Missing or wrong token"}, 422: {"description": "Invalid balance"},
               503: {"description": "Not recorded (e.g. disk error); re-post it"}},
)  # fmt: skip
async def posttrade_balance(body: Balance, gate: Gate) -> JSONResponse:
    try:
        return JSONResponse(gate.report_balance(body.account, body.equity_usd))
    except StateWriteError as exc:
        return JSONResponse({"ok": False, "detail": f"balance not recorded: {exc}"}, status_code=503)
