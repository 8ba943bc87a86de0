"""Generate realistic session logs (SPEC §9 formats) with known answers, for tests and benchmarks.

A generated session has the gate's ``aurora_events.jsonl``, one ``runner_events-<group>.jsonl`` per
runner group, and the order logs (``orders_success/failed/denied.jsonl`` plus the consolidated
``orders.jsonl``). Optionally: rotated ``<stem>.<YYYYMMDD>-<seq:03d>.jsonl.gz`` files beside the live
ones, a torn (unterminated) last line, corrupt lines in the middle, and every lifecycle anomaly class of
SPEC §8 injected on known client order ids. :class:`GeneratedSession` carries the ground truth.
"""

from __future__ import annotations

import gzip
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from aurora.analytics.lifecycle_audit import ANOMALY_CLASSES
from aurora.events.codes import EventCode

DENY_REASONS: tuple[tuple[str, float], ...] = (
    ("SPREAD_GUARD", 0.30),
    ("ER_BELOW_MIN", 0.25),
    ("LATENCY_GUARD", 0.10),
    ("TRAP_GUARD", 0.10),
    ("SLIPPAGE_GUARD", 0.08),
    ("RISK_MAX_CONCURRENT", 0.07),
    ("RISK_RATE_LIMIT", 0.05),
    ("SPRT_REJECT", 0.05),
)

NS = 1_000_000_000
MS = 1_000_000
DEFAULT_START_NS = int(datetime(2026, 11, 21, 9, 0, tzinfo=UTC).timestamp()) * NS


@dataclass
class GeneratorSpec:
    n_orders: int = 200
    """Orders that pass the gate (each gets a full ``ORDER.*`` lifecycle)."""
    deny_ratio: float = 0.3
    """Share of gate decisions that deny."""
    decisions_per_sec: float = 20.0
    start_ns: int = DEFAULT_START_NS
    seed: int = 7
    symbols: tuple[str, ...] = ("SOLUSDT", "SOONUSDT")
    runner_groups: tuple[str, ...] = ("sol",)
    xai: bool = True
    """Runner XAI events (MODEL, ENR_GATE, PARENT_GATE) before each decision."""
    decisions: bool = True
    """POLICY_DECISION + GOVERNANCE.* events (off: lifecycle events only, for audit benchmarks)."""
    order_logs: bool = True
    state_events: bool = True
    """Occasional health / kill-switch / ops state changes."""
    mean_partials: float = 1.0
    """Mean number of PARTIAL fills before the final FILL of a filled order."""
    ack_ttl_s: float = 5.0
    rotations: int = 0
    """Rotated ``.gz`` files per log stem (records split by time; the newest part stays live)."""
    torn_last_line: bool = False
    corrupt_lines: int = 0
    """Garbage lines inserted in the middle of ``aurora_events`` (live file, and a rotated one if any)."""
    anomalies: dict[str, int] = field(default_factory=dict)
    """Anomaly class -> number of orders to inject it on."""
    first_order: int = 0
    """Number of the first order (ids ``c<n>``/``v<n>``): sessions built in parts keep their ids unique."""


@dataclass
class GeneratedSession:
    path: Path
    spec: GeneratorSpec
    events: int = 0
    """Valid event records written (all event files)."""
    order_records: int = 0
    anomalies: dict[str, list[str]] = field(default_factory=dict)
    corrupt: list[tuple[str, int]] = field(default_factory=list)
    """(file name, 1-based line) of each corrupt line."""
    torn: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)


class _Writer:
    """Collects records per log stem, then writes them in time order (with rotation)."""

    def __init__(self) -> None:
        self.records: dict[str, list[tuple[int, int, bytes]]] = defaultdict(list)
        self._seq = 0

    def add(self, stem: str, record: dict[str, Any]) -> None:
        self._seq += 1
        self.records[stem].append((record["ts_ns"], self._seq, orjson.dumps(record)))


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v is not None}


