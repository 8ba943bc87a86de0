"""Local book synchronisation: REST snapshot + diff stream, Binance USD-M rules.

1. Buffer diffs and ask the feed for a snapshot (``lastUpdateId`` = L).
2. Drop buffered diffs with ``u <= L`` (already in the snapshot). The first diff applied must start no
   later than the first update after the snapshot: ``U <= L + 1`` (Binance states it as
   ``U <= L <= u``; an event starting exactly at ``L + 1`` misses nothing either). Otherwise the snapshot
   is too old and another is requested.
3. From then on every diff must chain: ``pu == previous u``.

Detected and counted:

* ``duplicates`` — a diff with ``u <=`` the last applied ``u`` (already applied): ignored;
* ``out_of_order`` — a diff that skips ahead is held for one message; when the next diff is exactly
  the missing one, both are applied in order (no resync needed);
* ``gaps`` — the chain is broken for good: the book is marked unsynced and resynced from a snapshot;
* ``resyncs`` — snapshots applied after a gap (``snapshots`` counts all of them).

Torn (unparseable) messages are counted by the decoder (:mod:`runner.market`), since their symbol is
unknowable; a torn diff then shows up here as a gap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from runner.book import L2Book

#: ``on_event(code, details)`` for ``RUNNER.FEED_GAP`` / ``RUNNER.FEED_RESYNC``.
SyncEventSink = Callable[[str, dict[str, Any]], None]

MAX_BUFFER = 2_000


class BookSync:
    __slots__ = (
        "symbol",
        "book",
        "_request",
        "_on_event",
        "synced",
        "_awaiting",
        "_first_after_snapshot",
        "_buffer",
        "_held",
        "last_u",
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
        self._awaiting = False
        self._first_after_snapshot = False
        self._buffer: deque[dict[str, Any]] = deque(maxlen=MAX_BUFFER)
        self._held: dict[str, Any] | None = None
        self._had_gap = False
        self.last_u = 0
        self.counters = {
            "applied": 0,
            "buffered": 0,
            "duplicates": 0,
            "out_of_order": 0,
            "gaps": 0,
            "resyncs": 0,
            "snapshots": 0,
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
        u = data["u"]
        if self._first_after_snapshot:
            if u <= self.last_u:
                return False
            if data["U"] > self.last_u + 1:
                if self._held is None:
                    self._held = data  # maybe the diff that straddles the snapshot is just late
                    return False
                held, self._held = self._held, None
                self._lose_sync("snapshot older than the first diff", data, held)
                return False
            self._first_after_snapshot = False
            self._apply(data)
            self._drain_held()
            return True
        if u <= self.last_u:
            self.counters["duplicates"] += 1
            return False
        if data["pu"] == self.last_u:
            self._apply(data)
            self._drain_held()
            return True
        if data["pu"] > self.last_u and self._held is None:
            self._held = data  # maybe the missing diff is just late
            return False
        held, self._held = self._held, None
        self._lose_sync("sequence gap", data, held)
        return False

    def _drain_held(self) -> None:
        """After an apply: a held diff that now chains was a reorder; one that still does not, a gap."""
        held = self._held
        if held is None:
            return
        self._held = None
        if held["pu"] == self.last_u:
            self.counters["out_of_order"] += 1
            self._apply(held)
        elif held["u"] > self.last_u:
            self._lose_sync("sequence gap", held)

    def _apply(self, data: dict[str, Any]) -> None:
        book = self.book
        book.apply_bids(data["b"])
        book.apply_asks(data["a"])
        self.last_u = book.last_update_id = data["u"]
        self.counters["applied"] += 1

    def _lose_sync(self, reason: str, data: dict[str, Any], held: dict[str, Any] | None = None) -> None:
        expected = self.last_u
        if reason == "sequence gap":
            self.counters["gaps"] += 1
            self._had_gap = True
        self.synced = False
        self._first_after_snapshot = False
        self._buffer.clear()
        for d in sorted((x for x in (held, data) if x is not None), key=lambda d: d["u"]):
            self._buffer.append(d)
        if self._on_event is not None:
            self._on_event(
                "RUNNER.FEED_GAP",
                {"symbol": self.symbol, "reason": reason, "expected_pu": expected, "got_pu": data.get("pu"),
                 "got_U": data.get("U"), "got_u": data.get("u")},
            )
        self._awaiting = True
        self._request(self.symbol)

    # -- snapshots --------------------------------------------------------------------------------
    def on_snapshot(self, data: dict[str, Any]) -> bool:
        """Apply a REST snapshot if one is awaited; returns True when the book is (re)built from it."""
        if self.synced and not self._awaiting:
            self.counters["stale_snapshots"] += 1  # unrequested (e.g. another process's) — ignore
            return False
        last = int(data["lastUpdateId"])
        self.book.load_snapshot(data.get("bids", ()), data.get("asks", ()), last)
        self.counters["snapshots"] += 1
        self.last_u = last
        self.synced = True
        self._awaiting = False
        self._first_after_snapshot = True
        self._held = None
        buffered, self._buffer = list(self._buffer), deque(maxlen=MAX_BUFFER)
        if self._had_gap:
            self._had_gap = False
            self.counters["resyncs"] += 1
            if self._on_event is not None:
                self._on_event("RUNNER.FEED_RESYNC", {"symbol": self.symbol, "last_update_id": last})
        for d in buffered:
            if not self.synced:
                self._buffer.append(d)  # a replayed diff lost sync again: keep the rest for the next snapshot
            else:
                self.on_diff(d)
        return True

    def reset(self, reason: str = "reconnect") -> None:
        """Forget the book (e.g. the connection dropped): the next diff triggers a fresh snapshot."""
        if self.synced:
            self._had_gap = True
        self.synced = False
        self._awaiting = False
        self._first_after_snapshot = False
        self._held = None
        self._buffer.clear()
