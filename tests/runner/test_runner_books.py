"""The run loop on recordings: no new orders on an untrusted book, trades from @trade, honest endings.

Recordings are made with the synthetic market (exact Binance wire messages) and then damaged the way
real data is: a snapshot missing, a diff stream that stops, ``@trade`` instead of ``@aggTrade``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from runner.app import Runner
from runner.book import L2Book
from runner.book_health import OK, STALE, UNSYNCED, WARMING, BookHealth
from runner.config import FeedSection, RunnerConfig
from runner.feed_tools import record_feed
from runner.feeds.book_sync import BookSync
from tests.runner.gate_stub import GateStub

TRADER = {
    "runner": {"mode": "paper", "wind_down_s": 1.0},
    "symbols": [{"symbol": "SOLUSDT", "qty": 1.0}, {"symbol": "SOONUSDT", "qty": 10.0}],
    "feed": {"realtime": False},
    "strategy": {"score_threshold": 0.1, "enr_threshold_bps": -100.0, "cooldown_ms": 100, "warmup_s": 0.3,
                 "tp_bps": 3.0, "sl_bps": 3.0, "max_hold_s": 1.0, "order_ttl_s": 0.5},
    "parent_gate": {"enabled": False},
    "gate": {"timeout_ms": 500, "flush_timeout_s": 3.0},
}


def record(path: Path, symbols: list[str], seconds: float = 20.0, seed: int = 5) -> list[bytes]:
    asyncio.run(record_feed(FeedSection(source="synthetic", seed=seed), symbols, path, seconds=seconds))
    return path.read_bytes().splitlines()


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def run(cfg: dict, recording: Path, session: Path, gate: GateStub) -> tuple[Runner, dict]:
    cfg = {**cfg, "feed": {**cfg["feed"], "source": f"replay:{recording}"}}
    runner = Runner(RunnerConfig.model_validate(cfg), session_dir=session, gate_url=gate.url, environ={})
    return runner, asyncio.run(runner.run())


def events(session: Path) -> list[dict]:
    return [orjson.loads(x) for x in (session / "runner_events.jsonl").read_bytes().splitlines()]


def test_a_symbol_whose_snapshot_is_missing_places_no_orders_while_the_other_trades(
    gate_stub: GateStub, tmp_path: Path
) -> None:
    lines = record(tmp_path / "full.jsonl", ["SOLUSDT", "SOONUSDT"])
    damaged = [x for x in lines if b'"soonusdt@depthSnapshot"' not in x]
    assert len(damaged) < len(lines)
    runner, summary = run(TRADER, write(tmp_path / "no_soon_snapshot.jsonl", damaged), tmp_path / "s", gate_stub)

    sent = {p["symbol"] for p in gate_stub.posts if p["event_code"] == "ORDER.SUBMIT"}
    assert "SOLUSDT" in sent and "SOONUSDT" not in sent
    assert not any(c["order"]["symbol"] == "SOONUSDT" for c in gate_stub.checks)
    unsynced = [e for e in events(tmp_path / "s") if e["event_code"] == "RUNNER.BOOK_UNSYNCED"]
    assert [e["symbol"] for e in unsynced] == ["SOONUSDT"]
    assert unsynced[0]["details"]["reason"] == "never synced"
    books = summary["books"]
    assert books["SOONUSDT"]["state"] == UNSYNCED and books["SOONUSDT"]["synced"] is False
    assert books["SOLUSDT"]["state"] == OK and books["SOLUSDT"]["untrusted_ms"] == 0
    assert summary["open_positions"] == []


def test_a_book_that_stops_updating_is_stale_and_gets_no_new_orders(gate_stub: GateStub, tmp_path: Path) -> None:
    lines = record(tmp_path / "full.jsonl", ["SOLUSDT"])
    first_e = orjson.loads(lines[0])["data"]["E"]
    cut_ms = first_e + 10_000

    def keep(line: bytes) -> bool:
        msg = orjson.loads(line)
        return not ("@depth@" in msg["stream"] and msg["data"]["E"] > cut_ms)

    cfg = {**TRADER, "symbols": [{"symbol": "SOLUSDT", "qty": 1.0}]}
    runner, summary = run(cfg, write(tmp_path / "stalls.jsonl", [x for x in lines if keep(x)]), tmp_path / "s",
                          gate_stub)
    evs = events(tmp_path / "s")
    stale = [e for e in evs if e["event_code"] == "RUNNER.BOOK_STALE"]
    assert len(stale) == 1 and stale[0]["details"]["max_book_age_ms"] == 2000.0
    offset = runner.feed.clock_offset_ns
    stale_at_ns = (cut_ms + 2000) * 1_000_000 + offset
    entries = [c for c in gate_stub.checks if not c["order"]["reduce_only"]]
    assert any(c["market"]["ts_ns"] < stale_at_ns for c in entries), "it traded while the book was fresh"
    late = [c["order"]["cid"] for c in entries if c["market"]["ts_ns"] > stale_at_ns + 100_000_000]
    assert late == [], f"entries on a stale book: {late}"
    assert summary["books"]["SOLUSDT"]["state"] == STALE and summary["books"]["SOLUSDT"]["untrusted_ms"] > 5000


def test_trade_only_data_fills_resting_paper_orders(gate_stub: GateStub, tmp_path: Path) -> None:
    lines = record(tmp_path / "full.jsonl", ["SOLUSDT"], seconds=30)
    renamed = []
    for x in lines:
        if b"@aggTrade" in x:  # the same prints, as Binance's @trade stream carries them
            msg = orjson.loads(x)
            d = msg["data"]
            x = orjson.dumps({"recv_ts_ns": msg["recv_ts_ns"], "stream": "solusdt@trade",
                              "data": {"e": "trade", "E": d["E"], "T": d["T"], "s": d["s"], "t": d["a"],
                                       "p": d["p"], "q": d["q"], "X": "MARKET", "m": d["m"]}})
        renamed.append(x)
    assert not any(b"@aggTrade" in x for x in renamed)
    cfg = {**TRADER, "symbols": [{"symbol": "SOLUSDT", "qty": 1.0}],
           "strategy": {**TRADER["strategy"], "entry": "join", "order_ttl_s": 3.0}}
    runner, summary = run(cfg, write(tmp_path / "trade_only.jsonl", renamed), tmp_path / "s", gate_stub)
    assert summary["market"]["by_kind"]["trade"] > 1000 and summary["market"]["unknown"] == 0
    maker = [p for p in gate_stub.posts if p["event_code"] in ("ORDER.FILL", "ORDER.PARTIAL")
             and p["details"].get("liquidity") == "maker"]
    assert maker, "resting orders never filled: the queue model did not see the trades"


def test_exits_are_reduce_only_and_their_checks_come_after_the_fills_are_posted(
    gate_stub: GateStub, tmp_path: Path
) -> None:
    lines = record(tmp_path / "full.jsonl", ["SOLUSDT"])
    cfg = {**TRADER, "symbols": [{"symbol": "SOLUSDT", "qty": 1.0}]}
    runner, summary = run(cfg, write(tmp_path / "r.jsonl", lines), tmp_path / "s", gate_stub)
    exits = [c for c in gate_stub.checks if c["order"]["reduce_only"]]
    assert exits and summary["open_positions"] == []
    fills_by_symbol_before: list[bool] = []
    seen_fill = set()
    fill_cids = {p["cid"] for p in gate_stub.posts if p["event_code"] == "ORDER.FILL"}
    for kind, cid in gate_stub.sequence:
        if kind == "post" and cid in fill_cids:
            seen_fill.add(cid)
        elif kind == "check" and cid in {c["order"]["cid"] for c in exits}:
            fills_by_symbol_before.append(bool(seen_fill))
    assert all(fills_by_symbol_before)  # every exit check came after an entry fill had reached the gate
    assert summary["gate"]["client_drain_timeouts"] == 0


def test_a_run_that_cannot_close_reports_the_open_position(gate_stub: GateStub, tmp_path: Path) -> None:
    gate_stub.deny_reduce_only = True
    lines = record(tmp_path / "full.jsonl", ["SOLUSDT"], seconds=8)
    cfg = {**TRADER, "symbols": [{"symbol": "SOLUSDT", "qty": 1.0}]}
    runner, summary = run(cfg, write(tmp_path / "r.jsonl", lines), tmp_path / "s", gate_stub)
    [pos] = summary["open_positions"]
    assert pos["symbol"] == "SOLUSDT" and pos["qty"] != 0 and pos["mark_price"] > 0
    assert pos["mark_pnl_usd"] == pytest.approx((pos["mark_price"] - pos["avg_price"]) * pos["qty"], abs=1e-6)
    assert any(e["event_code"] == "RUNNER.POSITION_OPEN_AT_END" for e in events(tmp_path / "s"))


# -- the book-health state machine ---------------------------------------------------------------

def diff(E: int, U: int, u: int, pu: int) -> dict:  # noqa: N803
    return {"E": E, "U": U, "u": u, "pu": pu, "b": [["10.0", "1"]], "a": [["10.1", "1"]]}


def test_book_health_states_and_events() -> None:
    got: list[tuple[str, dict]] = []
    sync = BookSync("X", L2Book("X"), lambda s: None)
    health = BookHealth({"X": sync}, max_age_ms=1000, grace_ms=3000, emit=lambda c, d, s: got.append((c, d)))
    sync.on_diff(diff(0, 1, 5, 0))
    assert not health.check("X", 0) and health.state("X") == WARMING
    sync.on_snapshot({"lastUpdateId": 4, "E": 100, "bids": [], "asks": []})
    assert health.check("X", 100) and got == []  # the normal start says nothing
    assert not health.check("X", 1200) and health.state("X") == STALE  # 1.1 s without an update
    sync.on_diff(diff(1300, 6, 8, 5))
    assert health.check("X", 1300)
    sync.on_diff(diff(1400, 20, 25, 19))  # a gap: held, then confirmed by the next
    sync.on_diff(diff(1500, 26, 30, 25))
    assert not health.check("X", 1500) and health.state("X") == UNSYNCED
    assert health.age_ms("X", 1500) is None
    sync.on_snapshot({"lastUpdateId": 30, "E": 4000, "bids": [], "asks": []})
    assert health.check("X", 4000)
    assert [c for c, _ in got] == ["RUNNER.BOOK_STALE", "RUNNER.BOOK_RESYNCED", "RUNNER.BOOK_UNSYNCED",
                                   "RUNNER.BOOK_RESYNCED"]
    assert got[2][1]["reason"] == "gap" and got[3][1]["untrusted_ms"] == 2500
    snap = health.snapshot(4000)["X"]
    assert snap["state"] == OK and snap["untrusted_ms"] == 100 + 2500
    assert snap["events"] == {"unsynced": 1, "stale": 1, "resynced": 2}


def test_a_symbol_that_never_syncs_is_unsynced_after_the_grace() -> None:
    got: list[str] = []
    sync = BookSync("X", L2Book("X"), lambda s: None)
    health = BookHealth({"X": sync}, max_age_ms=1000, grace_ms=3000, emit=lambda c, d, s: got.append(c))
    for t in range(0, 6000, 500):
        sync.on_diff(diff(t, t + 1, t + 2, t))
        health.check("X", t)
    assert health.state("X") == UNSYNCED and got == ["RUNNER.BOOK_UNSYNCED"]


def test_a_replay_decides_the_same_at_8x_and_at_full_speed(gate_stub: GateStub, tmp_path: Path) -> None:
    """The runner side of one clock: its decisions, orders and fills do not depend on the replay speed."""
    lines = record(tmp_path / "full.jsonl", ["SOLUSDT", "SOONUSDT"], seconds=16)
    rec = write(tmp_path / "r.jsonl", lines)

    def one(speed: float | None, name: str) -> tuple[list, list, list]:
        gate_stub.checks.clear()
        gate_stub.posts.clear()
        feed = {"realtime": speed is not None, "speed": speed or 1.0, "source": f"replay:{rec}"}
        cfg = RunnerConfig.model_validate({**TRADER, "feed": feed})
        runner = Runner(cfg, session_dir=tmp_path / name, gate_url=gate_stub.url, environ={}, run_id="run-same")
        asyncio.run(runner.run())
        checks = [(c["order"]["cid"], c["order"]["symbol"], c["order"]["side"], c["order"]["qty"],
                   c["order"].get("price"), c["order"]["reduce_only"], c["market"]["ts_ns"],
                   c["market"]["latency_ms"]) for c in gate_stub.checks]
        orders = [(p["cid"], p["symbol"], p["side"], p["qty"], p["details"].get("price"), p["details"]["order_type"])
                  for p in gate_stub.posts if p["event_code"] == "ORDER.SUBMIT"]
        posts = sorted((p["cid"], p["event_code"], p["ts_ns"], p["details"].get("fill_qty"),
                        p["details"].get("fill_price")) for p in gate_stub.posts)
        return checks, orders, posts

    fast = one(None, "max")
    paced = one(8.0, "x8")
    assert len(fast[0]) >= 10 and fast[1]
    assert paced[0] == fast[0]
    assert paced[1] == fast[1]
    assert paced[2] == fast[2]
