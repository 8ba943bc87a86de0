"""The runner's clock: wall time for live data, the data's own time for a replay or a fast market.

Everything that decides — order TTLs, holds, time stops, the simulated venue, ``market.ts_ns`` of a
check — reads :meth:`RunClock.now`. On the data's clock no wall time leaks in, so a recording decides
the same at any replay speed; the gate then runs on the same time (``start-api --clock request``).
"""

from __future__ import annotations

import time

from runner.feeds.base import Feed

MS = 1_000_000


class RunClock:
    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        #: live data (exchange time is wall time): False for a replay or a market run faster than real time
        self.live = feed.clock_offset_ns == 0
        self.market_ns = 0  # the latest market time seen (ns since the epoch), never backwards
        self.first_ns = 0  # the first market time seen
        self.tick_recv_ns = 0  # wall time the message being handled was received

    def on_message(self, event_ms: int, recv_ns: int) -> None:
        """A message with exchange time ``event_ms`` arrived at ``recv_ns`` (wall)."""
        feed = self.feed
        if feed.clock_offset_ns is None:
            # A recording keeps its own clock: anchored at the recorded receive time of its first message
            # (not at when it is replayed), so every replay of it sees the same times at any speed.
            anchor = getattr(feed, "recorded_ns", 0) or recv_ns
            feed.clock_offset_ns = anchor - event_ms * MS
        t = event_ms * MS + feed.clock_offset_ns
        if not self.first_ns:
            self.first_ns = t
        if t > self.market_ns:
            self.market_ns = t
        self.tick_recv_ns = recv_ns

    def now(self) -> int:
        """The runner's time now: wall time live, else the market's (no wall time leaks in)."""
        if self.live:
            return max(self.market_ns, time.time_ns())
        return self.market_ns

    def step(self, ns: int) -> None:
        """Move the data's clock on by ``ns`` (the feed has stopped: let a simulated venue answer)."""
        self.market_ns += ns

    def data_age_ms(self, last_event_ms: int) -> float:
        """How old the data behind a decision is: exchange time to now (live: to this very moment)."""
        offset = self.feed.clock_offset_ns or 0
        if self.live:
            age = max(0.0, (self.tick_recv_ns - (last_event_ms * MS + offset)) / 1e6)
            return age + max(0, time.time_ns() - self.tick_recv_ns) / 1e6
        return max(0.0, (self.market_ns - (last_event_ms * MS + offset)) / 1e6)
