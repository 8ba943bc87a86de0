"""``GET /trading_state``: the trading state a runner's orders meet, cheap enough to poll, or long-polled.

Runners poll it (``runner.gate_state_poll_ms``) so an idle runner learns of a halt or a kill-switch
trip without sending a check; ``since=SEQ&wait_ms=N`` holds the answer until the state sequence number
moves past ``SEQ`` or ``N`` ms pass.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aurora.api.auth import ApiAuth, Gate
from aurora.api.responses import responses

router = APIRouter(tags=["trading"])


@router.get(
    "/trading_state",
    dependencies=[ApiAuth],
    summary="The trading state for an account: ACTIVE | REDUCING | HALTED, its trigger, sequence, cancel-all",
    responses=responses(401, 422),
)
async def trading_state(
    gate: Gate,
    account: Annotated[str | None, Query(min_length=1, max_length=64, description="Account id")] = None,
    since: Annotated[int | None, Query(ge=0, description="Wait while state_seq equals this")] = None,
    wait_ms: Annotated[int, Query(ge=0, le=30_000, description="Longest wait (long-poll)")] = 0,
) -> dict:
    return await gate.await_trading_state(account, since, wait_ms)
