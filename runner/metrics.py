"""The runner's Prometheus ``/metrics`` (SPEC §5: runners serve their own metrics).

Every figure is read from the counters the runner keeps anyway (the executor's tally, the gate client's
stats, the order tracker, positions, book health, the market data's message counts) when a scrape asks:
nothing is added to the hot path, and a scrape costs the loop one collection (well under a millisecond
for a handful of symbols). Labels are bounded sets (outcome, reason code, order state, symbol, event
code): never an order id.

The server runs in the runner's own event loop (``asyncio.start_server`` + ``h11``), so a scrape reads a
consistent state and never races the loop. It binds ``127.0.0.1`` by default; any other address needs a
token. With ``AURORA_METRICS_TOKEN`` set (the gate's read-only metrics token, ``security.metrics_token``)
``/metrics`` wants ``Authorization: Bearer <token>``, as Prometheus' ``authorization`` scrape setting
sends it; a refusal answers 401 and counts ``aurora_runner_metrics_auth_fail_total``.

With port 0 the system picks a free port; the address is announced in ``RUNNER.START``
(``details.metrics.url``), where one-click reads it to register the runner as a Prometheus target.
"""

from __future__ import annotations

import asyncio
import hmac
import http
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import h11
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from aurora.orders.fsm import OrderState
from runner.book_health import OK, STALE, UNSYNCED, WARMING

if TYPE_CHECKING:
    from runner.app import Runner

__all__ = ["METRICS", "METRICS_PATH", "MetricsServer", "RunnerCollector", "check_metrics_address"]

METRICS_PATH = "/metrics"
TOKEN_ENV = "AURORA_METRICS_TOKEN"
BOOK_STATES = (WARMING, OK, UNSYNCED, STALE)
#: An idle keep-alive connection is closed after this long (Prometheus reconnects at its next scrape).
IDLE_TIMEOUT_S = 60.0
MAX_REQUEST_BYTES = 16 * 1024


@dataclass(frozen=True)
class MetricSpec:
    kind: str  # "counter" | "gauge"
    help: str
    labels: tuple[str, ...] = ()


#: Every family a runner exposes, by name (counters with their ``_total``): the rules, the dashboard and
#: their tests take the names from here.
METRICS: dict[str, MetricSpec] = {
    "aurora_runner_info": MetricSpec(
        "gauge", "Always 1; labels say which runner this is.", ("run_id", "group", "mode", "venue", "feed", "account")
    ),
    "aurora_runner_start_time_seconds": MetricSpec("gauge", "Unix time the run started."),
    "aurora_runner_stopping": MetricSpec("gauge", "1 once the runner is stopping (no new entries)."),
    "aurora_runner_gate_checks_total": MetricSpec(
        "counter", "Pre-trade checks asked, by outcome: allow, deny, no_answer (no order: fail closed).", ("outcome",)
    ),
    "aurora_runner_gate_denials_total": MetricSpec("counter", "Checks the gate denied, by reason code.", ("reason",)),
    "aurora_runner_gate_errors_total": MetricSpec(
        "counter",
        "Gate client failures: unavailable (check timed out, connection refused, 5xx, unreadable), "
        "skipped_backoff (check not sent during an outage's backoff), http_4xx (check or post refused: "
        "token, validation), post_failed (lifecycle post to retry), state_poll_failed (GET /trading_state "
        "got no usable answer: while it fails the runner opens no entry).",
        ("kind",),
    ),
    "aurora_runner_gate_outages_total": MetricSpec("counter", "Times the gate became unreachable."),
    "aurora_runner_gate_available": MetricSpec("gauge", "1 while the runner considers the gate reachable."),
    "aurora_runner_posttrade_pending": MetricSpec("gauge", "Lifecycle events queued for /posttrade/log."),
    "aurora_runner_posttrade_spooled_total": MetricSpec(
        "counter", "Lifecycle events written to the spool file because the gate did not take them."
    ),
    "aurora_runner_orders_sent_total": MetricSpec("counter", "Orders sent to the venue (each allowed by the gate)."),
    "aurora_runner_orders": MetricSpec("gauge", "Orders of this run by current lifecycle state.", ("state",)),
    "aurora_runner_lifecycle_events_total": MetricSpec(
        "counter", "ORDER.* lifecycle events from the venue, by code.", ("code",)
    ),
    "aurora_runner_order_anomalies_total": MetricSpec(
        "counter", "Lifecycle events the shared FSM refused for their order (duplicate ack, overfill, ...)."
    ),
    "aurora_runner_position_qty": MetricSpec(
        "gauge", "Net position in base units (> 0 long, < 0 short).", ("symbol",)
    ),
    "aurora_runner_realized_pnl_usd": MetricSpec(
        "gauge", "Realized P&L of closed trades this run, USD (after fees).", ("symbol",)
    ),
    "aurora_runner_closed_trades_total": MetricSpec("counter", "Fills that closed (part of) a position.", ("symbol",)),
    "aurora_runner_book_state": MetricSpec(
        "gauge", "1 for the book's current state (warming, ok, unsynced, stale), 0 for the others.", ("symbol", "state")
    ),
    "aurora_runner_book_age_seconds": MetricSpec(
        "gauge", "Age of the book's last applied update on the market's clock (absent without a valid book).",
        ("symbol",),
    ),
    "aurora_runner_book_untrusted_seconds_total": MetricSpec(
        "counter", "Market time the book spent unsynced or stale (no new orders).", ("symbol",)
    ),
    "aurora_runner_feed_messages_total": MetricSpec("counter", "Market-data messages received (rate(): messages/s)."),
    "aurora_runner_feed_bad_messages_total": MetricSpec(
        "counter", "Messages that could not be used: torn (not JSON) or malformed.", ("why",)
    ),
    "aurora_runner_feed_reconnects_total": MetricSpec("counter", "Feed reconnects (live feeds)."),
    "aurora_runner_feed_last_message_timestamp_seconds": MetricSpec(
        "gauge", "Unix time the last usable market message was received (0 before the first)."
    ),
    "aurora_runner_metrics_auth_fail_total": MetricSpec(
        "counter", "Scrapes of /metrics refused for a missing or wrong token."
    ),
}


