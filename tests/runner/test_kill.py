"""Kill functionality, runner side, against a real local gate (the app under uvicorn) and the paper venue.

The market is the synthetic one in real time, behind a feed the test can make go quiet: once the
runner has the resting orders a case needs, the feed is paused — no market data, so nothing fills and
no check or lifecycle post tells the runner anything — and the gate's state is changed from outside
(``auroractl ops``, or a reject storm for the account). What the runner does then it learned from its
long-poll of ``GET /trading_state`` alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auroractl.main import app as cli
from runner.app import Runner
from runner.config import RunnerConfig
from runner.feeds.synthetic_feed import SyntheticFeed
from tests.aurora.api.conftest import API_TOKEN, OPS_TOKEN, QUIET, LiveGate, gate_factory  # noqa: F401
from tests.support.kill import RESTING, PausableFeed, reject_storm, resting, runner_events, wait_until

EDGE_RELAXED = {"risk": {"pi_min_bps": -100.0, "fees_bps": 0.0}, "sprt": {"enabled": False}}
def runner_for(live: LiveGate, tmp_path: Path, cfg: dict[str, Any] | None = None) -> tuple[Runner, PausableFeed]:
    config = RunnerConfig.model_validate(cfg or RESTING)
    feed = PausableFeed(SyntheticFeed([s["symbol"] for s in config.model_dump()["symbols"]], seed=3))
    runner = Runner(config, session_dir=tmp_path / "runner", gate_url=live.url, api_token=API_TOKEN, environ={},
                    feed=feed)  # fmt: skip
    return runner, feed


def ops(live: LiveGate, *args: str) -> str:
    r = CliRunner().invoke(cli, ["ops", *args, "--url", live.url], env={"NO_COLOR": "1", "OPS_TOKEN": OPS_TOKEN})
    assert r.exit_code == 0, r.output
    return r.output


def lifecycle(live: LiveGate, cid: str) -> list[dict]:
    return [e for e in live.events() if e.get("cid") == cid and e["event_code"].startswith("ORDER.")]


async def drive(runner: Runner, scenario: Callable[[], Any], seconds: float = 40.0) -> dict:
    """Run the runner while ``scenario`` (a coroutine function) plays; stop it when the scenario ends."""
    task = asyncio.create_task(runner.run(seconds))
    try:
        await scenario()
    finally:
        runner.request_stop()
    return await task


def test_an_idle_runner_learns_a_state_change_by_its_long_poll_and_cancels_at_once(
    gate_factory, tmp_path: Path  # noqa: F811
) -> None:
    live = gate_factory({**QUIET, **EDGE_RELAXED})
    runner, feed = runner_for(live, tmp_path)
    poll_ms = runner.cfg.runner.gate_state_poll_ms
    marks: dict[str, Any] = {}

    async def scenario() -> None:
        assert await wait_until(lambda: resting(runner.tracker, reduce_only=False), 30), "no entry came to rest"
        feed.pause()
        entries = {o.cid for o in resting(runner.tracker, reduce_only=False)}
        await asyncio.sleep(1.0)  # idle: no market data, no checks, no lifecycle posts
        marks["changed"] = time.time_ns()
        await asyncio.to_thread(ops, live, "disarm")
        ok = await wait_until(lambda: all(runner.tracker.orders[c].terminal for c in entries), 5)
        marks["done"] = time.time_ns()
        assert ok, [runner.tracker.orders[c].state for c in entries]
        marks["entries"] = entries
        await asyncio.to_thread(ops, live, "arm")
        assert await wait_until(lambda: runner.kill.entries_open(), 5)
        feed.resume()
        marks["resumed"] = time.time_ns()
        n = len(runner.tracker.orders)
        assert await wait_until(lambda: len(runner.tracker.orders) > n, 20), "trading did not resume"

    summary = asyncio.run(drive(runner, scenario))
    (applied,) = [e for e in runner_events(runner, "RUNNER.KILL_APPLIED") if e["details"]["reason"] == "DISARMED"]
    d = applied["details"]
    assert d["via"] == "poll" and d["state"] == "REDUCING" and d["count"] == d["entries"] == len(marks["entries"])
    # within gate_state_poll_ms plus one cancel round trip (the paper venue's latency both ways), with room
    # for a loaded machine; the long-poll answers at once, so this is far inside it in practice
    bound_ms = poll_ms + 2 * (runner.cfg.venue.paper.latency_ms + runner.cfg.venue.paper.jitter_ms) + 250
    for cid in marks["entries"]:
        steps = lifecycle(live, cid)
        req = next(e for e in steps if e["event_code"] == "ORDER.CANCEL.REQUEST")
        ack = next(e for e in steps if e["event_code"] == "ORDER.CANCEL.ACK")
        assert req["details"]["reason"] == "DISARMED" and ack["details"]["reason"] == "DISARMED"
        assert (ack["ts_ns"] - marks["changed"]) / 1e6 < bound_ms, steps
    assert (marks["done"] - marks["changed"]) / 1e6 < bound_ms
    (settled,) = [e for e in runner_events(runner, "RUNNER.KILL_SETTLED") if e["details"]["reason"] == "DISARMED"]
    # the entries resting at the change, and any whose ack was still on its way then: all cancelled
    assert settled["details"]["settled"] is True and settled["details"]["orders"] == d["count"] + d["awaiting_ack"]
    assert settled["details"]["outcomes"] == {"CANCELED": settled["details"]["orders"]}
    assert 0 < settled["details"]["ack_latency_ms"] < bound_ms and settled["details"]["entry_fills_after"] == 0
    # no entry was sent while disarmed; after the re-arm trading went on
    submits = [e for e in live.events("ORDER.SUBMIT") if not e["details"].get("reduce_only")]
    assert not [e for e in submits if marks["changed"] < e["ts_ns"] < marks["resumed"]]
    assert [e for e in submits if e["ts_ns"] > marks["resumed"]]
    assert summary["trading_state"]["kills"][0]["reason"] == "DISARMED"


@pytest.mark.parametrize(("how", "undo"), [("halt --cancel-all", ["resume"]), ("kill", ["resume", "arm"])])
def test_ops_halt_cancel_all_cancels_the_resting_entry_and_exit_and_resume_trades_again(
    gate_factory, tmp_path: Path, how: str, undo: list[str]  # noqa: F811
) -> None:
    live = gate_factory({**QUIET, **EDGE_RELAXED})
    runner, feed = runner_for(live, tmp_path)
    marks: dict[str, Any] = {}

    def both() -> bool:
        return bool(resting(runner.tracker, reduce_only=False) and resting(runner.tracker, reduce_only=True))

    async def scenario() -> None:
        assert await wait_until(both, 40), runner.tracker.states()
        feed.pause()
        marks["entries"] = {o.cid for o in resting(runner.tracker, reduce_only=False)}
        marks["exits"] = {o.cid for o in resting(runner.tracker, reduce_only=True)}
        marks["changed"] = time.time_ns()
        out = await asyncio.to_thread(ops, live, *how.split(), "--reason", "drill")
        assert "cancel-all" in out or "cancel every resting order" in out, out
        cids = marks["entries"] | marks["exits"]
        assert await wait_until(lambda: all(runner.tracker.orders[c].terminal for c in cids), 5)
        for action in undo:
            await asyncio.to_thread(ops, live, action)
        assert await wait_until(lambda: runner.kill.entries_open(), 5)
        feed.resume()
        marks["resumed"] = time.time_ns()
        n = len(runner.tracker.orders)
        assert await wait_until(lambda: len(runner.tracker.orders) > n, 20), "trading did not resume"

    asyncio.run(drive(runner, scenario))
    for cid in marks["entries"] | marks["exits"]:
        steps = [(e["event_code"], e["details"].get("reason")) for e in lifecycle(live, cid)]
        assert ("ORDER.CANCEL.REQUEST", "OPS_HALT") in steps and ("ORDER.CANCEL.ACK", "OPS_HALT") in steps, steps
    (applied,) = [e for e in runner_events(runner, "RUNNER.KILL_APPLIED") if e["details"]["reason"] == "OPS_HALT"]
    assert applied["details"]["cancel_all"] is True and applied["details"]["state"] == "HALTED"
    assert applied["details"]["count"] == len(marks["entries"]) + len(marks["exits"])
    assert applied["details"]["exits"] == len(marks["exits"])
    # after the resume: new orders again (the position's take-profit is placed again, or a new entry)
    assert [e for e in live.events("ORDER.SUBMIT") if e["ts_ns"] > marks["resumed"]]


def test_a_kill_switch_trip_cancels_resting_entries_within_a_second_and_lets_exits_out(
    gate_factory, tmp_path: Path  # noqa: F811
) -> None:
    ks = {"window_trades": 10, "min_outcomes": 5, "max_reject_rate_pct": 35}
    live = gate_factory({**QUIET, **EDGE_RELAXED, "killswitch": ks})
    cfg = {**RESTING, "strategy": {**RESTING["strategy"], "max_hold_s": 3.0}}  # a time stop soon after the trip
    runner, feed = runner_for(live, tmp_path, cfg)
    marks: dict[str, Any] = {}

    def both() -> bool:
        return bool(resting(runner.tracker, reduce_only=False) and resting(runner.tracker, reduce_only=True))

    def flat() -> bool:
        return all(runner.positions.get(s).flat for s in runner.tradable)

    async def scenario() -> None:
        assert await wait_until(both, 40), runner.tracker.states()
        feed.pause()
        marks["entries"] = {o.cid for o in runner.tracker.working() if not o.reduce_only}
        marks["exits"] = {o.cid for o in resting(runner.tracker, reduce_only=True)}
        await asyncio.to_thread(reject_storm, live.url, API_TOKEN, account=runner.cfg.runner.account, n=8)
        assert await wait_until(lambda: all(runner.tracker.orders[c].terminal for c in marks["entries"]), 5)
        assert all(not runner.tracker.orders[c].terminal for c in marks["exits"])  # exits rest on
        feed.resume()  # the market goes on: the time stop closes the position through the gate
        assert await wait_until(flat, 10), runner.positions.snapshot()
        marks["reset"] = time.time_ns()
        await asyncio.to_thread(ops, live, "reset")
        assert await wait_until(lambda: runner.kill.entries_open(), 5)
        n = len(runner.tracker.orders)
        assert await wait_until(lambda: any(not o.reduce_only for o in list(runner.tracker.orders.values())[n:]), 20)

    summary = asyncio.run(drive(runner, scenario))
    (trip,) = live.events("GOVERNANCE.KILL_SWITCH")
    t = trip["ts_ns"]
    for cid in marks["entries"]:
        steps = {e["event_code"]: e for e in lifecycle(live, cid)}
        if "ORDER.CANCEL.ACK" not in steps:  # done before the kill reached it (filled or rejected on arrival)
            assert {"ORDER.FILL", "ORDER.REJECT"} & set(steps) and steps.get("ORDER.FILL", trip)["ts_ns"] <= t
            continue
        req, ack = steps["ORDER.CANCEL.REQUEST"], steps["ORDER.CANCEL.ACK"]
        assert req["details"]["reason"] == ack["details"]["reason"] == "KILL_SWITCH"
        assert 0 < req["ts_ns"] - t < 1e9 and 0 < ack["ts_ns"] - t < 1e9, (t, req, ack)
    events = live.events()
    entries = {e["cid"] for e in events if e["event_code"] == "ORDER.SUBMIT" and e["details"].get("reduce_only") is False}
    entry_fills = [e for e in events if e["event_code"] in ("ORDER.FILL", "ORDER.PARTIAL") and e["cid"] in entries
                   and t < e["ts_ns"] < marks["reset"]]  # fmt: skip
    assert entry_fills == []
    killed_exits = [e for e in events if e["event_code"] == "ORDER.CANCEL.REQUEST" and e["cid"] in marks["exits"]
                    and e["details"]["reason"] == "KILL_SWITCH"]  # fmt: skip
    assert killed_exits == []
    reducing = [e for e in events if e["event_code"] == "POLICY_DECISION" and t < e["ts_ns"] < marks["reset"]
                and not e["cid"].startswith("storm")]  # the runner's own decisions
    assert reducing and all(e["details"]["reduce_only"] for e in reducing), "only exits were asked for"
    assert any(e["details"]["allow"] for e in reducing), "an exit was allowed while REDUCING"
    (applied,) = [e for e in runner_events(runner, "RUNNER.KILL_APPLIED") if e["details"]["reason"] == "KILL_SWITCH"]
    assert applied["details"]["state"] == "REDUCING" and applied["details"]["exits"] == 0
    assert summary["open_positions"] == []


def test_a_second_trip_after_a_reset_is_a_new_kill_even_with_nothing_resting() -> None:
    """Trip, ``ops reset``, trip again with no order resting either time: two kills, one per trip. Only the
    same stop seen again (REDUCING, unknown for a blip, REDUCING) is not recorded twice."""
    from types import SimpleNamespace

    from aurora.gate.trading_state import TradingState
    from runner.gate_state import StateView
    from runner.kill import KillController

    emitted: list[tuple[str, dict]] = []
    async def cancel_many(orders: list, reason: str) -> list[str]:
        return [o.cid for o in orders]

    executor = SimpleNamespace(sinks=[], admits=None, cancel_many=cancel_many)
    controller = KillController(
        RunnerConfig.model_validate(RESTING).runner,
        tracker=SimpleNamespace(working=lambda: [], orders={}), executor=executor, venue=SimpleNamespace(),
        clock=SimpleNamespace(live=False, now=lambda: 0), symbols=["SOLUSDT"],
        emit=lambda code, details: emitted.append((code, details)),
    )  # fmt: skip
    tripped = dict(trigger="kill_switch", detailed=True)
    views = [StateView(TradingState.REDUCING, 1, **tripped), StateView(None, None),  # a blip: the same stop
             StateView(TradingState.REDUCING, 1, **tripped), StateView(TradingState.ACTIVE, 2),  # ops reset
             StateView(TradingState.REDUCING, 3, **tripped)]  # fmt: skip
    for view in views:
        controller.on_view(view)
        asyncio.run(controller.react())
    kills = [d for code, d in emitted if code == "RUNNER.KILL_APPLIED"]
    assert [(k["kill"], k["reason"], k["state_seq"]) for k in kills] == [(1, "KILL_SWITCH", 1), (2, "KILL_SWITCH", 3)]
