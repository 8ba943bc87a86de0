"""Gate outages as one-click saw them: its own probes of ``/health`` and what each runner reported.

Two witnesses, because neither sees everything: the supervisor probes about once a second with a short
timeout (a hung gate — SIGSTOP, a stalled event loop — accepts the connection and never answers: a
*hang*; a dead one refuses it: *down*); a runner notices the gate's absence on its own checks and posts
(``RUNNER.GATE_UNAVAILABLE`` … ``RUNNER.GATE_RESTORED`` with ``down_s``). The time the gate was
unreachable is the union of every witness' outages, so one outage seen twice counts once; that figure
is what one-click holds against its outage budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aurora.events.codes import EventCode

#: httpx error names of a probe that connected (or tried to) and got no answer in time
_HANG_ERRORS = frozenset(
    {"ReadTimeout", "WriteTimeout", "PoolTimeout", "TimeoutException", "RemoteProtocolError"}
)
_DOWN_ERRORS = frozenset({"ConnectError", "ConnectTimeout"})


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def probe_kind(error: str | None, http_status: int | None) -> str:
    """``hang`` (no answer in time), ``down`` (connection refused), ``error`` (an answer, not 200)."""
    if error in _HANG_ERRORS:
        return "hang"
    if error in _DOWN_ERRORS or error is not None:
        return "down"
    return "error" if http_status != 200 else "ok"


@dataclass
class Outage:
    seen_by: str  # "supervisor" or a runner's name
    start: float  # epoch seconds
    end: float | None = None  # None while it lasts
    kind: str = "down"  # hang | down | error | exited (supervisor); the runner's reason otherwise
    detail: str = ""
    probes_failed: int = 0  # supervisor only: consecutive probes without an answer
    ongoing_at_end: bool = False  # the run ended (or the witness stopped) before the gate came back

    def length(self, until: float) -> float:
        """Seconds unreachable up to ``until`` (the end of trading: the gate's stop is not an outage)."""
        end = min(self.end, until) if self.end is not None else until
        return max(0.0, end - self.start)

    def to_dict(self, until: float) -> dict[str, Any]:
        d: dict[str, Any] = {
            "seen_by": self.seen_by,
            "start": _iso(self.start),
            "start_ts": round(self.start, 3),
            "length_s": round(self.length(until), 3),
            "kind": self.kind,
            "detail": self.detail,
            "ongoing_at_end": self.ongoing_at_end,
        }
        if self.seen_by == "supervisor":
            d["probes_failed"] = self.probes_failed
        return d


@dataclass
class GateWatch:
    """The supervisor's view: fed one probe (or process death) at a time."""

    outages: list[Outage] = field(default_factory=list)
    probes: int = 0
    _open: Outage | None = None

    @property
    def current(self) -> Outage | None:
        """The outage going on now, if any."""
        return self._open

    def observe(self, ok: bool, at: float, *, kind: str = "down", detail: str = "") -> None:
        self.probes += 1
        if ok:
            if self._open is not None:
                self._open.end = at
                self._open = None
            return
        if self._open is None:
            self._open = Outage("supervisor", at, kind=kind, detail=detail)
            self.outages.append(self._open)
        elif kind == "exited":  # a hang that ends in a crash is the crash's outage from here on
            self._open.kind, self._open.detail = kind, detail
        self._open.probes_failed += 1

    def close(self, at: float) -> None:
        """The run stops watching (shutdown): an outage still open ends here, marked as such."""
        if self._open is not None:
            self._open.end = at
            self._open.ongoing_at_end = True
            self._open = None


def runner_outages(
    records: Iterable[dict[str, Any]], seen_by: str, *, end: float | None = None
) -> list[Outage]:
    """A runner's outages from its own event log: each UNAVAILABLE until the next RESTORED (whose
    ``down_s`` is the runner's own measure), or until its last record when the gate never came back."""
    out: list[Outage] = []
    current: Outage | None = None
    last_ts = 0.0
    for rec in records:
        ts = rec.get("ts_ns")
        if not isinstance(ts, int):
            continue
        last_ts = ts / 1e9
        code = rec.get("event_code")
        details = rec.get("details") if isinstance(rec.get("details"), dict) else {}
        if code == EventCode.RUNNER_GATE_UNAVAILABLE and current is None:
            current = Outage(seen_by, last_ts, kind="unreachable", detail=str(details.get("reason", "")))
            out.append(current)
        elif code == EventCode.RUNNER_GATE_RESTORED and current is not None:
            down = details.get("down_s")
            current.end = current.start + float(down) if isinstance(down, int | float) else last_ts
            current = None
    if current is not None:
        current.end = max(current.start, end if end is not None else last_ts)
        current.ongoing_at_end = True
    return out


def union_seconds(spans: Iterable[tuple[float, float]]) -> float:
    total, cur_start, cur_end = 0.0, None, None
    for start, stop in sorted(spans):
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, stop
        else:
            cur_end = max(cur_end, stop)
    if cur_end is not None:
        total += cur_end - cur_start
    return total


def availability(outages: list[Outage], *, budget_s: float, until: float) -> dict[str, Any]:
    """The proof's account of the gate's absences up to ``until`` (the end of trading; what a runner saw
    while the run was stopping is not held against the gate) and the verdict against the budget."""
    kept = sorted((o for o in outages if o.start < until), key=lambda o: o.start)
    unreachable = union_seconds((o.start, o.start + o.length(until)) for o in kept)
    return {
        "outages": [o.to_dict(until) for o in kept],
        "unreachable_s": round(unreachable, 3),
        "budget_s": budget_s,
        "over_budget": unreachable > budget_s,
    }
