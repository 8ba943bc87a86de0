"""``POST /posttrade/log``: order lifecycle events from the runner (the gate is their system of record)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from aurora.api.auth import ApiAuth
from aurora.api.schemas import PosttradeEvent

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
    except Exception as exc:  # noqa: BLE001 - e.g. disk full or shutting down: the runner re-posts it later
        log.exception("posttrade event not recorded")
        return JSONResponse({"ok": False, "detail": f"event not recorded: {type(exc).__name__}"}, status_code=503)