class _SessionBuilder:
    def __init__(self, spec: GeneratorSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.w = _Writer()
        self.run_id = f"gen-{spec.seed}"
        self.truth: dict[str, list[str]] = {c: [] for c in ANOMALY_CLASSES}
        self.counts: Counter[str] = Counter()
        self.last_ts = spec.start_ns

    # -- emitters ---------------------------------------------------------------------------------
    def event(self, stem: str, ts: int, code: str, details: dict[str, Any], **top: Any) -> None:
        rec = {"ts_ns": ts, "run_id": self.run_id, "event_code": code, "details": _clean(details)}
        rec.update(_clean(top))
        self.w.add(stem, rec)
        self.counts["events"] += 1
        self.last_ts = max(self.last_ts, ts)

    def order_log(self, stream: str, ts: int, code: str, **fields: Any) -> None:
        if not self.spec.order_logs:
            return
        rec = _clean({"ts_ns": ts, "run_id": self.run_id, "stream": stream, "event_code": code, **fields})
        self.w.add(f"orders_{stream}", rec)
        self.w.add("orders", rec)
        self.counts["order_records"] += 1

    def order_event(self, ts: int, name: str, cid: str, order: dict[str, Any], **details: Any) -> None:
        code = "ORDER." + name
        top: dict[str, Any] = {"cid": cid, "symbol": order["symbol"]}
        if name != "SUBMIT":
            top["oid"] = order["oid"]
        else:
            top.update(side=order["side"], qty=order["qty"])
            details = {"price": order["price"], "order_type": "limit", "reduce_only": False, **details}
        self.event("aurora_events", ts, code, details, **top)
        self.counts[code] += 1
        if name == "FILL":
            self.order_log(
                "success",
                ts,
                code,
                cid=cid,
                oid=order["oid"],
                symbol=order["symbol"],
                side=order["side"],
                qty=order["qty"],
                price=order["price"],
                fill_qty=details.get("fill_qty"),
                fill_price=details.get("fill_price"),
                details=_clean(
                    {
                        k: details.get(k)
                        for k in ("trade_id", "realized_pnl_usd", "realized_pnl_bps", "entry_p_win")
                    }
                ),
            )
        elif name in ("REJECT", "EXPIRE"):
            self.order_log(
                "failed",
                ts,
                code,
                cid=cid,
                oid=order["oid"],
                symbol=order["symbol"],
                side=order["side"],
                qty=order["qty"],
                price=order["price"],
                reason=details.get("reason"),
            )

    # -- one decision ---------------------------------------------------------------------------
    def decision(self, ts: int, cid: str, order: dict[str, Any], allow: bool, reason: str) -> int:
        spec, rng = self.spec, self.rng
        group = (
            spec.runner_groups[order["sym_index"] % len(spec.runner_groups)] if spec.runner_groups else None
        )
        if spec.xai and group:
            stem = f"runner_events-{group}"
            score = rng.gauss(0.0, 1.0)
            self.event(
                stem,
                ts - 3 * MS,
                "MODEL",
                {"score": round(score, 4), "p_win": round(0.5 + score / 8, 4)},
                symbol=order["symbol"],
            )
            self.event(
                stem,
                ts - 2 * MS,
                "ENR_GATE",
                {"pass": True, "enr_bps": round(rng.uniform(0, 12), 3)},
                symbol=order["symbol"],
            )
            self.event(
                stem,
                ts - 1 * MS,
                "PARENT_GATE",
                {"pass": True, "z": round(rng.uniform(0.75, 3), 3)},
                symbol=order["symbol"],
            )
        if not spec.decisions:
            return ts
        spread = round(rng.uniform(1.0, 6.0), 3)
        if reason == "SPREAD_GUARD":
            spread = round(rng.uniform(81, 120), 3)
        d = {
            "allow": allow,
            "reason": reason,
            "max_qty": order["qty"] if allow else 0.0,
            "risk_scale": 1.0 if allow else 0.0,
            "decision_us": round(rng.lognormvariate(math.log(180), 0.45), 2),
            "reduce_only": False,
            "spread_bps": spread,
            "vol_std_bps": round(rng.uniform(5, 40), 3),
            "latency_ms": round(rng.lognormvariate(math.log(25), 0.5), 3),
        }
        self.event(
            "aurora_events",
            ts,
            "POLICY_DECISION",
            d,
            cid=cid,
            symbol=order["symbol"],
            side=order["side"],
            qty=order["qty"],
        )
        self.event(
            "aurora_events",
            ts,
            "GOVERNANCE.ALLOW" if allow else "GOVERNANCE.DENY",
            {"reason": reason},
            cid=cid,
        )
        self.counts["decisions"] += 1
        self.counts["allow" if allow else "deny"] += 1
        if not allow:
            self.counts["deny:" + reason] += 1
            if reason == "SPREAD_GUARD":
                self.event(
                    "aurora_events",
                    ts,
                    EventCode.SPREAD_GUARD_TRIP,
                    {"spread_bps": spread, "limit_bps": 80.0},
                    symbol=order["symbol"],
                )
            self.order_log(
                "denied",
                ts,
                "POLICY_DECISION",
                cid=cid,
                symbol=order["symbol"],
                side=order["side"],
                qty=order["qty"],
                price=order["price"],
                reason=reason,
            )
        return ts

    # -- lifecycles -----------------------------------------------------------------------------
    def fill_details(
        self, order: dict[str, Any], qty: float, cum: float, trade: str, closing: bool
    ) -> dict[str, Any]:
        d: dict[str, Any] = {
            "fill_qty": qty,
            "fill_price": order["price"],
            "cum_qty": round(cum, 8),
            "trade_id": trade,
            "latency_ms": round(self.rng.uniform(5, 60), 3),
        }
        if closing:
            p = min(0.95, max(0.05, self.rng.betavariate(5, 5)))
            win = self.rng.random() < p
            bps = abs(self.rng.gauss(6, 4)) if win else -abs(self.rng.gauss(5, 6))
            d.update(
                realized_pnl_bps=round(bps, 4),
                realized_pnl_usd=round(bps * qty * order["price"] / 1e4, 6),
                entry_p_win=round(p, 4),
            )
        return d

    def lifecycle(self, ts: int, cid: str, order: dict[str, Any], kind: str) -> None:
        rng, ttl_ns = self.rng, int(self.spec.ack_ttl_s * NS)
        ev = self.order_event
        trade_n = 0

        def trade() -> str:
            nonlocal trade_n
            trade_n += 1
            return f"{order['oid']}-t{trade_n}"

        def fills(t: int, total: float, *, partials: int | None = None) -> int:
            n = (
                partials
                if partials is not None
                else min(6, int(rng.expovariate(1 / self.spec.mean_partials)))
                if self.spec.mean_partials > 0
                else 0
            )
            closing = rng.random() < 0.5
            piece = round(total / (n + 1), 8)
            cum = 0.0
            for _ in range(n):
                t += int(rng.uniform(20, 400) * MS)
                cum += piece
                ev(t, "PARTIAL", cid, order, **self.fill_details(order, piece, cum, trade(), False))
            t += int(rng.uniform(20, 400) * MS)
            last = round(total - piece * n, 8)
            ev(t, "FILL", cid, order, **self.fill_details(order, last, cum + last, trade(), closing))
            return t

        sub = ts + int(rng.uniform(0.2, 2.0) * MS)
        ack = sub + int(rng.lognormvariate(math.log(30), 0.4) * MS)
        if kind != "orphan_event":
            ev(sub, "SUBMIT", cid, order)
        if kind == "normal":
            r = rng.random()
            if r < 0.62:
                ev(ack, "ACK", cid, order, latency_ms=round((ack - sub) / MS, 3))
                fills(ack, order["qty"])
            elif r < 0.77:
                ev(ack, "ACK", cid, order, latency_ms=round((ack - sub) / MS, 3))
                t = ack + int(rng.uniform(100, 2000) * MS)
                ev(t, "CANCEL.REQUEST", cid, order, reason="STALE")
                ev(t + int(rng.uniform(5, 50) * MS), "CANCEL.ACK", cid, order, reason="STALE")
            elif r < 0.87:
                ev(ack, "ACK", cid, order, latency_ms=round((ack - sub) / MS, 3))
                t = ack + int(rng.uniform(50, 500) * MS)
                ev(
                    t,
                    "PARTIAL",
                    cid,
                    order,
                    **self.fill_details(
                        order, round(order["qty"] / 2, 8), round(order["qty"] / 2, 8), trade(), False
                    ),
                )
                t += int(rng.uniform(100, 2000) * MS)
                ev(t, "CANCEL.REQUEST", cid, order, reason="STALE")
                ev(t + int(rng.uniform(5, 50) * MS), "CANCEL.ACK", cid, order, reason="STALE")
            elif r < 0.95:
                ev(
                    ack,
                    "REJECT",
                    cid,
                    order,
                    reason=rng.choice(["INSUFFICIENT_MARGIN", "PRICE_FILTER", "POST_ONLY"]),
                )
            else:
                ev(sub + ttl_ns + int(rng.uniform(0, 1000) * MS), "EXPIRE", cid, order, reason="ACK_TIMEOUT")
            return
        self.truth[kind].append(cid)
        if kind == "illegal_transition":  # CANCEL.ACK without a CANCEL.REQUEST, then a legal fill
            ev(ack, "ACK", cid, order)
            ev(ack + 50 * MS, "CANCEL.ACK", cid, order, reason="?")
            fills(ack + 60 * MS, order["qty"], partials=0)
        elif kind == "missing_terminal":
            ev(ack, "ACK", cid, order)
        elif kind == "late_ack":
            late = sub + ttl_ns + int(rng.uniform(500, 3000) * MS)
            if rng.random() < 0.5:  # the gate's AckTracker expired it first; the ack arrives afterwards
                ev(sub + ttl_ns, "EXPIRE", cid, order, reason="ACK_TIMEOUT")
                ev(late, "ACK", cid, order)
                self.truth["illegal_transition"].append(cid)  # an ACK after a terminal state (SPEC §8)
            else:
                ev(late, "ACK", cid, order)
                fills(late, order["qty"], partials=0)
        elif kind == "duplicate_ack":
            ev(ack, "ACK", cid, order)
            ev(ack + 3 * MS, "ACK", cid, order)
            fills(ack + 5 * MS, order["qty"], partials=0)
        elif kind == "duplicate_fill":
            ev(ack, "ACK", cid, order)
            half = round(order["qty"] / 2, 8)
            d = self.fill_details(order, half, half, trade(), False)
            ev(ack + 40 * MS, "PARTIAL", cid, order, **d)
            ev(ack + 41 * MS, "PARTIAL", cid, order, **d)  # the venue replays the same trade
            ev(
                ack + 90 * MS,
                "FILL",
                cid,
                order,
                **self.fill_details(order, round(order["qty"] - half, 8), order["qty"], trade(), False),
            )
        elif kind == "overfill":
            ev(ack, "ACK", cid, order)
            piece = round(order["qty"] * 0.6, 8)
            ev(ack + 40 * MS, "PARTIAL", cid, order, **self.fill_details(order, piece, piece, trade(), False))
            ev(
                ack + 80 * MS,
                "FILL",
                cid,
                order,
                **self.fill_details(order, piece, 2 * piece, trade(), False),
            )
        elif kind == "fill_after_cancel":
            ev(ack, "ACK", cid, order)
            ev(ack + 100 * MS, "CANCEL.REQUEST", cid, order, reason="STALE")
            ev(ack + 120 * MS, "CANCEL.ACK", cid, order, reason="STALE")
            ev(
                ack + 125 * MS,
                "FILL",
                cid,
                order,
                **self.fill_details(order, order["qty"], order["qty"], trade(), False),
            )
        elif kind == "orphan_event":
            ev(ack, "ACK", cid, order)
            fills(ack, order["qty"], partials=0)

    def state_event(self, ts: int) -> None:
        rng = self.rng
        choice = rng.random()
        if choice < 0.4:
            p95 = round(rng.uniform(31, 80), 2)
            self.event(
                "aurora_events",
                ts,
                "HEALTH.LATENCY_P95_HIGH",
                {"p95_ms": p95, "threshold_ms": 30.0, "state": "WARN"},
            )
        elif choice < 0.6:
            self.event("aurora_events", ts, "AURORA.COOL_OFF", {"state": "COOL_OFF", "cooloff_sec": 120})
        elif choice < 0.7:
            self.event("aurora_events", ts, "AURORA.ESCALATION", {"state": "HALT"})
            self.event("aurora_events", ts + 2 * NS, "OPS.RESET", {"state": "OK"})
        elif choice < 0.8:
            self.event(
                "aurora_events",
                ts,
                "GOVERNANCE.KILL_SWITCH",
                {"state": "TRIPPED", "action": "HALT_AND_ALERT", "reject_rate_pct": 40.0},
            )
            self.event("aurora_events", ts + 3 * NS, "OPS.RESET", {"state": "OK"})
        else:
            self.event("aurora_events", ts, "AURORA.ARM_STATE", {"armed": rng.random() < 0.7})
        self.counts["state_events"] += 1

    # -- the whole session ----------------------------------------------------------------------
    def build(self) -> None:
        spec, rng = self.spec, self.rng
        plan = [k for k, n in spec.anomalies.items() for _ in range(n)]
        unknown = set(spec.anomalies) - set(ANOMALY_CLASSES)
        if unknown:
            raise ValueError(f"unknown anomaly classes: {sorted(unknown)}")
        n_allowed = spec.n_orders
        n_denied = (
            int(round(n_allowed * spec.deny_ratio / (1 - spec.deny_ratio))) if spec.deny_ratio < 1 else 0
        )
        kinds = ["normal"] * (n_allowed - len(plan)) + plan
        if len(plan) > n_allowed:
            raise ValueError("more anomalies than orders")
        rng.shuffle(kinds)
        # an order left open near the end of the log is "in flight", not "missing terminal": keep those early
        tail = max(1, len(kinds) // 5)
        for i in range(len(kinds) - tail, len(kinds)):
            if kinds[i] == "missing_terminal":
                j = next(j for j in range(len(kinds) - tail) if kinds[j] == "normal")
                kinds[i], kinds[j] = kinds[j], kinds[i]
        outcome = ["allow"] * n_allowed + ["deny"] * n_denied
        rng.shuffle(outcome)
        # missing_terminal orders must not be the last ones (else they would be "in flight")
        ts = spec.start_ns
        weights = [w for _, w in DENY_REASONS]
        reasons = [r for r, _ in DENY_REASONS]
        k_iter = iter(kinds)
        step_ns = NS / spec.decisions_per_sec
        if spec.runner_groups:
            for g in spec.runner_groups:
                self.event(f"runner_events-{g}", ts - NS, "RUNNER.START", {"group": g})
        for i, out in enumerate(outcome):
            ts += int(rng.expovariate(1.0) * step_ns) + 1
            symbol = spec.symbols[i % len(spec.symbols)]
            price = 150.0 if symbol.startswith("SOL") else 0.25
            cid = f"c{spec.first_order + i:07d}"
            order = {
                "symbol": symbol,
                "side": "buy" if rng.random() < 0.5 else "sell",
                "qty": round(rng.choice([0.1, 0.2, 0.5, 1.0, 2.0]) * (1 if price > 1 else 400), 8),
                "price": price,
                "oid": f"v{spec.first_order + i:08d}",
                "sym_index": i % len(spec.symbols),
            }
            if out == "allow":
                self.decision(ts, cid, order, True, "OK")
                self.lifecycle(ts, cid, order, next(k_iter))
            else:
                self.decision(ts, cid, order, False, rng.choices(reasons, weights)[0])
            if spec.state_events and rng.random() < 0.002:
                self.state_event(ts + 1)
        end = max(self.last_ts, ts) + int(spec.ack_ttl_s * NS) + NS
        if spec.runner_groups:
            for g in spec.runner_groups:
                self.event(f"runner_events-{g}", end, "RUNNER.STOP", {"group": g})


def _write_stem(
    directory: Path, stem: str, records: list[tuple[int, int, bytes]], rotations: int
) -> list[Path]:
    """Write ``records`` (sorted by time) as rotated ``.gz`` parts plus the live file."""
    records.sort()
    n = len(records)
    parts = rotations + 1 if n > rotations else 1
    bounds = [round(n * i / parts) for i in range(parts + 1)]
    written: list[Path] = []
    per_day: Counter[str] = Counter()
    for p in range(parts):
        chunk = records[bounds[p] : bounds[p + 1]]
        blob = b"".join(line + b"\n" for _, _, line in chunk)
        if p < parts - 1:
            day = datetime.fromtimestamp(chunk[0][0] / NS, UTC).strftime("%Y%m%d") if chunk else "19700101"
            per_day[day] += 1
            path = directory / f"{stem}.{day}-{per_day[day]:03d}.jsonl.gz"
            path.write_bytes(gzip.compress(blob, compresslevel=1))
        else:
            path = directory / f"{stem}.jsonl"
            path.write_bytes(blob)
        written.append(path)
    return written


_GARBAGE = (
    b'{"ts_ns": 17, "event_code": "ORDER.ACK", "cid": ',
    b"\x00\x01\x02 not json at all",
    b'["an", "array", "is not a record"]',
    b'{"ts_ns": "yesterday", "event_code": "POLICY_DECISION"}',
)


def _insert_corrupt(path: Path, count: int, rng: random.Random) -> list[int]:
    gz = path.name.endswith(".gz")
    data = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    lines = data.split(b"\n")[:-1]
    if len(lines) < 2:
        return []
    positions = sorted(rng.sample(range(1, len(lines)), min(count, len(lines) - 1)), reverse=True)
    for k, pos in enumerate(positions):
        lines.insert(pos, _GARBAGE[k % len(_GARBAGE)])
    blob = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(blob, compresslevel=1) if gz else blob)
    # 1-based line numbers in the final file, ascending
    final = sorted(positions)
    return [pos + 1 + i for i, pos in enumerate(final)]


def generate_session(
    directory: Path | str, spec: GeneratorSpec | None = None, **overrides: Any
) -> GeneratedSession:
    """Write a session into ``directory`` (created) and return what was written, with the truth."""
    spec = spec or GeneratorSpec()
    for k, v in overrides.items():
        setattr(spec, k, v)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    b = _SessionBuilder(spec)
    b.build()
    result = GeneratedSession(path=directory, spec=spec, anomalies={k: v for k, v in b.truth.items() if v})
    files: dict[str, list[Path]] = {}
    for stem, records in b.w.records.items():
        files[stem] = _write_stem(directory, stem, records, spec.rotations)
    rng = random.Random(spec.seed + 1)
    if spec.corrupt_lines and "aurora_events" in files:
        targets = files["aurora_events"][-1:] + (
            files["aurora_events"][:1] if len(files["aurora_events"]) > 1 else []
        )
        per = (
            [spec.corrupt_lines - spec.corrupt_lines // 2, spec.corrupt_lines // 2]
            if len(targets) > 1
            else [spec.corrupt_lines]
        )
        for path, n in zip(targets, per, strict=False):
            for line in _insert_corrupt(path, n, rng):
                result.corrupt.append((path.name, line))
    if spec.torn_last_line and "aurora_events" in files:
        live = files["aurora_events"][-1]
        with open(live, "ab") as fh:
            fh.write(b'{"ts_ns": 1, "run_id": "torn", "event_code": "POLICY_DECI')
        result.torn.append(live.name)
    result.events = b.counts["events"]
    result.order_records = b.counts["order_records"]
    result.files = sorted(p.name for ps in files.values() for p in ps)
    result.counts = dict(b.counts)
    return result
