"""Liveness and readiness: ``/health`` (open), ``/liveness`` and ``/readiness`` (ops token)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from aurora.api.auth import Gate, OpsAuth

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness summary, config version, armed/halted state")
async def health(gate: Gate) -> dict:
    return gate.health()


@router.get("/liveness", dependencies=[OpsAuth], summary="The process answers")
async def liveness(gate: Gate) -> dict:
    return {"alive": True, "uptime_s": gate.health()["uptime_s"]}


@router.get(
    "/readiness",
    dependencies=[OpsAuth],
    summary="Ready to decide: not halted, config valid, log dir writable",
    responses={503: {"description": "Not ready; `reasons` says why."}},
)
async def readiness(gate: Gate) -> JSONResponse:
    ready, reasons = gate.readiness()
    body = {"ready": ready, "reasons": reasons, "config_version": gate.version}
    return JSONResponse(body, status_code=200 if ready else 503)
