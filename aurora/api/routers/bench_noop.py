"""``POST /bench/noop``: validates the same request model as ``/pretrade/check`` and returns a fixed
answer. Mounted only by ``create_app(..., bench_noop=True)`` (the HTTP benchmark), never by start-api.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from aurora.api.schemas import PretradeCheck

router = APIRouter(tags=["bench"], include_in_schema=False)

_FIXED = b'{"allow":true,"max_qty":0.0,"risk_scale":1.0,"cooldown_ms":0.0,"reason":"OK","observability":{}}'


@router.post("/bench/noop")
async def noop(body: PretradeCheck) -> Response:
    return Response(_FIXED, media_type="application/json")
