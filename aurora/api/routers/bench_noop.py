"""``POST /bench/noop``: validates the same request model as ``/pretrade/check`` and returns a fixed
answer. Mounted only by ``create_app(..., bench_noop=True)`` (the HTTP benchmark), never by start-api.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aurora.api.request_body import parse_body
from aurora.api.schemas import PretradeCheck

router = APIRouter(tags=["bench"], include_in_schema=False)

_FIXED = b'{"allow":true,"max_qty":0.0,"risk_scale":1.0,"cooldown_ms":0.0,"reason":"OK","observability":{}}'


@router.post("/bench/noop")
async def noop(request: Request) -> Response:
    await parse_body(request, PretradeCheck)  # exactly the gate's parsing and validation
    return Response(_FIXED, media_type="application/json")
