"""Prometheus exposition at ``/metrics`` (token required outside development)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from aurora.api.auth import Gate, MetricsAuth
from aurora.api.responses import responses
from aurora.metrics import CONTENT_TYPE_LATEST

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    dependencies=[MetricsAuth],
    summary="Prometheus text exposition",
    response_class=PlainTextResponse,  # documents text/plain; the body says its format version
    responses={200: {"description": "Prometheus text format 0.0.4 (text/plain; version=0.0.4).",
                     "content": {"text/plain": {"schema": {"type": "string"}}}},
               # the refusal is JSON like every other one, not the exposition's text/plain
               401: {"description": responses(401)[401]["description"],
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
)  # fmt: skip
async def metrics(gate: Gate) -> Response:
    gate.refresh_gauges()
    return Response(gate.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
