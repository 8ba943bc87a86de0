"""Preflight checks: each one's pass/warn/fail with its hint, and the plan the run gets."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from oneclick.preflight import OneClickOptions, PreflightReport, run_preflight

STRONG_API = "api-" + "k3Jd9sLq0Zp2Xv7Rt5Wm"  # >= 16, not a placeholder
STRONG_OPS = "ops-" + "Qm8Zr2Lp5Xt9Vb3Nc7Hd1Jf6Gs4Kw0Ay"  # >= 32


def by_name(report: PreflightReport, name: str) -> list:
    return [c for c in report.checks if c.name == name]


def one(report: PreflightReport, name: str):
    found = by_name(report, name)
    assert len(found) == 1, [c.to_dict() for c in report.checks]
    return found[0]


def preflight(**kw) -> PreflightReport:
    """Preflight on a free port: the config's 8000 may be held by anything else on a shared machine."""
    kw.setdefault("port", 0)
    return run_preflight(OneClickOptions(**kw))


def write_runner(project: Path, name: str, text: str) -> str:
    path = project / "configs" / "runner" / f"{name}.yaml"
    path.write_text(text)
    return name


def test_offline_defaults_pass_and_generate_tokens(project: Path) -> None:
    report = preflight(mode="testnet")
    assert report.ok, report.to_dict()
    tokens = one(report, "tokens")
    assert tokens.status == "pass" and "generated ephemeral AURORA_API_TOKEN and OPS_TOKEN" in tokens.detail
    plan = report.plan
    assert plan.venue == "paper" and plan.feed == "synthetic" and plan.groups == {"default": ["SOLUSDT"]}
    assert len(plan.api_token) >= 32 and len(plan.ops_token) >= 32 and plan.api_token != plan.ops_token
    assert plan.tokens_generated == ["AURORA_API_TOKEN", "OPS_TOKEN"]
    text = json.dumps(report.to_dict())
    assert plan.api_token not in text and plan.ops_token not in text
    assert plan.port != 0 and plan.session_dir is None and plan.session_parent == project / "logs"
    assert one(report, "exchange keys").status == "skip"


def test_tokens_from_env_are_used_not_generated(project: Path, clean_env) -> None:
    clean_env.setenv("AURORA_API_TOKEN", STRONG_API)
    clean_env.setenv("OPS_TOKEN", STRONG_OPS)
    report = preflight(mode="production")
    assert report.ok, report.to_dict()
    assert report.plan.api_token == STRONG_API and report.plan.tokens_generated == []


def test_production_refuses_a_short_ops_token(project: Path, clean_env) -> None:
    clean_env.setenv("AURORA_API_TOKEN", STRONG_API)
    clean_env.setenv("OPS_TOKEN", "Qm8Zr2Lp5Xt9Vb3Nc7Hd")  # 20 chars
    report = preflight(mode="production")
    assert not report.ok and report.plan is None
    fail = [c for c in by_name(report, "tokens") if c.status == "fail"]
    assert fail and "OPS_TOKEN is shorter than 32 characters" in fail[0].detail
    assert "secrets.token_urlsafe" in fail[0].hint
    assert "Qm8Zr2Lp5Xt9Vb3Nc7Hd" not in json.dumps(report.to_dict())


def test_production_needs_tokens_it_does_not_generate(project: Path) -> None:
    report = preflight(mode="production")
    details = [c.detail for c in by_name(report, "tokens") if c.status == "fail"]
    assert "AURORA_API_TOKEN is not set" in details and "OPS_TOKEN is not set" in details


def test_short_ops_token_only_warns_outside_production(project: Path, clean_env) -> None:
    clean_env.setenv("OPS_TOKEN", "Qm8Zr2Lp5Xt9Vb3Nc7Hd")
    report = preflight(mode="development")
    assert report.ok
    assert [c.status for c in by_name(report, "tokens")] == ["warn", "pass"]
    assert report.plan.tokens_generated == ["AURORA_API_TOKEN"]


