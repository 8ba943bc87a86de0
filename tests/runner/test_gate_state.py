"""How the runner learns the gate's trading state (runner/gate_state.py) and what its config keys change
(runner.halt_cancels_exits, runner.cancel_entries_when_gate_unknown), against the gate stub."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from aurora.gate.trading_state import TradingState
from runner.app import Runner
from runner.config import RunnerConfig
from runner.feeds.synthetic_feed import SyntheticFeed
from runner.gate_client import GateClient
from runner.gate_state import GateStateWatch, StateView
from tests.runner.gate_stub import GateStub
from tests.runner.test_gate_client import BODY
from tests.support.kill import RESTING, PausableFeed, resting, runner_events, wait_until


def test_every_answer_and_the_long_poll_carry_the_state(gate_stub: GateStub) -> None:
    seen: list[tuple[str, str, int]] = []

    async def go() -> tuple[dict, float]:
        gc = GateClient(gate_stub.url, timeout_ms=300.0)
        gc.on_state = lambda data, via: seen.append((via, data["trading_state"], data["state_seq"]))
        await gc.start()
        await gc.check(BODY)
        gc.post_lifecycle({"event_code": "ORDER.SUBMIT", "ts_ns": 1, "cid": "c1", "symbol": "SOLUSDT",
                           "side": "buy", "qty": 1.0, "details": {}})  # fmt: skip
        await gc.drain(2.0)
        seq = gate_stub.state_seq
        threading.Timer(0.2, gate_stub.set_state, ("HALTED", "ops_halt", True)).start()
        t0 = time.monotonic()
        view = await gc.trading_state("acc-1", since=seq, wait_ms=10_000)  # held until the change
        waited = time.monotonic() - t0
        await gc.aclose()
        return view, waited

    view, waited = asyncio.run(go())
    assert seen == [("check", "ACTIVE", 1), ("posttrade", "ACTIVE", 1)]
    assert view["trading_state"] == "HALTED" and view["trigger"] == "ops_halt" and view["cancel_all"] is True
    assert view["state_seq"] == 2 and waited < 5.0  # answered on the change, not at the end of the wait


class CannedGate:
    """What the watcher asks of a gate client: canned /trading_state answers (None: no answer)."""

    available = True
    on_state = None

    def __init__(self, answers: list[dict[str, Any] | None]) -> None:
        self.answers = answers

    async def trading_state(self, account: str, *, since: int | None = None, wait_ms: float = 0.0):  # noqa: ANN201
        return self.answers.pop(0) if self.answers else None


def view(state: str, seq: int, trigger: str | None = None, cancel_all: bool = False) -> dict[str, Any]:
    return {"trading_state": state, "state_seq": seq, "trigger": trigger, "cancel_all": cancel_all,
            "changed_ns": 123}  # fmt: skip


def watch(gate: CannedGate) -> tuple[GateStateWatch, list[StateView], list[tuple[str, dict]]]:
    changes: list[StateView] = []
    events: list[tuple[str, dict]] = []
    w = GateStateWatch(gate, "acc-1", poll_ms=100, on_change=changes.append,
                       emit=lambda code, details: events.append((code, details)))  # fmt: skip
    return w, changes, events


def test_an_older_answer_never_replaces_a_newer_one_and_an_answer_brings_the_trigger_at_once() -> None:
    async def go() -> tuple:
        gate = CannedGate([view("ACTIVE", 5), view("REDUCING", 7, "kill_switch")])
        w, changes, events = watch(gate)
        await w.start()
        w.observe({"trading_state": "REDUCING", "state_seq": 7}, "posttrade")  # the trip, in a post's answer
        stopped_at_once = w.state
        await asyncio.sleep(0.01)  # the detail fetch
        w.observe({"trading_state": "ACTIVE", "state_seq": 6}, "check")  # an answer from before the trip
        return w, changes, events, stopped_at_once

    w, changes, events, stopped_at_once = asyncio.run(go())
    assert stopped_at_once is TradingState.REDUCING  # no new entry from the moment any answer says so
    assert [(c.state, c.trigger, c.via) for c in changes] == [
        (TradingState.ACTIVE, None, "start"), (TradingState.REDUCING, "kill_switch", "detail")]
    assert changes[1].learned_ns > 0 and changes[1].changed_ns == 123 and changes[1].reason.value == "KILL_SWITCH"
    assert w.state is TradingState.REDUCING and w.view.seq == 7
    assert [d["state"] for c, d in events] == ["ACTIVE", "REDUCING"]


def test_without_the_trigger_the_state_itself_is_acted_on_and_a_failed_poll_is_unknown() -> None:
    async def go() -> tuple:
        gate = CannedGate([view("ACTIVE", 1)])  # then nothing answers any more
        w, changes, _ = watch(gate)
        await w.start()
        w.observe({"trading_state": "HALTED", "state_seq": 2}, "check")
        await asyncio.sleep(0.01)
        task = asyncio.create_task(w.run())
        await asyncio.sleep(0.02)
        task.cancel()
        return w, changes

    w, changes = asyncio.run(go())
    assert [(c.state, c.reason.value) for c in changes[1:]] == [(TradingState.HALTED, "GATE_HALTED"),
                                                                (None, "GATE_UNKNOWN")]  # fmt: skip
    assert w.state is None


CFG = {**RESTING, "gate": {"timeout_ms": 300, "backoff_initial_ms": 50, "backoff_max_ms": 200}}


def start_runner(stub: GateStub, tmp_path: Path, **runner_keys: Any) -> tuple[Runner, PausableFeed]:
    cfg = RunnerConfig.model_validate({**CFG, "runner": {**CFG["runner"], **runner_keys}})
    feed = PausableFeed(SyntheticFeed([s.symbol for s in cfg.symbols], seed=3))
    return Runner(cfg, session_dir=tmp_path, gate_url=stub.url, environ={}, feed=feed), feed


def both(runner: Runner) -> bool:
    return bool(resting(runner.tracker, reduce_only=False) and resting(runner.tracker, reduce_only=True))


def test_halted_keeps_resting_exits_when_configured_so(gate_stub: GateStub, tmp_path: Path) -> None:
    runner, feed = start_runner(gate_stub, tmp_path, halt_cancels_exits=False)
    kept: dict[str, set[str]] = {}

    async def scenario() -> None:
        assert await wait_until(lambda: both(runner), 40), runner.tracker.states()
        feed.pause()
        kept["entries"] = {o.cid for o in resting(runner.tracker, reduce_only=False)}
        kept["exits"] = {o.cid for o in resting(runner.tracker, reduce_only=True)}
        gate_stub.set_state("HALTED", "ops_halt")
        assert await wait_until(lambda: all(runner.tracker.orders[c].terminal for c in kept["entries"]), 5)
        await asyncio.sleep(0.1)
        assert not any(runner.tracker.orders[c].terminal for c in kept["exits"])

    async def go() -> None:
        task = asyncio.create_task(runner.run(60))
        try:
            await scenario()
        finally:
            runner.request_stop()
            await task

    asyncio.run(go())
    (applied,) = runner_events(runner, "RUNNER.KILL_APPLIED")
    assert applied["details"]["state"] == "HALTED" and applied["details"]["exits"] == 0
    assert applied["details"]["entries"] == len(kept["entries"])


def test_an_unknown_state_cancels_resting_entries_only_when_configured_to(gate_stub: GateStub, tmp_path: Path) -> None:
    out: dict[str, Any] = {}

    async def case(name: str, **keys: Any) -> None:
        runner, feed = start_runner(gate_stub, tmp_path / name, **keys)
        task = asyncio.create_task(runner.run(60))
        try:
            assert await wait_until(lambda: resting(runner.tracker, reduce_only=False), 30)
            feed.pause()
            entries = {o.cid for o in resting(runner.tracker, reduce_only=False)}
            await asyncio.to_thread(gate_stub.stop)
            assert await wait_until(lambda: runner.state_watch.state is None, 5)
            await wait_until(lambda: all(runner.tracker.orders[c].terminal for c in entries), 1.0)
            out[name] = (runner, {c: runner.tracker.orders[c].state.value for c in entries})
            await asyncio.to_thread(gate_stub.start)
            assert await wait_until(lambda: runner.state_watch.state is TradingState.ACTIVE, 5)
        finally:
            runner.request_stop()
            await task

    asyncio.run(case("held"))
    asyncio.run(case("cancelled", cancel_entries_when_gate_unknown=True))
    held, cancelled = out["held"][1], out["cancelled"][1]
    assert set(held.values()) == {"ACKED"}  # the gate allowed them; an outage alone does not cancel them
    assert set(cancelled.values()) == {"CANCELED"}
    (applied,) = runner_events(out["cancelled"][0], "RUNNER.KILL_APPLIED")
    assert applied["details"]["reason"] == "GATE_UNKNOWN" and applied["details"]["state"] is None
    assert runner_events(out["held"][0], "RUNNER.KILL_APPLIED") == []
