"""The shared real Binance USD-M BTCUSDT recording through the importer, the book sync and the features."""

from __future__ import annotations

from pathlib import Path

import orjson

from runner.feeds.replay_feed import iter_recording
from runner.market import MarketData


def test_the_book_equals_book_ticker_at_every_update_id_both_carry(btc_replay: Path) -> None:
    md = MarketData(["BTCUSDT"])
    sync, book = md.syncs["BTCUSDT"], md.books["BTCUSDT"]
    after_diff: dict[int, tuple[float, float, float, float]] = {}
    tickers: list[tuple[int, tuple[float, float, float, float]]] = []
    for _, line in iter_recording(btc_replay):
        res = md.on_raw(line)
        assert res is not None, line[:120]
        msg = orjson.loads(line)
        d = msg["data"]
        if "@depth@" in msg["stream"] and sync.synced and sync.last_u == d["u"]:
            after_diff[d["u"]] = book.top()
        elif msg["stream"].endswith("@bookTicker"):
            tickers.append((d["u"], (float(d["b"]), float(d["B"]), float(d["a"]), float(d["A"]))))
    c = md.sync_counters()["BTCUSDT"]
    assert c["synced"] == 1 and c["gaps"] == 0 and c["resyncs"] == 0 and c["snapshots"] == 1
    assert c["applied"] + c["dropped"] == 6551  # every diff was used or was older than the snapshot
    shared = [(u, top) for u, top in tickers if u in after_diff]
    assert len(shared) > 500
    mismatches = [(u, top, after_diff[u]) for u, top in shared if top != after_diff[u]]
    assert mismatches == []


def test_trades_come_from_the_trade_stream(btc_replay: Path) -> None:
    md = MarketData(["BTCUSDT"])
    for _, line in iter_recording(btc_replay):
        md.on_raw(line)
    stats = md.stats()
    assert stats["by_kind"]["trade"] == 21_313 and stats["unknown"] == 0
    f = md.features["BTCUSDT"]
    assert f.buy_vol + f.sell_vol > 0 and f.last_trade_px > 60_000


def test_the_base_profile_trades_btc_on_the_recording_without_notional_or_collar_denials(
    btc_replay: Path, project: Path, tmp_path: Path
) -> None:
    """The shipped base profile, the shared BTC recording, a real gate (testnet config, request clock).

    The runner's ENR bar is lowered so that its ideas reach the gate (with the shipped calibration, fitted
    on the synthetic market, the base profile's own ENR gate declines every idea on BTC): what is
    checked is that the profile's sizes and prices pass the gate's notional and collar limits.
    """
    import asyncio

    from aurora.api import create_app
    from aurora.config.loader import load_aurora, load_runner
    from runner.app import Runner
    from runner.config import RunnerConfig
    from tests.aurora.api.conftest import API_TOKEN, OPS_TOKEN, LiveGate

    environ = {"AURORA_ROOT": str(project), "AURORA_API_TOKEN": API_TOKEN, "OPS_TOKEN": OPS_TOKEN}
    gate = LiveGate(create_app(load_aurora("testnet", environ=environ, root=project), tmp_path / "gate",
                               run_id="base-btc", handle_sighup=False, clock="request",
                               state_dir=tmp_path / "state"), tmp_path / "gate").start()
    try:
        data = load_runner(RunnerConfig, profile="base", environ={"AURORA_ROOT": str(project)}, root=project)
        cfg = data.config.model_dump()
        cfg["symbols"] = [s for s in cfg["symbols"] if s["symbol"] == "BTCUSDT"]
        cfg["feed"].update(source=f"replay:{btc_replay}", realtime=False)
        cfg["strategy"]["enr_threshold_bps"] = -100.0
        runner = Runner(RunnerConfig.model_validate(cfg), session_dir=tmp_path / "runner", gate_url=gate.url,
                        api_token=API_TOKEN, environ={})
        summary = asyncio.run(runner.run())
    finally:
        gate.stop()
    decisions = gate.events("POLICY_DECISION")
    assert decisions, "the base profile asked the gate nothing on the BTC recording"
    reasons = {d["details"]["reason"] for d in decisions}
    assert not reasons & {"RISK_MAX_NOTIONAL", "RISK_PRICE_COLLAR", "REQUEST_EXPIRED"}, reasons
    sizes = {round(d["qty"], 6) for d in decisions if not d["details"]["reduce_only"]}
    assert sizes and all(0.01 <= q <= 0.02 for q in sizes)  # 1000 USD of BTC on the 0.001 lot
    assert summary["books"]["BTCUSDT"]["state"] == "ok"
