"""The gate's durable state as one thing: what it holds, the one code path that changes it, restore.

Every change to risk state is a record: ``commit(record)`` writes it to the journal first and applies
it only once written, so the gate never acts on (answers with) a state it could not make durable, and
``restore`` replays the same records through the same ``apply`` after a restart. Records (``k``):

* ``dec`` — an allowed or counted decision: the reservation of an allowed order, its cid, the throttle,
  the kill-switch sample;
* ``ord`` — a lifecycle event from ``/posttrade/log`` or the AckTracker: positions, open orders, the
  day's PnL and CVaR sample, the venue-outcome sample, the cancel throttle, the order's lifecycle track
  (:class:`aurora.orders.anomalies.LifecycleMonitor`: the anomalies it reveals, and the kill-switch hits
  of the classes in ``killswitch.counted_anomalies``), the idempotency key;
* ``health`` / ``arm`` / ``halt`` / ``tok`` / ``eq`` / ``reset`` — state set by the health guard, the
  operator, a token rotation (stored as a SHA-256, never in clear) or a reported balance.

Every record carries ``t``, the gate clock when it was made: replay uses it, never the clock at
restore time, so windows and the risk day come back as they were.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aurora.gate.health_guard import HealthState
from aurora.gate.pipeline import Pipeline
from aurora.gate.risk_book import OpenOrder
from aurora.gate.state_store import StateJournal
from aurora.orders.anomalies import LifecycleMonitor


def token_hash(token: str | None) -> str | None:
    return hashlib.sha256(token.encode()).hexdigest() if token is not None else None


class GateState:
    def __init__(self, pipeline: Pipeline, journal: StateJournal) -> None:
        self.pipeline = pipeline
        self.journal = journal
        self.book = pipeline.risk.book
        self.lifecycle = LifecycleMonitor()
        #: rotated tokens: target -> (sha256 of the new token, sha256 of the config token it replaced)
        self.tokens: dict[str, tuple[str, str | None]] = {}
        self.restored_from: dict[str, Any] | None = None
        self._apply: dict[str, Callable[[dict[str, Any]], Any]] = {
            "dec": self._apply_decision, "ord": self._apply_order, "health": self._apply_health,
            "arm": self._apply_arm, "halt": self._apply_halt, "tok": self._apply_token, "eq": self._apply_equity,
            "reset": self._apply_reset,
        }  # fmt: skip

    @property
    def state_dir(self) -> Path:
        return self.journal.dir

    # -- the one write path -----------------------------------------------------------------------
    def commit(self, record: dict[str, Any]) -> Any:
        """Journal ``record`` (raises ``StateWriteError``, nothing applied), then apply it; returns the
        effects (what the live gate reports: a kill-switch trip, a PnL update ...)."""
        self.journal.append(record)
        return self._apply[record["k"]](record)

    def compact_if_due(self) -> None:
        if self.journal.due:
            # the snapshot's lists and dicts are built here, on the loop (a consistent copy); the
            # serialization and the fsync happen in the journal's compaction thread
            self.journal.compact_in_background(self.snapshot())

    # -- apply ------------------------------------------------------------------------------------
    def _apply_decision(self, rec: dict[str, Any]) -> dict[str, Any] | None:
        t = rec["t"]
        account = rec["a"]
        o = rec.get("o")
        if o is not None:  # allowed: reserve until SUBMIT or the TTL
            cid = rec.get("c") or f"~{rec['n']}"  # no cid: a reservation that can only lapse
            self.book.reserve(OpenOrder(cid, account, o[0], o[1], o[2], o[3], o[4], t + o[5]))
            self.pipeline.risk.on_allow(account, o[0], o[1], o[3], o[6], t)
        hit = rec.get("h")
        if hit is not None:
            return self.pipeline.kill_switch.record_decision(account, hit)
        return None

    def _apply_order(self, rec: dict[str, Any]) -> dict[str, Any]:
        ev = rec["e"]
        t = rec["t"]
        self.book.purge_reservations(t)
        known = ev["cid"] in self.book.orders
        out = self.book.apply_order_event(ev, t)
        if "realized" in out:
            self.book.record_return(out["account"], t, out["realized"] / rec["eq"] * 100.0)
        short = ev["short"]
        ks = self.pipeline.kill_switch
        account = out["account"]
        counted = "first_response" in out or (short in ("REJECT", "EXPIRE") and not known)
        if counted:
            out["ks_trip"] = ks.record_outcome(account, short in ("REJECT", "EXPIRE"))
        if short == "CANCEL.REQUEST":
            self.pipeline.risk.on_cancel(account, t)
        cfg = self.pipeline.cfg
        found = self.lifecycle.observe(
            ev["cid"], short, ev.get("ts", t), qty=ev.get("qty"), fill_qty=ev.get("fill_qty"), cum_qty=ev.get("cum_qty"),
            trade_id=ev.get("trade_id"), ack_ttl_ns=int(cfg.observability.ack.ttl_s * 1e9), symbol=ev.get("symbol"),
        )  # fmt: skip
        if found:
            out["anomalies"] = found
            hits = cfg.killswitch.counted_anomalies
            for a in found:
                if a.cls in hits:  # a venue outcome that cannot be: a hit of the reject-rate window
                    trip = ks.record_outcome(account, True)
                    if trip is not None:
                        out["ks_trip"] = trip
        key = rec.get("key")
        if key is not None:
            self.book.remember_post(key)
        return out

    def record(self, record: dict[str, Any]) -> None:
        """Journal a record whose change the live component has already made (the health guard's own
        transitions); replay applies it like any other."""
        self.journal.append(record)

    def _apply_health(self, rec: dict[str, Any]) -> None:
        self.pipeline.health.restore(rec, rec["t"])

    def _apply_arm(self, rec: dict[str, Any]) -> None:
        self.pipeline.armed = bool(rec["v"])

    def _apply_halt(self, rec: dict[str, Any]) -> None:
        self.pipeline.ops_halt = rec.get("v")

    def _apply_token(self, rec: dict[str, Any]) -> None:
        self.tokens[rec["target"]] = (rec["h"], rec.get("cfg"))

    def _apply_equity(self, rec: dict[str, Any]) -> None:
        self.book.reported_equity[rec["a"]] = float(rec["v"])

    def _apply_reset(self, rec: dict[str, Any]) -> None:
        self.pipeline.reset(rec["t"])

    # -- snapshot and restore ---------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything durable, as a copy detached from the live state (a thread may serialize it)."""
        p = self.pipeline
        return {
            "book": self.book.snapshot(),
            "kill_switch": p.kill_switch.snapshot(),
            "health": p.health.durable(),
            "armed": p.armed,
            "ops_halt": p.ops_halt,
            "tokens": {k: list(v) for k, v in self.tokens.items()},
            "lifecycle": self.lifecycle.snapshot(),
        }

    def restore(self, now_ns: int) -> dict[str, Any] | None:
        """Load the snapshot and replay the journal (raises ``StateCorrupt``). Returns what was restored,
        or ``None`` for an empty state dir."""
        snapshot, records = self.journal.load()
        if snapshot is None and not records:
            return None
        p = self.pipeline
        if snapshot is not None:
            st = snapshot["state"]
            self.book.restore(st.get("book", {}))
            p.kill_switch.restore(st.get("kill_switch", {}))
            p.health.restore(st.get("health", {}), now_ns)
            p.armed = bool(st.get("armed", p.armed))
            p.ops_halt = st.get("ops_halt")
            self.tokens = {k: (v[0], v[1]) for k, v in st.get("tokens", {}).items()}
            self.lifecycle.restore(st.get("lifecycle", {}))
        last_t = snapshot["ts_ns"] if snapshot is not None else None
        for rec in records:
            self._apply[rec["k"]](rec)
            last_t = rec.get("t", last_t)
        # a restart is not a healthy window: a cool-off keeps its deadline, a HALT stays
        if p.health.state is HealthState.WARN:
            p.health.state = HealthState.OK
        self.restored_from = {
            "state_dir": str(self.journal.dir),
            "snapshot_ts_ns": snapshot["ts_ns"] if snapshot is not None else None,
            "journal_records": len(records),
            "last_record_ts_ns": last_t,
            "restored_at_ts_ns": time.time_ns(),
        }
        return self.restored_from
