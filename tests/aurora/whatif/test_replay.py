"""whatif's core on sessions recorded by a real gate: flips, attribution, state replayed, own config = 0 flips."""

from __future__ import annotations

import time

import pytest

from aurora.config.errors import ConfigError
from aurora.whatif import WhatIfError, whatif
from tests.support.gate_session import (
    MS,
    START_NS,
    RecordingGate,
    load,
    positions_session,
    project_config,
    request,
    spread_session,
)


def book_spread(r):
    return (r.best_ask - r.best_bid) / ((r.best_ask + r.best_bid) / 2) * 1e4


@pytest.fixture
def spreads(project, tmp_path):
    sent = spread_session(project, tmp_path / "s", limit_bps=20)
    return project, tmp_path / "s", sent


def test_a_tighter_spread_limit_flips_exactly_the_allowed_decisions_above_it(spreads):
    root, session, sent = spreads
    (root / "cand.yaml").write_text("# tighter\nguards:\n  spread_bps_limit: 10\n")
    r = whatif(session, [root / "cand.yaml"], root=root).to_dict()
    allowed = {x.cid for x in sent if book_spread(x) <= 20}  # what the session's gate allowed (limit 20)
    assert r["session"]["deny"] == 90 - len(allowed)
    expected = {x.cid for x in sent if x.cid in allowed and book_spread(x) > 10}
    assert len(expected) == 30 and {f["cid"] for f in r["flip_list"]} == expected
    assert r["flips"]["by_kind"] == {"allow→deny": 30, "deny→allow": 0, "reason changed": 0}
    assert r["flips"]["by_guard"] == {"spread": {"allow→deny": 30, "deny→allow": 0, "reason changed": 0}}
    (key,) = r["flips"]["by_key"]
    assert key == "guards.spread_bps_limit"
    for f in r["flip_list"]:
        assert f["key"] == "guards.spread_bps_limit" and f["key_changed"]
        assert f["session_value"] == {"value": 20.0, "source": "configs/aurora/testnet.yaml:2"}
        assert f["candidate_value"] == {"value": 10.0, "source": "cand.yaml:3"}
        assert f["session"]["explain"] == "OK" and f["candidate"]["reason"] == "SPREAD_GUARD"
        assert f["candidate"]["explain"].endswith("> guards.spread_bps_limit 10 (cand.yaml:3)")
        assert f["symbol"] == "SOLUSDT" and f["ts"].startswith("2026-11-21T09:00:")
    assert r["candidate"]["deny"] == r["session"]["deny"] + 30
    assert r["change"]["deny_rate"] == pytest.approx(30 / 90)
    assert r["change"]["allowed_notional"] < 0 and r["change"]["allowed_max_qty_changed"] == 0
    (v,) = r["versions"]
    assert v["changes"] == [{"key": "guards.spread_bps_limit",
                             "session": {"value": 20.0, "source": "configs/aurora/testnet.yaml:2"},
                             "candidate": {"value": 10.0, "source": "cand.yaml:3"}}]  # fmt: skip


@pytest.mark.parametrize("body", ["", "# nothing\n", "guards:\n  spread_bps_limit: 20\n"])
def test_the_session_under_its_own_config_flips_nothing(spreads, body):
    root, session, _ = spreads
    (root / "same.yaml").write_text(body)
    r = whatif(session, [root / "same.yaml"], root=root).to_dict()
    assert r["flips"]["total"] == 0 and r["flip_list"] == []
    assert r["session"] == r["candidate"] and r["change"]["allowed_max_qty_changed"] == 0
    assert r["decisions"] == {"replayed": 90, "not_compared": 0} and r["notes"] == []
    assert r["versions"][0]["changes"] == []


