"""``auroractl instruments show|fetch``, and an unknown symbol refused by run-runner and one-click preflight."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import orjson
from typer.testing import CliRunner

from auroractl.main import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runner"))
from binance_rest_stub import BinanceRestStub  # noqa: E402


def cli(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", **(env or {})})


def test_show_btcusdt_from_the_shipped_snapshot(project):
    r = cli("instruments", "show", "BTCUSDT")
    assert r.exit_code == 0, r.output
    assert "price tick       │ 0.1 " in r.output and "lot step         │ 0.001" in r.output
    assert "snapshot.json" in r.output and "source:" in r.output
    r = cli("instruments", "show", "BTCUSDT", "--json")
    data = json.loads(r.stdout)
    assert (data["tick"], data["step"], data["min_qty"], data["min_notional"]) == (0.1, 0.001, 0.001, 100.0)
    assert data["registry"]["fetched_at"] and data["venue"] == "binanceusdm"


def test_show_an_unknown_symbol_is_exit_2_naming_it(project):
    r = cli("instruments", "show", "NOSUCHUSDT")
    assert r.exit_code == 2 and "NOSUCHUSDT" in r.output and "instruments fetch" in r.output
    assert "Traceback" not in r.output


def test_show_reads_the_configured_registry(project, tmp_path):
    doc = orjson.loads((Path(__file__).resolve().parents[2] / "aurora/instruments/snapshot.json").read_bytes())
    doc["venues"]["binanceusdm"]["DOGEUSDT"] = {"tick": 0.00001, "step": 1, "min_qty": 1, "min_notional": 5}
    reg = tmp_path / "reg.json"
    reg.write_bytes(orjson.dumps(doc))
    assert cli("instruments", "show", "DOGEUSDT", env={"AURORA_INSTRUMENTS_PATH": str(reg)}).exit_code == 0
    assert cli("instruments", "show", "DOGEUSDT", "--file", str(reg)).exit_code == 0
    bad = tmp_path / "bad.json"
    bad.write_text("{\n oops")
    r = cli("instruments", "show", "BTCUSDT", "--file", str(bad))
    assert r.exit_code == 2 and "bad.json:2" in r.output


def test_fetch_builds_a_registry_through_ccxt_from_a_local_stub(project, tmp_path):
    stub = BinanceRestStub("k", "s").start()
    out = tmp_path / "fetched.json"
    try:
        r = cli("instruments", "fetch", "--venue", "binanceusdm", "--url", stub.url, "--out", str(out), "--json")
    finally:
        stub.stop()
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["instruments"] == 1 and summary["path"] == str(out)
    assert ("GET", "/fapi/v1/exchangeInfo") in stub.calls
    doc = orjson.loads(out.read_bytes())
    sol = doc["venues"]["binanceusdm"]["SOLUSDT"]
    assert (sol["tick"], sol["step"], sol["min_qty"], sol["max_qty"], sol["max_market_qty"], sol["min_notional"]) == (
        0.01, 0.01, 0.01, 100000.0, 10000.0, 5.0)  # fmt: skip
    assert sol["status"] == "TRADING" and sol["ccxt_symbol"] == "SOL/USDT:USDT"
    assert "ccxt" in doc["source"] and doc["fetched_at"].endswith("Z")
    # and the file is a registry the gate and show accept
    r = cli("instruments", "show", "SOLUSDT", "--file", str(out))
    assert r.exit_code == 0 and "100000" in r.output


def test_fetch_failures_are_clear(project, tmp_path):
    r = cli("instruments", "fetch", "--venue", "kraken")
    assert r.exit_code == 2 and "unknown venue" in r.output
    r = cli("instruments", "fetch", "--url", "ftp://x")
    assert r.exit_code == 2 and "--url" in r.output
    # nothing listens there: exit 1 (the job failed), one line, no traceback
    r = cli("instruments", "fetch", "--url", "http://127.0.0.1:9", "--timeout-ms", "500", "--out", str(tmp_path / "x.json"))
    assert r.exit_code == 1 and "market list from http://127.0.0.1:9" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "x.json").exists()


def _runner_config(project: Path, symbol: str) -> Path:
    cfg = project / "configs" / "runner" / "unknown_symbol.yaml"
    cfg.write_text(f"symbols:\n  - symbol: SOLUSDT\n    qty: 1.0\n  - symbol: {symbol}\n    qty: 1.0\n")
    return cfg


def test_run_runner_refuses_an_unknown_symbol(project):
    _runner_config(project, "NOSUCHUSDT")
    r = cli("run-runner", "--config", "unknown_symbol", "--duration", "1", "--session-dir", str(project / "s"))
    assert r.exit_code == 2 and "NOSUCHUSDT" in r.output and "Traceback" not in r.output


def test_one_click_preflight_refuses_an_unknown_symbol(project):
    _runner_config(project, "NOSUCHUSDT")
    r = cli("one-click", "--mode", "testnet", "--runner-config", "unknown_symbol", "--preflight", "--dry-run",
            "--port", "auto")  # fmt: skip
    assert r.exit_code == 2 and "NOSUCHUSDT" in r.output and "instruments" in r.output
    assert "Traceback" not in r.output
    r = cli("one-click", "--mode", "testnet", "--preflight", "--dry-run", "--port", "auto")
    assert r.exit_code == 0, r.output
    assert "instruments" in r.output and "SOLUSDT" in r.output
