"""Sessions recorded by a real gate: a :class:`GateService` on the request clock, fed checks and lifecycle
events, writing its session dir exactly as ``start-api`` would (what the audit, the summary and ``whatif``
read). Nothing here writes a record by hand, so the records cannot drift from what the gate writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aurora.config.loader import LoadedAurora, load_aurora
from aurora.gate.gate_service import GateService
from aurora.gate.guard import CheckRequest, Decision
from aurora.instruments import registry_at

NS = 1_000_000_000
MS = 1_000_000
#: The first request's time (the gate's request clock follows the requests).
START_NS = int(datetime(2026, 11, 21, 9, 0, tzinfo=UTC).timestamp()) * NS
CALIBRATION = Path(__file__).resolve().parents[1] / "aurora" / "fixtures" / "gate_calibration.json"
#: Rough mids of the shipped registry's symbols (prices are put on each one's tick).
MIDS = {"SOLUSDT": 100.0, "BTCUSDT": 65_000.0, "ETHUSDT": 3_000.0, "SOONUSDT": 0.5}


def load(root: Path, mode: str = "development", *, file: str | None = None,
         environ: Mapping[str, str] | None = None) -> LoadedAurora:  # fmt: skip
    """The gate config of project ``root`` as ``start-api`` loads it (files, lines, env)."""
    return load_aurora(mode, root=root, environ={"AURORA_ROOT": str(root), **(environ or {})}, file=file)


class RecordingGate:
    """A gate writing ``session_dir`` (request clock) with a fresh state of its own, or, given ``state_dir``,
    the state a gate left there (a restart); use as a context manager."""

    def __init__(self, loaded: LoadedAurora, session_dir: Path, *, run_id: str = "rec",
                 state_dir: Path | None = None) -> None:  # fmt: skip
        self.gate = GateService(loaded, session_dir, run_id=run_id, state_dir=state_dir or session_dir / ".state",
                                fresh_state=state_dir is None, clock="request")  # fmt: skip
        self.gate.startup_events()
        self.session_dir = session_dir

    def __enter__(self) -> RecordingGate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.close()

    def check(self, r: CheckRequest) -> Decision:
        return self.gate.check(r)

    def post(self, short: str, cid: str, ts_ns: int, **fields: Any) -> dict[str, Any]:
        """One lifecycle event through ``/posttrade/log``'s core (symbol, side, qty at the top, rest in details)."""
        top = {k: fields.pop(k) for k in ("symbol", "side", "qty", "account", "oid") if k in fields}
        return self.gate.posttrade({"event_code": f"ORDER.{short}", "cid": cid, "ts_ns": ts_ns, **top,
                                    "details": fields})  # fmt: skip

    def fill(self, r: CheckRequest, dec: Decision, ts_ns: int, *, pnl: float | None = None) -> None:
        """The allowed order ``r`` placed and filled whole at its price (SUBMIT, ACK, FILL)."""
        qty = dec.max_qty
        self.post("SUBMIT", r.cid, ts_ns, symbol=r.symbol, side=r.side, qty=qty, account=r.account_id, price=r.price)
        self.post("ACK", r.cid, ts_ns + 2 * MS)
        extra = {} if pnl is None else {"realized_pnl_usd": pnl}
        self.post("FILL", r.cid, ts_ns + 5 * MS, fill_qty=qty, cum_qty=qty, fill_price=r.price, trade_id=f"t-{r.cid}",
                  **extra)  # fmt: skip


