"""``POST /pretrade/check``: the decision. Fail closed: any error denies ``GUARD_ERROR`` with HTTP 200."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from aurora.api.auth import ApiAuth
from aurora.api.schemas import PretradeCheck, PretradeResponse
from aurora.gate.guard import Reason

router = APIRouter(tags=["trading"])

_GUARD_ERROR = orjson.dumps(
    {"allow": False, "max_qty": 0.0, "risk_scale": 0.0, "cooldown_ms": 0.0, "reason": Reason.GUARD_ERROR,
     "observability": {"gate": {"error": "internal"}}}
)  # fmt: skip


@router.post(
    "/pretrade/check",
    dependencies=[ApiAuth],
    summary="Decide whether an order may be placed",
    responses={200: {"model": PretradeResponse}, 401: {"description": "Missing or wrong token"},
               422: {"description": "Invalid request; each error names the field"}},
)  # fmt: skip
async def pretrade_check(body: PretradeCheck, request: Request) -> Response:
    gate = request.app.state.gate
    try:
        dec = gate.check(body.to_request())
        content = orjson.dumps(dec.response())
    except Exception:  # noqa: BLE001 - GateService.check already fails closed; this is the last net
        content = _GUARD_ERROR
    return Response(content, media_type="application/json")
