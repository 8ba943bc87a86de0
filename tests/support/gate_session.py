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
    """A gate writing ``session_dir`` (fresh state of its own, request clock); use as a context manager."""

    def __init__(self, loaded: LoadedAurora, session_dir: Path, *, run_id: str = "rec") -> None:
        self.gate = GateService(loaded, session_dir, run_id=run_id, state_dir=session_dir / ".state",
                                fresh_state=True, clock="request")  # fmt: skip
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