def _family(name: str) -> CounterMetricFamily | GaugeMetricFamily:
    spec = METRICS[name]
    if spec.kind == "counter":
        return CounterMetricFamily(name.removesuffix("_total"), spec.help, labels=list(spec.labels))
    return GaugeMetricFamily(name, spec.help, labels=list(spec.labels))


class RunnerCollector:
    """Reads a :class:`runner.app.Runner`'s state at scrape time (a prometheus_client custom collector)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.auth_failures = 0

    def describe(self) -> list[Any]:
        return [_family(name) for name in METRICS]

    def collect(self) -> Iterator[Any]:
        r = self.runner
        fams = {name: _family(name) for name in METRICS}

        def put(name: str, value: float, *labels: str) -> None:
            fams[name].add_metric(list(labels), float(value))

        put("aurora_runner_info", 1, r.run_id, r.group or "default", r.mode, r.venue.name, r.cfg.feed.source,
            r.cfg.runner.account)  # fmt: skip
        put("aurora_runner_start_time_seconds", r.started_ns / 1e9)
        put("aurora_runner_stopping", 1 if r.executor.stopping else 0)

        c = r.counters
        put("aurora_runner_gate_checks_total", c["allowed"], "allow")
        put("aurora_runner_gate_checks_total", c["denied"], "deny")
        put("aurora_runner_gate_checks_total", c["no_gate"], "no_answer")
        for reason, n in sorted(c["denied_by_reason"].items()):
            put("aurora_runner_gate_denials_total", n, reason)
        gs = r.gate.stats
        for kind, key in (("unavailable", "unavailable"), ("skipped_backoff", "skipped_backoff"),
                          ("http_4xx", "errors_4xx"), ("post_failed", "post_failures"),
                          ("state_poll_failed", "state_poll_failures")):  # fmt: skip
            put("aurora_runner_gate_errors_total", gs.get(key, 0), kind)
        put("aurora_runner_gate_outages_total", gs.get("outages", 0))
        put("aurora_runner_gate_available", 1 if getattr(r.gate, "available", True) else 0)
        put("aurora_runner_posttrade_pending", getattr(r.gate, "pending_posts", 0))
        put("aurora_runner_posttrade_spooled_total", gs.get("spooled", 0))

        put("aurora_runner_orders_sent_total", c["orders_sent"])
        states = r.tracker.states()
        for state in OrderState:  # every state from the start: a panel shows 0, not "No data"
            put("aurora_runner_orders", states.get(state.value, 0), state.value)
        for code, n in sorted(c["lifecycle"].items()):
            put("aurora_runner_lifecycle_events_total", n, code)
        put("aurora_runner_order_anomalies_total", sum(len(a) for a in r.tracker.anomalies().values()))

        held = r.positions.positions  # read only: PositionBook.get would add an entry for a symbol never traded
        for symbol in sorted(r.tradable):
            pos = held.get(symbol)
            put("aurora_runner_position_qty", 0.0 if pos is None or pos.flat else pos.qty, symbol)
            put("aurora_runner_realized_pnl_usd", pos.realized_usd if pos else 0.0, symbol)
            put("aurora_runner_closed_trades_total", pos.closes if pos else 0, symbol)
        books = r.book_health.snapshot(r.md.last_event_ms)
        for symbol in sorted(r.tradable):
            b = books[symbol]
            for state in BOOK_STATES:
                put("aurora_runner_book_state", 1 if b["state"] == state else 0, symbol, state)
            if b["age_ms"] is not None:
                put("aurora_runner_book_age_seconds", b["age_ms"] / 1000.0, symbol)
            put("aurora_runner_book_untrusted_seconds_total", b["untrusted_ms"] / 1000.0, symbol)

        m = r.md.counters
        put("aurora_runner_feed_messages_total", m["messages"])
        put("aurora_runner_feed_bad_messages_total", m["torn"], "torn")
        put("aurora_runner_feed_bad_messages_total", m["malformed"], "malformed")
        put("aurora_runner_feed_reconnects_total", r.feed.stats.get("reconnects", 0))
        put("aurora_runner_feed_last_message_timestamp_seconds", r.clock.tick_recv_ns / 1e9)
        put("aurora_runner_metrics_auth_fail_total", self.auth_failures)
        yield from fams.values()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_metrics_address(host: str, port: int, token: str | None) -> str | None:
    """Why the runner must not serve metrics there (fail closed), or None."""
    if not 0 <= port <= 65535:
        return f"metrics port {port} is not a TCP port (0-65535; 0 picks a free one)"
    if token is None and not _is_loopback(host):
        return (f"metrics.host {host!r} is not a loopback address: serving metrics there needs "
                f"{TOKEN_ENV} (the gate's read-only metrics token), which scrapers send as Authorization: Bearer")
    return None


class MetricsServer:
    """``GET /metrics`` of one runner, served from its event loop."""

    def __init__(self, runner: Runner, *, host: str, port: int, token: str | None) -> None:
        self.host = host
        self.port = port
        self._token = token.encode() if token else None
        self.collector = RunnerCollector(runner)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        self._server: asyncio.Server | None = None
        self._conns: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    @property
    def url(self) -> str | None:
        if self._server is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{METRICS_PATH}"

    def announce(self) -> dict[str, Any] | None:
        """For ``RUNNER.START``: where the metrics are (one-click registers the target from it)."""
        if self._server is None:
            return None
        return {"url": self.url, "host": self.host, "port": self.port, "auth": "bearer" if self._token else "none"}

    async def start(self) -> None:
        """Bind (``port`` 0: a free port, read back); raises OSError when the address cannot be used."""
        self._server = await asyncio.start_server(self._connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        if self._server is None:
            return
        self._server.close()
        # Closing a connection ends its handler (the read sees EOF); cancelling it instead would make
        # asyncio's stream machinery log the cancellation as an error.
        tasks = list(self._conns)
        for writer in self._conns.values():
            writer.transport.abort()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        await self._server.wait_closed()

    def _authorized(self, headers: list[tuple[bytes, bytes]]) -> bool:
        if self._token is None:
            return True
        for name, value in headers:
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                return hmac.compare_digest(value[7:].strip(), self._token)
        return False

    def _answer(self, req: h11.Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        path = req.target.split(b"?", 1)[0]
        if path != METRICS_PATH.encode():
            return 404, [(b"content-type", b"text/plain; charset=utf-8")], b"not found: the runner serves /metrics\n"
        if req.method not in (b"GET", b"HEAD"):
            return 405, [(b"allow", b"GET, HEAD"), (b"content-type", b"text/plain; charset=utf-8")], b"GET only\n"
        if not self._authorized(req.headers):
            self.collector.auth_failures += 1
            return 401, [(b"www-authenticate", b'Bearer realm="aurora-runner"'),
                         (b"content-type", b"text/plain; charset=utf-8")], b"unauthorized\n"  # fmt: skip
        body = generate_latest(self.registry)
        return 200, [(b"content-type", CONTENT_TYPE_LATEST.encode())], b"" if req.method == b"HEAD" else body

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns[task] = writer
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_BYTES)
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await asyncio.wait_for(reader.read(65536), IDLE_TIMEOUT_S))
                    continue
                if isinstance(event, h11.Request):
                    status, headers, body = self._answer(event)
                    headers.append((b"content-length", str(len(body)).encode()))
                    writer.write(conn.send(h11.Response(status_code=status, headers=headers,
                                                        reason=http.HTTPStatus(status).phrase.encode())))
                    if body:
                        writer.write(conn.send(h11.Data(data=body)))
                    writer.write(conn.send(h11.EndOfMessage()))
                    await writer.drain()
                elif isinstance(event, h11.ConnectionClosed):
                    return
                if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                    conn.start_next_cycle()
                elif h11.MUST_CLOSE in (conn.our_state, conn.their_state):
                    return
        except h11.RemoteProtocolError as exc:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                try:
                    writer.write(conn.send(h11.Response(status_code=exc.error_status_hint,
                                                        headers=[(b"content-length", b"0")])))
                    writer.write(conn.send(h11.EndOfMessage()))
                    await writer.drain()
                except (h11.LocalProtocolError, ConnectionError):
                    pass
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if task is not None:
                self._conns.pop(task, None)
            writer.close()
