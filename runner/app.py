"""The WiseScalp run loop: feed → book/features → strategy → gate → venue, and lifecycle back to the gate.

For every message: decode and update the book/features (:class:`runner.market.MarketData`), let the
simulated venue see the market (queues, fills, acks on simulated time), manage open positions
(take-profit as a reduce-only limit, stop-loss and time stop as a reduce-only market order after the
take-profit is cancelled), then ask the strategy for a new entry. Every order — entries and closes —
is checked with the gate first; no answer means no order (fail closed).

Every ``ORDER.*`` event from the venue goes through the shared FSM (:mod:`runner.orders`), updates
positions (a closing fill gets ``realized_pnl_usd/bps`` and ``entry_p_win``) and is queued to the
gate's ``/posttrade/log``. The runner's own file, ``runner_events[-<group>].jsonl``, gets the XAI
records (``MODEL``, ``ENR_GATE``, ``PARENT_GATE``) and ``RUNNER.*`` events; it never writes ``ORDER.*``.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from aurora.calibration import CalibrationMap
from aurora.events.codes import EventCode
from aurora.events.logger import EventLogger, new_run_id
from aurora.orders.fsm import OrderState
from runner.book import L2Book
from runner.book_health import OK as BOOK_OK
from runner.book_health import BookHealth
from runner.config import RunnerConfig, SymbolSpec
from runner.features import FeatureParams, SymbolFeatures
from runner.feeds import Feed, open_feed
from runner.feeds.wire import Kind
from runner.gate_client import GateClient
from runner.instruments import UnknownInstrumentError, instrument_steps
from runner.market import MarketData
from runner.orders import OrderTracker, TrackedOrder
from runner.parent_gate import ParentGate
from runner.positions import PositionBook
from runner.strategy import Candidate, Strategy
from runner.venues.base import LifecycleSink, OrderRequest, Venue

MS = 1_000_000
VenueFactory = Callable[[LifecycleSink, Mapping[str, L2Book]], Venue]


class RunnerError(Exception):
    """The runner cannot start as configured (the CLI turns this into exit 2)."""


@dataclass(frozen=True)
class SymbolPlan:
    symbol: str
    qty: float | None  # None: sized by notional_usd at the order's price
    parent: str | None
    tick: float
    lot: float
    tradable: bool
    notional_usd: float | None = None

    def entry_qty(self, price: float) -> float:
        """The order size at ``price``: ``qty``, or ``notional_usd / price`` down to the lot step."""
        if self.qty is not None:
            return self.qty
        assert self.notional_usd is not None
        return floor_to_lot(self.notional_usd / price, self.lot) if price > 0 else 0.0


def events_filename(group: str | None) -> str:
    return f"runner_events-{group}.jsonl" if group else "runner_events.jsonl"


def group_of(spec: SymbolSpec) -> str:
    return spec.group or "default"


def plan_symbols(cfg: RunnerConfig, group: str | None) -> list[SymbolPlan]:
    """The group's tradable symbols plus the parents they need (watched, not traded)."""
    chosen = [s for s in cfg.symbols if group is None or group_of(s) == group]
    if not chosen:
        groups = sorted({group_of(s) for s in cfg.symbols})
        raise RunnerError(f"no symbol belongs to group {group!r} (groups in this config: {', '.join(groups)})")
    by_name = {s.symbol: s for s in cfg.symbols}
    plans: dict[str, SymbolPlan] = {}
    for spec in chosen + [by_name[s.parent] for s in chosen if s.parent]:
        if spec.symbol in plans:
            continue
        tick, lot = spec.tick, spec.lot
        if tick is None or lot is None:
            # the instrument registry for every feed (the synthetic market trades the registry's steps too):
            # an unknown symbol is refused here, before the gate would refuse each of its orders
            try:
                known = instrument_steps(spec.symbol)
            except UnknownInstrumentError as exc:
                raise RunnerError(str(exc)) from None
            tick, lot = tick or known[0], lot or known[1]
        plans[spec.symbol] = SymbolPlan(spec.symbol, spec.qty, spec.parent, tick, lot, spec in chosen,
                                        spec.notional_usd)
    return list(plans.values())


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


