"""The kill-switch rule, one sample at a time (what counts is decided by GateState; see test_gate_state)."""

from aurora.gate.kill_switch import KillSwitch


def test_reject_storm_trips_and_reset_clears(mkcfg):
    ks = KillSwitch(mkcfg(killswitch={"window_trades": 10, "max_reject_rate_pct": 30, "min_outcomes": 10}))
    for _ in range(6):
        assert ks.record_outcome("a", False) is None
    for _ in range(3):
        assert ks.record_outcome("a", True) is None
    trip = ks.record_outcome("a", True)  # window now 6 ok + 4 rejects = 40 %
    assert trip["trigger"] == "reject_rate" and trip["scope"] == "a"
    assert ks.tripped("a") is trip and ks.tripped("b") is None and ks.active
    ks.reset()
    assert not ks.active and ks.tripped("a") is None


def test_denied_rate_needs_min_outcomes(mkcfg):
    ks = KillSwitch(mkcfg(killswitch={"window_trades": 50, "max_denied_rate_pct": 50, "min_outcomes": 20}))
    for _ in range(19):
        assert ks.record_decision("a", True) is None
    assert ks.record_decision("a", True)["trigger"] == "denied_rate"


def test_global_scope_trips_for_everyone(mkcfg):
    ks = KillSwitch(mkcfg(killswitch={"min_outcomes": 2, "scope": "global"}))
    ks.record_outcome("a", True)
    ks.record_outcome("b", True)
    assert ks.tripped("c")["scope"] == "*"


def test_alert_only_never_blocks(mkcfg):
    ks = KillSwitch(mkcfg(killswitch={"min_outcomes": 1, "action": "ALERT_ONLY"}))
    assert ks.record_outcome("a", True) is not None
    assert ks.active and ks.tripped("a") is None


def test_window_slides_and_survives_a_snapshot(mkcfg):
    cfg = mkcfg(killswitch={"window_trades": 4, "max_reject_rate_pct": 50, "min_outcomes": 4})
    ks = KillSwitch(cfg)
    for hit in (True, True, False, False, False, False):
        ks.record_outcome("a", hit)
    assert not ks.active  # the two rejects slid out
    again = KillSwitch(cfg)
    again.restore(ks.snapshot())
    assert again.status()["windows"] == ks.status()["windows"]
    for hit in (True, True):
        again.record_outcome("a", hit)
    assert not again.active
    assert again.record_outcome("a", True)["rate_pct"] == 75.0


def test_denial_reasons_counted_by_default(mkcfg):
    ks = KillSwitch(mkcfg())
    assert ks.counts("SPREAD_GUARD") and ks.counts("GUARD_ERROR")
    for reason in ("RISK_RATE_LIMIT", "HEALTH_COOL_OFF", "HALTED", "KILL_SWITCH", "DISARMED", "REQUEST_EXPIRED"):
        assert not ks.counts(reason)


def test_a_reload_that_changes_the_scope_never_clears_a_trip(mkcfg):
    per_account = mkcfg(killswitch={"min_outcomes": 1})
    everyone = mkcfg(killswitch={"min_outcomes": 1, "scope": "global"})
    ks = KillSwitch(per_account)
    ks.record_outcome("a", True)
    ks.configure(everyone)
    assert ks.tripped("b")["scope"] == "a"  # under global, any trip stops everyone
    ks = KillSwitch(everyone)
    ks.record_outcome("a", True)
    ks.configure(per_account)
    assert ks.tripped("b")["scope"] == "*"  # a global trip still stops every account
