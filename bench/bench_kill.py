"""Kill latency: from a trading-state change at the gate to the runner's cancels of its resting orders.

The real gate (``auroractl start-api``, a child process on the other core) and the real runner in this
process, on the paper venue, with ``N_ORDERS`` orders resting (entries and take-profits alike; placed
straight on the venue, as the strategy would have left them) and no market data (an idle runner: what
it learns comes from its long-poll of ``GET /trading_state``). Each trial halts the gate
(``POST /ops/halt``: HALTED, so entries and exits are cancelled one by one) or kills it (``/ops/kill``:
cancel-all, one venue request), waits for the kill to settle, resumes, and places the orders again.

Figures per trial (the runner's ``RUNNER.KILL_*`` records, :mod:`runner.kill`):

* ``change→last request`` — from the gate's own stamp of the change (``changed_ns``; same host, same
  clock) to the runner's last cancel request: the long-poll's delivery plus the sweep;
* ``change→all acks`` — to the last order done (its CANCEL.ACK);
* ``learned→last request`` — from the moment the runner learned the change: the sweep alone.

The reference, measured side by side in the same run: the same ``N_ORDERS`` orders cancelled one by one
by a plain loop over the executor (what the runner's own TTL/stop path does), timed from its first to
its last cancel request and to the last ack, with no state change to learn. ``ratio`` is kill over
reference (p50): what learning the state and choosing the orders cost on top of the cancels themselves.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from aurora.stats import percentile
from bench.bench_runner_tick_to_gate import BENCH_API_TOKEN, _start_gate
from runner.actions import Cancel, Purpose
from runner.app import Runner
from runner.config import RunnerConfig
from runner.feeds.base import Feed
from runner.orders import TrackedOrder
from runner.venues.base import OrderRequest

N_ORDERS = 200
TRIALS = 20
OPS_TOKEN = "opstok-bench-kill-Qw3Er5Ty7Ui9Op1As2Df4Gh6J"
SYMBOL = "SOLUSDT"


class IdleFeed(Feed):
    """A live feed that says nothing until it is closed (the runner is idle)."""

    name = "idle"

    def __init__(self, symbols: list[str]) -> None:
        super().__init__(symbols)
        self._closed = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[tuple[int, bytes]]:
        await self._closed.wait()
        return
        yield  # an async generator that yields nothing

    async def aclose(self) -> None:
        self._closed.set()


def _config() -> RunnerConfig:
    return RunnerConfig.model_validate({
        "symbols": [{"symbol": SYMBOL, "qty": 1.0}],
        "runner": {"flatten_on_stop": False, "stop_timeout_s": 3.0},
        "strategy": {"order_ttl_s": 3600.0},
        "gate": {"flush_timeout_s": 2.0},
    })  # fmt: skip


async def _place(runner: Runner, trial: int) -> list[str]:
    """``N_ORDERS`` resting orders, a quarter of them exits, far from any price that could fill them."""
    cids = []
    now = runner.clock.now()
    for i in range(N_ORDERS):
        exit_ = i % 4 == 0
        cid = f"b{trial:03d}-{i:04d}"
        side = "sell" if exit_ else "buy"
        price = round(100.0 + 0.01 * (i % 50), 2)
        order = TrackedOrder(cid, SYMBOL, side, 1.0, price, "limit", exit_,
                             Purpose.TAKE_PROFIT if exit_ else Purpose.ENTRY)  # fmt: skip
        order.created_ns = now
        runner.tracker.add(order)
        await runner.venue.submit(OrderRequest(cid, SYMBOL, side, 1.0, price, "limit", exit_, None), now)
        cids.append(cid)
    # let the (simulated) exchange acknowledge them: it answers in wall time, with nothing else moving it
    deadline = time.monotonic() + 5
    while any(not runner.tracker.orders[c].state.value == "ACKED" for c in cids) and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
        runner.venue.advance(runner.clock.now())
    await runner.gate.drain(10.0)  # the gate has heard of them all: its posts do not overlap the kill
    return cids


async def _ops(client: httpx.AsyncClient, path: str, body: dict[str, Any] | None = None) -> None:
    r = await client.post(path, json=body, headers={"X-OPS-TOKEN": OPS_TOKEN})
    r.raise_for_status()


async def _settled(runner: Runner, n_before: int, timeout_s: float = 10.0) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        recs = list(runner.kill.records)
        if len(recs) > n_before and recs[-1].settled is not None:
            return recs[-1].to_dict()
        await asyncio.sleep(0.005)
    return None


async def _plain(runner: Runner, cids: list[str]) -> tuple[float, float]:
    """Reference: the same cancels through the executor one by one (ms to the last request, to all acks)."""
    t0 = time.time_ns()
    for cid in cids:
        await runner.executor.execute(Cancel(SYMBOL, cid))
    t_req = time.time_ns()
    while not all(runner.tracker.orders[c].terminal for c in cids):
        runner.venue.advance(runner.clock.now())
        await asyncio.sleep(0.002)  # the kill's own settle step
    return (t_req - t0) / 1e6, (time.time_ns() - t0) / 1e6


async def _measure(url: str, session: Path) -> dict[str, Any]:
    runner = Runner(_config(), session_dir=session, gate_url=url, feed=IdleFeed([SYMBOL]), environ={},
                    api_token=BENCH_API_TOKEN)
    task = asyncio.create_task(runner.run(None))
    rows: dict[str, list[float]] = {k: [] for k in ("halt_req", "halt_ack", "halt_learned", "kill_req", "kill_ack",
                                                     "kill_learned", "plain_req", "plain_ack")}  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as ops:
            while runner.kill.state_of() is None:
                await asyncio.sleep(0.01)
            for trial in range(TRIALS):
                # reference first: the same orders, cancelled by a plain loop
                cids = await _place(runner, 2 * trial)
                req, ack = await _plain(runner, cids)
                rows["plain_req"].append(req)
                rows["plain_ack"].append(ack)
                await _place(runner, 2 * trial + 1)
                kind = "kill" if trial % 2 else "halt"
                n = len(runner.kill.records)
                await _ops(ops, "/ops/kill" if kind == "kill" else "/ops/halt", {"reason": "bench"})
                rec = await _settled(runner, n)
                if rec is None or not rec["settled"] or rec["requests"] != N_ORDERS:
                    raise RuntimeError(f"trial {trial}: the kill did not settle: {rec}")
                rows[f"{kind}_req"].append(rec["request_since_gate_ms"])
                rows[f"{kind}_ack"].append(rec["ack_since_gate_ms"])
                rows[f"{kind}_learned"].append(rec["request_latency_ms"])
                await _ops(ops, "/ops/resume")
                if kind == "kill":
                    await _ops(ops, "/aurora/arm")
                while runner.kill.state_of() is None or runner.kill.state_of().value != "ACTIVE":
                    await asyncio.sleep(0.005)
    finally:
        runner.request_stop()
        await task
    return rows


def _p(values: list[float], q: float) -> float | None:
    v = percentile(values, q)
    return None if v is None else round(v, 2)


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="aurora-bench-kill-") as tmp:
        session = Path(tmp)
        proc, url = _start_gate(session / "gate", {"OPS_TOKEN": OPS_TOKEN})
        try:
            rows = asyncio.run(_measure(url, session / "runner"))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    ref_req, ref_ack = _p(rows["plain_req"], 50), _p(rows["plain_ack"], 50)
    table = []
    for kind, what in (("halt", "ops halt: one cancel per order"), ("kill", "ops kill: venue cancel-all")):
        req50, ack50 = _p(rows[f"{kind}_req"], 50), _p(rows[f"{kind}_ack"], 50)
        table.append({
            "scenario": what, "orders": N_ORDERS, "trials": len(rows[f"{kind}_req"]),
            "change_to_last_request_p50_ms": req50, "change_to_last_request_p99_ms": _p(rows[f"{kind}_req"], 99),
            "change_to_all_acks_p50_ms": ack50, "change_to_all_acks_p99_ms": _p(rows[f"{kind}_ack"], 99),
            "learned_to_last_request_p50_ms": _p(rows[f"{kind}_learned"], 50),
            "ratio_requests_vs_plain": round(req50 / ref_req, 2) if req50 and ref_req else None,
            "ratio_acks_vs_plain": round(ack50 / ref_ack, 2) if ack50 and ref_ack else None,
        })  # fmt: skip
    table.append({
        "scenario": "reference: plain cancel loop", "orders": N_ORDERS, "trials": len(rows["plain_req"]),
        "first_to_last_request_p50_ms": ref_req, "first_to_last_request_p99_ms": _p(rows["plain_req"], 99),
        "first_to_all_acks_p50_ms": ref_ack, "first_to_all_acks_p99_ms": _p(rows["plain_ack"], 99),
    })  # fmt: skip
    return {
        "orders": N_ORDERS,
        "kill_p50_ms": table[0]["change_to_all_acks_p50_ms"],
        "kill_p99_ms": table[0]["change_to_all_acks_p99_ms"],
        "table": table,
        "samples_ms": {k: [round(x, 3) for x in v] for k, v in rows.items()},
        "cpu": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "note": orjson.dumps({"gate": "auroractl start-api --mode testnet --clock request"}).decode(),
    }
