"""Markouts: the mid some seconds after each fill, logged as ``RUNNER.MARKOUT`` for the metrics summary.

For every fill the venue reports (``ORDER.PARTIAL`` / ``ORDER.FILL`` with a ``trade_id``), one record per
horizon in :data:`aurora.session.fields.MARKOUT_HORIZONS_S`: ``cid``, ``symbol`` and ``details``
``{trade_id, horizon_s, mid}``, stamped ``ts_ns`` = fill time + horizon. The summary matches it to the
fill by (``cid``, ``trade_id``) and computes the bps (:mod:`aurora.analytics.metrics_summary`).

Everything is on the runner's one clock (:mod:`runner.clock`): the fill's time is the lifecycle event's
``ts_ns`` (the venue stamps it on that clock) and the market's time is ``RunClock.market_ns``, so a replay
logs the same markouts at any speed. The mid at ``t`` is the book-ticker mid *as of* ``t``: after every
market message stamped at or before ``t``, none after. It is known once a message stamped after ``t``
arrives (any symbol's: the clock has passed ``t``), and taken from the mid cached before that message.

Pending markouts at the end of a run (the horizon not reached before the market data stopped) are
dropped and counted (``dropped_at_end``), not emitted with the last mid: a "30 s markout" taken after
3 s would be a different number under the same name.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any

from aurora.events.codes import EventCode
from aurora.session.fields import MARKOUT_HORIZONS_S, Field

NS = 1_000_000_000
_FILLS = (EventCode.ORDER_PARTIAL.value, EventCode.ORDER_FILL.value)
_CODE = EventCode.RUNNER_MARKOUT.value
_TRADE_ID, _HORIZON_S, _MID = Field.TRADE_ID.value, Field.HORIZON_S.value, Field.MID.value

#: (code, details, ts_ns, symbol, cid): where a markout record goes (the runner's event log)
Emit = Callable[[str, dict[str, Any], int, str, str], None]


class Markouts:
    def __init__(self, emit: Emit, horizons_s: tuple[int, ...] = MARKOUT_HORIZONS_S) -> None:
        self.emit = emit
        self.horizons_s = horizons_s
        # (due ns, horizon s, cid, trade_id, symbol), earliest due first (a venue may report out of order)
        self._due: list[tuple[int, int, str, str, str]] = []
        self._keys: dict[tuple[str, str], int] = {}  # (cid, trade_id) pending -> horizons left
        self.next_due = math.inf  # the earliest due time pending: the per-message test is one compare
        self.mids: dict[str, float] = {}  # symbol -> book-ticker mid as of the last market message
        self.counters = {"fills": 0, "emitted": 0, "no_mid": 0, "dropped_at_end": 0, "duplicate_fills": 0}

    # -- the lifecycle sink -----------------------------------------------------------------------
    def on_lifecycle(self, event: dict[str, Any]) -> None:
        """A lifecycle event as the executor hands it on: fills schedule their markouts."""
        if event.get("event_code") not in _FILLS:
            return
        details = event.get("details") or {}
        tid, cid, symbol, ts = details.get(_TRADE_ID), event.get("cid"), event.get("symbol"), event.get("ts_ns")
        if not tid or not cid or not symbol or type(ts) is not int or not float(details.get("fill_qty") or 0) > 0:
            return  # a markout names its fill by (cid, trade_id), on the runner's clock
        key = (str(cid), str(tid))
        if key in self._keys:  # the venue reported the same fill again: one markout per fill
            self.counters["duplicate_fills"] += 1
            return
        self.counters["fills"] += 1
        self._keys[key] = len(self.horizons_s)
        for h in self.horizons_s:
            heapq.heappush(self._due, (ts + h * NS, h, key[0], key[1], str(symbol)))
        self.next_due = self._due[0][0]

    # -- the market hook --------------------------------------------------------------------------
    def on_market(self, symbol: str, now_ns: int, mid: float) -> None:
        """A market message for ``symbol`` at ``now_ns`` (runner clock) has been applied; ``mid`` is its
        book-ticker mid now. What fell due before ``now_ns`` is taken from the mids cached before it."""
        if now_ns > self.next_due:
            self._flush(now_ns)
        self.mids[symbol] = mid

    def _flush(self, now_ns: int) -> None:
        q = self._due
        while q and q[0][0] < now_ns:
            due, h, cid, tid, symbol = heapq.heappop(q)
            self._done((cid, tid))
            mid = self.mids.get(symbol, math.nan)
            if not (math.isfinite(mid) and mid > 0):  # no valid book as of then: nothing to mark to
                self.counters["no_mid"] += 1
                continue
            self.counters["emitted"] += 1
            self.emit(_CODE, {_TRADE_ID: tid, _HORIZON_S: h, _MID: mid}, due, symbol, cid)
        self.next_due = q[0][0] if q else math.inf

    def _done(self, key: tuple[str, str]) -> None:
        left = self._keys[key] - 1
        if left:
            self._keys[key] = left
        else:
            del self._keys[key]

    def close(self) -> dict[str, int]:
        """The run is over: what has not fallen due is dropped and counted (see the module docstring)."""
        self.counters["dropped_at_end"] += len(self._due)
        self._due.clear()
        self._keys.clear()
        self.next_due = math.inf
        return dict(self.counters)
