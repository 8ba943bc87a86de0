"""The feed interface: every source yields ``(recv_ts_ns, raw_bytes)`` of Binance combined-stream messages.

A feed also answers snapshot requests from the book sync (in-band, as a ``<sym>@depthSnapshot``
message) and reports its own counters. ``clock_offset_ns`` maps exchange event time (``E``, ms) onto
the local wall clock: ``local_ns = E * 1_000_000 + clock_offset_ns`` — 0 for live data and for a
synthetic market anchored at "now"; ``None`` (a recording, or a market run as fast as possible) means
the consumer derives it from the first message.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable
from typing import Any

#: ``on_event(code, details)``: how a feed reports ``RUNNER.FEED_*`` events (reconnects, failed snapshots).
EventSink = Callable[[str, dict[str, Any]], None]


class Feed(abc.ABC):
    """One market-data source for a set of symbols."""

    name: str = "feed"

    def __init__(self, symbols: list[str]) -> None:
        self.symbols = [s.upper() for s in symbols]
        self.clock_offset_ns: int | None = 0
        self.stats: dict[str, Any] = {"messages": 0}
        self.on_event: EventSink | None = None

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[tuple[int, bytes]]:
        """Yield ``(recv_ts_ns, raw)`` until the source ends or :meth:`aclose` is called."""

    def request_snapshot(self, symbol: str) -> None:  # noqa: B027 - optional for sources without a REST side
        """Ask for a depth snapshot of ``symbol``; it arrives in-band as ``<sym>@depthSnapshot``."""

    async def aclose(self) -> None:  # noqa: B027 - nothing to release by default
        """Stop producing and release connections/files."""


class FeedError(RuntimeError):
    """A feed cannot be opened or read (bad path, unreachable endpoint); the message says which."""
