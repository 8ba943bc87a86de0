"""The runner's client of the pre-trade gate: ``/pretrade/check`` before every order, ``/posttrade/log`` after.

* One keep-alive ``httpx.AsyncClient``; bodies are serialised with orjson (the check is on the hot path).
* **Fail closed.** A timeout, connection error, 5xx or unreadable answer means *no order*: ``check``
  returns ``None``, ``RUNNER.GATE_UNAVAILABLE`` is emitted once per outage, and further checks are
  skipped (still no order) until an exponential backoff expires. A background probe of ``/health``
  notices the gate's return even when no order is pending; ``RUNNER.GATE_RESTORED`` is emitted then.
  A 4xx answer (our request refused, e.g. a bad token) is also no order, with ``RUNNER.GATE_ERROR``.
* **Lifecycle events are never lost.** They are queued and posted one at a time, in order; while the
  gate is down the head is retried with backoff. Whatever is still queued at shutdown (gate still
  down after ``flush_timeout_s``, or the stop's remaining budget) is written to
  ``posttrade_pending[-group].jsonl`` in the session dir (whole, replacing the file: it always holds
  exactly what the gate has not answered). The next start with that file delivers it first, before
  any new event, and removes it once the gate has answered every line (the gate ignores a re-post).
* **Reduce-only checks see the fills first.** The gate verifies ``reduce_only`` against the position
  it knows from posted fills, so before a reduce-only check the queued lifecycle events are drained
  (bounded by the check timeout; what is still queued then is the gate's to judge — fail closed).
* **In order, on a market clock.** With ``ordered=True`` (a replay: the runner's time is the
  recording's) every check waits until the lifecycle events before it have been answered (bounded by
  ``flush_timeout_s``), so the gate sees checks and events in the order they happened at any replay
  speed: its positions, reservations, ack expiries and kill-switch windows then do not depend on how
  fast the HTTP posts kept up.
* **Tick-to-request latency.** The transport is wrapped so the time from the triggering message's
  receipt to the moment the request is handed to the transport is recorded for every check.
* **The gate's trading state.** Every check and lifecycle answer carries ``trading_state`` and
  ``state_seq``; each is handed to ``on_state(answer, via)`` (the runner's
  :class:`runner.gate_state.GateStateWatch`). :meth:`GateClient.trading_state` asks
  ``GET /trading_state`` (a long-poll with ``since``/``wait_ms``); it counts as a request like any other
  for the gate's availability, so an idle runner notices an outage too.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson

from aurora.events.codes import EventCode

EventSink = Callable[[str, dict[str, Any]], None]

CHECK_PATH = "/pretrade/check"
POST_PATH = "/posttrade/log"
HEALTH_PATH = "/health"
STATE_PATH = "/trading_state"
#: ``on_state(answer, via)``: an answer that carries the gate's trading state, and where it came from
StateSink = Callable[[dict[str, Any], str], None]


@dataclass(frozen=True, slots=True)
class GateDecision:
    allow: bool
    reason: str
    max_qty: float | None
    risk_scale: float
    cooldown_ms: float
    observability: dict[str, Any] | None = None


class GateAPI(Protocol):
    """What the runner uses of its gate (:class:`GateClient`; :class:`runner.labels.LabellingGate` offline)."""

    base_url: str
    stats: dict[str, int]
    available: bool
    on_state: StateSink | None

    @property
    def tick_to_request_ns(self) -> deque[int]: ...

    async def start(self) -> None: ...

    async def aclose(self, timeout_s: float | None = None) -> None: ...

    async def describe(self) -> dict[str, Any] | None: ...

    async def check(self, body: dict[str, Any], *, tick_ns: int = 0) -> GateDecision | None: ...

    def post_lifecycle(self, event: dict[str, Any]) -> None: ...

    async def trading_state(self, account: str, *, since: int | None = None,
                            wait_ms: float = 0.0) -> dict[str, Any] | None: ...


class _TimedTransport(httpx.AsyncBaseTransport):
    """Records (handed-to-transport time − tick receipt time) for pre-trade checks."""

    def __init__(self, inner: httpx.AsyncBaseTransport, maxlen: int = 200_000) -> None:
        self.inner = inner
        self.tick_ns = 0
        self.samples_ns: deque[int] = deque(maxlen=maxlen)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.tick_ns:
            self.samples_ns.append(time.time_ns() - self.tick_ns)
            self.tick_ns = 0
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class GateClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_ms: float = 250.0,
        backoff_initial_ms: float = 100.0,
        backoff_max_ms: float = 5000.0,
        flush_timeout_s: float = 5.0,
        api_token: str | None = None,
        on_event: EventSink | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        spool_path: Path | None = None,
        ordered: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_ms / 1000.0
        self.backoff_initial_s = backoff_initial_ms / 1000.0
        self.backoff_max_s = backoff_max_ms / 1000.0
        self.flush_timeout_s = flush_timeout_s
        self._on_event = on_event or (lambda code, details: None)
        self._timed = _TimedTransport(transport or httpx.AsyncHTTPTransport(retries=0))
        headers = {"content-type": "application/json"}
        if api_token:
            headers["X-API-TOKEN"] = api_token
        timeout = httpx.Timeout(self.timeout_s)
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            transport=self._timed,
            headers=headers,
            timeout=timeout,
        )
        # The hot path skips AsyncClient.build_request (URL parsing and header merging cost ~40 us a
        # call): a prebuilt URL and header set go straight to the same pooled keep-alive transport.
        self._check_url = httpx.URL(self.base_url + CHECK_PATH)
        self._check_headers = httpx.Headers({**headers, "accept": "application/json"})
        self._timeout_ext = timeout.as_dict()
        self.spool_path = spool_path
        self.ordered = ordered
        self.available = True
        self._down_since = 0.0
        self._retry_at = 0.0
        self._backoff = 0.0
        self._outage_reason = ""
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._down = asyncio.Event()  # set while the gate is unavailable: a drain stops waiting then
        self._from_spool = 0  # queued events (at the head) that came from the last run's spool
        self._flusher: asyncio.Task[None] | None = None
        self._prober: asyncio.Task[None] | None = None
        self._closing = False
        self._healthy_probes = 0
        self.on_state: StateSink | None = None
        self._state_error: int | None = None  # the 4xx status /trading_state answers, reported once
        self.stats = {
            "checks": 0,
            "allowed": 0,
            "denied": 0,
            "unavailable": 0,
            "skipped_backoff": 0,
            "errors_4xx": 0,
            "outages": 0,
            "posted": 0,
            "post_failures": 0,
            "spooled": 0,
            "unspooled": 0,
            "drain_waits": 0,
            "drain_timeouts": 0,
            "state_polls": 0,
            "state_poll_failures": 0,
            "state_refused": 0,  # /trading_state answered 4xx (a wrong token, most likely)
        }

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Queue what the last run spooled (delivered first), then start posting."""
        if self._flusher is None:
            self._load_spool()
            self._flusher = asyncio.create_task(self._flush_loop(), name="gate-posttrade")

    def _load_spool(self) -> None:
        if self.spool_path is None or not self.spool_path.is_file():
            return
        events: list[dict[str, Any]] = []
        unreadable = 0
        try:
            raw = self.spool_path.read_bytes()
        except OSError as exc:
            self._on_event(EventCode.RUNNER_GATE_ERROR.value,
                           {"path": str(self.spool_path), "error": f"cannot read the spool: {exc.strerror or exc}"})
            return
        for line in raw.splitlines():
            if not line.strip():
                continue
            try:
                ev = orjson.loads(line)
            except orjson.JSONDecodeError:
                unreadable += 1
                continue
            if isinstance(ev, dict) and "event_code" in ev:
                events.append(ev)
            else:
                unreadable += 1
        if unreadable:  # never written so (the spool is replaced whole): kept aside for a person to read
            aside = self.spool_path.with_name(f"{self.spool_path.name}.unreadable-{time.time_ns()}")
            try:
                os.replace(self.spool_path, aside)
            except OSError:
                aside = self.spool_path
            self._on_event(EventCode.RUNNER_GATE_ERROR.value,
                           {"path": str(aside), "error": f"{unreadable} unreadable spool lines kept aside; "
                                                         f"{len(events)} readable ones delivered"})
        self._queue.extendleft(reversed(events))
        self._from_spool = len(events)
        if events:
            self._drained.clear()
            self._wake.set()
        elif not unreadable:
            self._spool_delivered()

    def _spool_delivered(self) -> None:
        """Every spooled event has been answered: the file has done its job."""
        n = self.stats["unspooled"]
        if self.spool_path is not None:
            try:
                self.spool_path.unlink(missing_ok=True)
            except OSError:
                return  # kept: the next start re-posts it, and the gate ignores what it has seen
        if n:
            self._on_event(EventCode.RUNNER_POSTTRADE_DELIVERED.value,
                           {"count": n, "path": str(self.spool_path), "url": self.base_url})

    async def aclose(self, timeout_s: float | None = None) -> None:
        """Flush queued lifecycle events (bounded by ``timeout_s``, default ``flush_timeout_s``), spool the
        rest, close."""
        self._closing = True
        budget = self.flush_timeout_s if timeout_s is None else max(0.0, min(timeout_s, self.flush_timeout_s))
        deadline = time.monotonic() + budget
        while self._queue and time.monotonic() < deadline:
            self._wake.set()
            await asyncio.sleep(0.02)
        for task in (self._flusher, self._prober):
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        if self._queue:
            self._spool()
        await self._client.aclose()

    def _spool(self) -> None:
        n = len(self._queue)
        if self.spool_path is not None:
            # Whole or not at all (temp file, fsync, rename): a stop cut short by SIGKILL leaves the old
            # spool, never a torn one; it holds the undelivered rest of the old spool too.
            self.spool_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.spool_path.with_name(self.spool_path.name + ".tmp")
            with open(tmp, "wb") as fh:
                fh.write(b"".join(orjson.dumps(ev) + b"\n" for ev in self._queue))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.spool_path)
        self._queue.clear()
        self.stats["spooled"] += n
        self._on_event(
            EventCode.RUNNER_POSTTRADE_SPOOLED.value,
            {"count": n, "path": str(self.spool_path) if self.spool_path else None, "url": self.base_url},
        )

    @property
    def tick_to_request_ns(self) -> deque[int]:
        return self._timed.samples_ns

    @property
    def pending_posts(self) -> int:
        return len(self._queue)

    # -- availability -----------------------------------------------------------------------------
    def _mark_down(self, reason: str) -> None:
        now = time.monotonic()
        if self.available:
            self.available = False
            self._down_since = now
            self._backoff = self.backoff_initial_s
            self._outage_reason = reason
            self.stats["outages"] += 1
            self._down.set()
            self._on_event(
                EventCode.RUNNER_GATE_UNAVAILABLE.value,
                {"reason": reason, "url": self.base_url, "backoff_ms": round(self._backoff * 1000, 1)},
            )
            if self._prober is None or self._prober.done():
                try:
                    self._prober = asyncio.get_running_loop().create_task(self._probe_loop(), name="gate-probe")
                except RuntimeError:
                    self._prober = None
        else:
            self._backoff = min(self.backoff_max_s, max(self.backoff_initial_s, self._backoff * 2))
        self._retry_at = now + self._backoff

    def _mark_up(self, via: str) -> None:
        if self.available:
            return
        self.available = True
        self._down.clear()
        down_s = time.monotonic() - self._down_since
        self._backoff = 0.0
        self._retry_at = 0.0
        self._on_event(
            EventCode.RUNNER_GATE_RESTORED.value,
            {"down_s": round(down_s, 3), "via": via, "url": self.base_url, "outage_reason": self._outage_reason},
        )
        self._wake.set()

    async def _probe_loop(self) -> None:
        """While the gate is down, poll ``/health`` on the backoff schedule.

        A healthy answer ends the backoff (the next check or queued post goes out at once) but does not
        by itself declare the gate restored: only a request that works does, so a gate whose
        ``/health`` answers while its trading endpoints fail does not flap restored/unavailable.
        """
        while not self.available and not self._closing:
            await asyncio.sleep(max(0.0, self._retry_at - time.monotonic()))
            if self.available:
                return
            try:
                resp = await self._client.get(HEALTH_PATH)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                self._mark_down(_describe(exc))
                continue
            if resp.status_code >= 500:
                self._mark_down(f"HTTP {resp.status_code}")
                continue
            self._healthy_probes += 1
            self._retry_at = 0.0
            self._wake.set()
            await asyncio.sleep(max(self._backoff, self.backoff_initial_s))

    async def describe(self) -> dict[str, Any] | None:
        """The gate's ``/health`` answer (its clock, trading state, version), or None if it does not answer."""
        try:
            resp = await self._client.get(HEALTH_PATH)
            data = orjson.loads(resp.content) if resp.status_code == 200 else None
        except (httpx.TransportError, httpx.TimeoutException, orjson.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    # -- pre-trade check --------------------------------------------------------------------------
    async def check(self, body: dict[str, Any], *, tick_ns: int = 0) -> GateDecision | None:
        """Ask the gate about one order. ``None`` means *no order* (gate unreachable or request refused)."""
        self.stats["checks"] += 1
        if not self.available and time.monotonic() < self._retry_at:
            self.stats["skipped_backoff"] += 1
            return None
        if self._queue:
            if self.ordered:
                t0 = time.time_ns()
                await self.drain(self.flush_timeout_s)
                if tick_ns:
                    # Waiting for the posts is what simulating faster than real time costs, not the
                    # runner's reaction time: left out of tick-to-request (a live reduce-only wait is not).
                    tick_ns += time.time_ns() - t0
            elif body["order"].get("reduce_only"):
                await self.drain(self.timeout_s)
        request = httpx.Request("POST", self._check_url, headers=self._check_headers, content=orjson.dumps(body),
                                extensions={"timeout": self._timeout_ext})
        self._timed.tick_ns = tick_ns
        try:
            resp = await self._timed.handle_async_request(request)
            try:
                await resp.aread()
            finally:
                await resp.aclose()
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            self._timed.tick_ns = 0
            self.stats["unavailable"] += 1
            self._mark_down(_describe(exc))
            return None
        if resp.status_code >= 500:
            self.stats["unavailable"] += 1
            self._mark_down(f"HTTP {resp.status_code}")
            return None
        if resp.status_code >= 400:
            self.stats["errors_4xx"] += 1
            self._on_event(
                EventCode.RUNNER_GATE_ERROR.value,
                {"status": resp.status_code, "path": CHECK_PATH, "body": resp.text[:500]},
            )
            self._mark_up("check")
            return None
        try:
            data = orjson.loads(resp.content)
            decision = GateDecision(
                allow=bool(data["allow"]),
                reason=str(data.get("reason", "")),
                max_qty=_finite_or_none(data.get("max_qty")),
                risk_scale=_finite_or_none(data.get("risk_scale")) or 0.0,
                cooldown_ms=_finite_or_none(data.get("cooldown_ms")) or 0.0,
                observability=data.get("observability"),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            self.stats["unavailable"] += 1
            self._mark_down("unreadable response")
            return None
        self._mark_up("check")
        self.stats["allowed" if decision.allow else "denied"] += 1
        if self.on_state is not None and "state_seq" in data:
            self.on_state(data, "check")
        return decision

    # -- post-trade lifecycle log -----------------------------------------------------------------
    def post_lifecycle(self, event: dict[str, Any]) -> None:
        """Queue one ``ORDER.*`` event for ``/posttrade/log`` (posted in order, retried until accepted)."""
        self._queue.append(event)
        self._drained.clear()
        self._wake.set()

    async def drain(self, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until every queued lifecycle event has been answered by the gate.

        Gives up at once when the gate is (or goes) down: the check that follows fails closed anyway,
        and a stop must not spend its budget waiting on a gate that is not there."""
        if not self._queue:
            return True
        if not self.available:
            return False
        self.stats["drain_waits"] += 1
        self._wake.set()
        drained = asyncio.ensure_future(self._drained.wait())
        down = asyncio.ensure_future(self._down.wait())
        try:
            await asyncio.wait((drained, down), timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            drained.cancel()
            down.cancel()
        if self._drained.is_set():
            return True
        self.stats["drain_timeouts"] += 1
        return False

    async def _flush_loop(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            if not self.available and time.monotonic() < self._retry_at:
                await asyncio.sleep(min(0.05, max(0.0, self._retry_at - time.monotonic())))
                continue
            event = self._queue[0]
            try:
                resp = await self._client.post(POST_PATH, content=orjson.dumps(event))
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                self.stats["post_failures"] += 1
                self._mark_down(_describe(exc))
                continue
            if resp.status_code >= 500:
                self.stats["post_failures"] += 1
                self._mark_down(f"HTTP {resp.status_code}")
                continue
            self._queue.popleft()
            if self._from_spool:
                self._from_spool -= 1
                self.stats["unspooled"] += 1
                if not self._from_spool:
                    self._spool_delivered()
            if not self._queue:
                self._drained.set()
            if resp.status_code >= 400:
                # Refused for good (e.g. validation): retrying cannot help; keep a trace and move on.
                self.stats["errors_4xx"] += 1
                self._on_event(
                    EventCode.RUNNER_GATE_ERROR.value,
                    {"status": resp.status_code, "path": POST_PATH, "cid": event.get("cid"),
                     "event_code": event.get("event_code"), "body": resp.text[:500]},
                )
            else:
                self.stats["posted"] += 1
                if self.on_state is not None:
                    self._state_of_post(resp.content)
            self._mark_up("posttrade")


    def _state_of_post(self, content: bytes) -> None:
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError:
            return  # the post was accepted: an answer without the state tells nothing about it
        if isinstance(data, dict) and "state_seq" in data and self.on_state is not None:
            self.on_state(data, "posttrade")

    # -- trading state ----------------------------------------------------------------------------
    async def trading_state(self, account: str, *, since: int | None = None,
                            wait_ms: float = 0.0) -> dict[str, Any] | None:
        """``GET /trading_state`` for ``account``: at once, or (``since``) held by the gate up to ``wait_ms``
        while its ``state_seq`` is still ``since``. None when it could not be learned (outage, refusal)."""
        params: dict[str, Any] = {"account": account}
        if since is not None and wait_ms > 0:
            params.update(since=since, wait_ms=int(wait_ms))
        self.stats["state_polls"] += 1
        try:
            resp = await self._client.get(STATE_PATH, params=params,
                                          timeout=httpx.Timeout(wait_ms / 1000.0 + self.timeout_s))
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            self.stats["state_poll_failures"] += 1
            if not self._closing:
                self._mark_down(_describe(exc))
            return None
        if resp.status_code >= 500:
            self.stats["state_poll_failures"] += 1
            self._mark_down(f"HTTP {resp.status_code}")
            return None
        if resp.status_code >= 400:
            self.stats["state_poll_failures"] += 1
            self.stats["state_refused"] += 1
            if self._state_error != resp.status_code:  # once per kind of refusal, not every poll
                self._state_error = resp.status_code
                self._on_event(EventCode.RUNNER_GATE_ERROR.value,
                               {"status": resp.status_code, "path": STATE_PATH, "body": resp.text[:500]})
            return None
        try:
            data = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            self.stats["state_poll_failures"] += 1
            self._mark_down("unreadable response")
            return None
        self._state_error = None
        self._mark_up("trading_state")
        return data


def _describe(exc: Exception) -> str:
    name = type(exc).__name__
    text = str(exc)
    return f"{name}: {text}" if text else name


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None
