"""Prometheus exposition at ``/metrics`` (token required outside development)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from aurora.api.auth import Gate, MetricsAuth
from aurora.metrics import CONTENT_TYPE_LATEST

router = APIRouter(tags=["metrics"])


@router.get("/metrics", dependencies=[MetricsAuth], summary="Prometheus text exposition")
async def metrics(gate: Gate) -> Response:
    gate.refresh_gauges()
    return Response(gate.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
