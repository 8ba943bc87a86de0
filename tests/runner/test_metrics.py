"""The runner's ``/metrics``: served from its loop on an announced port, Bearer-protected with the metrics
token, every figure the runner's own account of the run (its summary), refused where it would be open."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from aurora.orders.fsm import OrderState
from runner.app import Runner, RunnerError, no_decision_reason
from runner.config import RunnerConfig
from runner.metrics import METRICS
from tests.runner.gate_stub import GateStub
from tests.runner.test_runner_gate_down import FAST_TRADER

TOKEN = "metricstok-RunnerTest-Qp7Lx2Vb9"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if not s.name.endswith("_created"):
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def families(text: str) -> set[str]:
    return {f.name + ("_total" if f.type == "counter" else "") for f in text_string_to_metric_families(text)}


def run_with_scrapes(runner: Runner, seconds: float, token: str | None):  # noqa: ANN201
    """Run; once RUNNER.START is out, scrape without, with a wrong and with the right token."""
    got: dict = {}

    async def go() -> dict:
        started: asyncio.Future = asyncio.get_running_loop().create_future()
        runner.on_start = lambda d: started.done() or started.set_result(d)
        task = asyncio.create_task(runner.run(seconds))
        got["start"] = start = await asyncio.wait_for(started, 30)
        url = start["metrics"]["url"]
        async with httpx.AsyncClient(timeout=5) as c:
            got["none"] = await c.get(url)
            got["wrong"] = await c.get(url, headers={"Authorization": "Bearer not-the-token"})
            ok = {"Authorization": f"Bearer {token}"} if token else {}
            got["other"] = await c.get(url.replace("/metrics", "/health"), headers=ok)
            got["post"] = await c.post(url, headers=ok)
            while (runner.counters["allowed"] + runner.counters["no_gate"] + runner.gate.stats["state_poll_failures"] == 0
                   and not task.done()):
                await asyncio.sleep(0.05)
            got["ok"] = await c.get(url, headers=ok)
            got["again"] = await c.get(url, headers=ok)  # the same keep-alive connection
        # a scraper's idle keep-alive connection does not hold up the stop: it is closed
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", start["metrics"]["port"])
        got["summary"] = await task
        got["idle_eof"] = await asyncio.wait_for(idle_reader.read(1), 5)
        idle_writer.close()
        return got

    return asyncio.run(go())


def test_metrics_are_announced_bearer_protected_and_agree_with_the_summary(
    gate_stub: GateStub, tmp_path: Path, test_secrets: set[str]
) -> None:
    test_secrets.add(TOKEN)
    runner = Runner(RunnerConfig.model_validate(FAST_TRADER), session_dir=tmp_path, gate_url=gate_stub.url,
                    environ={"AURORA_METRICS_TOKEN": TOKEN}, metrics_port=0)  # fmt: skip
    got = run_with_scrapes(runner, 2.5, TOKEN)
    start, summary = got["start"], got["summary"]
    port = start["metrics"]["port"]
    assert start["metrics"] == {"url": f"http://127.0.0.1:{port}/metrics", "host": "127.0.0.1", "port": port,
                                "auth": "bearer"}  # fmt: skip
    assert port > 0
    # the announcement is in the runner's own event log, where one-click reads it (without the token)
    log = (tmp_path / "runner_events.jsonl").read_bytes()
    first = orjson.loads(log.splitlines()[0])
    assert first["event_code"] == "RUNNER.START" and first["details"]["metrics"] == start["metrics"]
    assert TOKEN.encode() not in log
    assert got["none"].status_code == 401 and got["wrong"].status_code == 401
    assert got["none"].headers["www-authenticate"].startswith("Bearer")
    assert got["other"].status_code == 404 and got["post"].status_code == 405
    ok = got["ok"]
    assert ok.status_code == 200 and ok.headers["content-type"] == CONTENT_TYPE_LATEST
    assert got["again"].status_code == 200 and got["idle_eof"] == b""
    assert families(ok.text) == set(METRICS)
    live = samples(ok.text)
    assert live[("aurora_runner_metrics_auth_fail_total", ())] == 2  # the two refused scrapes
    assert live[("aurora_runner_gate_checks_total", (("outcome", "allow"),))] >= 1
    # stopped: the port is closed
    with socket.socket() as s, pytest.raises(OSError):
        s.connect(("127.0.0.1", port))

    # after the run every figure is the summary's (the collector reads the same counters)
    final = samples(generate_latest(runner.metrics.registry).decode())
    g = summary["gate"]

    def v(name: str, **labels: str) -> float:
        return final[(name, tuple(sorted(labels.items())))]

    assert v("aurora_runner_gate_checks_total", outcome="allow") == g["allowed"] > 0
    assert v("aurora_runner_gate_checks_total", outcome="deny") == g["denied"]
    assert v("aurora_runner_gate_checks_total", outcome="no_answer") == g["no_gate"]
    assert v("aurora_runner_orders_sent_total") == g["orders_sent"] > 0
    for state in OrderState:
        assert v("aurora_runner_orders", state=state.value) == summary["orders"].get(state.value, 0)
    for code, n in g["lifecycle"].items():
        assert v("aurora_runner_lifecycle_events_total", code=code) == n
    pos = summary["positions"]["SOLUSDT"]
    assert v("aurora_runner_position_qty", symbol="SOLUSDT") == pos["qty"]
    assert v("aurora_runner_realized_pnl_usd", symbol="SOLUSDT") == pytest.approx(pos["realized_usd"], abs=1e-6)
    assert v("aurora_runner_closed_trades_total", symbol="SOLUSDT") == pos["closes"]
    book = summary["books"]["SOLUSDT"]
    assert [s for s in ("warming", "ok", "unsynced", "stale") if v("aurora_runner_book_state", symbol="SOLUSDT",
                                                                   state=s) == 1] == [book["state"]]  # fmt: skip
    assert v("aurora_runner_book_age_seconds", symbol="SOLUSDT") == book["age_ms"] / 1000
    assert v("aurora_runner_feed_messages_total") == summary["market"]["messages"] > 0
    assert v("aurora_runner_gate_available") == 1 and v("aurora_runner_gate_outages_total") == 0
    assert v("aurora_runner_stopping") == 1
    info = next(k for k in final if k[0] == "aurora_runner_info")
    assert dict(info[1]) == {"run_id": runner.run_id, "group": "default", "mode": "paper", "venue": "paper",
                             "feed": "synthetic", "account": "acc-1"}  # fmt: skip
    assert no_decision_reason(summary, gate_stub.url) is None


def test_a_gate_that_is_not_there_shows_as_failed_state_polls_and_fails_the_run(tmp_path: Path) -> None:
    stub = GateStub().start()
    url = stub.url
    stub.stop()  # nothing listens there now
    runner = Runner(RunnerConfig.model_validate(FAST_TRADER), session_dir=tmp_path, gate_url=url, environ={},
                    metrics_port=0)  # fmt: skip
    got = run_with_scrapes(runner, 2.0, None)
    assert got["start"]["metrics"]["auth"] == "none"
    assert got["none"].status_code == 200  # no token configured: open, on loopback only
    summary = got["summary"]
    final = samples(generate_latest(runner.metrics.registry).decode())
    g = summary["gate"]
    # the gate's trading state cannot be learned: no entry is sent to it (fail closed), and it shows
    assert g["gate_checks"] == 0 and final[("aurora_runner_gate_checks_total", (("outcome", "allow"),))] == 0
    failed = final[("aurora_runner_gate_errors_total", (("kind", "state_poll_failed"),))]
    assert failed == g["client_state_poll_failures"] == g["client_state_polls"] > 0
    assert final[("aurora_runner_gate_outages_total", ())] == 1
    assert final[("aurora_runner_gate_available", ())] == 0
    why = no_decision_reason(summary, url)
    assert why is not None and f"its trading state could not be learned at {url} ({int(failed)} of " in why
    assert "No order was placed" in why


def test_metrics_are_refused_where_they_would_be_open_or_cannot_bind(tmp_path: Path) -> None:
    cfg = RunnerConfig.model_validate({**FAST_TRADER, "metrics": {"host": "0.0.0.0", "port": 0}})
    with pytest.raises(RunnerError, match=r"metrics.host '0.0.0.0' is not a loopback address.*AURORA_METRICS_TOKEN"):
        Runner(cfg, session_dir=tmp_path, gate_url="http://127.0.0.1:9", environ={})
    # off unless asked for (config or --metrics-port)
    assert Runner(RunnerConfig.model_validate(FAST_TRADER), session_dir=tmp_path, gate_url="http://127.0.0.1:9",
                  environ={}).metrics is None  # fmt: skip
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        runner = Runner(RunnerConfig.model_validate(FAST_TRADER), session_dir=tmp_path,
                        gate_url="http://127.0.0.1:9", environ={}, metrics_port=port)  # fmt: skip
        with pytest.raises(RunnerError, match=rf"cannot serve metrics on 127.0.0.1:{port}: .*--metrics-port"):
            asyncio.run(runner.run(1.0))


def test_a_run_that_asked_the_gate_nothing_fails_too() -> None:
    summary = {"gate": {"gate_checks": 0, "allowed": 0, "denied": 0}, "strategy": {"passed": 0}}
    why = no_decision_reason(summary, "http://127.0.0.1:8000")
    assert why is not None and why.startswith(
        "the gate gave no decision during the run: the runner asked it nothing (0 candidate(s) passed the "
        "strategy, none reached a pre-trade check)."
    )
    assert no_decision_reason({"gate": {"gate_checks": 3, "allowed": 0, "denied": 1}}, "http://x") is None
