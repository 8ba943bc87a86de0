"""Re-decide a session's recorded checks, in order, under a candidate config, the gate's state as recorded.

What is replayed, from the gate's own log (``aurora_events*``, rotated parts first) in the order written:

* ``CONFIG.EFFECTIVE`` — a config version comes into force (start, reload): the candidate files are
  layered over it (:func:`aurora.config.loader.load_over`: a candidate file is one more layer) and the
  replay pipeline is configured with the result, as a reload reconfigures the gate (thresholds change,
  state is kept);
* ``POLICY_DECISION`` — the recorded check (:func:`aurora.gate.decision_record.request_of`) is decided
  again, at its recorded gate clock, by the candidate pipeline and compared with what the gate answered;
  then the *recorded* decision's effects are applied (its reservation, throttle and kill-switch sample);
* ``ORDER.*`` — the lifecycle events the gate applied: positions, PnL, reservations taken up by a SUBMIT,
  venue outcomes of the kill-switch, cancels of the cancel throttle, at their recorded gate clock;
* operator actions (``OPS.*``, ``AURORA.ARM_STATE``, ``RISK.BALANCE``); ``AURORA.STATE_RESTORED`` (the
  state the session's gate started from) seeds positions, today's PnL, kill-switch trips, arm, halt and
  health; a second ``AURORA.START`` (a restart) restores the replay's own state as the gate restores
  its state dir.

The state is the gate's own classes — :class:`aurora.gate.gate_state.GateState` over a
:class:`aurora.gate.pipeline.Pipeline` (its ``RiskBook``, ``KillSwitch``, ``HealthGuard``, TRAP baseline)
— changed only through the records the gate journals, rebuilt by the gate's own builders
(:mod:`aurora.gate.decision_record`). So the state evolves as it was recorded, not as the candidate
would have made it: a flipped decision does not change what follows (the orders and fills after it are
what happened). The windows with thresholds of their own — health (the p95 of the recorded latencies),
the TRAP baseline, the kill-switch windows — run under the candidate's thresholds, so a candidate that
trips a cool-off or the kill-switch earlier flips the decisions after it.

A flip is attributed to the config key that decided it: the candidate's deciding key for a decision it
now denies (allow→deny, reason changed), the recorded deciding key for one it now allows (deny→allow);
each with its session value and source and its candidate value and source.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aurora.calibration import CalibrationMap
from aurora.calibration.calibration_map import CalibrationError
from aurora.config.errors import ConfigError, ConfigIssue
from aurora.config.loader import LoadedAurora, load_over
from aurora.config.provenance import provenance_map
from aurora.errors import InputError
from aurora.events.codes import LIFECYCLE_CODES, EventCode
from aurora.gate.decision_record import (
    GATE_NS,
    decision_state_record,
    judged_with,
    order_state_record,
    replayable,
    request_of,
)
from aurora.gate.gate_service import load_calibration, load_instruments
from aurora.gate.gate_state import GateState
from aurora.gate.guard import CheckRequest, Decision
from aurora.gate.pipeline import Pipeline
from aurora.gate.risk_book import DEFAULT_ACCOUNT
from aurora.gate.thresholds import explain, observed
from aurora.instruments import InstrumentRegistry
from aurora.orders.fsm import short_name
from aurora.session import files as names
from aurora.session.reader import ReadReport, SessionReadError, iter_records

SCHEMA = "aurora.whatif/1"
#: Flips listed one by one in the result (all are counted).
MAX_LISTED = 5_000
ALLOW_TO_DENY, DENY_TO_ALLOW, REASON_CHANGED = "allow→deny", "deny→allow", "reason changed"
KINDS = (ALLOW_TO_DENY, DENY_TO_ALLOW, REASON_CHANGED)
NO_KEY = "(no config key)"
#: What a recorded item is (the first element of each tuple :func:`load_session` returns).
DEC, ORD, OPS, CFG, START, RESTORED = range(6)
#: The guard of a recorded deny that says the gate could not record its state (nothing was applied): not compared.
_UNRECORDED = "gate"
_OPS_CODES = {
    EventCode.OPS_RESET.value, EventCode.OPS_HALT.value, EventCode.OPS_KILL.value, EventCode.OPS_RESUME.value,
    EventCode.OPS_COOLOFF.value, EventCode.AURORA_ARM_STATE.value, EventCode.RISK_BALANCE.value,
}  # fmt: skip


class WhatIfError(InputError):
    """The session cannot be replayed (not recorded by a gate that records its inputs, unreadable data)."""


class MemoryJournal:
    """The journal :class:`GateState` writes through, kept in memory: a replay's records are only numbered
    (the live gate's journal numbers them the same way); ``load`` hands a restart its snapshot."""

    def __init__(self, snapshot: dict[str, Any] | None = None) -> None:
        self.n = 0
        self._snapshot = snapshot
        self.dir = Path("<replay>")

    def append(self, record: dict[str, Any]) -> int:
        self.n += 1
        record["n"] = self.n
        return self.n

    def load(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        return ({"state": self._snapshot, "ts_ns": None} if self._snapshot is not None else None), []


# -- reading ----------------------------------------------------------------------------------------
def load_session(session_dir: Path | str) -> tuple[list[tuple], ReadReport]:
    """The gate log of ``session_dir`` as replay items, in the order written (a decision's request is built
    here, once). Raises :class:`WhatIfError` when the directory cannot be read."""
    report = ReadReport(session=str(session_dir))
    items: list[tuple] = []
    add = items.append
    old = 0
    # Every record read is kept (long-lived, no cycles): the cyclic collector's passes over a growing
    # list of them would cost more than the parsing itself, so it is paused for the read.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for rec in iter_records(session_dir, report, stems=[names.GATE_EVENTS]):
            code = rec["event_code"]
            if code == "POLICY_DECISION":
                if not replayable(rec):
                    old += 1
                    continue
                try:
                    add((DEC, rec, request_of(rec)))
                except (KeyError, TypeError, ValueError):
                    old += 1
            elif code in LIFECYCLE_CODES:
                add((ORD, rec))
            elif code in _OPS_CODES:
                add((OPS, rec))
            elif code == "CONFIG.EFFECTIVE":
                add((CFG, rec))
            elif code == "AURORA.START":
                add((START, rec))
            elif code == "AURORA.STATE_RESTORED":
                add((RESTORED, rec))
    except SessionReadError as exc:
        raise WhatIfError(str(exc)) from None
    finally:
        if collecting:
            gc.enable()
    if old:
        report.notes.append(f"{old} POLICY_DECISION record(s) without their recorded input (written by an older "
                            "gate, or damaged): not replayed")  # fmt: skip
    return items, report


# -- configs ----------------------------------------------------------------------------------------
@dataclass
class Version:
    """One config version of the session and the candidate layered over it."""

    version: str
    session: LoadedAurora
    candidate: LoadedAurora
    session_prov: dict[str, dict[str, Any]]
    candidate_prov: dict[str, dict[str, Any]]
    calibration: CalibrationMap
    instruments: InstrumentRegistry
    notes: list[str] = field(default_factory=list)
    decisions: int = 0

    def changes(self) -> list[dict[str, Any]]:
        """Keys whose candidate value differs from the session's, with both values and sources."""
        out = []
        for key, c in self.candidate_prov.items():
            s = self.session_prov.get(key)
            if s is None or s["value"] != c["value"]:
                out.append({"key": key, "session": s, "candidate": c})
        return out


def _version(rec: dict[str, Any], files: Sequence[Path], root: Path) -> Version:
    d = rec.get("details") or {}
    effective, sources = d.get("config"), d.get("sources") or {}
    version, mode = str(d.get("config_version")), str(d.get("mode") or "development")
    if not isinstance(effective, dict):
        raise WhatIfError(f"CONFIG.EFFECTIVE {version}: no recorded config")
    note = f"the session's config {version} (CONFIG.EFFECTIVE)"
    try:
        session = load_over(effective, sources, [], mode=mode, root=root, note=note)
    except ConfigError as exc:
        raise WhatIfError(f"the session's config {version} does not validate with this version of Aurora: {exc}") from None
    candidate = load_over(effective, sources, files, mode=mode, root=root, note=note)  # ConfigError: the candidate's
    try:
        calibration, instruments = load_calibration(candidate), load_instruments(candidate)
    except (CalibrationError, ConfigError, OSError) as exc:
        raise WhatIfError(f"config {version}: {exc}") from None
    v = Version(version, session, candidate, provenance_map(session.effective(), session.history),
                provenance_map(candidate.effective(), candidate.history), calibration, instruments)  # fmt: skip
    now = judged_with(calibration, instruments)
    for k, what in (("calibration_sha256", "calibration map"), ("instruments_sha256", "instrument registry")):
        if d.get(k) and d[k] != now[k]:
            v.notes.append(f"config {version}: the {what} loaded now is not the one the session's gate used "
                           f"({now[k]} vs {d[k]}): decisions that depend on it may differ for that reason alone")  # fmt: skip
    return v


# -- the result -------------------------------------------------------------------------------------
@dataclass(slots=True)
class Side:
    """Counts of one side of the comparison (the session as recorded, or the candidate)."""

    decisions: int = 0
    deny: int = 0
    allowed_qty: dict[str, float] = field(default_factory=dict)  # symbol -> sum of allowed max_qty
    allowed_notional: float = 0.0  # sum of allowed max_qty x (limit price, else mid)

    def to_dict(self) -> dict[str, Any]:
        return {"decisions": self.decisions, "deny": self.deny,
                "deny_rate": self.deny / self.decisions if self.decisions else None,
                "allowed_max_qty_by_symbol": dict(sorted(self.allowed_qty.items())),
                "allowed_notional": self.allowed_notional}  # fmt: skip


def _value(prov: dict[str, dict[str, Any]], key: str | None) -> dict[str, Any] | None:
    p = prov.get(key) if key is not None else None
    return {"value": p["value"], "source": p["source"]} if p is not None else None


@dataclass
class WhatIf:
    session_dir: str
    candidates: list[str]
    versions: list[Version] = field(default_factory=list)
    session: Side = field(default_factory=Side)
    candidate: Side = field(default_factory=Side)
    flips: list[dict[str, Any]] = field(default_factory=list)
    n_flips: int = 0
    by_kind: Counter = field(default_factory=Counter)
    by_guard: dict[str, Counter] = field(default_factory=dict)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_qty_changed: int = 0
    not_compared: int = 0
    notes: list[str] = field(default_factory=list)
    read: dict[str, Any] = field(default_factory=dict)
    replay_s: float = 0.0

    def flip(self, kind: str, rec: dict[str, Any], r: CheckRequest, version: Version, dec: Decision) -> None:
        d = rec["details"]
        rec_reason = d["reason"]
        rec_threshold = d.get("threshold")
        rec_key = rec_threshold.get("key") if isinstance(rec_threshold, dict) else (d.get("why") or {}).get("key")
        cand_why = dec.observability.get(dec.guard or "", {}) if not dec.allow else {}
        cand_key = cand_why.get("key")
        key, guard = (rec_key, d.get("guard")) if kind == DENY_TO_ALLOW else (cand_key, dec.guard)
        self.n_flips += 1
        self.by_kind[kind] += 1
        per_guard = self.by_guard.get(str(guard))
        if per_guard is None:  # not setdefault: it would build a Counter for every flip
            per_guard = self.by_guard[str(guard)] = Counter()
        per_guard[kind] += 1
        # a key's two values are the same for every flip of one config version: looked up once per key
        # (a candidate can flip most of a session; only the first MAX_LISTED flips are listed)
        bucket = self.by_key.get(key or NO_KEY)
        if bucket is None or bucket["_version"] is not version:
            s_val, c_val = _value(version.session_prov, key), _value(version.candidate_prov, key)
            changed = s_val is not None and c_val is not None and s_val["value"] != c_val["value"]
            if bucket is None:
                bucket = self.by_key[key or NO_KEY] = {"session": s_val, "candidate": c_val, "changed": changed,
                                                       "flips": 0, "by_kind": Counter()}  # fmt: skip
            bucket["_version"], bucket["_values"] = version, (s_val, c_val, changed)
        s_val, c_val, changed = bucket["_values"]
        bucket["flips"] += 1
        bucket["by_kind"][kind] += 1
        if len(self.flips) >= MAX_LISTED:
            return
        cand_threshold = None
        if cand_key is not None and c_val is not None:
            cand_threshold = {"key": cand_key, **c_val, "observed": observed(cand_key, cand_why)}
        if rec_threshold is None and rec_key is not None and not d["allow"]:
            sv = _value(version.session_prov, rec_key)
            rec_threshold = {"key": rec_key, **sv, "observed": observed(rec_key, d.get("why") or {})} if sv else None
        self.flips.append({
            "kind": kind, "cid": r.cid, "symbol": r.symbol, "account": r.account_id, "side": r.side,
            "gate_ns": rec[GATE_NS], "ts": _iso(rec[GATE_NS]), "config_version": version.version,
            "session": {"allow": d["allow"], "reason": rec_reason, "max_qty": d["max_qty"], "guard": d.get("guard"),
                        "explain": "OK" if d["allow"] else explain(rec_reason, rec_threshold)},
            "candidate": {"allow": dec.allow, "reason": str(dec.reason), "max_qty": dec.max_qty, "guard": dec.guard,
                          "explain": "OK" if dec.allow else explain(str(dec.reason), cand_threshold)},
            "key": key, "session_value": s_val, "candidate_value": c_val, "key_changed": changed,
        })  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        s, c = self.session.to_dict(), self.candidate.to_dict()
        rate_s, rate_c = s["deny_rate"], c["deny_rate"]
        qty = sorted(set(s["allowed_max_qty_by_symbol"]) | set(c["allowed_max_qty_by_symbol"]))
        return {
            "schema": SCHEMA,
            "session_dir": self.session_dir,
            "candidates": self.candidates,
            "versions": [{"session_version": v.version, "candidate_version": v.candidate.version,
                          "decisions": v.decisions, "changes": v.changes()} for v in self.versions],  # fmt: skip
            "decisions": {"replayed": self.session.decisions, "not_compared": self.not_compared},
            "session": s,
            "candidate": c,
            "change": {
                "deny_rate": None if rate_s is None or rate_c is None else rate_c - rate_s,
                "deny": c["deny"] - s["deny"],
                "allowed_notional": c["allowed_notional"] - s["allowed_notional"],
                "allowed_max_qty_by_symbol": {k: c["allowed_max_qty_by_symbol"].get(k, 0.0)
                                              - s["allowed_max_qty_by_symbol"].get(k, 0.0) for k in qty},  # fmt: skip
                "allowed_max_qty_changed": self.max_qty_changed,
            },
            "flips": {
                "total": self.n_flips,
                "by_kind": {k: self.by_kind.get(k, 0) for k in KINDS},
                "by_guard": {g: {k: n.get(k, 0) for k in KINDS} for g, n in sorted(self.by_guard.items())},
                "by_key": {k: {**{f: x for f, x in v.items() if not f.startswith("_")},
                               "by_kind": {x: v["by_kind"].get(x, 0) for x in KINDS}}
                           for k, v in sorted(self.by_key.items(), key=lambda kv: -kv[1]["flips"])},  # fmt: skip
                "listed": len(self.flips),
            },
            "flip_list": self.flips,
            "replay_s": round(self.replay_s, 4),
            "notes": self.notes,
            "read": self.read,
        }


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- the replay ---------------------------------------------------------------------------------------
class _Replay:
    def __init__(self, files: Sequence[Path], root: Path, out: WhatIf) -> None:
        self.files, self.root, self.out = list(files), root, out
        self.versions: dict[str, Version] = {}
        self.version: Version | None = None
        self.pipeline: Pipeline | None = None
        self.state: GateState | None = None
        self.starts = 0
        self.replayed = 0  # records applied since the start (a STATE_RESTORED after them is a restart's)
        self.last_t = 0  # the latest gate clock replayed (a restart restores at it, as the gate's clock floor)

    def _ready(self, what: str) -> tuple[Pipeline, GateState]:
        if self.pipeline is None or self.state is None:
            raise WhatIfError(f"the session's log has a {what} before any CONFIG.EFFECTIVE record: it was recorded by "
                              "a gate that does not record its config, and cannot be replayed")  # fmt: skip
        return self.pipeline, self.state

    def _build(self, armed: bool) -> None:
        v = self.version
        assert v is not None
        self.pipeline = Pipeline(v.candidate.config, v.calibration, armed=armed, instruments=v.instruments,
                                 timed=False)  # fmt: skip
        self.state = GateState(self.pipeline, MemoryJournal())  # type: ignore[arg-type]

    def config(self, rec: dict[str, Any]) -> None:
        version = str((rec.get("details") or {}).get("config_version"))
        v = self.versions.get(version)
        if v is None:
            v = self.versions[version] = _version(rec, self.files, self.root)
            self.out.versions.append(v)
            self.out.notes.extend(v.notes)
        self.version = v
        if self.pipeline is None:
            self._build(armed=v.session.mode != "production")
        else:  # a reload: new thresholds, the state kept
            self.pipeline.configure(v.candidate.config, v.instruments)
            self.pipeline.set_calibration(v.calibration)

    def start(self, rec: dict[str, Any]) -> None:
        self.starts += 1
        if self.starts > 1 and self.state is not None:
            # a restart within the session: the gate restored its state dir, the replay restores its own state
            snapshot = self.state.snapshot()
            armed = self.pipeline.armed if self.pipeline is not None else True
            self._build(armed)
            assert self.state is not None
            self.state.journal = MemoryJournal(snapshot)  # type: ignore[assignment]
            self.state.restore(self.last_t or rec["ts_ns"])
            self.state.journal = MemoryJournal()  # type: ignore[assignment]
            self.replayed = 0

    def restored(self, rec: dict[str, Any]) -> None:
        p, st = self._ready("AURORA.STATE_RESTORED")
        if self.starts > 1 or self.replayed:
            return  # a restart of this session: the replay's own state is what the gate restored
        # what the gate says it restored, as a snapshot its own restore reads
        d = rec.get("details") or {}
        t = int(d.get("last_record_ts_ns") or rec.get(GATE_NS) or rec["ts_ns"])
        today = p.risk.book.day_of(t)
        snapshot = {
            "book": {"positions": d.get("positions") or {}, "reported_equity": d.get("reported_equity") or {},
                     "days": {a: [today, x["pnl_usd"], x["peak_usd"], []] for a, x in (d.get("pnl_today") or {}).items()}},
            "kill_switch": {scope: {"trip": trip} for scope, trip in (d.get("kill_switch") or {}).items()},
            "health": d.get("health") or {}, "armed": d.get("armed", p.armed), "ops_halt": d.get("ops_halt"),
        }  # fmt: skip
        st.journal = MemoryJournal(snapshot)  # type: ignore[assignment]
        st.restore(t)
        st.journal = MemoryJournal()  # type: ignore[assignment]
        self.out.notes.append("the session's gate started from a restored state: positions, today's PnL, kill-switch "
                              "trips, arm, halt and health were seeded from AURORA.STATE_RESTORED; open orders, "
                              "reservations, throttle windows and today's CVaR sample from before the session were not")  # fmt: skip

    def ops(self, rec: dict[str, Any]) -> None:
        p, st = self._ready(rec["event_code"])
        code, d, t = rec["event_code"], rec.get("details") or {}, rec.get(GATE_NS) or rec["ts_ns"]
        self.replayed += 1
        self.last_t = t
        if code == "OPS.RESET":
            st.commit({"k": "reset", "t": t})
        elif code == "AURORA.ARM_STATE":
            if d.get("source") == "ops":
                st.commit({"k": "arm", "v": bool(d.get("armed")), "t": t})
            elif "armed" in d:
                p.armed = bool(d["armed"])  # the state the gate started in (after its restore)
        elif code in ("OPS.HALT", "OPS.KILL"):
            st.commit({"k": "halt", "v": d, "t": t})
            if code == "OPS.KILL":
                st.commit({"k": "arm", "v": False, "t": t})
        elif code == "OPS.RESUME":
            st.commit({"k": "halt", "v": None, "t": t})
        elif code == "OPS.COOLOFF":
            p.health.start_cooloff(float(d.get("seconds", 0.0)), t, source="ops")
        elif code == "RISK.BALANCE" and d.get("account") is not None and d.get("reported_usd") is not None:
            st.commit({"k": "eq", "a": d["account"], "v": float(d["reported_usd"]), "t": t})

    def order(self, rec: dict[str, Any]) -> None:
        p, st = self._ready(rec["event_code"])
        self.replayed += 1
        short = short_name(rec["event_code"])
        known = p.risk.book.orders.get(rec["cid"])
        account = known.account if known is not None else rec.get("account") or DEFAULT_ACCOUNT
        self.last_t = t = rec.get(GATE_NS) or rec["ts_ns"]
        st.commit(order_state_record(rec, short, t, p.risk.equity(account)[0]))

    def decision(self, rec: dict[str, Any], r: CheckRequest) -> None:
        # the hot loop of a replay: one call per recorded check, kept to plain attribute and dict access
        p, st, v = self.pipeline, self.state, self.version
        if p is None or st is None or v is None:
            self._ready("POLICY_DECISION")
            return
        self.replayed += 1
        d = rec["details"]
        self.last_t = now = rec[GATE_NS]
        allow, reason, max_qty = d["allow"], d["reason"], d["max_qty"]
        if d.get("guard") == _UNRECORDED:  # the gate could not record its state: nothing was applied
            self.out.not_compared += 1
            return
        dec = p.decide(r, now)
        v.decisions += 1
        out = self.out
        s, c = out.session, out.candidate
        s.decisions += 1
        c.decisions += 1
        if allow or dec.allow:
            px = r.price if r.price is not None else (r.best_bid + r.best_ask) * 0.5
            sym = r.symbol
            if allow:
                s.allowed_qty[sym] = s.allowed_qty.get(sym, 0.0) + max_qty
                s.allowed_notional += max_qty * px
            if dec.allow:
                c.allowed_qty[sym] = c.allowed_qty.get(sym, 0.0) + dec.max_qty
                c.allowed_notional += dec.max_qty * px
        if not allow:
            s.deny += 1
        if not dec.allow:
            c.deny += 1
        if dec.allow != allow:
            out.flip(DENY_TO_ALLOW if dec.allow else ALLOW_TO_DENY, rec, r, v, dec)
        elif not allow and dec.reason != reason:
            out.flip(REASON_CHANGED, rec, r, v, dec)
        elif allow and dec.max_qty != max_qty:
            out.max_qty_changed += 1
        # the recorded decision's effects: the state evolves as it was recorded
        st_rec = decision_state_record(r, allow, reason, max_qty, d.get("risk_reducing", False), now,
                                       p.risk.reservation_ns, not allow and p.kill_switch.counts(reason))  # fmt: skip
        if st_rec is not None:
            st.commit(st_rec)


def replay(items: Iterable[tuple], files: Sequence[Path | str], *, root: Path | None = None,
           session_dir: str = "", read: ReadReport | None = None) -> WhatIf:  # fmt: skip
    """Replay ``items`` (from :func:`load_session`) under ``files`` layered over each recorded config version.

    Raises :class:`aurora.config.errors.ConfigError` for a candidate file that is not a valid config layer,
    :class:`WhatIfError` for a session that cannot be replayed."""
    paths = [Path(f) for f in files]
    for f in paths:  # a missing candidate is an error even for a session without a decision
        if not f.is_file():
            raise ConfigError([ConfigIssue("candidate config file not found", source=str(f))])
    out = WhatIf(session_dir=session_dir, candidates=[str(f) for f in paths])
    rp = _Replay(paths, root or Path.cwd(), out)
    t0 = time.perf_counter()
    for item in items:
        kind = item[0]
        if kind == DEC:
            rp.decision(item[1], item[2])
        elif kind == ORD:
            rp.order(item[1])
        elif kind == OPS:
            rp.ops(item[1])
        elif kind == CFG:
            rp.config(item[1])
        elif kind == START:
            rp.start(item[1])
        else:
            rp.restored(item[1])
    out.replay_s = time.perf_counter() - t0
    if read is not None:
        out.read = read.to_dict()
        out.notes.extend(read.notes)
    if not out.versions:
        out.notes.append("no CONFIG.EFFECTIVE record in the session: nothing was replayed")
    return out


def whatif(session_dir: Path | str, files: Sequence[Path | str], *, root: Path | None = None) -> WhatIf:
    """Read ``session_dir`` and replay it under the candidate ``files`` (see the module doc)."""
    items, report = load_session(session_dir)
    return replay(items, files, root=root, session_dir=str(session_dir), read=report)

