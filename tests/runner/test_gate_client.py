"""The gate client against a local server speaking the contract: allow, deny, 5xx, slow, down, back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson

from runner.gate_client import GateClient
from tests.runner.gate_stub import GateStub

BODY = {
    "account": {"id": "acc-1"},
    "order": {"cid": "c1", "symbol": "SOLUSDT", "side": "buy", "qty": 1.0, "price": 100.0, "order_type": "limit",
              "reduce_only": False},
    "market": {"best_bid": 100.0, "best_ask": 100.01, "bid_size": 5.0, "ask_size": 3.0, "spread_bps": 1.0,
               "latency_ms": 1.0, "vol_std_bps": 3.0, "score": 1.5, "tp_bps": 12.0, "sl_bps": 8.0,
               "l2_add_volumes": [1.0], "l2_cancel_volumes": [0.5]},
}


def client(url: str, events: list, **kw) -> GateClient:  # noqa: ANN003
    kw.setdefault("timeout_ms", 300.0)
    kw.setdefault("backoff_initial_ms", 100.0)
    kw.setdefault("backoff_max_ms", 400.0)
    return GateClient(url, on_event=lambda c, d: events.append((c, d)), **kw)


def test_allow_and_deny_answers_are_decisions(gate_stub: GateStub) -> None:
    events: list = []

    async def go() -> tuple:
        gc = client(gate_stub.url, events, api_token="t" * 20)
        await gc.start()
        allow = await gc.check(BODY, tick_ns=time.time_ns())
        gate_stub.mode = "deny"
        deny = await gc.check(BODY)
        await gc.aclose()
        return allow, deny, gc

    allow, deny, gc = asyncio.run(go())
    assert allow.allow and allow.reason == "OK" and allow.max_qty == 1.0
    assert not deny.allow and deny.reason == "ER_BELOW_MIN"
    assert gate_stub.checks[0] == BODY  # the body is sent as given
    assert events == [] and gc.stats["allowed"] == 1 and gc.stats["denied"] == 1
    assert len(gc.tick_to_request_ns) == 1 and 0 < gc.tick_to_request_ns[0] < 50_000_000


def test_5xx_fails_closed_with_one_event_and_a_backoff(gate_stub: GateStub) -> None:
    events: list = []
    gate_stub.mode = "500"

    async def go() -> list:
        gc = client(gate_stub.url, events)
        await gc.start()
        out = [await gc.check(BODY), await gc.check(BODY)]  # the second is within the backoff: not tried
        await asyncio.sleep(0.25)  # the /health probe fails too (the stub's gate is broken)
        await gc.aclose()
        return [*out, len(gate_stub.checks), gc.available]

    first, second, n_tried, available = asyncio.run(go())
    assert first is None and second is None and n_tried == 1 and not available
    assert [c for c, _ in events] == ["RUNNER.GATE_UNAVAILABLE"]  # one event per outage, not per failure
    assert events[0][1]["reason"] == "HTTP 500"


def test_a_slow_gate_times_out_and_fails_closed(gate_stub: GateStub) -> None:
    events: list = []
    gate_stub.mode = "slow"
    gate_stub.slow_s = 0.8

    async def go() -> tuple:
        gc = client(gate_stub.url, events, timeout_ms=200.0)
        await gc.start()
        t0 = time.monotonic()
        r = await gc.check(BODY)
        waited = time.monotonic() - t0
        await gc.aclose()
        return r, waited

    r, waited = asyncio.run(go())
    assert r is None and 0.15 < waited < 0.6
    assert events[0][0] == "RUNNER.GATE_UNAVAILABLE" and "Timeout" in events[0][1]["reason"]


def test_gate_down_then_back_emits_unavailable_then_restored(gate_stub: GateStub) -> None:
    events: list = []

    async def go() -> list:
        gc = client(gate_stub.url, events)
        await gc.start()
        results = [await gc.check(BODY)]
        gate_stub.stop()
        results.append(await gc.check(BODY))
        await asyncio.sleep(0.3)
        gate_stub.start()  # same port
        for _ in range(40):  # the /health probe notices: the backoff ends without waiting it out
            if gc._retry_at == 0.0:
                break
            await asyncio.sleep(0.05)
        results.append(gc._healthy_probes > 0)
        results.append(await gc.check(BODY))
        await gc.aclose()
        return results

    ok, down, probed, back = asyncio.run(go())
    assert ok.allow and down is None and probed and back.allow
    assert [c for c, _ in events] == ["RUNNER.GATE_UNAVAILABLE", "RUNNER.GATE_RESTORED"]
    assert events[1][1]["via"] == "check" and events[1][1]["down_s"] > 0.2


def test_lifecycle_events_are_posted_in_order_and_survive_an_outage(gate_stub: GateStub) -> None:
    events: list = []

    async def go() -> None:
        gc = client(gate_stub.url, events)
        await gc.start()
        gc.post_lifecycle({"event_code": "ORDER.SUBMIT", "ts_ns": 1, "cid": "a"})
        await asyncio.sleep(0.1)
        gate_stub.post_mode = "500"
        for i in range(2, 6):
            gc.post_lifecycle({"event_code": "ORDER.ACK", "ts_ns": i, "cid": "a"})
        await asyncio.sleep(0.3)
        assert gc.pending_posts == 4 and not gc.available
        gate_stub.post_mode = "ok"
        for _ in range(60):
            if gc.pending_posts == 0:
                break
            await asyncio.sleep(0.05)
        await gc.aclose()

    asyncio.run(go())
    assert [p["ts_ns"] for p in gate_stub.posts] == [1, 2, 3, 4, 5]
    assert [c for c, _ in events] == ["RUNNER.GATE_UNAVAILABLE", "RUNNER.GATE_RESTORED"]


def test_events_still_queued_at_shutdown_are_spooled_not_lost(gate_stub: GateStub, tmp_path: Path) -> None:
    events: list = []
    spool = tmp_path / "posttrade_pending.jsonl"
    gate_stub.stop()

    async def go() -> GateClient:
        gc = client(gate_stub.url, events, flush_timeout_s=0.3, spool_path=spool)
        await gc.start()
        for i in range(3):
            gc.post_lifecycle({"event_code": "ORDER.SUBMIT", "ts_ns": i, "cid": f"c{i}"})
        await gc.aclose()
        return gc

    gc = asyncio.run(go())
    lines = [orjson.loads(x) for x in spool.read_bytes().splitlines()]
    assert [x["cid"] for x in lines] == ["c0", "c1", "c2"]
    assert gc.stats["spooled"] == 3
    assert events[-1][0] == "RUNNER.POSTTRADE_SPOOLED" and events[-1][1]["count"] == 3


def test_a_4xx_answer_is_no_order_and_an_event(gate_stub: GateStub) -> None:
    events: list = []

    async def go():  # noqa: ANN202
        gc = client(gate_stub.url + "/nowhere", events)
        await gc.start()
        r = await gc.check(BODY)
        await gc.aclose()
        return r, gc

    r, gc = asyncio.run(go())
    assert r is None and gc.available
    assert events[0][0] == "RUNNER.GATE_ERROR" and events[0][1]["status"] == 404


def test_the_next_start_delivers_the_spool_first_then_removes_it(gate_stub: GateStub, tmp_path: Path) -> None:
    events: list = []
    spool = tmp_path / "posttrade_pending.jsonl"
    spool.write_bytes(b"".join(orjson.dumps({"event_code": "ORDER.ACK", "ts_ns": i, "cid": f"old{i}"}) + b"\n"
                               for i in range(3)))

    async def go() -> GateClient:
        gc = client(gate_stub.url, events, spool_path=spool)
        await gc.start()
        gc.post_lifecycle({"event_code": "ORDER.SUBMIT", "ts_ns": 9, "cid": "new"})
        assert await gc.drain(2.0)
        await gc.aclose()
        return gc

    gc = asyncio.run(go())
    assert [p["cid"] for p in gate_stub.posts] == ["old0", "old1", "old2", "new"]
    assert not spool.exists() and gc.stats["unspooled"] == 3 and gc.stats["spooled"] == 0
    assert ("RUNNER.POSTTRADE_DELIVERED", {"count": 3, "path": str(spool), "url": gate_stub.url}) in events


def test_a_spool_the_gate_could_not_take_is_rewritten_whole_with_what_came_after(
    gate_stub: GateStub, tmp_path: Path
) -> None:
    spool = tmp_path / "posttrade_pending.jsonl"
    spool.write_bytes(orjson.dumps({"event_code": "ORDER.ACK", "ts_ns": 1, "cid": "old"}) + b"\n")
    gate_stub.post_mode = "500"

    async def go() -> None:
        gc = client(gate_stub.url, [], spool_path=spool, flush_timeout_s=0.3)
        await gc.start()
        gc.post_lifecycle({"event_code": "ORDER.FILL", "ts_ns": 2, "cid": "new"})
        await gc.aclose()

    asyncio.run(go())
    assert [orjson.loads(x)["cid"] for x in spool.read_bytes().splitlines()] == ["old", "new"]


def test_an_ordered_check_stops_waiting_for_posts_once_the_gate_is_down(gate_stub: GateStub) -> None:
    """On a market clock every check waits for the events before it, but never for a gate that is gone."""

    async def go() -> tuple:
        gc = client(gate_stub.url, [], ordered=True, flush_timeout_s=5.0)
        await gc.start()
        assert (await gc.check(BODY)).allow
        await asyncio.to_thread(gate_stub.stop)
        gc.post_lifecycle({"event_code": "ORDER.SUBMIT", "ts_ns": 1, "cid": "c1"})
        t0 = time.monotonic()
        decision = await gc.check(BODY)
        waited = time.monotonic() - t0
        await gc.aclose(timeout_s=0.1)
        return decision, waited

    decision, waited = asyncio.run(go())
    assert decision is None and waited < 2.0  # not the 5 s drain bound