def test_the_port_defaults_to_api_port_of_the_config(project: Path) -> None:
    probed = []

    def probe(host: str, port: int) -> tuple[bool, str]:  # whether 8000 is free here is not the point
        probed.append((host, port))
        return True, "free"

    report = run_preflight(OneClickOptions(mode="testnet"), port_probe=probe)
    assert probed == [("127.0.0.1", 8000)] and report.plan.port == 8000
    assert one(report, "port").detail == "127.0.0.1:8000 free"


def test_port_in_use_fails_with_hint(project: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        report = run_preflight(OneClickOptions(mode="testnet", port=port))
    check = one(report, "port")
    assert (
        check.status == "fail" and f"127.0.0.1:{port} in use" in check.detail and "--port auto" in check.hint
    )
    assert not report.ok


def test_port_auto_picks_a_free_port(project: Path) -> None:
    report = run_preflight(OneClickOptions(mode="testnet", port=0))
    assert report.ok and report.plan.port != 0 and "picked automatically" in one(report, "port").detail


def test_session_dir_under_a_file_fails(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    report = preflight(mode="testnet", session_dir=blocker / "session")
    check = one(report, "session dir")
    assert check.status == "fail" and "is not a directory" in check.detail and "--session" in check.hint


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through directory permissions")
def test_session_dir_without_write_permission_fails(project: Path, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    try:
        report = preflight(mode="testnet", session_dir=ro / "session")
    finally:
        ro.chmod(0o700)
    check = one(report, "session dir")
    assert check.status == "fail" and "not writable" in check.detail


def test_existing_session_dir_with_logs_warns(project: Path, tmp_path: Path) -> None:
    d = tmp_path / "old"
    d.mkdir()
    (d / "aurora_events.jsonl").write_text("{}\n")
    report = preflight(mode="testnet", session_dir=d)
    assert report.ok and one(report, "session dir").status == "warn"


def test_testnet_venue_needs_exchange_keys(project: Path, clean_env) -> None:
    clean_env.setenv("AURORA_API_TOKEN", STRONG_API)
    clean_env.setenv("OPS_TOKEN", STRONG_OPS)
    report = preflight(mode="testnet", profile="aurora_live_canary")
    keys = one(report, "exchange keys")
    assert keys.status == "fail"
    assert "AURORA_TESTNET_API_KEY and AURORA_TESTNET_API_SECRET not set" in keys.detail
    assert "export AURORA_TESTNET_API_KEY" in keys.hint
    clean_env.setenv("AURORA_TESTNET_API_KEY", "tk-" + "8sK2mQ9xL4vB7nZ1")
    clean_env.setenv("AURORA_TESTNET_API_SECRET", "ts-" + "3pR6tY0uW5eQ2aS9")
    report = preflight(mode="testnet", profile="aurora_live_canary")
    assert report.ok, report.to_dict()
    assert one(report, "exchange keys").status == "pass"
    assert one(report, "exchange").status == "skip"  # network check only with --preflight


def test_testnet_venue_does_not_generate_tokens(project: Path) -> None:
    report = preflight(mode="testnet", profile="aurora_live_canary")
    assert any(
        c.status == "fail" and "AURORA_API_TOKEN is not set" in c.detail for c in by_name(report, "tokens")
    )


def test_live_venue_is_refused(project: Path) -> None:
    name = write_runner(project, "live_one", "runner:\n  mode: live\n")
    report = preflight(mode="testnet", runner_config=name)
    venue = one(report, "venue")
    assert venue.status == "fail" and "never starts live trading" in venue.hint


def test_invalid_runner_config_fails_naming_the_key(project: Path) -> None:
    name = write_runner(project, "broken", "strategy:\n  tp_bps: -3\n")
    report = preflight(mode="testnet", runner_config=name)
    check = one(report, "runner config")
    assert check.status == "fail" and "strategy.tp_bps" in check.detail and "config validate" in check.hint


def test_unknown_mode_fails(project: Path) -> None:
    report = preflight(mode="staging")
    assert one(report, "mode").status == "fail" and report.plan is None


def test_groups_give_one_runner_each(project: Path) -> None:
    name = write_runner(
        project,
        "grouped",
        "symbols:\n  - {symbol: SOLUSDT, group: a}\n  - {symbol: SOONUSDT, parent: SOLUSDT, group: b}\n"
        "  - {symbol: BTCUSDT}\n",
    )
    report = preflight(mode="testnet", runner_config=name)
    assert report.ok
    assert report.plan.groups == {"a": ["SOLUSDT"], "b": ["SOONUSDT"], "default": ["BTCUSDT"]}
    assert "3 runner processes" in one(report, "runner groups").detail


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_binance_feed_reachability_only_with_full_preflight(project: Path) -> None:
    port = _closed_port()
    name = write_runner(
        project,
        "bn",
        "feed:\n  source: binance\n  binance:\n"
        f"    public_url: ws://127.0.0.1:{port}/public/stream\n"
        f"    market_url: ws://127.0.0.1:{port}/market/stream\n"
        f"    rest_url: http://127.0.0.1:{port}\n",
    )
    cheap = preflight(mode="testnet", runner_config=name)
    assert one(cheap, "feed").status == "skip" and cheap.ok
    full = preflight(mode="testnet", runner_config=name, full=True)
    feed = one(full, "feed")
    assert feed.status == "fail" and f"127.0.0.1:{port}" in feed.detail and "synthetic" in feed.hint


@pytest.fixture
def exchange_stub():
    """A local stand-in for /fapi/v1/time with a configurable clock offset."""
    offset = {"ms": 0.0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps({"serverTime": int(time.time() * 1000 + offset["ms"])}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", offset
    server.shutdown()


def test_exchange_clock_skew_is_checked(project: Path, clean_env, exchange_stub) -> None:
    url, offset = exchange_stub
    for var, val in (("AURORA_API_TOKEN", STRONG_API), ("OPS_TOKEN", STRONG_OPS),
                     ("AURORA_TESTNET_API_KEY", "tk-8sK2mQ9xL4vB7nZ1"), ("AURORA_TESTNET_API_SECRET", "ts-3pR6tY0uW5eQ2aS9")):  # fmt: skip
        clean_env.setenv(var, val)
    name = write_runner(
        project, "tn", f"runner:\n  mode: testnet\nvenue:\n  exchange:\n    testnet_url: {url}\n"
    )
    ok = preflight(mode="testnet", runner_config=name, full=True)
    assert one(ok, "exchange").status == "pass" and ok.ok
    offset["ms"] = 60_000.0
    skewed = preflight(mode="testnet", runner_config=name, full=True)
    check = one(skewed, "exchange")
    assert check.status == "fail" and "clock skew" in check.detail and "ntp" in check.hint


def test_shipped_binance_testnet_config_needs_keys_tokens_and_network_checks(
    project: Path, clean_env
) -> None:
    report = preflight(mode="testnet", runner_config="binance_testnet")
    assert one(report, "venue").detail.startswith("testnet")
    assert one(report, "feed").status == "skip" and one(report, "exchange").status == "skip"
    failed = {c.name for c in report.failures}
    assert failed == {"tokens", "exchange keys"}
    for var, val in (("AURORA_API_TOKEN", STRONG_API), ("OPS_TOKEN", STRONG_OPS),
                     ("AURORA_TESTNET_API_KEY", "tk-8sK2mQ9xL4vB7nZ1"), ("AURORA_TESTNET_API_SECRET", "ts-3pR6tY0uW5eQ2aS9")):  # fmt: skip
        clean_env.setenv(var, val)
    assert preflight(mode="testnet", runner_config="binance_testnet").ok


def test_default_group_name_is_the_runners() -> None:
    from oneclick.preflight import DEFAULT_GROUP
    from runner.app import group_of
    from runner.config import SymbolSpec

    assert group_of(SymbolSpec(symbol="SOLUSDT")) == DEFAULT_GROUP
