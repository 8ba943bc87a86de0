"""Whether a symbol's book can be traded on: synced, and updated within ``feed.max_book_age_ms``.

States per symbol: ``warming`` (never synced yet, within ``feed.sync_grace_ms`` of its first message),
``ok``, ``unsynced`` (no valid book: never synced after the grace, or a gap not yet resynced) and
``stale`` (synced, but the last applied update is older than the limit). Only ``ok`` may open
positions; the others allow exits only. Changes emit ``RUNNER.BOOK_UNSYNCED``, ``RUNNER.BOOK_STALE``
and ``RUNNER.BOOK_RESYNCED`` (``warming -> ok`` is the normal start and emits nothing).

Ages are on the market's own clock (event time ``E`` of the newest message against the book's last
update), so a replay judges a book the same way at any speed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aurora.events.codes import EventCode
from runner.feeds.book_sync import BookSync

WARMING, OK, UNSYNCED, STALE = "warming", "ok", "unsynced", "stale"

EventSink = Callable[[str, dict[str, Any], str], None]  # (code, details, symbol)


@dataclass
class _Health:
    state: str = WARMING
    first_seen_ms: int = 0
    since_ms: int = 0
    untrusted_ms: int = 0  # total time unsynced or stale, closed spells only
    events: dict[str, int] = field(default_factory=lambda: {UNSYNCED: 0, STALE: 0, "resynced": 0})


class BookHealth:
    def __init__(self, syncs: Mapping[str, BookSync], *, max_age_ms: float, grace_ms: float,
                 emit: EventSink | None = None) -> None:
        self.syncs = syncs
        self.max_age_ms = max_age_ms
        self.grace_ms = grace_ms
        self._emit = emit
        self._h = {s: _Health() for s in syncs}

    def age_ms(self, symbol: str, now_ms: int) -> float | None:
        """Milliseconds since the book's last applied update; ``None`` when it has no valid book."""
        sync = self.syncs[symbol]
        return float(max(0, now_ms - sync.updated_ms)) if sync.synced else None

    def state(self, symbol: str) -> str:
        return self._h[symbol].state

    def check(self, symbol: str, now_ms: int) -> bool:
        """Update ``symbol``'s state at ``now_ms``; True when its book may be traded on."""
        h = self._h[symbol]
        if not h.first_seen_ms:
            h.first_seen_ms = h.since_ms = now_ms
        sync = self.syncs[symbol]
        if sync.synced:
            new = OK if now_ms - sync.updated_ms <= self.max_age_ms else STALE
        elif sync.ever_synced or now_ms - h.first_seen_ms >= self.grace_ms:
            new = UNSYNCED
        else:
            new = WARMING
        if new != h.state:
            self._transition(symbol, h, new, now_ms)
        return new == OK

    def _transition(self, symbol: str, h: _Health, new: str, now_ms: int) -> None:
        old, spell_ms = h.state, now_ms - h.since_ms
        if old in (UNSYNCED, STALE):
            h.untrusted_ms += spell_ms
        h.state, h.since_ms = new, now_ms
        sync = self.syncs[symbol]
        if new == UNSYNCED:
            h.events[UNSYNCED] += 1
            why = "gap" if sync.counters["gaps"] else "never synced" if not sync.ever_synced else "lost"
            self._event(EventCode.RUNNER_BOOK_UNSYNCED, symbol, {
                "reason": why, "was": old, "snapshots": sync.counters["snapshots"], "gaps": sync.counters["gaps"],
                "buffered": sync.counters["buffered"], "grace_ms": self.grace_ms,
                "action": "no new orders; exits only"})
        elif new == STALE:
            h.events[STALE] += 1
            self._event(EventCode.RUNNER_BOOK_STALE, symbol, {
                "age_ms": now_ms - sync.updated_ms, "max_book_age_ms": self.max_age_ms, "was": old,
                "action": "no new orders; exits only"})
        elif new == OK and old in (UNSYNCED, STALE):
            h.events["resynced"] += 1
            self._event(EventCode.RUNNER_BOOK_RESYNCED, symbol, {"was": old, "untrusted_ms": spell_ms,
                                                                 "last_update_id": sync.last_u})

    def _event(self, code: EventCode, symbol: str, details: dict[str, Any]) -> None:
        if self._emit is not None:
            self._emit(code.value, {"symbol": symbol, **details}, symbol)

    def snapshot(self, now_ms: int) -> dict[str, dict[str, Any]]:
        """Per symbol, for the run summary: state, age, sync flag, how often and how long it was untrusted."""
        out: dict[str, dict[str, Any]] = {}
        for symbol, h in self._h.items():
            untrusted = h.untrusted_ms + (now_ms - h.since_ms if h.state in (UNSYNCED, STALE) else 0)
            age = self.age_ms(symbol, now_ms)
            out[symbol] = {"state": h.state, "synced": self.syncs[symbol].synced, "age_ms": age,
                           "untrusted_ms": untrusted, "events": dict(h.events)}
        return out
