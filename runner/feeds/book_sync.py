"""Local book synchronisation: REST snapshot + diff stream, by Binance USD-M's documented rule.

One implementation for every feed (live, replay, synthetic):

1. While unsynced, buffer diffs and ask the feed for a snapshot (``lastUpdateId`` = L). A live feed
   fetches one over REST; a replay has none to give, so the book waits for the next snapshot recorded
   in-band (none: the symbol stays unsynced — no book, no trading).
2. Drop buffered events with ``u < L`` (already in the snapshot). The first processed event must have
   ``U <= L <= u``. An event with ``pu == L`` is accepted too: it is the one right after an event that
   ended exactly at the snapshot, so nothing is missing (the ids are not contiguous: ``U`` is not
   ``pu + 1`` on real data, so ``U <= L + 1`` would be the wrong test). An event with ``u == L`` is the
   first event, not a duplicate — re-applying its absolute quantities is harmless.
3. From then on each event must have ``pu ==`` the previous event's ``u``.

Detected and counted:

* ``dropped`` — buffered or first events older than the snapshot (``u < L``): ignored;
* ``duplicates`` — an event with ``u <=`` the last applied ``u``: ignored;
* ``out_of_order`` — an event that does not fit is held for one message; when the next one fits, both
  are applied in order (no resync needed);
* ``stale_snapshots_refused`` — a snapshot older than the first buffered event (``L < U``, no chain):
  another one is requested;
* ``gaps`` — the chain is broken for good: the book is cleared, marked unsynced and resynced from a
  snapshot (``RUNNER.FEED_GAP``, then ``RUNNER.FEED_RESYNC`` when a snapshot rebuilds it);
* ``snapshots`` — snapshots applied; ``resyncs`` — those applied after a gap.

Torn (unparseable) messages are counted by the decoder (:mod:`runner.market`), since their symbol is
unknowable; a torn diff then shows up here as a gap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from aurora.events.codes import EventCode
from runner.book import L2Book

#: ``on_event(code, details)`` for ``RUNNER.FEED_GAP`` / ``RUNNER.FEED_RESYNC``.
SyncEventSink = Callable[[str, dict[str, Any]], None]

MAX_BUFFER = 2_000

_GAP = "sequence gap"
_OLD_SNAPSHOT = "snapshot older than the first diff"


class BookSync:
    __slots__ = (
        "symbol",
        "book",
        "_request",
        "_on_event",
        "synced",
        "ever_synced",
        "_awaiting",
        "_first",
        "_buffer",
        "_held",
        "last_u",
        "updated_ms",
        "counters",
        "_had_gap",
    )

    def __init__(
        self,
        symbol: str,
        book: L2Book,
        request_snapshot: Callable[[str], None],
        on_event: SyncEventSink | None = None,
    ) -> None:
        self.symbol = symbol
        self.book = book
        self._request = request_snapshot
        self._on_event = on_event
        self.synced = False
        self.ever_synced = False
        self._awaiting = False
        self._first = False  # synced from a snapshot, the first event not processed yet
        self._buffer: deque[dict[str, Any]] = deque(maxlen=MAX_BUFFER)
        self._held: dict[str, Any] | None = None
        self._had_gap = False
        self.last_u = 0
        self.updated_ms = 0  # event time (E, ms) of the last snapshot or diff applied
        self.counters = {
            "applied": 0,
            "buffered": 0,
            "dropped": 0,
            "duplicates": 0,
            "out_of_order": 0,
            "gaps": 0,
            "resyncs": 0,
            "snapshots": 0,
            "stale_snapshots_refused": 0,
            "stale_snapshots": 0,
        }

    # -- diffs ------------------------------------------------------------------------------------
    def on_diff(self, data: dict[str, Any]) -> bool:
        """Process one diff; returns True when it changed the book."""
        if not self.synced:
            self._buffer.append(data)
            self.counters["buffered"] += 1
            if not self._awaiting:
                self._awaiting = True
                self._request(self.symbol)
            return False
        last = self.last_u
        if self._first:
            if data["u"] < last:
                self.counters["dropped"] += 1
                return False
            if data["U"] <= last or data["pu"] == last:
                self._first = False
                self._apply(data)
                return True
            reason = _OLD_SNAPSHOT
        elif data["pu"] == last:
            self._apply(data)
            return True
        elif data["u"] <= last:
            self.counters["duplicates"] += 1
            return False
        else:
            reason = _GAP
        if self._held is None:
            self._held = data  # maybe the event that fits is just late
            return False
        held, self._held = self._held, None
        self._lose_sync(reason, data, held)
        return False

    def _apply(self, data: dict[str, Any]) -> None:
        book = self.book
        book.apply_bids(data["b"])
        book.apply_asks(data["a"])
        self.last_u = book.last_update_id = data["u"]
        e_ms = data["E"]
        if e_ms > self.updated_ms:  # a buffered diff replayed after a newer snapshot does not age the book
            self.updated_ms = e_ms
        self.counters["applied"] += 1
        held = self._held
        if held is not None:
            # The held event was a reorder when it fits now; when it still does not, the chain is broken.
            self._held = None
            if held["u"] <= self.last_u:
                self.counters["duplicates"] += 1
            elif held["pu"] == self.last_u:
                self.counters["out_of_order"] += 1
                self._apply(held)
            else:
                self._lose_sync(_GAP, held)

    def _lose_sync(self, reason: str, data: dict[str, Any], held: dict[str, Any] | None = None) -> None:
        expected = self.last_u
        if reason == _GAP:
            self.counters["gaps"] += 1
            self._had_gap = True
        else:
            self.counters["stale_snapshots_refused"] += 1
        self.synced = False
        self._first = False
        self.book.clear()  # an unsynced book is not knowledge: nothing may read it until a snapshot
        self._buffer.clear()
        for d in sorted((x for x in (held, data) if x is not None), key=lambda d: d["u"]):
            self._buffer.append(d)
        if self._on_event is not None:
            self._on_event(
                EventCode.RUNNER_FEED_GAP.value,
                {"symbol": self.symbol, "reason": reason, "expected_pu": expected, "got_pu": data.get("pu"),
                 "got_U": data.get("U"), "got_u": data.get("u")},
            )
        self._awaiting = True
        self._request(self.symbol)

    # -- snapshots --------------------------------------------------------------------------------
    def on_snapshot(self, data: dict[str, Any], e_ms: int = 0) -> bool:
        """Apply a REST snapshot if one is awaited; returns True when the book is (re)built from it."""
        if self.synced and not self._awaiting:
            self.counters["stale_snapshots"] += 1  # unrequested (e.g. another process's) — ignore
            return False
        last = int(data["lastUpdateId"])
        self.book.load_snapshot(data.get("bids", ()), data.get("asks", ()), last)
        self.counters["snapshots"] += 1
        self.last_u = last
        self.updated_ms = int(data.get("E") or e_ms)
        self.synced = self.ever_synced = True
        self._awaiting = False
        self._first = True
        self._held = None
        buffered, self._buffer = list(self._buffer), deque(maxlen=MAX_BUFFER)
        if self._had_gap:
            self._had_gap = False
            self.counters["resyncs"] += 1
            if self._on_event is not None:
                self._on_event(EventCode.RUNNER_FEED_RESYNC.value, {"symbol": self.symbol, "last_update_id": last})
        for d in buffered:
            if not self.synced:
                self._buffer.append(d)  # a replayed diff lost sync again: keep the rest for the next snapshot
            else:
                self.on_diff(d)
        return self.synced

    def reset(self, reason: str = "reconnect") -> None:
        """Forget the book (e.g. the connection dropped): the next diff triggers a fresh snapshot."""
        if self.synced:
            self._had_gap = True
        self.synced = False
        self._awaiting = False
        self._first = False
        self._held = None
        self._buffer.clear()
        self.book.clear()
