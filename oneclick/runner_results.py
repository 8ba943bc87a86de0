"""What each runner left at the end of a one-click run: its summary (``runner_summary-<group>.json``) and
the gate outages in its own event log.

The summary is the runner's last act (after RUNNER.STOP), so a missing one means it did not finish its
stop (SIGKILLed, crashed, disk full): its open positions are then *unknown*, which fails the run — one-click
never reports "no position left" on no evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from aurora.session import files as names
from aurora.session.reader import SessionReadError, iter_records
from aurora.stats import describe
from oneclick.availability import Outage, runner_outages

#: book states in which a symbol could not be traded on at the end (runner.book_health)
UNTRUSTED_BOOKS = frozenset({"unsynced", "stale", "warming"})


@dataclass
class RunnerResult:
    name: str  # "runner-<group>"
    group: str
    summary: dict[str, Any] | None = None
    summary_error: str | None = None
    outages: list[Outage] = field(default_factory=list)

    @property
    def open_positions(self) -> list[dict[str, Any]]:
        positions = (self.summary or {}).get("open_positions") or []
        return [{"runner": self.name, **p} for p in positions if isinstance(p, dict)]

    @property
    def untrusted_books(self) -> list[dict[str, Any]]:
        books = (self.summary or {}).get("books") or {}
        return [
            {"runner": self.name, "symbol": sym, "state": b.get("state"), "age_ms": b.get("age_ms"),
             "untrusted_ms": b.get("untrusted_ms")}
            for sym, b in sorted(books.items())
            if isinstance(b, dict) and b.get("state") in UNTRUSTED_BOOKS
        ]  # fmt: skip

    @property
    def kills(self) -> list[dict[str, Any]]:
        """The runner's kills (runner.kill): each trading-state change that cancelled its resting orders."""
        state = (self.summary or {}).get("trading_state") or {}
        kills = state.get("kills") if isinstance(state, dict) else None
        return [{"runner": self.name, **k} for k in kills or [] if isinstance(k, dict)]

    def checks_unanswered(self) -> dict[str, Any] | None:
        """The runner's checks the gate never answered (timeouts, refused connections, 5xx) and the ones
        it skipped while backing off: no order was placed for any of them (fail closed)."""
        g = (self.summary or {}).get("gate")
        if not isinstance(g, dict):
            return None
        return {
            "total": g.get("no_gate"),
            "failed": g.get("client_unavailable"),
            "skipped_in_backoff": g.get("client_skipped_backoff"),
            "outages": g.get("client_outages"),
        }

    def lifecycle(self) -> dict[str, Any] | None:
        g = (self.summary or {}).get("gate")
        if not isinstance(g, dict):
            return None
        return {
            "sent": g.get("lifecycle"),
            "posted": g.get("client_posted"),
            "spooled": g.get("client_spooled"),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "summary": str(names.runner_summary_file(self.group)) if self.summary is not None else None,
            "summary_error": self.summary_error,
            "elapsed_s": (self.summary or {}).get("elapsed_s"),
            "error": (self.summary or {}).get("error"),
            "checks_unanswered": self.checks_unanswered(),
            "lifecycle": self.lifecycle(),
        }


def kill_report(runners: list[RunnerResult]) -> dict[str, Any]:
    """Every runner's kills, and their latencies: to the last cancel request, and to the last order done."""
    events = sorted((k for r in runners for k in r.kills), key=lambda k: k.get("learned_ns") or 0)
    return {
        "events": events,
        "request_latency_ms": describe([k.get("request_latency_ms") for k in events if k.get("requests")]),
        "ack_latency_ms": describe([k.get("ack_latency_ms") for k in events if k.get("settled")]),
        "unsettled": sum(1 for k in events if k.get("settled") is False),
    }


def read_runner(session_dir: Path, name: str, group: str, *, end: float | None = None) -> RunnerResult:
    res = RunnerResult(name, group)
    path = session_dir / names.runner_summary_file(group)
    try:
        data = orjson.loads(path.read_bytes())
        if isinstance(data, dict):
            res.summary = data
        else:
            res.summary_error = f"{path.name}: not a JSON object"
    except FileNotFoundError:
        res.summary_error = f"{path.name} missing: the runner did not finish its stop"
    except (OSError, orjson.JSONDecodeError) as exc:
        res.summary_error = f"{path.name}: {exc}"
    stem = names.runner_events_file(group).removesuffix(names.SUFFIX)
    try:
        res.outages = runner_outages(iter_records(session_dir, stems=[stem]), name, end=end)
    except (SessionReadError, OSError) as exc:
        res.summary_error = res.summary_error or f"{stem}: {exc}"
    return res
