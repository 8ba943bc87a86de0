"""The WiseScalp runner: feed → book/features → strategy → gate → venue, and lifecycle back to the gate.

:class:`Runner` builds the pieces and runs them: the feed and the venue found by name
(:mod:`runner.registry`), the market loop (:mod:`runner.loop`: messages → book, features, exit manager,
strategy), the position and exit manager (:mod:`runner.exits`), the order executor
(:mod:`runner.executor`: every order checked with the gate first, no answer means no order), the
gate client, and the kill functionality: the gate's trading state as learned from every answer and a
long-poll (:mod:`runner.gate_state`), and what it means for resting orders (:mod:`runner.kill`). It owns
the run's life: start checks, the stop within its budget, the summary.

The runner's own file, ``runner_events[-<group>].jsonl``, gets the XAI records (``MODEL``,
``ENR_GATE``, ``PARENT_GATE``) and ``RUNNER.*`` events; it never writes ``ORDER.*`` (the gate is the
system of record for those).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from aurora.calibration import CalibrationMap
from aurora.events.codes import EventCode
from aurora.events.logger import EventLogger, new_run_id
from aurora.orders.fsm import OrderState
from runner.actions import Action, Cancel, Close, Purpose
from runner.book import L2Book
from runner.book_health import OK as BOOK_OK
from runner.book_health import BookHealth
from runner.clock import RunClock
from runner.config import RunnerConfig
from runner.executor import OrderExecutor
from runner.exits import CANCELABLE, PositionManager
from runner.explore import ArmedStrategy, ExploreSettings, make_strategy
from runner.features import FeatureParams
from runner.feeds import Feed, open_feed
from runner.gate_client import GateAPI, GateClient
from runner.gate_state import GateStateWatch
from runner.kill import KillController
from runner.loop import MarketLoop
from runner.market import MarketData
from runner.markouts import Markouts
from runner.metrics import TOKEN_ENV as METRICS_TOKEN_ENV
from runner.metrics import MetricsServer, check_metrics_address
from runner.parent_gate import ParentGate
from runner.plans import RunnerError, SymbolPlan, floor_to_lot, group_of, plan_symbols, round_to_tick
from runner.registry import RegistryError, VenueRequest, open_venue
from runner.strategy import Strategy
from runner.venues.base import LifecycleSink, Venue, VenueConfigError

__all__ = ["Runner", "RunnerError", "SymbolPlan", "floor_to_lot", "group_of", "plan_symbols", "round_to_tick",
           "resolve_session_dir", "events_filename", "no_decision_reason"]

MS = 1_000_000
VenueFactory = Callable[[LifecycleSink, Mapping[str, L2Book]], Venue]


def events_filename(group: str | None) -> str:
    return f"runner_events-{group}.jsonl" if group else "runner_events.jsonl"


def resolve_session_dir(explicit: str | Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """``--session`` > ``AURORA_SESSION_DIR`` > a new ``logs/YYYYMMDD-hhmmss``."""
    env = os.environ if environ is None else environ
    if explicit:
        path = Path(explicit)
    elif env.get("AURORA_SESSION_DIR"):
        path = Path(env["AURORA_SESSION_DIR"])
    else:
        from aurora.session import create_session_dir

        return create_session_dir("logs")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _iso(ts_ns: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, math.ceil(q / 100.0 * len(s)) - 1))
    return s[k]


class Runner:
    def __init__(
        self,
        cfg: RunnerConfig,
        *,
        session_dir: Path,
        group: str | None = None,
        gate_url: str | None = None,
        mode: str | None = None,
        run_id: str | None = None,
        api_token: str | None = None,
        feed: Feed | None = None,
        venue_factory: VenueFactory | None = None,
        calibration: CalibrationMap | None = None,
        live_confirmed: bool = False,
        environ: Mapping[str, str] | None = None,
        gate_client: GateAPI | None = None,
        metrics_port: int | None = None,
        explore: ExploreSettings | None = None,
    ) -> None:
        self.cfg = cfg
        self.mode = mode or cfg.runner.mode
        self.group = group
        self.session_dir = Path(session_dir)
        self.session_dir.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id or new_run_id()
        self.environ = dict(os.environ if environ is None else environ)
        self.live_confirmed = live_confirmed
        self.plans = {p.symbol: p for p in plan_symbols(cfg, group)}
        self.tradable = {s for s, p in self.plans.items() if p.tradable}
        self.xai = EventLogger(self.session_dir, self.run_id, filename=events_filename(group))
        sc = cfg.strategy
        params = FeatureParams(
            obi_levels=sc.obi_levels,
            tfi_window_ms=sc.tfi_window_s * 1000.0,
            vol_window_ms=sc.vol_window_s * 1000.0,
            trap_levels=sc.trap_levels,
            trap_window_ms=sc.trap_window_s * 1000.0,
        )
        parents = {s: p.parent for s, p in self.plans.items() if p.parent}
        self.feed = feed or open_feed(cfg.feed, list(self.plans), parents=parents)
        self.feed.on_event = self._feed_event
        self.clock = RunClock(self.feed)
        self.md = MarketData(list(self.plans), params=params, request_snapshot=self.feed.request_snapshot,
                             on_event=self._feed_event)
        self.book_health = BookHealth(self.md.syncs, max_age_ms=cfg.feed.max_book_age_ms,
                                      grace_ms=cfg.feed.sync_grace_ms,
                                      emit=lambda code, details, symbol: self.xai.emit(code, details, symbol=symbol))
        self.calibration = calibration or CalibrationMap.load(sc.calibration_path)
        self._cid_prefix = f"{(group or 'ws')[:16]}-{self.run_id[-6:]}"
        self._cid_seq = 0
        self.strategy = Strategy(
            sc,
            predict=self.calibration.predict,
            parent_gate=ParentGate(enabled=cfg.parent_gate.enabled, z_threshold=cfg.parent_gate.z_threshold),
            parents={s: p.parent for s, p in self.plans.items()},
            tradable=self.tradable,
            new_cid=self._new_cid,
            predict_by_symbol={s: self.calibration.for_symbol(s).predict for s in self.plans
                               if self.calibration.for_symbol(s) is not self.calibration},
        )
        gate_url = gate_url or self.environ.get("AURORA_GATE_URL") or cfg.gate.url
        token = api_token if api_token is not None else self.environ.get("AURORA_API_TOKEN")
        spool = self.session_dir / (f"posttrade_pending-{group}.jsonl" if group else "posttrade_pending.jsonl")
        self.gate: GateAPI = gate_client or GateClient(
            gate_url,
            timeout_ms=cfg.gate.timeout_ms,
            backoff_initial_ms=cfg.gate.backoff_initial_ms,
            backoff_max_ms=cfg.gate.backoff_max_ms,
            flush_timeout_s=cfg.gate.flush_timeout_s,
            api_token=token or None,
            on_event=self._log,
            spool_path=spool,
            # On the market's clock (a replay) the gate must see checks and lifecycle events in the order
            # they happened, whatever the speed: every check waits for the events before it.
            ordered=not self.clock.live,
        )
        self.executor = OrderExecutor(cfg, plans=self.plans, clock=self.clock, md=self.md,
                                      book_health=self.book_health, gate=self.gate, new_cid=self._new_cid,
                                      note=lambda code, details, cid: self.xai.emit(code, details, cid=cid))
        self.tracker = self.executor.tracker
        self.positions = self.executor.positions
        self.markouts = Markouts(lambda code, details, ts_ns, symbol, cid:
                                 self.xai.emit(code, details, ts_ns=ts_ns, symbol=symbol, cid=cid))
        self.executor.sinks.append(self.markouts.on_lifecycle)
        sink = self.executor.on_lifecycle
        if venue_factory is not None:
            self.venue = venue_factory(sink, self.md.books)
        else:
            try:
                self.venue = open_venue(VenueRequest(self.mode, cfg.venue, sink, self.md.books, self.environ,
                                                     sorted(self.tradable)))
            except RegistryError as exc:
                raise VenueConfigError(str(exc)) from None
        self.executor.attach(self.venue)
        self.manager = PositionManager(sc, plans=self.plans, tracker=self.tracker, positions=self.positions,
                                       book_ok=self._book_ok,
                                       venue_expires=lambda: bool(getattr(self.venue, "native_expiry", False)),
                                       emit=self.xai.emit)
        # Live tuning (one-click --tune): a share of the decisions on the tuner's overlay (runner/explore.py)
        self.armed: ArmedStrategy | None = None
        if explore is not None:
            self.armed = ArmedStrategy(self.strategy, cfg, explore, make=make_strategy(self.strategy),
                                       emit=self.xai.emit)
            self.executor.by_symbol = self.manager.by_symbol = self.armed.sections
            self.executor.sinks.insert(0, self.armed.tag_lifecycle)  # tagged before the gate sees them
        self._explore_task: asyncio.Task[None] | None = None
        self.loop = MarketLoop(
            feed=self.feed, md=self.md, clock=self.clock, strategy=self.armed or self.strategy,  # type: ignore[arg-type]
            manager=self.manager,
            executor=self.executor, venue=self.venue, plans=self.plans, check_book=self.book_health.check,
            emit=self.xai.emit, on_market=self.markouts.on_market,
            # Testnet only (the config validator enforces it): exercise the cancel path every N ticks.
            cancel_stub_every=(cfg.venue.cancel_stub_every_ticks
                               if cfg.venue.cancel_stub and self.mode == "testnet" else 0),
        )
        self.loop.on_idle = self._check_wound_down
        self.kill = KillController(cfg.runner, tracker=self.tracker, executor=self.executor, venue=self.venue,
                                   clock=self.clock, symbols=sorted(self.tradable), emit=self.xai.emit)
        self.state_watch = GateStateWatch(self.gate, cfg.runner.account, poll_ms=cfg.runner.gate_state_poll_ms,
                                          on_change=self.kill.on_view, emit=self.xai.emit)
        self.kill.state_of = lambda: self.state_watch.state
        self.state_watch.after_poll = self.kill.react
        self.loop.entries_open = self.kill.entries_open
        self._state_task: asyncio.Task[None] | None = None
        self.counters = self.executor.counters
        self.on_start: Callable[[dict[str, Any]], None] = lambda details: None  # after RUNNER.START
        self.metrics = self._metrics_server(cfg.metrics.port if metrics_port is None else metrics_port)
        self._stop = asyncio.Event()
        self._wound_down = asyncio.Event()
        self._stop_deadline: float | None = None  # time.monotonic() by which stopping must be done
        self.started_ns = 0
        self.error: str | None = None

    # -- construction helpers ---------------------------------------------------------------------
    def _new_cid(self) -> str:
        self._cid_seq += 1
        return f"{self._cid_prefix}-{self._cid_seq:06d}"

    def _metrics_server(self, port: int | None) -> MetricsServer | None:
        """``/metrics`` (``metrics.port`` or ``--metrics-port``; none: not served), checked before the run."""
        if port is None:
            return None
        token = self.environ.get(METRICS_TOKEN_ENV) or None
        why = check_metrics_address(self.cfg.metrics.host, port, token)
        if why:
            raise RunnerError(why)
        return MetricsServer(self, host=self.cfg.metrics.host, port=port, token=token)

    async def _start_metrics(self) -> None:
        if self.metrics is None:
            return
        try:
            await self.metrics.start()
        except OSError as exc:
            raise RunnerError(f"cannot serve metrics on {self.metrics.host}:{self.metrics.port}: "
                              f"{exc.strerror or exc} (pick another metrics.port / --metrics-port, or 0 for a "
                              "free one)") from None

    def _log(self, code: str, details: dict[str, Any], **fields: Any) -> None:
        self.xai.emit(code, details, **fields)

    def _feed_event(self, code: str, details: dict[str, Any]) -> None:
        self.xai.emit(code, details, symbol=details.get("symbol"))

    def _book_ok(self, symbol: str) -> bool:
        """Synced and fresh (:mod:`runner.book_health`): new orders need it; exits do not."""
        return self.book_health.state(symbol) == BOOK_OK

    # -- public API -------------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Stop (SIGINT/SIGTERM): no new entries, then wind down; asked again, skip the wind-down wait."""
        if self._stop.is_set():
            self._wound_down.set()
        self._stop.set()

    async def run(self, duration_s: float | None = None) -> dict[str, Any]:
        duration = duration_s if duration_s is not None else self.cfg.runner.duration_s
        self.started_ns = time.time_ns()
        # Everything built so far lives for the whole run: keep it out of the cyclic GC's scans, which
        # otherwise show up as the p99 of tick-to-gate latency.
        gc.collect()
        gc.freeze()
        try:
            await self._start_metrics()
            if self.mode == "live":
                await self._ensure_live_allowed()
            if not self.clock.live:
                await self._ensure_gate_on_market_clock()
            await self.gate.start()  # what the last run spooled is posted first
            start = self._start_details()
            self._log(EventCode.RUNNER_START.value, start)
            try:
                self.on_start(start)
            except (OSError, ValueError):  # telling a person (a closed terminal) must not stop the run
                pass
            await self.state_watch.start()  # the trading state before the first tick
            self.kill.start()
            self._state_task = asyncio.create_task(self.state_watch.run(), name="gate-state")
            if self.armed is not None:
                self._explore_task = asyncio.create_task(self.armed.follow(self.session_dir, self._stop),
                                                         name="explore-proposals")
            consume = asyncio.create_task(self.loop.consume(), name="runner-consume")
            stopper = asyncio.create_task(self._stop.wait(), name="runner-stop")
            try:
                await asyncio.wait({consume, stopper}, timeout=duration or None,
                                   return_when=asyncio.FIRST_COMPLETED)
                # Everything stopping does fits runner.stop_timeout_s (one-click's grace is longer):
                # a gate that is down must not keep the runner from ending and spooling what is left.
                self._stop_deadline = time.monotonic() + self.cfg.runner.stop_timeout_s
                # Wind down while the market keeps flowing: no new entries; resting orders are cancelled
                # and positions closed through the gate with fresh prices, within runner.wind_down_s.
                self._set_stopping()
                if self.cfg.runner.flatten_on_stop and not consume.done():
                    self._check_wound_down()
                    try:
                        await asyncio.wait_for(self._wound_down.wait(),
                                               timeout=min(self.cfg.runner.wind_down_s,
                                                           max(0.0, self._stop_left() - _FINAL_WIND_DOWN_S)))
                    except TimeoutError:
                        pass
            finally:
                self._stop.set()
                self.loop.halt = True
                await self.feed.aclose()
                try:
                    await asyncio.wait_for(consume, timeout=min(2.0, max(0.1, self._stop_left())))
                except (TimeoutError, asyncio.CancelledError):
                    pass
                stopper.cancel()
                if consume.done() and not consume.cancelled() and consume.exception() is not None:
                    exc = consume.exception()
                    self.error = f"{type(exc).__name__}: {exc}"
                await self._wind_down()  # whatever is left (the feed ended, or the wind-down timed out)
        finally:
            await self._stop_watching()
            await self.venue.aclose()
            # The flush gets what is left of the budget (its reserve at least); the rest is spooled.
            await self.gate.aclose(timeout_s=self._stop_left(reserve=False))
            for pos in self.open_positions():
                self.xai.emit(EventCode.RUNNER_POSITION_OPEN_AT_END.value, pos, symbol=pos["symbol"])
            self.markouts.close()  # horizons the market data never reached: dropped and counted
            summary = self.summary()
            self._log(EventCode.RUNNER_STOP.value, summary)
            name = f"runner_summary-{self.group}.json" if self.group else "runner_summary.json"
            (self.session_dir / name).write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
            if self.metrics is not None:
                await self.metrics.aclose()
            self.xai.close()
        return summary

    async def _stop_watching(self) -> None:
        """The trading-state long-poll, the kill controller and the tuner's proposals end with the run."""
        for task in (self._state_task, self._explore_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.armed is not None:
            self.armed.close()
        await self.state_watch.aclose()
        await self.kill.aclose()

    def _set_stopping(self) -> None:
        self.loop.stopping = True
        self.executor.stopping = True

    def _stop_left(self, reserve: bool = True) -> float:
        """Seconds left of the stop budget; with ``reserve``, minus what the lifecycle flush keeps back."""
        if self._stop_deadline is None:
            self._stop_deadline = time.monotonic() + self.cfg.runner.stop_timeout_s
        left = self._stop_deadline - time.monotonic()
        if reserve:
            left -= min(self.cfg.gate.flush_timeout_s, _FLUSH_RESERVE_S)
        return max(0.0, left)

    def _start_details(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "group": self.group,
            "symbols": sorted(self.tradable),
            "watched": sorted(set(self.plans) - self.tradable),
            "feed": self.cfg.feed.source,
            "venue": self.venue.name,
            "gate_url": self.gate.base_url,
            "calibration": {"kind": self.calibration.kind, "meta": self.calibration.meta.get("source")},
            "session_dir": str(self.session_dir),
            "pid": os.getpid(),
            "metrics": self.metrics.announce() if self.metrics is not None else None,
        }

    async def _ensure_live_allowed(self) -> None:
        if not self.cfg.venue.live_armed:
            raise RunnerError("live mode refused: venue.live_armed is false in the runner config")
        if not self.live_confirmed:
            raise RunnerError("live mode refused: pass --i-understand-live to trade real money")
        import httpx

        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                resp = await client.get(self.gate.base_url + "/health")
                armed = bool(resp.json().get("armed"))
        except (httpx.HTTPError, ValueError) as exc:
            raise RunnerError(f"live mode refused: cannot read the gate's /health ({exc})") from None
        if not armed:
            raise RunnerError("live mode refused: the gate is not armed (run `auroractl ops arm`)")

    async def _ensure_gate_on_market_clock(self) -> None:
        """A replay's checks carry the recording's time: the gate must run on it (``--clock request``).

        A gate on wall time would take every check of a recording from the past as expired, and run its
        duplicate, throttle and kill-switch windows on a second clock; a gate whose request clock is
        already past the recording's start (state left by a later replay) would expire its first checks.
        """
        url = self.gate.base_url
        start = "auroractl start-api --clock request --fresh-state --state-dir DIR"
        health = await self.gate.describe()
        if health is None:
            raise RunnerError(f"the gate at {url} does not answer /health: a replay needs its gate from the "
                              f"start ({start})")
        clock = health.get("clock")
        if clock != "request":
            what = f"the {clock} clock" if clock else "a clock it does not report (an older gate)"
            raise RunnerError(f"the gate at {url} runs on {what}; a replay runs on the recording's time, so its "
                              f"gate must too: {start}")
        first = getattr(self.feed, "first_recorded_ns", 0)
        gate_ns = health.get("clock_ns")
        if first and isinstance(gate_ns, int) and gate_ns > first:
            raise RunnerError(f"the gate's request clock is at {_iso(gate_ns)}, after this recording starts "
                              f"({_iso(first)}): its state holds a later replay; restart it with --fresh-state")

    # -- stopping ---------------------------------------------------------------------------------
    def _check_wound_down(self) -> None:
        if not self.loop.actions and not self.tracker.working() and all(self.manager.flat(s) for s in self.tradable):
            self._wound_down.set()

    async def _wind_down(self, rounds: int = 10) -> None:
        """Cancel what rests, close what is open (through the gate), and let the venue answer."""
        self._set_stopping()
        self.loop.clear()
        if not self.cfg.runner.flatten_on_stop:
            return
        for _ in range(rounds):
            if self._stop_left() <= 0:
                return  # out of budget: what is open is reported, what is queued is flushed or spooled
            for o in self.tracker.working():
                if o.state in CANCELABLE and not o.cancel_sent:
                    await self._do(Cancel(o.symbol, o.cid))
            await self._settle()
            if self.tracker.working():
                continue
            open_positions = [s for s in self.tradable if not self.manager.flat(s)]
            if not open_positions:
                return
            refused = self.counters["denied"] + self.counters["no_gate"]
            for symbol in open_positions:
                self.manager.hold_until_ns.pop(symbol, None)
                await self._do(Close(symbol, Purpose.FLATTEN))
            await self._settle()
            if self.counters["denied"] + self.counters["no_gate"] > refused:
                # the same close again at once would only be refused again
                await asyncio.sleep(min(0.25, self._stop_left()))

    async def _do(self, action: Action) -> None:
        self.manager.on_outcome(action, await self.executor.execute(action), self.clock.now())

    async def _settle(self, steps: int = 8) -> None:
        """Let the venue answer what is in flight: a live-clocked venue in real time, a simulated one
        (replay, fast market: the feed has stopped) by moving its clock on; remote venues are polled."""
        for _ in range(steps):
            if self.clock.live:
                await asyncio.sleep(0.025)
            else:
                self.clock.step(25 * MS)
            now = self.clock.now()
            self.venue.advance(now)
            await self.venue.poll(now)
            if not any(o.state in (OrderState.SUBMITTED, OrderState.PENDING_CANCEL) for o in self.tracker.working()):
                return

    # -- reporting --------------------------------------------------------------------------------
    def tick_to_gate_us(self) -> dict[str, float | None]:
        samples = [v / 1000.0 for v in self.gate.tick_to_request_ns]
        return {"n": len(samples), "p50": _percentile(samples, 50), "p99": _percentile(samples, 99)}

    def open_positions(self) -> list[dict[str, Any]]:
        """Positions still open (dust included: it is open too), marked at the last known book."""
        out = []
        for symbol in sorted(self.tradable):
            pos = self.positions.get(symbol)
            if pos.flat:
                continue
            f = self.md.features[symbol]
            book = self.md.books[symbol]
            mark = f.mid if f.ready else (0.5 * (book.best_bid + book.best_ask) if book.bid_px and book.ask_px
                                          else f.last_trade_px)
            known = math.isfinite(mark)
            out.append({
                "symbol": symbol, "qty": pos.qty, "avg_price": pos.avg_price,
                "mark_price": mark if known else None,
                "mark_pnl_usd": round((mark - pos.avg_price) * pos.qty, 6) if known else None,
                "dust": self.manager.dust.get(symbol) == pos.qty,
            })
        return out

    def _books_summary(self) -> dict[str, Any]:
        now_ms = self.md.last_event_ms
        for symbol in self.tradable:
            self.book_health.check(symbol, now_ms)  # a symbol that never synced is unsynced by now
        return {s: v for s, v in self.book_health.snapshot(now_ms).items() if s in self.tradable}

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "group": self.group,
            "elapsed_s": round((time.time_ns() - self.started_ns) / 1e9, 3) if self.started_ns else 0.0,
            "market": self.md.stats(),
            "feed": {k: v for k, v in self.feed.stats.items()},
            "strategy": dict(self.strategy.counters),
            "gate": {**self.counters, **{f"client_{k}": v for k, v in self.gate.stats.items()},
                     "tick_to_request_us": self.tick_to_gate_us()},
            "orders": self.tracker.states(),
            "anomalies": self.tracker.anomalies(),
            "positions": self.positions.snapshot(),
            "books": self._books_summary(),
            "open_positions": self.open_positions(),
            "venue": self.venue.stats(),
            "markouts": dict(self.markouts.counters),
            "trading_state": {**self.kill.summary(), "changes": self.state_watch.changes},
            **({"explore": self.armed.summary()} if self.armed is not None else {}),
            **({"error": self.error} if self.error else {}),
        }