def request(ts_ns: int, *, cid: str, symbol: str = "SOLUSDT", spread_ticks: int = 1, side: str = "buy",
            notional: float = 200.0, mid_shift_ticks: int = 0, account: str = "acc-1", latency_ms: float = 5.0,
            score: float = 2.5, **extra: Any) -> CheckRequest:  # fmt: skip
    """A check as the runner sends it: prices on the instrument's tick, qty on its step, a consistent book
    ``spread_ticks`` wide, limit price at the touch, asked at ``ts_ns`` (its quote fresh)."""
    inst = registry_at().require(symbol)
    tick = inst.tick
    bid = inst.round_price(MIDS[symbol] + mid_shift_ticks * tick, "down")
    ask = inst.round_price(bid + spread_ticks * tick, "nearest")
    qty = inst.floor_qty(notional / bid)
    fields: dict[str, Any] = {
        "account_id": account, "symbol": symbol, "side": side, "qty": qty, "best_bid": bid, "best_ask": ask,
        "bid_size": 5_000.0 / bid, "ask_size": 5_000.0 / bid, "spread_bps": (ask - bid) / ((ask + bid) / 2) * 1e4,
        "latency_ms": latency_ms, "vol_std_bps": 10.0, "score": score, "tp_bps": 40.0, "sl_bps": 10.0,
        "l2_add_volumes": [5.0, 5.0, 5.0, 5.0, 5.0], "l2_cancel_volumes": [4.0, 4.0, 4.0, 4.0, 4.0],
        "price": bid if side == "buy" else ask, "cid": cid, "ts_ns": ts_ns,
    }  # fmt: skip
    fields.update(extra)
    return CheckRequest(**fields)


def project_config(root: Path, mode: str = "testnet", body: str = "") -> Path:
    """``configs/aurora/<mode>.yaml`` of project ``root``: ``body`` first (its keys at known lines, from line 1),
    then the pinned test calibration and, outside development, anonymous trading (no token in tests)."""
    path = root / "configs" / "aurora" / f"{mode}.yaml"
    extra = f"calibration:\n  path: {CALIBRATION}\n"
    if mode != "development":
        extra += "security:\n  allow_anonymous_trading: true\n"
    path.write_text(body + extra)
    return path


def spread_session(root: Path, session_dir: Path, *, limit_bps: int = 20, n: int = 90) -> list[CheckRequest]:
    """``n`` decisions on SOLUSDT with book spreads of 1..30 ticks (~1..30 bps: 1 tick is ~1 bps at 100),
    200 ms apart, sides alternating and prices moving (no duplicates); the session's mode file sets
    ``guards.spread_bps_limit: <limit_bps>`` at ``configs/aurora/testnet.yaml:2``. Returns the checks sent."""
    project_config(root, "testnet", f"guards:\n  spread_bps_limit: {limit_bps}\n")
    sent = [request(START_NS + i * 200 * MS, cid=f"s{i:03d}", spread_ticks=1 + i % 30, side="buy" if i % 2 else "sell",
                    mid_shift_ticks=i) for i in range(n)]  # fmt: skip
    with RecordingGate(load(root, "testnet"), session_dir) as g:
        for r in sent:
            g.check(r)
    return sent


def positions_session(root: Path, session_dir: Path) -> dict[str, list[str]]:
    """Positions that later checks depend on (``risk.max_concurrent: 3`` at ``testnet.yaml:2``): ETHUSDT checks
    with no position open, then SOLUSDT and BTCUSDT bought and filled, then ETHUSDT checks with those two
    positions open (each 5 s apart: past the 3 s reservation of the one before). Returns the cids by phase."""
    project_config(root, "testnet", "risk:\n  max_concurrent: 3\n")
    t = START_NS
    phases: dict[str, list[str]] = {"before": [], "entries": [], "after": []}
    with RecordingGate(load(root, "testnet"), session_dir) as g:
        for i in range(3):
            r = request(t, cid=f"eth-before-{i}", symbol="ETHUSDT", mid_shift_ticks=i)
            assert g.check(r).allow
            phases["before"].append(r.cid)
            t += 5 * NS
        for sym in ("SOLUSDT", "BTCUSDT"):
            r = request(t, cid=f"entry-{sym}", symbol=sym, notional=300.0)
            dec = g.check(r)
            assert dec.allow, dec
            g.fill(r, dec, t + 10 * MS)
            phases["entries"].append(r.cid)
            t += 5 * NS
        for i in range(4):
            r = request(t, cid=f"eth-after-{i}", symbol="ETHUSDT", mid_shift_ticks=10 + i)
            assert g.check(r).allow
            phases["after"].append(r.cid)
            t += 5 * NS
    return phases
