"""The gate's trading state as the runner knows it: learned from every gate answer and a long-poll.

* **From every answer.** Check and lifecycle answers carry ``trading_state`` and ``state_seq``
  (:attr:`runner.gate_client.GateClient.on_state`). A newer sequence number is taken at once, so new
  entries stop the moment any answer says REDUCING or HALTED; such an answer does not name the trigger or
  the cancel-all flag, so the full view is fetched right away (one round trip) and acted on then.
* **Long-poll.** ``GET /trading_state?since=SEQ&wait_ms=runner.gate_state_poll_ms`` is held by the gate
  until the sequence moves (it answers at once then) or the wait ends: a runner without market data (no
  checks, no fills) learns a change within ``gate_state_poll_ms`` at the very worst, in one round trip
  usually.
* **Order of answers.** Answers travel on different connections, so an older one can arrive after a
  newer one: only a higher ``state_seq`` replaces what is known (the gate's sequence only grows while it
  runs). After a failure the next answer is taken whatever its number (a restarted gate, a fresh state).
* **Unknown.** Before the first answer, and while the gate cannot be asked (the poll fails, or the gate
  client is in an outage), the state is *unknown*: the runner opens no new entries (fail closed; see
  :mod:`runner.kill` for what happens to resting orders then).

Each change of what is known is handed to ``on_change`` (the :class:`runner.kill.KillController`) and
recorded as ``RUNNER.TRADING_STATE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aurora.events.codes import EventCode, KillReason, kill_reason
from aurora.gate.trading_state import TradingState
from runner.gate_client import GateAPI

#: how long a failed poll waits before the next: doubling from the first to the last (or poll_ms)
_RETRY_MIN_S = 0.05
_RETRY_MAX_S = 1.0


@dataclass(frozen=True, slots=True)
class StateView:
    """The gate's trading state for this runner's account, as learned at ``learned_ns``."""

    state: TradingState | None  # None: unknown (not learned yet, or the gate cannot be asked)
    seq: int | None
    trigger: str | None = None  # the gate's trigger name (kill_switch, disarmed, ops_halt, ...)
    cancel_all: bool = False  # ops halt --cancel-all / ops kill: every resting order goes
    detailed: bool = False  # from /trading_state: trigger and cancel_all are known
    changed_ns: int | None = None  # the gate's wall time of the change, when it says
    learned_ns: int = 0  # the runner's wall time it learned this
    via: str = "start"  # start | check | posttrade | poll | detail | unknown

    @property
    def reason(self) -> KillReason:
        return kill_reason(self.trigger, self.state.value if self.state else None)

    @property
    def key(self) -> tuple[Any, ...]:
        """What a change is judged by (the sequence also moves on changes that leave these as they were)."""
        return (self.state, self.trigger, self.cancel_all)


def _parse(data: dict[str, Any]) -> tuple[TradingState, int] | None:
    try:
        return TradingState(str(data["trading_state"])), int(data["state_seq"])
    except (KeyError, TypeError, ValueError):
        return None


class GateStateWatch:
    def __init__(
        self,
        gate: GateAPI,
        account: str,
        *,
        poll_ms: float,
        on_change: Callable[[StateView], None],
        emit: Callable[..., None],
    ) -> None:
        self.gate = gate
        self.account = account
        self.poll_ms = poll_ms
        self.on_change = on_change
        self.emit = emit
        self.view = StateView(None, None, learned_ns=time.time_ns())  # the newest knowledge
        self.applied = self.view  # the last view handed to on_change
        self.changes = 0
        #: awaited after each long-poll answer: the runner's reaction runs in this task, with no loop hop
        self.after_poll: Callable[[], Awaitable[None]] | None = None
        self._fetching: asyncio.Task[None] | None = None
        gate.on_state = self.observe

    @property
    def state(self) -> TradingState | None:
        """The state new orders meet: unknown too while the gate client is in an outage."""
        return self.view.state if getattr(self.gate, "available", True) else None

    # -- learning ---------------------------------------------------------------------------------
    def observe(self, data: dict[str, Any], via: str) -> None:
        """An answer carrying the trading state (check, lifecycle post, /trading_state)."""
        parsed = _parse(data)
        if parsed is None:
            return
        state, seq = parsed
        detailed = via in ("start", "poll", "detail")
        known = self.view
        if known.seq is not None and (seq < known.seq or (seq == known.seq and (known.detailed or not detailed))):
            return  # older than what is known, or nothing new
        changed = data.get("changed_ns") if detailed else None
        view = StateView(
            state, seq,
            trigger=data.get("trigger") if detailed else None,
            cancel_all=bool(data.get("cancel_all")) if detailed else False,
            detailed=detailed,
            changed_ns=changed if isinstance(changed, int) else None,
            # the change was learned when its sequence number was first seen, whichever answer brought it
            learned_ns=known.learned_ns if seq == known.seq else time.time_ns(),
            via=via,
        )  # fmt: skip
        self.view = view  # new entries meet it from now on
        if not detailed and state is not TradingState.ACTIVE:
            self._fetch_detail()  # why, and whether to cancel everything: one round trip
            return
        self._apply(view)

    def _apply(self, view: StateView, why: str | None = None) -> None:
        before = self.applied
        self.applied = view
        if view.key == before.key:
            return
        self.changes += 1
        stopped = view.state is not TradingState.ACTIVE
        self.emit(EventCode.RUNNER_TRADING_STATE.value, {
            "state": view.state.value if view.state else None,
            "from": before.state.value if before.state else None,
            "trigger": view.trigger, "reason": view.reason.value if stopped else None,
            "cancel_all": view.cancel_all, "state_seq": view.seq, "via": view.via,
            "gate_changed_ns": view.changed_ns, **({"why": why} if why else {}),
        })  # fmt: skip
        self.on_change(view)

    def _unknown(self, why: str) -> None:
        self.view = StateView(None, None, learned_ns=self.view.learned_ns if self.view.state is None else time.time_ns(),
                              via="unknown")  # fmt: skip
        self._apply(self.view, why)

    def _fetch_detail(self) -> None:
        if self._fetching is None or self._fetching.done():
            self._fetching = asyncio.get_running_loop().create_task(self._detail(), name="gate-state-detail")

    async def _detail(self) -> None:
        data = await self.gate.trading_state(self.account)
        if data is not None:
            self.observe(data, "detail")
        view = self.view
        if not view.detailed and view.state is not None:
            # The gate said REDUCING/HALTED but could not say why: act on the state itself (the orders are
            # cancelled as GATE_REDUCING / GATE_HALTED) rather than wait for it.
            self._apply(view, "the trigger could not be fetched")

    # -- the long-poll ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Learn the state before anything trades (it stays unknown when the gate does not answer)."""
        data = await self.gate.trading_state(self.account)
        if data is not None:
            self.observe(data, "start")

    async def run(self) -> None:
        retry_s = _RETRY_MIN_S
        while True:
            data = await self.gate.trading_state(self.account, since=self.view.seq, wait_ms=self.poll_ms)
            if data is None:
                self._unknown("the gate's trading state could not be fetched")
                await asyncio.sleep(retry_s)
                retry_s = min(_RETRY_MAX_S, self.poll_ms / 1000.0, retry_s * 2)
                continue
            retry_s = _RETRY_MIN_S
            self.observe(data, "poll")
            if self.after_poll is not None:
                await self.after_poll()

    async def aclose(self) -> None:
        task = self._fetching
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
