"""Operator actions (``X-OPS-TOKEN``): cool-off, reset, arm/disarm, token rotation, reload, status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse

from aurora.api.auth import Gate, OpsAuth
from aurora.api.schemas import Halt, RotateToken

router = APIRouter(
    tags=["ops"],
    dependencies=[OpsAuth],
    responses={401: {"description": "Missing or wrong token"},
               503: {"description": "The change could not be made durable (state dir unwritable); nothing changed"}},
)  # fmt: skip


@router.get("/ops/status", summary="Armed/halted/health/kill-switch/risk state")
async def status(gate: Gate) -> dict:
    return gate.status()


@router.post("/ops/cooloff/{sec}", summary="Force a cool-off: deny new orders for SEC seconds")
async def cooloff(gate: Gate, sec: Annotated[int, Path(ge=1, le=86_400, description="Seconds")]) -> dict:
    return gate.ops_cooloff(sec)


@router.post("/ops/reset", summary="Clear health HALT/cool-off and the kill-switch (not an ops halt, not disarm)")
async def reset(gate: Gate) -> dict:
    return gate.ops_reset()


@router.post("/ops/halt", summary="HALTED: no order passes, exits included, until /ops/resume")
async def halt(gate: Gate, body: Annotated[Halt | None, Body()] = None) -> dict:
    if body is None:
        return gate.ops_halt()
    return gate.ops_halt(body.reason, cancel_all=body.cancel_all)


@router.post("/ops/kill", summary="Kill: HALTED with cancel-all (runners cancel every resting order) and disarmed")
async def kill(gate: Gate, body: Annotated[Halt | None, Body()] = None) -> dict:
    return gate.ops_kill(body.reason if body is not None else None)


@router.post("/ops/resume", summary="Lift an ops halt (other triggers stay as they are)")
async def resume(gate: Gate) -> dict:
    return gate.ops_resume()


@router.post("/aurora/arm", summary="Arm: allow new risk")
async def arm(gate: Gate) -> dict:
    return gate.set_armed(True)


@router.post("/aurora/disarm", summary="Disarm: trading state REDUCING (only position-reducing orders pass) by default")
async def disarm(gate: Gate) -> dict:
    return gate.set_armed(False)


@router.post("/ops/rotate_token", summary="Replace a token; the old one fails at once")
async def rotate_token(gate: Gate, body: RotateToken) -> dict:
    gate.rotate_token(body.new_token, body.target)
    return {"ok": True, "target": body.target}


@router.post(
    "/ops/reload",
    summary="Reload the config: validate first, swap atomically, emit CONFIG.SWITCHED",
    responses={409: {"description": "The config on disk is invalid; the running one is kept"}},
)
async def reload(gate: Gate, request: Request) -> JSONResponse:
    result = await gate.reload_async(request.app.state.config_loader)
    return JSONResponse(result, status_code=200 if result["ok"] else 409)
