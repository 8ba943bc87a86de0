"""The gate's clock: wall time (``system``) or the requests' own time (``request``, for replays).

Every window of the gate — throttle, duplicates, health, reservations, deadlines, ack TTL, cool-off,
the risk day — reads ``now_ns()``. Wall time (ns since the epoch, not a monotonic clock) because the
deadlines and cool-offs it sets are durable and must mean the same after a restart; a clock stepped
back makes the windows stricter for a moment, never looser.

``request``: a replay sends the recording's time (``market.ts_ns``, the events' ``ts_ns``); the gate's
clock follows the latest time it has seen and never runs backwards, so a replay at any speed gives
the same decisions.
"""

from __future__ import annotations

import time
from typing import Literal

ClockMode = Literal["system", "request"]


class GateClock:
    def __init__(self, mode: ClockMode = "system", start_ns: int = 0) -> None:
        self.mode = mode
        self.request_driven = mode == "request"
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now if self.request_driven else time.time_ns()

    def observe(self, ts_ns: int | None) -> int:
        """A request's time: on the request clock it moves the clock forward. Returns now."""
        if not self.request_driven:
            return time.time_ns()
        if ts_ns is not None and ts_ns > self._now:
            self._now = ts_ns
        return self._now

    def set_floor(self, ts_ns: int | None) -> None:
        """After a restore on the request clock: never before the last record."""
        if self.request_driven and ts_ns is not None and ts_ns > self._now:
            self._now = ts_ns
