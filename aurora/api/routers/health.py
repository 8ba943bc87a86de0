"""Liveness and readiness: ``/health`` (open), ``/liveness`` and ``/readiness`` (ops token)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from aurora.api.auth import Gate, OpsAuth
from aurora.api.responses import responses
from aurora.api.schemas import Readiness

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness summary, config version, armed/halted state")
async def health(gate: Gate) -> dict:
    return gate.health()


@router.get("/liveness", dependencies=[OpsAuth], summary="The process answers", responses=responses(401))
async def liveness(gate: Gate) -> dict:
    return {"alive": True, "uptime_s": gate.health()["uptime_s"]}


@router.get(
    "/readiness",
    dependencies=[OpsAuth],
    summary="Ready to decide: not halted, config valid, log dir writable",
    responses={200: {"model": Readiness, "description": "Ready."},
               503: {"model": Readiness, "description": "Not ready; `reasons` says why."}, **responses(401)},
)  # fmt: skip
async def readiness(gate: Gate) -> JSONResponse:
    ready, reasons = gate.readiness()
    body = {"ready": ready, "reasons": reasons, "config_version": gate.version}
    return JSONResponse(body, status_code=200 if ready else 503)
