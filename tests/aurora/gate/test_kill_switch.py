from aurora.gate.kill_switch import KillSwitch


def test_reject_storm_trips_and_reset_clears(mkcfg):
    events = []
    ks = KillSwitch(mkcfg(killswitch={"window_trades": 10, "max_reject_rate_pct": 30, "min_outcomes": 10}),
                    emit=lambda c, d: events.append((str(c), d)))  # fmt: skip
    for _ in range(7):
        ks.record_outcome(False)
    for _ in range(3):
        ks.record_outcome(True)
    assert not ks.active  # exactly 30 % is not above the limit
    ks.record_outcome(True)  # window now 6 ok + 4 rejects = 40 %
    assert ks.active and ks.blocks(False) and not ks.blocks(True)
    assert events[0][0] == "GOVERNANCE.KILL_SWITCH" and events[0][1]["trigger"] == "reject_rate"
    ks.reset()
    assert not ks.active and ks.snapshot()["outcomes"] == 0


def test_denied_rate_needs_min_outcomes(mkcfg):
    ks = KillSwitch(mkcfg(killswitch={"window_trades": 50, "max_denied_rate_pct": 50, "min_outcomes": 20}))
    for _ in range(19):
        ks.record_decision(True)
    assert not ks.active
    ks.record_decision(True)
    assert ks.active and ks.trip_info["trigger"] == "denied_rate"


def test_alert_only_never_blocks(mkcfg):
    ks = KillSwitch(mkcfg(killswitch={"min_outcomes": 1, "action": "ALERT_ONLY"}))
    ks.record_outcome(True)
    assert ks.active and not ks.blocks(False)


def test_window_slides(mkcfg):
    ks = KillSwitch(mkcfg(killswitch={"window_trades": 4, "max_reject_rate_pct": 50, "min_outcomes": 4}))
    for hit in (True, True, False, False, False, False):
        ks.record_outcome(hit)
    assert ks.outcomes.hits == 0 and ks.outcomes.rate_pct() == 0 and not ks.active