def round_to_tick(price: float, tick: float, mode: str) -> float:
    ticks = price / tick
    n = math.ceil(ticks - 1e-9) if mode == "up" else math.floor(ticks + 1e-9) if mode == "down" else round(ticks)
    return round(n * tick, 12)


def floor_to_lot(qty: float, lot: float) -> float:
    return round(math.floor(qty / lot + 1e-9) * lot, 12)


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
        self._live_clock = self.feed.clock_offset_ns == 0
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
        )
        gate_url = gate_url or self.environ.get("AURORA_GATE_URL") or cfg.gate.url
        token = api_token if api_token is not None else self.environ.get("AURORA_API_TOKEN")
        spool = self.session_dir / (f"posttrade_pending-{group}.jsonl" if group else "posttrade_pending.jsonl")
        self.gate = GateClient(
            gate_url,
            timeout_ms=cfg.gate.timeout_ms,
            backoff_initial_ms=cfg.gate.backoff_initial_ms,
            backoff_max_ms=cfg.gate.backoff_max_ms,
            flush_timeout_s=cfg.gate.flush_timeout_s,
            api_token=token or None,
            on_event=self._log,
            spool_path=spool,
        )
        self.tracker = OrderTracker()
        self.positions = PositionBook(fees_bps=sc.fees_bps)
        self.venue = (venue_factory or self._default_venue)(self._on_lifecycle, self.md.books)
        self._stop = asyncio.Event()
        self._wound_down = asyncio.Event()
        self._stopping = False
        self._halt = False
        self._actions: list[tuple[str, Any]] = []
        self._pending: set[str] = set()
        self._cancel_sent: set[str] = set()
        self._retry_at_ns: dict[str, int] = {}
        self._exit_reason: dict[str, str] = {}  # symbol -> stop reason, sticky until flat
        # symbol -> position qty that cannot be closed: a reduce-only order for it is allowed but scaled
        # below one lot. Traded around (not re-tried) until the position changes.
        self._dust: dict[str, float] = {}
        self._now_ns = 0
        self._tick_recv_ns = 0
        self.started_ns = 0
        self.error: str | None = None
        self._ticks = 0
        # Testnet only (the config validator enforces it): exercise the cancel path every N ticks.
        self._cancel_stub_every = (
            cfg.venue.cancel_stub_every_ticks if cfg.venue.cancel_stub and self.mode == "testnet" else 0
        )
        self.counters: dict[str, Any] = {
            "gate_checks": 0,
            "allowed": 0,
            "denied": 0,
            "no_gate": 0,
            "zero_qty": 0,
            "orders_sent": 0,
            "denied_by_reason": {},
            "lifecycle": {},
        }

    # -- construction helpers ---------------------------------------------------------------------
    def _default_venue(self, sink: LifecycleSink, books: Mapping[str, L2Book]) -> Venue:
        if self.mode == "shadow":
            from runner.venues.shadow_venue import ShadowVenue

            return ShadowVenue(sink, books=books)
        if self.mode == "paper":
            from runner.venues.paper_venue import PaperVenue

            return PaperVenue(sink, self.cfg.venue.paper, books=books)
        from runner.venues.ccxt_venue import CcxtVenue

        return CcxtVenue(sink, self.cfg.venue, mode=self.mode, environ=self.environ,
                         symbols=sorted(self.tradable))

    def _new_cid(self) -> str:
        self._cid_seq += 1
        return f"{self._cid_prefix}-{self._cid_seq:06d}"

    def _log(self, code: str, details: dict[str, Any], **fields: Any) -> None:
        self.xai.emit(code, details, **fields)

    def _feed_event(self, code: str, details: dict[str, Any]) -> None:
        self.xai.emit(code, details, symbol=details.get("symbol"))

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
        await self.gate.start()
        try:
            if self.mode == "live":
                await self._ensure_live_allowed()
            self._log(EventCode.RUNNER_START.value, self._start_details())
            consume = asyncio.create_task(self._consume(), name="runner-consume")
            stopper = asyncio.create_task(self._stop.wait(), name="runner-stop")
            try:
                await asyncio.wait({consume, stopper}, timeout=duration or None,
                                   return_when=asyncio.FIRST_COMPLETED)
                # Wind down while the market keeps flowing: no new entries; resting orders are cancelled
                # and positions closed through the gate with fresh prices, within runner.wind_down_s.
                self._stopping = True
                if self.cfg.runner.flatten_on_stop and not consume.done():
                    self._check_wound_down()
                    try:
                        await asyncio.wait_for(self._wound_down.wait(), timeout=self.cfg.runner.wind_down_s)
                    except TimeoutError:
                        pass
            finally:
                self._stop.set()
                self._halt = True
                await self.feed.aclose()
                try:
                    await asyncio.wait_for(consume, timeout=2.0)
                except (TimeoutError, asyncio.CancelledError):
                    pass
                stopper.cancel()
                if consume.done() and not consume.cancelled() and consume.exception() is not None:
                    exc = consume.exception()
                    self.error = f"{type(exc).__name__}: {exc}"
                await self._wind_down()  # whatever is left (the feed ended, or the wind-down timed out)
        finally:
            await self.venue.aclose()
            await self.gate.aclose()
            for pos in self.open_positions():
                self.xai.emit(EventCode.RUNNER_POSITION_OPEN_AT_END.value, pos, symbol=pos["symbol"])
            summary = self.summary()
            self._log(EventCode.RUNNER_STOP.value, summary)
            name = f"runner_summary-{self.group}.json" if self.group else "runner_summary.json"
            (self.session_dir / name).write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
            self.xai.close()
        return summary

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

    # -- the loop ---------------------------------------------------------------------------------
    async def _consume(self) -> None:
        async for recv_ns, raw in self.feed:
            self._on_message(recv_ns, raw)
            if self._actions:
                await self._run_actions()
            if self._halt:
                break

    def _on_message(self, recv_ns: int, raw: bytes) -> None:
        md = self.md
        res = md.on_raw(raw)
        if res is None:
            return
        symbol, kind = res
        if self.feed.clock_offset_ns is None:
            # A recording keeps its own clock: anchored at the recorded receive time of its first message
            # (not at when it is replayed), so every replay of it sees the same times at any speed.
            anchor = getattr(self.feed, "recorded_ns", 0) or recv_ns
            self.feed.clock_offset_ns = anchor - md.last_event_ms * MS
        now_ns = md.last_event_ms * MS + self.feed.clock_offset_ns
        if now_ns > self._now_ns:
            self._now_ns = now_ns
        self._tick_recv_ns = recv_ns
        feats = md.features[symbol]
        if symbol in self.tradable:
            self.book_health.check(symbol, md.last_event_ms)
        if kind is Kind.BOOK_TICKER:
            self.venue.on_ticker(symbol, feats.bid, feats.bid_qty, feats.ask, feats.ask_qty, self._now_ns)
        elif kind is Kind.TRADE:
            _, price, qty, maker, _ = md.last_trade  # type: ignore[misc]
            self.venue.on_trade(symbol, price, qty, maker, self._now_ns)
        else:
            self.venue.advance(self._now_ns)
            return
        if self._stopping:
            if symbol in self.tradable and symbol not in self._pending:
                self._manage_stop(symbol)
            self._check_wound_down()
            return
        if symbol in self.tradable and symbol not in self._pending:
            self._manage(symbol, feats)
        if self._cancel_stub_every:
            self._ticks += 1
            if self._ticks % self._cancel_stub_every == 0:
                self._cancel_stub()
        cand = self.strategy.on_tick(symbol, feats, md.last_event_ms, can_open=self._can_open(symbol))
        if cand is not None:
            self._explain(cand)
            if cand.passed:
                self._queue(symbol, "entry", cand)

    def _manage_stop(self, symbol: str) -> None:
        """Stopping: cancel what rests, then close the position at market (through the gate)."""
        working = self.tracker.working(symbol)
        for o in working:
            if o.state in _CANCELABLE and o.cid not in self._cancel_sent:
                self._queue(symbol, "cancel", o.cid)
                return
        if not working and not self._flat(symbol) and self._now_ns >= self._retry_at_ns.get(symbol, 0):
            self._queue(symbol, "close", (symbol, "flatten"))

    def _check_wound_down(self) -> None:
        if not self._actions and not self.tracker.working() and all(self._flat(s) for s in self.tradable):
            self._wound_down.set()

    def _explain(self, cand: Candidate) -> None:
        """Write the candidate's XAI records, stamped now.

        For a candidate that goes on to the gate the write is deferred to the loop's next turn, which
        comes once the pre-trade request has been written to the socket: the records (~20 us each) are
        kept off the tick-to-gate path without changing their timestamps or their order in the file.
        """
        ts = time.time_ns()
        if cand.passed:
            asyncio.get_running_loop().call_soon(self._write_xai, cand, ts)
        else:
            self._write_xai(cand, ts)

    def _write_xai(self, cand: Candidate, ts_ns: int) -> None:
        f = cand.features
        qty = self.plans[cand.symbol].entry_qty(f["ask"] if cand.side == "buy" else f["bid"])
        for code, details in cand.events:
            self.xai.emit(code, details, ts_ns=ts_ns, symbol=cand.symbol, cid=cand.cid, side=cand.side, qty=qty)

    def _cancel_stub(self) -> None:
        """``AURORA_CANCEL_STUB``: cancel the oldest resting entry (CANCEL.REQUEST → CANCEL.ACK on testnet)."""
        for o in self.tracker.working():
            if (not o.reduce_only and o.state in _CANCELABLE and o.cid not in self._cancel_sent
                    and o.symbol not in self._pending):
                self._queue(o.symbol, "cancel", o.cid)
                return

    def _queue(self, symbol: str, kind: str, payload: Any) -> None:
        self._pending.add(symbol)
        self._actions.append((kind, payload))

    def _flat(self, symbol: str) -> bool:
        pos = self.positions.get(symbol)
        return pos.flat or self._dust.get(symbol) == pos.qty

    def _book_ok(self, symbol: str) -> bool:
        """Synced and fresh (:mod:`runner.book_health`): new orders need it; exits do not."""
        return self.book_health.state(symbol) == BOOK_OK

    def _can_open(self, symbol: str) -> bool:
        if symbol not in self.tradable or symbol in self._pending or self._stopping:
            return False
        if not self._book_ok(symbol):
            return False
        if self._now_ns < self._retry_at_ns.get(symbol, 0):
            return False
        if not self._flat(symbol):
            return False
        working = self.tracker.working()
        if len(working) >= self.cfg.strategy.max_open_orders:
            return False
        return not any(o.symbol == symbol for o in working)

    def _manage(self, symbol: str, feats: SymbolFeatures) -> None:
        """Take-profit, stop-loss and time stop for an open position; tidy stray orders when flat."""
        pos = self.positions.get(symbol)
        working = self.tracker.working(symbol)
        sc = self.cfg.strategy
        now = self._now_ns
        venue_expires = getattr(self.venue, "native_expiry", False)
        book_ok = self._book_ok(symbol)
        for o in working:
            # A resting entry is cancelled when it outlives its TTL, or when the book it was priced on
            # can no longer be trusted.
            if (not o.reduce_only and o.state in _CANCELABLE and o.cid not in self._cancel_sent
                    and (not book_ok or (not venue_expires and now - o.created_ns > sc.order_ttl_s * 1e9))):
                self._queue(symbol, "cancel", o.cid)
                return
        if self._dust.get(symbol, pos.qty) != pos.qty:
            del self._dust[symbol]  # the position changed: it may be closable again
        if self._flat(symbol):
            self._exit_reason.pop(symbol, None)
            for o in working:
                if o.reduce_only and o.state in _CANCELABLE and o.cid not in self._cancel_sent:
                    self._queue(symbol, "cancel", o.cid)
                    return
            return
        if not feats.ready:
            return
        entries = [o for o in working if not o.reduce_only]
        closing = [o for o in working if o.reduce_only]
        mid = feats.mid
        adverse_bps = (pos.avg_price - mid) / pos.avg_price * 1e4 * (1 if pos.qty > 0 else -1)
        reason = self._exit_reason.get(symbol)
        if reason is None:
            if adverse_bps >= sc.sl_bps:
                reason = "stop_loss"
            elif now - pos.opened_ns > sc.max_hold_s * 1e9:
                reason = "time_stop"
            if reason is not None:
                # Sticky: a price bouncing back over the stop level must not re-arm the take-profit.
                self._exit_reason[symbol] = reason
        if reason is not None:
            takers = [o for o in closing if o.purpose == "take_profit"]
            for o in takers:
                if o.state in _CANCELABLE and o.cid not in self._cancel_sent:
                    self._queue(symbol, "cancel", o.cid)
                    return
            if takers or entries or closing or now < self._retry_at_ns.get(symbol, 0):
                return  # wait for the take-profit cancel / the entry to finish
            self._queue(symbol, "close", (symbol, reason))
            return
        if not entries and not closing and book_ok and now >= self._retry_at_ns.get(symbol, 0):
            # No new resting take-profit on an untrusted book: the stop-loss and time stop still exit.
            self._queue(symbol, "take_profit", symbol)

    async def _run_actions(self) -> None:
        actions, self._actions = self._actions, []
        for kind, payload in actions:
            try:
                if kind == "entry":
                    await self._enter(payload)
                elif kind == "take_profit":
                    await self._take_profit(payload)
                elif kind == "close":
                    await self._close(*payload)
                elif kind == "cancel":
                    await self._cancel(payload)
            finally:
                symbol = payload.symbol if kind == "entry" else payload[0] if kind == "close" else (
                    payload if kind == "take_profit" else self.tracker.orders[payload].symbol)
                self._pending.discard(symbol)

    # -- order actions ----------------------------------------------------------------------------
    async def _enter(self, cand: Candidate) -> None:
        symbol = cand.symbol
        self._pending.discard(symbol)
        if not self._can_open(symbol):
            return
        feats = self.md.features[symbol]
        sc = self.cfg.strategy
        buy = cand.side == "buy"
        if sc.order_type == "market":
            price = None
        elif sc.entry == "cross":
            price = feats.ask if buy else feats.bid
        else:
            price = feats.bid if buy else feats.ask
        qty = self.plans[symbol].entry_qty(price if price is not None else (feats.ask if buy else feats.bid))
        if qty <= 0:  # a notional below one lot at this price: nothing to send
            self.counters["zero_qty"] += 1
            return
        order = TrackedOrder(cand.cid, symbol, cand.side, qty, price, sc.order_type, False,
                             "entry", p_win=cand.p_win, score=cand.score)
        await self._place(order, feats, cand.score, ttl_ms=sc.order_ttl_s * 1000.0, computed=cand.features)

    async def _take_profit(self, symbol: str) -> None:
        pos = self.positions.get(symbol)
        if pos.flat or not self._book_ok(symbol):
            return
        plan = self.plans[symbol]
        long = pos.qty > 0
        target = pos.avg_price * (1 + self.cfg.strategy.tp_bps / 1e4 * (1 if long else -1))
        price = round_to_tick(target, plan.tick, "up" if long else "down")
        qty = floor_to_lot(abs(pos.qty), plan.lot) or abs(pos.qty)
        order = TrackedOrder(self._new_cid(), symbol, "sell" if long else "buy", qty, price, "limit", True,
                             "take_profit", p_win=pos.entry_p_win, score=pos.entry_score)
        await self._place(order, self.md.features[symbol], pos.entry_score)

    async def _close(self, symbol: str, reason: str) -> None:
        pos = self.positions.get(symbol)
        if pos.flat or self.tracker.working(symbol):
            return
        qty = floor_to_lot(abs(pos.qty), self.plans[symbol].lot) or abs(pos.qty)
        order = TrackedOrder(self._new_cid(), symbol, "sell" if pos.qty > 0 else "buy", qty, None, "market",
                             True, reason, p_win=pos.entry_p_win, score=pos.entry_score)
        await self._place(order, self.md.features[symbol], pos.entry_score)

    async def _cancel(self, cid: str) -> None:
        order = self.tracker.orders.get(cid)
        if order is None or order.terminal or cid in self._cancel_sent:
            return
        self._cancel_sent.add(cid)
        now = self._sim_now()
        await self.venue.cancel(cid, now)
        self.venue.advance(now)

    def _sim_now(self) -> int:
        """The runner's clock now: the wall clock for a live-timed feed, else the market's own time (a
        replay or a fast synthetic market): no wall time leaks in, so decisions do not depend on speed."""
        if self._live_clock:
            return max(self._now_ns, time.time_ns())
        return self._now_ns

    def _gate_body(self, order: TrackedOrder, feats: SymbolFeatures, score: float | None,
                   computed: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``/pretrade/check`` body; ``computed`` reuses the features the strategy just computed."""
        sc = self.cfg.strategy
        offset = self.feed.clock_offset_ns or 0
        if self._live_clock:
            latency_ms = max(0.0, (self._tick_recv_ns - (feats.last_ms * MS + offset)) / 1e6)
            latency_ms += max(0, time.time_ns() - self._tick_recv_ns) / 1e6
        else:  # the age of this symbol's data on the market's clock
            latency_ms = max(0.0, (self._now_ns - (feats.last_ms * MS + offset)) / 1e6)
        f = computed if computed is not None else feats.as_dict(self.md.last_event_ms)
        o: dict[str, Any] = {
            "cid": order.cid,
            "symbol": order.symbol,
            "side": order.side,
            "qty": order.qty,
            "order_type": order.order_type,
            "reduce_only": order.reduce_only,
        }
        if order.price is not None:
            o["price"] = order.price
        return {
            "account": {"id": self.cfg.runner.account},
            "order": o,
            "market": {
                "best_bid": f["bid"],
                "best_ask": f["ask"],
                "bid_size": f["bid_qty"],
                "ask_size": f["ask_qty"],
                "spread_bps": f["spread_bps"],
                "latency_ms": latency_ms,
                "vol_std_bps": f["vol_std_bps"],
                "score": score if score is not None and math.isfinite(score) else 0.0,
                "tp_bps": sc.tp_bps,
                "sl_bps": sc.sl_bps,
                "l2_add_volumes": f["l2_add_volumes"],
                "l2_cancel_volumes": f["l2_cancel_volumes"],
                "ts_ns": self._now_ns,
                **self._market_extras(order.symbol),
            },
        }

    def _market_extras(self, symbol: str) -> dict[str, Any]:
        """The optional ``market`` fields the configured gate accepts (``gate.send_*``)."""
        g = self.cfg.gate
        extras: dict[str, Any] = {}
        if g.send_deadline:
            extras["deadline_ms"] = g.timeout_ms
        if g.send_book_age:
            age = self.book_health.age_ms(symbol, self.md.last_event_ms)
            extras["book_age_ms"] = age if age is not None else 1e9  # no valid book: older than any limit
        return extras

    async def _place(self, order: TrackedOrder, feats: SymbolFeatures, score: float | None,
                     ttl_ms: float | None = None, computed: dict[str, Any] | None = None) -> None:
        symbol = order.symbol
        if not feats.ready:
            return
        body = self._gate_body(order, feats, score, computed)
        self.counters["gate_checks"] += 1
        # Tick-to-request latency is measured only for decisions a market message triggered.
        decision = await self.gate.check(body, tick_ns=0 if self._stopping else self._tick_recv_ns)
        if decision is None:
            self.counters["no_gate"] += 1
            self._retry_at_ns[symbol] = self._sim_now() + int(self.cfg.strategy.cooldown_ms * MS)
            return
        if not decision.allow:
            self.counters["denied"] += 1
            by = self.counters["denied_by_reason"]
            by[decision.reason] = by.get(decision.reason, 0) + 1
            # Back off for two cooldowns: retrying the same order at once would only repeat the deny
            # (or trip the gate's duplicate-order window).
            wait_ms = max(decision.cooldown_ms, 2 * self.cfg.strategy.cooldown_ms)
            self._retry_at_ns[symbol] = self._sim_now() + int(wait_ms * MS)
            return
        self.counters["allowed"] += 1
        qty = order.qty
        if decision.max_qty is not None:
            qty = min(qty, decision.max_qty)
        qty = floor_to_lot(qty, self.plans[symbol].lot)
        if qty <= 0:
            # Allowed, but scaled below one lot: nothing can be sent, and retrying soon would get the same.
            self.counters["zero_qty"] += 1
            pos = self.positions.get(symbol)
            if not order.reduce_only:
                self._retry_at_ns[symbol] = self._sim_now() + int(2 * self.cfg.strategy.cooldown_ms * MS)
            if order.reduce_only and not pos.flat and self._dust.get(symbol) != pos.qty:
                self._dust[symbol] = pos.qty
                self.xai.emit(EventCode.RUNNER_POSITION_DUST.value,
                              {"position_qty": pos.qty, "requested_qty": order.qty, "allowed_max_qty": decision.max_qty,
                               "lot": self.plans[symbol].lot, "risk_scale": decision.risk_scale,
                               "reason": "the gate scales this closing order below one lot"},
                              symbol=symbol, cid=order.cid)
            return
        order.qty = qty
        now = self._sim_now()
        order.created_ns = now
        self.tracker.add(order)
        req = OrderRequest(order.cid, symbol, order.side, qty, order.price, order.order_type, order.reduce_only,
                           ttl_ms)
        self.counters["orders_sent"] += 1
        await self.venue.submit(req, now)
        self.venue.advance(now)

    # -- lifecycle from the venue -----------------------------------------------------------------
    def _on_lifecycle(self, event: dict[str, Any]) -> None:
        code = event["event_code"]
        if event.get("runner_only"):  # a venue problem worth recording, not an order event
            self.xai.emit(code, event.get("details") or {}, cid=event.get("cid"))
            return
        order = self.tracker.on_event(event)
        lc = self.counters["lifecycle"]
        lc[code] = lc.get(code, 0) + 1
        if order is not None and code in (EventCode.ORDER_PARTIAL, EventCode.ORDER_FILL):
            details = event["details"]
            fill_qty = float(details.get("fill_qty") or 0.0)
            fill_price = float(details.get("fill_price") or order.price or 0.0)
            pos = self.positions.get(order.symbol)
            if order.reduce_only:
                # A reduce-only fill can only shrink the position (an overfill cannot flip it).
                closes = not pos.flat and (pos.qty > 0) == (order.side == "sell")
                fill_qty = min(fill_qty, abs(pos.qty)) if closes else 0.0
            if fill_qty > 0 and fill_price > 0:
                pnl = self.positions.on_fill(order.symbol, order.side, fill_qty, fill_price, event["ts_ns"],
                                             p_win=order.p_win, score=order.score)
                if pnl is not None:
                    details["realized_pnl_usd"] = pnl["realized_pnl_usd"]
                    details["realized_pnl_bps"] = pnl["realized_pnl_bps"]
                    details["entry_p_win"] = pnl["entry_p_win"]
                    if pnl["entry_score"] is not None:
                        details["entry_score"] = pnl["entry_score"]
        self.gate.post_lifecycle(event)

    # -- stopping ---------------------------------------------------------------------------------
    async def _wind_down(self, rounds: int = 10) -> None:
        """Cancel what rests, close what is open (through the gate), and let the venue answer."""
        self._stopping = True
        self._actions.clear()
        self._pending.clear()
        if not self.cfg.runner.flatten_on_stop:
            return
        for _ in range(rounds):
            for o in self.tracker.working():
                if o.state in _CANCELABLE and o.cid not in self._cancel_sent:
                    await self._cancel(o.cid)
            await self._settle()
            if self.tracker.working():
                continue
            open_positions = [s for s in self.tradable if not self._flat(s)]
            if not open_positions:
                return
            refused = self.counters["denied"] + self.counters["no_gate"]
            for symbol in open_positions:
                self._retry_at_ns.pop(symbol, None)
                await self._close(symbol, "flatten")
            await self._settle()
            if self.counters["denied"] + self.counters["no_gate"] > refused:
                await asyncio.sleep(0.25)  # the same close again at once would only be refused again

    async def _settle(self, steps: int = 8) -> None:
        """Let the venue answer what is in flight: a live-clocked venue in real time, a simulated one
        (replay, fast market: the feed has stopped) by moving its clock on; remote venues are polled."""
        for _ in range(steps):
            if self._live_clock:
                await asyncio.sleep(0.025)
            else:
                self._now_ns += 25 * MS
            now = self._sim_now()
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
                "dust": self._dust.get(symbol) == pos.qty,
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
            **({"error": self.error} if self.error else {}),
        }


_CANCELABLE = (OrderState.ACKED, OrderState.PARTIALLY_FILLED)
