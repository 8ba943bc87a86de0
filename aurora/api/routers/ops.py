"""Operator actions (``X-OPS-TOKEN``): cool-off, reset, arm/disarm, token rotation, reload, status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from aurora.api.auth import Gate, OpsAuth
from aurora.api.request_body import body_openapi, parse_body, register_body_model
from aurora.api.responses import BODY, responses
from aurora.api.schemas import Halt, ReloadResult, RotateToken

router = APIRouter(tags=["ops"], dependencies=[OpsAuth], responses=responses(401))
#: An operator's change: made durable first (503 when it cannot be), then recorded as an event.
CHANGE = responses(503)

register_body_model(RotateToken)
register_body_model(Halt)


@router.get("/ops/status", summary="Armed/halted/health/kill-switch/risk state")
async def status(gate: Gate) -> dict:
    return gate.status()


@router.post("/ops/cooloff/{sec}", summary="Force a cool-off: deny new orders for SEC seconds",
             responses={**CHANGE, **responses(422)})  # fmt: skip
async def cooloff(gate: Gate, sec: Annotated[int, Path(ge=1, le=86_400, description="Seconds")]) -> dict:
    return gate.ops_cooloff(sec)


@router.post("/ops/reset", summary="Clear health HALT/cool-off and the kill-switch (not an ops halt, not disarm)",
             responses=CHANGE)  # fmt: skip
async def reset(gate: Gate) -> dict:
    return gate.ops_reset()


@router.post("/ops/halt", summary="HALTED: no order passes, exits included, until /ops/resume",
             responses={**CHANGE, **responses(*BODY)}, openapi_extra=body_openapi(Halt, required=False))  # fmt: skip
async def halt(gate: Gate, request: Request) -> dict:
    body = await parse_body(request, Halt, optional=True)
    if body is None:
        return gate.ops_halt()
    return gate.ops_halt(body.reason, cancel_all=body.cancel_all)


@router.post("/ops/kill", summary="Kill: HALTED with cancel-all (runners cancel every resting order) and disarmed",
             responses={**CHANGE, **responses(*BODY)}, openapi_extra=body_openapi(Halt, required=False))  # fmt: skip
async def kill(gate: Gate, request: Request) -> dict:
    body = await parse_body(request, Halt, optional=True)
    return gate.ops_kill(body.reason if body is not None else None)


@router.post("/ops/resume", summary="Lift an ops halt (other triggers stay as they are)", responses=CHANGE)
async def resume(gate: Gate) -> dict:
    return gate.ops_resume()


@router.post("/aurora/arm", summary="Arm: allow new risk", responses=CHANGE)
async def arm(gate: Gate) -> dict:
    return gate.set_armed(True)


@router.post("/aurora/disarm", summary="Disarm: trading state REDUCING (only position-reducing orders pass) by default",
             responses=CHANGE)  # fmt: skip
async def disarm(gate: Gate) -> dict:
    return gate.set_armed(False)


@router.post("/ops/rotate_token", summary="Replace a token; the old one fails at once",
             responses={**CHANGE, **responses(*BODY)}, openapi_extra=body_openapi(RotateToken))  # fmt: skip
async def rotate_token(gate: Gate, request: Request) -> dict:
    body = await parse_body(request, RotateToken)
    assert body is not None
    gate.rotate_token(body.new_token, body.target)
    request.app.openapi_schema = None  # the document states which endpoints need a token: rebuilt on demand
    return {"ok": True, "target": body.target}


@router.post(
    "/ops/reload",
    summary="Reload the config: validate first, swap atomically, emit CONFIG.SWITCHED",
    responses={200: {"model": ReloadResult, "description": "Reloaded."},
               409: {"model": ReloadResult, "description": "The config on disk is invalid; the running one is kept"},
               **CHANGE},
)  # fmt: skip
async def reload(gate: Gate, request: Request) -> JSONResponse:
    result = await gate.reload_async(request.app.state.config_loader)
    return JSONResponse(result, status_code=200 if result["ok"] else 409)