def test_a_lower_max_concurrent_flips_the_checks_that_met_recorded_positions(project, tmp_path):
    phases = positions_session(project, tmp_path / "p")
    (project / "cand.yaml").write_text("risk:\n  max_concurrent: 2\n")
    r = whatif(tmp_path / "p", [project / "cand.yaml"], root=project).to_dict()
    # the ETHUSDT checks made while SOLUSDT and BTCUSDT positions were open (filled, in the recorded lifecycle)
    assert [f["cid"] for f in r["flip_list"]] == phases["after"]
    for f in r["flip_list"]:
        assert f["candidate"]["reason"] == "RISK_MAX_CONCURRENT" and f["key"] == "risk.max_concurrent"
        assert f["candidate"]["explain"] == "RISK_MAX_CONCURRENT: open positions 2 >= risk.max_concurrent 2 (cand.yaml:2)"
        assert f["session_value"] == {"value": 3, "source": "configs/aurora/testnet.yaml:2"}
    (project / "one.yaml").write_text("risk:\n  max_concurrent: 1\n")  # now one open position is enough
    r = whatif(tmp_path / "p", [project / "one.yaml"], root=project).to_dict()
    assert [f["cid"] for f in r["flip_list"]] == ["entry-BTCUSDT", *phases["after"]]


def test_health_runs_on_the_recorded_latencies_under_the_candidate_threshold(project, tmp_path):
    project_config(project, "testnet", "aurora:\n  latency_guard_ms: 40\n")
    sent = [request(START_NS + i * 250 * MS, cid=f"h{i:02d}", latency_ms=35.0, mid_shift_ticks=i,
                    side="buy" if i % 2 else "sell") for i in range(60)]  # fmt: skip
    with RecordingGate(load(project, "testnet"), tmp_path / "h") as g:
        assert all(g.check(r).allow for r in sent)  # p95 35 ms < 40 ms: healthy throughout
    (project / "cand.yaml").write_text("aurora:\n  latency_guard_ms: 30\n")
    r = whatif(tmp_path / "h", [project / "cand.yaml"], root=project).to_dict()
    # 20 samples make the p95 trusted (WARN at the 20th), 5 s of grace, then a cool-off denies new risk
    flipped = [f["cid"] for f in r["flip_list"]]
    assert flipped and flipped == [f"h{i:02d}" for i in range(int(flipped[0][1:]), 60)]
    assert 35 <= int(flipped[0][1:]) <= 45
    assert {f["candidate"]["reason"] for f in r["flip_list"]} == {"HEALTH_COOL_OFF"}
    assert r["flip_list"][0]["key"] == "aurora.latency_guard_ms"


def test_a_reload_is_a_new_version_the_candidate_is_layered_over(project, tmp_path):
    project_config(project, "testnet", "guards:\n  spread_bps_limit: 20\n")
    with RecordingGate(load(project, "testnet"), tmp_path / "r") as g:
        for i in range(10):
            g.check(request(START_NS + i * 200 * MS, cid=f"a{i}", spread_ticks=15, mid_shift_ticks=i))
        project_config(project, "testnet", "# reloaded\nguards:\n  spread_bps_limit: 12\n")
        assert g.gate.reload(lambda: load(project, "testnet"))["ok"]
        for i in range(10):
            g.check(request(START_NS + (10 + i) * 200 * MS, cid=f"b{i}", spread_ticks=15, mid_shift_ticks=i))
    (project / "cand.yaml").write_text("risk:\n  pi_min_bps: -100\n")  # no effect on these
    r = whatif(tmp_path / "r", [project / "cand.yaml"], root=project).to_dict()
    assert [v["decisions"] for v in r["versions"]] == [10, 10] and r["flips"]["total"] == 0
    assert r["session"]["deny"] == 10  # the b* checks met the reloaded limit
    (project / "cand.yaml").write_text("guards:\n  spread_bps_limit: 16\n")
    r = whatif(tmp_path / "r", [project / "cand.yaml"], root=project).to_dict()
    assert {f["cid"] for f in r["flip_list"]} == {f"b{i}" for i in range(10)}
    assert {f["session_value"]["source"] for f in r["flip_list"]} == {"configs/aurora/testnet.yaml:3"}
    assert {f["kind"] for f in r["flip_list"]} == {"deny→allow"}