#: Of the stop budget: kept for the last wind-down after the feed has closed (in-flight orders answered),
#: and for the lifecycle flush (with the gate up it takes milliseconds; what it cannot post is spooled).
_FINAL_WIND_DOWN_S = 1.0
_FLUSH_RESERVE_S = 1.0


def no_decision_reason(summary: Mapping[str, Any], gate_url: str) -> str | None:
    """Why a run that got no decision at all from the gate failed (``run-runner`` exits 1), or None.

    A run without one answered check proves nothing about the chain strategy → gate → venue: a wrong
    token or gate URL looks exactly like a quiet market otherwise."""
    g = summary.get("gate") or {}
    if g.get("allowed", 0) + g.get("denied", 0) > 0:
        return None
    asked = int(g.get("gate_checks", 0))
    polls, failed = int(g.get("client_state_polls", 0)), int(g.get("client_state_poll_failures", 0))
    if asked == 0 and polls and failed == polls:
        refused = int(g.get("client_state_refused", 0))
        return (f"the gate gave no decision during the run: its trading state could not be learned at {gate_url} "
                f"({failed} of {polls} GET /trading_state failed, {refused} refused with HTTP 4xx"
                f"{': a wrong or missing AURORA_API_TOKEN?' if refused else ''}), so no entry was sent to it "
                "(fail closed: no new risk while the gate's state is unknown). No order was placed. "
                "Check that the gate runs at --gate-url / AURORA_GATE_URL and the trading token; "
                "RUNNER.GATE_UNAVAILABLE and RUNNER.GATE_ERROR in the runner's event log say more.")
    if asked == 0:
        passed = (summary.get("strategy") or {}).get("passed", 0)
        return (f"the gate gave no decision during the run: the runner asked it nothing ({passed} candidate(s) "
                "passed the strategy, none reached a pre-trade check). A run without one decision proves "
                "nothing about the chain to the gate: run longer, or check the feed, warm-up "
                "(strategy.warmup_s) and thresholds.")
    refused = int(g.get("client_errors_4xx", 0))
    return (f"the gate gave no decision during the run: none of the {asked} pre-trade check(s) sent to {gate_url} "
            f"was answered ({g.get('client_unavailable', 0)} unavailable: timeout, refused connection or 5xx; "
            f"{g.get('client_skipped_backoff', 0)} skipped while backing off; {refused} refused with HTTP 4xx"
            f"{': a wrong or missing AURORA_API_TOKEN?' if refused else ''}). No order was placed (fail closed). "
            "Check that the gate runs at --gate-url / AURORA_GATE_URL and the trading token; "
            "RUNNER.GATE_UNAVAILABLE and RUNNER.GATE_ERROR in the runner's event log say more.")
