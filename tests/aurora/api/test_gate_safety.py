"""Gate safety (issue 9) over real HTTP: verified reduce-only, trading states, limits a client cannot
loosen, numbers in bounds, kill-switch semantics, reservations, deadlines, durable-before-allow."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from aurora.api import create_app
from aurora.config.loader import load_aurora
from aurora.gate.gate_service import GateStartRefused

from .conftest import API_TOKEN, QUIET, check_body, instruments_with


def post_event(live, code, cid, account="acc-1", **kw):
    body = {"event_code": code, "ts_ns": kw.pop("ts_ns", time.time_ns()), "cid": cid, "account": account,
            "details": kw.pop("details", {})}  # fmt: skip
    body.update(kw)
    r = live.post("/posttrade/log", body)
    assert r.status_code == 200, r.text
    return r.json()


def hold(live, symbol, side, qty, account="acc-1", cid=None, pnl=None):
    """A position the gate knows: SUBMIT + FILL as the runner posts them."""
    cid = cid or f"pos-{symbol}-{side}-{time.monotonic_ns()}"
    post_event(live, "ORDER.SUBMIT", cid, account, symbol=symbol, side=side, qty=qty, details={"price": 100.0})
    details = {"fill_qty": qty, "fill_price": 100.0}
    if pnl is not None:
        details["realized_pnl_usd"] = pnl
    post_event(live, "ORDER.FILL", cid, account, details=details)


def check(live, **kw):
    r = live.post("/pretrade/check", check_body(**kw))
    assert r.status_code == 200, r.text
    return r.json()


# -- verified reduce-only and trading states ------------------------------------------------------------
def test_reduce_only_is_verified_against_the_gates_own_position(live):
    hold(live, "SOLUSDT", "buy", 2.0)
    grow = check(live, cid="g1", side="buy", qty=5.0, reduce_only=True)
    assert grow["allow"] is False and grow["reason"] == "RISK_REDUCE_ONLY_INVALID"
    close = check(live, cid="c1", side="sell", qty=5.0, reduce_only=True, price=100.0)
    assert close["allow"] is True and close["max_qty"] == 2.0
    # that exit, allowed and not yet filled, already uses the whole position
    assert check(live, cid="c2", side="sell", qty=1.0, reduce_only=True)["reason"] == "RISK_REDUCE_ONLY_INVALID"
    # no known position at all: denied
    assert check(live, cid="n1", symbol="ETHUSDT", side="sell", reduce_only=True)["reason"] == "RISK_REDUCE_ONLY_INVALID"


def test_disarmed_cool_off_and_kill_switch_let_exits_out_and_stop_new_risk(gate_factory):
    live = gate_factory({**QUIET, "killswitch": {"window_trades": 20, "min_outcomes": 10, "max_reject_rate_pct": 35}})
    hold(live, "SOLUSDT", "buy", 2.0)
    live.ops("/aurora/disarm")
    assert check(live, cid="d1", side="buy", qty=1.0, reduce_only=True)["reason"] == "RISK_REDUCE_ONLY_INVALID"
    assert check(live, cid="d2")["reason"] == "DISARMED"
    assert check(live, cid="d3", side="sell", qty=0.5, reduce_only=True, price=100.0)["allow"] is True
    assert live.client.get("/health").json()["trading_state"] == "REDUCING"
    live.ops("/aurora/arm")
    live.ops("/ops/cooloff/600")
    assert check(live, cid="k1")["reason"] == "HEALTH_COOL_OFF"
    # an exit is not judged on latency, spread or health
    out = check(live, cid="k2", side="sell", qty=0.5, price=None, order_type="market", latency_ms=5000.0,
                spread_bps=500.0)  # fmt: skip
    assert out["allow"] is True and out["max_qty"] == 0.5
    live.ops("/ops/reset")
    for i in range(12):  # a reject storm
        post_event(live, "ORDER.SUBMIT", f"rj{i}", symbol="ETHUSDT", side="buy", qty=1.0)
        post_event(live, "ORDER.REJECT", f"rj{i}", details={"reason": "MARGIN"})
    assert check(live, cid="k3", qty=1.3)["reason"] == "KILL_SWITCH"
    assert check(live, cid="k4", side="sell", qty=0.5, price=100.0)["allow"] is True


def test_ops_halt_stops_everything_until_resume_and_shows_everywhere(live):
    hold(live, "SOLUSDT", "buy", 2.0)
    r = live.ops("/ops/halt", json={"reason": "exchange incident"})
    assert r.status_code == 200 and r.json()["trading_state"] == "HALTED"
    assert check(live, cid="h1", side="sell", qty=1.0, reduce_only=True)["reason"] == "HALTED"
    assert live.client.get("/health").json()["trading_state"] == "HALTED"
    assert "aurora_trading_state 2.0" in live.client.get("/metrics").text
    live.ops("/ops/reset")  # a reset does not lift a deliberate halt
    assert check(live, cid="h2", side="sell", qty=1.0, reduce_only=True)["reason"] == "HALTED"
    live.ops("/ops/resume")
    assert check(live, cid="h3", side="sell", qty=1.0, reduce_only=True)["allow"] is True
    codes = [e["event_code"] for e in live.events()]
    assert "OPS.HALT" in codes and "OPS.RESUME" in codes


# -- limits the request cannot loosen; numbers in bounds ----------------------------------------------
def test_client_equity_cannot_loosen_the_drawdown_stop(gate_factory):
    live = gate_factory({**QUIET, "gates": {"dd_day_pct_max": 5.0}, "risk": {"max_orders_per_sec": 10_000,
                                                                            "equity_usd": 10_000}})  # fmt: skip
    hold(live, "ETHUSDT", "buy", 1.0, pnl=-600.0)
    for cid, extra in (("e1", {}), ("e2", {"equity_usd": 1e9})):
        body = check(live, cid=cid, **extra)
        assert body["reason"] == "RISK_DAILY_DD" and body["observability"]["risk"]["equity_usd"] == 10_000
    # a reported balance can only lower equity; an allow records the inputs it was judged on
    r = live.post("/posttrade/balance", {"account": "acc-9", "equity_usd": 1e12})
    assert r.status_code == 200 and r.json()["equity_usd"] == 10_000
    assert check(live, cid="ok9", symbol="ETHUSDT", side="sell")["allow"]
    (allowed,) = [e for e in live.events("POLICY_DECISION") if e.get("cid") == "ok9"]
    assert allowed["details"]["risk"]["position"] == 1.0 and allowed["details"]["risk_reducing"] is True


def test_allowed_entry_records_its_risk_inputs(live):
    body = check(live, cid="in1", equity_usd=123.0)
    assert body["allow"] is True
    (rec,) = [e for e in live.events("POLICY_DECISION") if e.get("cid") == "in1"]
    risk = rec["details"]["risk"]
    assert risk["equity_usd"] == 10_000 and risk["equity_source"] == "risk.equity_usd"
    assert risk["client_equity_usd"] == 123.0 and risk["dd_pct"] == 0.0 and "open_positions" in risk
    # the thresholds' keys are the config version's, named once (CONFIG.EFFECTIVE), not in every record
    assert "keys" not in risk and "keys" in body["observability"]["risk"]
    (effective,) = live.events("CONFIG.EFFECTIVE")
    keys = effective["details"]["risk_threshold_keys"]
    assert keys["default"] == body["observability"]["risk"]["keys"] and keys["symbols"] == {}


@pytest.mark.parametrize(
    ("field", "value"),
    [("realized_pnl_usd", 1e308), ("realized_pnl_usd", -1e12), ("fill_qty", 1e10), ("fill_price", -1.0)],
)
def test_absurd_numbers_in_a_posted_event_are_422_naming_the_field(live, field, value):
    r = live.post("/posttrade/log", {"event_code": "ORDER.FILL", "ts_ns": time.time_ns(), "cid": "x",
                                     "details": {field: value}})  # fmt: skip
    assert r.status_code == 422 and f"details.{field}" in r.text


@pytest.mark.parametrize(("field", "value"), [("qty", 1e308), ("price", 1e300), ("spread_bps", 1e9),
                                              ("latency_ms", 1e12), ("score", -1e300)])  # fmt: skip
def test_absurd_numbers_in_a_check_are_422_naming_the_field(live, field, value):
    r = live.post("/pretrade/check", check_body(cid="abs", **{field: value}))
    assert r.status_code == 422 and field in r.json()["error"]


# -- kill-switch semantics ------------------------------------------------------------------------------
def test_expired_unacked_orders_trip_the_kill_switch(gate_factory):
    live = gate_factory({"risk": {"max_orders_per_sec": 10_000}},
                        env={"AURORA_ACK_TTL_S": "0.05", "AURORA_ACK_SCAN_PERIOD_S": "0.02"})  # fmt: skip
    for i in range(60):
        post_event(live, "ORDER.SUBMIT", f"u{i}", symbol="SOLUSDT", side="buy", qty=1.0)
    deadline = time.monotonic() + 20
    while len(live.events("ORDER.EXPIRE")) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(live.events("ORDER.EXPIRE")) == 60
    (trip,) = live.events("GOVERNANCE.KILL_SWITCH")
    assert trip["details"]["trigger"] == "reject_rate" and trip["details"]["scope"] == "acc-1"
    assert check(live, cid="after")["reason"] == "KILL_SWITCH"


def test_one_accounts_throttled_burst_leaves_another_trading(gate_factory):
    live = gate_factory({"risk": {"max_orders_per_sec": 20}})
    reasons = [check(live, cid=f"b{i}", qty=1.0 + i / 100, account_id="burst")["reason"] for i in range(45)]
    assert reasons.count("RISK_RATE_LIMIT") >= 20
    status = live.ops("/ops/status", method="GET").json()
    assert status["kill_switch"]["tripped"] == {}
    assert check(live, cid="calm", account_id="calm")["allow"] is True


def test_a_timed_cool_off_does_not_become_a_latched_halt(gate_factory):
    live = gate_factory({"risk": {"max_orders_per_sec": 10_000}, "killswitch": {"min_outcomes": 5}})
    live.ops("/ops/cooloff/1")
    reasons = [check(live, cid=f"co{i}", qty=1.0 + i / 100)["reason"] for i in range(30)]
    assert set(reasons) == {"HEALTH_COOL_OFF"}
    assert live.events("GOVERNANCE.KILL_SWITCH") == []


# -- reservations and deadlines -----------------------------------------------------------------------
def test_back_to_back_checks_cannot_overshoot_max_concurrent(gate_factory, tmp_path):
    registry = instruments_with(tmp_path, "AUSDT", "BUSDT", "CUSDT", "DUSDT", "EUSDT")
    live = gate_factory({**QUIET, "risk": {"max_orders_per_sec": 10_000, "max_concurrent": 3},
                         "instruments": {"path": str(registry)}})  # fmt: skip
    reasons = [check(live, cid=f"m{i}", symbol=sym)["reason"] for i, sym in
               enumerate(("AUSDT", "BUSDT", "CUSDT", "DUSDT", "EUSDT"))]  # fmt: skip
    assert reasons == ["OK", "OK", "OK", "RISK_MAX_CONCURRENT", "RISK_MAX_CONCURRENT"]
    assert live.ops("/ops/status", method="GET").json()["risk"]["reservations"] == 3


def test_a_request_older_than_its_deadline_is_expired(gate_factory):
    live = gate_factory({**QUIET, "guards": {"max_quote_age_ms": 60_000}})  # the quote itself is fresh enough
    now = time.time_ns()
    late = check(live, cid="late", ts_ns=now - 3_000_000_000, deadline_ms=500.0)
    assert late["allow"] is False and late["reason"] == "REQUEST_EXPIRED"
    assert late["observability"]["deadline"]["limit_ms"] == 500.0
    assert check(live, cid="fresh", ts_ns=time.time_ns(), deadline_ms=500.0)["allow"] is True


# -- durable before allow ----------------------------------------------------------------------------
def test_a_posttrade_event_is_seen_only_once_it_was_recorded(live, monkeypatch):
    journal = live.gate.state.journal
    real = journal.append
    calls = {"n": 0}

    def fail_once(record):
        calls["n"] += 1
        if calls["n"] == 1:
            from aurora.gate.state_store import StateWriteError

            raise StateWriteError("disk full (test)")
        return real(record)

    monkeypatch.setattr(journal, "append", fail_once)
    body = {"event_code": "ORDER.SUBMIT", "ts_ns": 1_800_000_000_000_000_000, "cid": "once", "symbol": "SOLUSDT",
            "side": "buy", "qty": 1.0, "account": "acc-1"}  # fmt: skip
    assert live.post("/posttrade/log", body).status_code == 503
    again = live.post("/posttrade/log", body)
    assert again.status_code == 200 and "duplicate" not in again.json()
    assert [e["cid"] for e in live.events("ORDER.SUBMIT")] == ["once"]  # logged once, not twice
    assert live.post("/posttrade/log", body).json() == {"ok": True, "duplicate": True}


def test_outside_development_no_api_token_refuses_to_start(project, clean_env, tmp_path):
    clean_env.setenv("OPS_TOKEN", "opstok-NoApi-Hr5Tj8Pq3Wz6Yx1Cv4Bn7Mk2")
    loaded = load_aurora("testnet", environ={"OPS_TOKEN": "opstok-NoApi-Hr5Tj8Pq3Wz6Yx1Cv4Bn7Mk2"}, root=project)
    with pytest.raises(GateStartRefused, match="security.api_token"):
        create_app(loaded, tmp_path / "s", state_dir=tmp_path / "st")
    env = {"OPS_TOKEN": "opstok-NoApi-Hr5Tj8Pq3Wz6Yx1Cv4Bn7Mk2"}
    overlay = project / "anon.yaml"
    overlay.write_text("security:\n  allow_anonymous_trading: true\n")
    loaded = load_aurora("testnet", environ={**env, "AURORA_CONFIG": str(overlay)}, root=project)
    app = create_app(loaded, tmp_path / "s2", state_dir=tmp_path / "st2")
    app.gate.startup_events()
    app.gate.close()
    codes = [orjson.loads(x)["event_code"] for x in (tmp_path / "s2" / "aurora_events.jsonl").read_bytes().splitlines()]
    assert "AURORA.ANONYMOUS_TRADING" in codes


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


def test_disk_full_session_dir_denies_whole_records_and_recovers(gate_factory, tmp_path):
    mnt = tmp_path / "tmpfs"
    if not _mount_tmpfs(mnt, "400k"):
        pytest.skip("cannot mount a tmpfs here (needs root and mount(8)); the full-disk path is untested")
    live = gate_factory({**QUIET, "risk": {"max_orders_per_sec": 100_000, "max_orders_per_sec_per_symbol": 100_000,
                                           "max_concurrent": 1000}},
                        session_dir_override=mnt / "session")  # fmt: skip
    try:
        filler = mnt / "filler"
        with open(filler, "wb") as f:  # leave ~24 KB: a few dozen decisions, then ENOSPC
            try:
                f.write(b"\0" * (400 * 1024 - 24 * 1024))
            except OSError:
                pass
        answers = {}
        for i in range(400):
            answers[f"f{i}"] = check(live, cid=f"f{i}", qty=round(1.0 + i / 100, 2), symbol="SOLUSDT")
        denied = [c for c, a in answers.items() if a["reason"] == "GUARD_ERROR"]
        assert denied, "the disk never filled"
        r = live.ops("/readiness", method="GET")
        assert r.status_code == 503 and any("unwritable" in x or "write failed" in x for x in r.json()["reasons"])
        filler.unlink()
        assert live.ops("/readiness", method="GET").status_code == 200
        for i in range(400, 420):
            answers[f"f{i}"] = check(live, cid=f"f{i}", qty=round(1.0 + i / 100, 2), symbol="SOLUSDT")
        assert answers["f419"]["allow"] is True
        raw = (mnt / "session" / "aurora_events.jsonl").read_bytes()
        lines = raw.splitlines()
        assert raw.endswith(b"\n")
        records = [orjson.loads(x) for x in lines]  # no corrupt line anywhere
        logged = {r["cid"]: r for r in records if r["event_code"] == "POLICY_DECISION"}
        for cid, a in answers.items():
            if a["allow"]:
                assert logged[cid]["details"]["allow"] is True, cid
    finally:
        live.stop()
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_on_the_request_clock_every_window_follows_the_requests(gate_factory):
    live = gate_factory({"risk": {"max_orders_per_sec": 2}}, clock="request")
    t0 = 1_700_000_000_000_000_000  # a recording's time, years before the wall clock
    r = live.post("/pretrade/check", check_body(cid="no-ts"))
    assert r.status_code == 422 and "market.ts_ns" in r.text
    assert [check(live, cid=f"q{i}", qty=1 + i / 10, ts_ns=t0)["reason"] for i in range(3)] == \
        ["OK", "OK", "RISK_RATE_LIMIT"]  # fmt: skip
    # one recorded second later the throttle window has passed, whatever the wall clock did
    assert check(live, cid="q9", qty=2.0, ts_ns=t0 + 1_000_000_001)["allow"] is True


# -- the trading state reaches the runner (issue 17, gate side) -------------------------------------------
def test_every_answer_carries_the_trading_state_and_a_moving_sequence(live):
    first = check(live, cid="s1")
    assert first["trading_state"] == "ACTIVE"
    seq = first["state_seq"]
    live.ops("/aurora/disarm")
    second = check(live, cid="s2", qty=1.1)
    assert second["reason"] == "DISARMED" and second["trading_state"] == "REDUCING" and second["state_seq"] > seq
    posted = post_event(live, "ORDER.SUBMIT", "s9", symbol="SOLUSDT", side="buy", qty=1.0)
    assert posted["trading_state"] == "REDUCING" and posted["state_seq"] == second["state_seq"]


def test_an_idle_runner_long_polls_the_state(live):
    import threading

    view = live.client.get("/trading_state", params={"account": "acc-1"}, headers={"X-API-TOKEN": API_TOKEN}).json()
    assert view == {"trading_state": "ACTIVE", "trigger": None, "state_seq": view["state_seq"], "cancel_all": False,
                    "changed_ns": view["changed_ns"]}
    assert live.client.get("/trading_state").status_code == 401
    result = {}

    def wait():
        result["view"] = live.client.get(
            "/trading_state", params={"account": "acc-1", "since": view["state_seq"], "wait_ms": 10_000},
            headers={"X-API-TOKEN": API_TOKEN}).json()  # fmt: skip

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.2)  # let the long-poll park (the assertion below does not depend on it)
    live.ops("/ops/halt", json={"reason": "test", "cancel_all": True})
    waiter.join(10)
    assert result["view"]["trading_state"] == "HALTED" and result["view"]["cancel_all"] is True
    assert result["view"]["trigger"] == "ops_halt" and result["view"]["state_seq"] > view["state_seq"]
    assert result["view"]["changed_ns"] > (view["changed_ns"] or 0)  # when the gate moved: kill latency from it


def test_ops_kill_halts_with_cancel_all_and_disarms_and_status_counts_resting_orders(live):
    post_event(live, "ORDER.SUBMIT", "e1", symbol="SOLUSDT", side="buy", qty=1.0)
    assert check(live, cid="r1", symbol="ETHUSDT")["allow"] is True  # a reservation (1 ETH at 100: 100 USDT)
    status = live.ops("/ops/status", method="GET").json()
    assert status["resting_orders"] == {"acc-1": {"entries": 1, "exits": 0, "reservations": 1}}
    r = live.ops("/ops/kill", json={"reason": "runaway"})
    assert r.status_code == 200 and r.json()["trading_state"] == "HALTED" and r.json()["armed"] is False
    assert r.json()["ops_halt"]["cancel_all"] is True
    live.ops("/ops/resume")
    soon = {"symbol": "SOONUSDT", "price": 0.5, "qty": 20.0, "best_bid": 0.5, "best_ask": 0.5001,
            "spread_bps": 0.0001 / 0.50005 * 1e4}  # fmt: skip
    assert check(live, cid="r2", **soon)["reason"] == "DISARMED"  # still disarmed after resume
    codes = [e["event_code"] for e in live.events()]
    assert "OPS.KILL" in codes