def test_candidate_errors_name_file_line_and_key(spreads):
    root, session, _ = spreads
    (root / "bad.yaml").write_text("guards:\n  spread_bps_limt: 10\n")
    with pytest.raises(ConfigError) as info:
        whatif(session, [root / "bad.yaml"], root=root)
    (issue,) = info.value.issues
    assert (issue.source, issue.line, issue.key) == ("bad.yaml", 2, "guards.spread_bps_limt")
    assert issue.message == "unknown key; did you mean guards.spread_bps_limit?"
    (root / "bad.yaml").write_text("risk:\n  max_concurrent: -1\n")
    with pytest.raises(ConfigError) as info:
        whatif(session, [root / "bad.yaml"], root=root)
    assert (info.value.issues[0].source, info.value.issues[0].line) == ("bad.yaml", 2)
    with pytest.raises(ConfigError, match="candidate config file not found"):
        whatif(session, [root / "missing.yaml"], root=root)


def test_a_session_without_recorded_inputs_is_refused_or_noted(project, tmp_path):
    from tests.support.session_log_generator import GeneratorSpec, generate_session

    generate_session(tmp_path / "old", GeneratorSpec(n_orders=5))  # synthetic records without the inputs
    (project / "c.yaml").write_text("")
    with pytest.raises(WhatIfError, match="before any CONFIG.EFFECTIVE"):
        whatif(tmp_path / "old", [project / "c.yaml"], root=project)
    with pytest.raises(WhatIfError, match="not found|no event or order logs|not a directory"):
        whatif(tmp_path / "nothing", [project / "c.yaml"], root=project)


def test_a_lower_denied_rate_limit_trips_the_kill_switch_on_the_recorded_denials(spreads):
    root, session, sent = spreads
    (root / "ks.yaml").write_text("killswitch:\n  max_denied_rate_pct: 25\n")
    r = whatif(session, [root / "ks.yaml"], root=root).to_dict()
    # 10 of every 30 checks were denied (spread above 20): a denied rate of 1/3 > 25 % once 20 are in the window
    first = sent.index(next(x for x in sent if x.cid == r["flip_list"][0]["cid"]))
    assert 19 <= first <= 30
    assert {f["candidate"]["reason"] for f in r["flip_list"]} == {"KILL_SWITCH"}
    assert set(r["flips"]["by_key"]) == {"killswitch.max_denied_rate_pct"}
    kinds = r["flips"]["by_kind"]
    assert kinds["allow→deny"] and kinds["reason changed"] and kinds["allow→deny"] + kinds["reason changed"] == 90 - first
    assert r["flip_list"][0]["candidate"]["explain"].startswith("KILL_SWITCH: denied rate ")
    assert r["flip_list"][0]["candidate"]["explain"].endswith(" % > killswitch.max_denied_rate_pct 25 (ks.yaml:2)")


def test_positions_survive_a_restart_and_a_new_session_of_the_same_state(project, tmp_path):
    """A restart inside one session, and a session that starts from the state another one left."""
    project_config(project, "testnet", "risk:\n  max_concurrent: 3\n")
    state = tmp_path / "state"
    # on wall time: a restarted gate's request clock resumes at its state's snapshot, stamped by the wall clock
    t = time.time_ns() - 60_000_000_000
    with RecordingGate(load(project, "testnet"), tmp_path / "one", state_dir=state) as g:
        for sym in ("SOLUSDT", "BTCUSDT"):
            r = request(t, cid=f"entry-{sym}", symbol=sym, notional=300.0)
            g.fill(r, g.check(r), t + 10 * MS)
            t += 5_000_000_000
    for session in ("one", "two"):  # "one" restarts in the same session dir; "two" is a new session
        with RecordingGate(load(project, "testnet"), tmp_path / session, state_dir=state, run_id=session) as g:
            r = request(time.time_ns(), cid=f"eth-{session}", symbol="ETHUSDT")
            assert g.check(r).allow
    (project / "cand.yaml").write_text("risk:\n  max_concurrent: 2\n")
    one = whatif(tmp_path / "one", [project / "cand.yaml"], root=project).to_dict()
    assert [f["cid"] for f in one["flip_list"]] == ["eth-one"] and one["notes"] == []
    two = whatif(tmp_path / "two", [project / "cand.yaml"], root=project).to_dict()
    assert [f["cid"] for f in two["flip_list"]] == ["eth-two"]  # the positions came from AURORA.STATE_RESTORED
    assert two["notes"][0].startswith("the session's gate started from a restored state")
