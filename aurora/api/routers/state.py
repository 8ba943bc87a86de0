"""``GET /trading_state``: the trading state a runner's orders meet, cheap enough to poll, or long-polled.

Runners poll it (``runner.gate_state_poll_ms``) so an idle runner learns of a halt or a kill-switch
trip without sending a check; ``since=SEQ&wait_ms=N`` holds the answer until the state sequence number
moves past ``SEQ`` or ``N`` ms pass.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from fastapi import APIRouter, Query

from aurora.api.auth import ApiAuth, Gate

router = APIRouter(tags=["trading"])


@router.get(
    "/trading_state",
    dependencies=[ApiAuth],
    summary="The trading state for an account: ACTIVE | REDUCING | HALTED, its trigger, sequence, cancel-all",
    responses={401: {"description": "Missing or wrong token"}, 422: {"description": "Invalid query"}},
)
async def trading_state(
    gate: Gate,
    account: Annotated[str | None, Query(min_length=1, max_length=64, description="Account id")] = None,
    since: Annotated[int | None, Query(ge=0, description="Wait while state_seq equals this")] = None,
    wait_ms: Annotated[int, Query(ge=0, le=30_000, description="Longest wait (long-poll)")] = 0,
) -> dict:
    if since is not None and since == gate.state_seq and wait_ms > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(gate.state_changed.wait(), wait_ms / 1000.0)
    return gate.trading_state_view(account)
