"""A seeded synthetic Binance USD-M market: exact combined-stream wire messages, realistic microstructure.

Per symbol, every ``step_ms`` (10 ms) of simulated time:

* a latent *pressure* (AR(1), half-life ~3 s; a child symbol's pressure is correlated with its
  parent's) tilts new liquidity (order-book imbalance), the side of aggressive trades (trade-flow
  imbalance) and the drift of the fair price — so the book carries a real, noisy signal;
* the fair price is a random walk whose volatility switches between calm/normal/volatile regimes;
  the spread (in ticks) follows its own slow dynamics and widens in the volatile regime;
* the touch follows the fair price: levels it moves through are either traded through (aggressive
  trades at those prices) or pulled, new levels appear on the other side;
* Poisson aggressive trades hit the touch (the level shrinks, and disappears when consumed);
* random adds and cancels near the touch, plus occasional spoofing *bursts* (large size added a few
  levels deep, then pulled together with real liquidity) so the gate's TRAP guard has something to see.

Messages: ``aggTrade`` per (price, side) per step, ``bookTicker`` whenever the top changes,
``depth@100ms`` diffs with a consistent ``U``/``u``/``pu`` chain and ``depth5@100ms`` partials every
100 ms, ``markPrice@1s`` every second; a REST-like depth snapshot in-band on request.

Faults (every N-th diff message): ``gap`` (the diff is lost), ``duplicate`` (sent twice),
``out_of_order`` (swapped with the next diff), ``torn`` (its bytes cut short: invalid JSON).

Same seed, symbols and start time → the same byte stream: all randomness comes from per-symbol
``random.Random`` instances seeded with ``"<seed>:<SYMBOL>"``.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from runner.feeds import wire
from runner.feeds.base import Feed
from runner.instruments import instrument_steps

if TYPE_CHECKING:
    from runner.registry import FeedRequest

#: 2026-01-01T00:00:00Z: the default anchor, so a recording made without ``start_ms`` is reproducible.
DEFAULT_START_MS = 1_767_225_600_000
FUNDING_PERIOD_MS = 8 * 3600 * 1000


@dataclass(frozen=True)
class InstrumentSpec:
    symbol: str
    price: float  # starting price
    tick: float
    lot: float  # quantity step
    level_qty: float  # typical resting quantity per level
    trade_qty: float  # typical aggressive trade quantity

    @property
    def price_decimals(self) -> int:
        return _decimals(self.tick)

    @property
    def qty_decimals(self) -> int:
        return _decimals(self.lot)


def _decimals(step: float) -> int:
    text = f"{step:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


KNOWN_INSTRUMENTS: dict[str, InstrumentSpec] = {
    s.symbol: s
    for s in (
        InstrumentSpec("SOLUSDT", 150.0, *instrument_steps("SOLUSDT"), 60.0, 4.0),
        InstrumentSpec("SOONUSDT", 0.5, *instrument_steps("SOONUSDT"), 20_000.0, 1_500.0),
        InstrumentSpec("BTCUSDT", 65_000.0, *instrument_steps("BTCUSDT"), 2.0, 0.15),
        InstrumentSpec("ETHUSDT", 3_000.0, *instrument_steps("ETHUSDT"), 30.0, 2.0),
    )
}


def instrument_for(symbol: str) -> InstrumentSpec:
    """A known instrument, or a plausible one derived deterministically from the symbol name (the
    synthetic market is its own exchange: for it, this *is* the instrument)."""
    symbol = symbol.upper()
    if symbol in KNOWN_INSTRUMENTS:
        return KNOWN_INSTRUMENTS[symbol]
    r = random.Random(f"instrument:{symbol}")
    price = round(10 ** r.uniform(-1, 3), 2) or 1.0
    tick = 10 ** math.floor(math.log10(price) - 4)  # ~1 bps per tick, like liquid USD-M contracts
    lot = 10 ** max(-3, math.floor(-math.log10(price)))
    notional_per_level = 10_000.0
    return InstrumentSpec(symbol, price, tick, lot, notional_per_level / price, notional_per_level / price / 15)


@dataclass(frozen=True)
class Regime:
    name: str
    vol_bps: float  # std of the fair-price step (per 10 ms), in bps
    trade_rate: float  # aggressive trades per step
    max_spread: int  # ticks
    stay: float  # probability of staying in the regime per step


# A fast market on purpose: TP/SL distances of ~10 bps are reached in seconds, so a short run shows
# complete round trips.
REGIMES: tuple[Regime, ...] = (
    Regime("calm", 0.20, 0.05, 2, 0.9995),
    Regime("normal", 0.40, 0.09, 3, 0.9993),
    Regime("volatile", 0.80, 0.20, 6, 0.998),
)

LEVELS = 20  # levels kept on each side near the touch
PRESSURE_PHI = 0.5 ** (1 / 300)  # half-life 3 s at 10 ms steps
PRESSURE_STD = 0.55  # stationary std of the pressure
DRIFT_BPS = 0.04  # fair-price drift per step at pressure 1
SKEW = 0.6  # how strongly pressure tilts new liquidity
PARENT_RHO = 0.7  # correlation of a child's pressure innovations with its parent's


class _SymbolSim:
    """The book and latent state of one symbol; produces the wire messages of each step."""

    def __init__(self, spec: InstrumentSpec, seed: int, parent: _SymbolSim | None) -> None:
        self.spec = spec
        self.rng = random.Random(f"{seed}:{spec.symbol}")
        self.parent = parent
        self.stream_diff = wire.diff_stream(spec.symbol).encode()
        self.stream_partial = wire.partial_stream(spec.symbol).encode()
        self.stream_ticker = wire.ticker_stream(spec.symbol).encode()
        self.stream_trade = wire.trade_stream(spec.symbol).encode()
        self.stream_mark = wire.mark_stream(spec.symbol).encode()
        self.stream_snapshot = wire.snapshot_stream(spec.symbol).encode()
        self.pdec, self.qdec = spec.price_decimals, spec.qty_decimals
        self.lots_per_level = max(1, round(spec.level_qty / spec.lot))
        self.lots_per_trade = max(1, round(spec.trade_qty / spec.lot))
        # Latent state
        self.fair = spec.price / spec.tick  # in ticks
        self.ticks_per_bps = self.fair / 1e4
        self.pressure = 0.0
        self.innovation = 0.0  # this step's pressure shock (read by children)
        self.regime = 1
        self.spread = 1
        self.burst: tuple[int, int, int, list[tuple[int, int]]] | None = None  # (side, start, end, added)
        # Book: price in ticks -> quantity in lots
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.update_id = self.rng.randrange(1_000_000_000, 2_000_000_000)
        self.last_u = self.update_id  # u of the last diff message
        self.partial_pu = self.update_id
        self.window_first = 0  # first update id of the pending diff window (0: none yet)
        self.changed_bids: dict[int, int] = {}
        self.changed_asks: dict[int, int] = {}
        self.agg_id = self.rng.randrange(100_000_000, 900_000_000)
        self.trade_id = self.agg_id * 3
        self.last_top: tuple[int, int, int, int] | None = None
        self.trades: list[tuple[int, int, bool]] = []  # (price ticks, lots, buyer_is_maker) this step
        self._seed_book()

    # -- book mutations (each one is an update id, recorded for the next diff) -------------------
    def _set(self, is_bid: bool, price: int, lots: int) -> None:
        book = self.bids if is_bid else self.asks
        if lots <= 0:
            if price not in book:
                return
            del book[price]
            lots = 0
        else:
            if book.get(price) == lots:
                return
            book[price] = lots
        self.update_id += 1
        if not self.window_first:
            self.window_first = self.update_id
        (self.changed_bids if is_bid else self.changed_asks)[price] = lots

    def _fresh_lots(self, rank: int, is_bid: bool) -> int:
        skew = 1.0 + SKEW * self.pressure * (1 if is_bid else -1)
        size = self.lots_per_level * (1.0 + 0.12 * rank) * self.rng.lognormvariate(0.0, 0.5) * max(0.15, skew)
        return max(1, int(size))

    def _seed_book(self) -> None:
        bid = math.floor(self.fair - 0.5)
        for r in range(LEVELS):
            self.bids[bid - r] = self._fresh_lots(r, True)
            self.asks[bid + 1 + r] = self._fresh_lots(r, False)
        self.changed_bids.clear()
        self.changed_asks.clear()

    # -- one step ---------------------------------------------------------------------------------
    def step(self) -> None:
        rng = self.rng
        self.trades = []
        # Regime switch (Markov).
        if rng.random() > REGIMES[self.regime].stay:
            self.regime = rng.choice([i for i in range(len(REGIMES)) if i != self.regime])
        regime = REGIMES[self.regime]
        # Pressure: AR(1); a child shares part of its parent's shock.
        shock = rng.gauss(0.0, 1.0)
        if self.parent is not None:
            shock = PARENT_RHO * self.parent.innovation + math.sqrt(1 - PARENT_RHO**2) * shock
        self.innovation = shock
        self.pressure = PRESSURE_PHI * self.pressure + PRESSURE_STD * math.sqrt(1 - PRESSURE_PHI**2) * shock
        # Fair price and spread.
        self.fair += (DRIFT_BPS * self.pressure + rng.gauss(0.0, regime.vol_bps)) * self.ticks_per_bps
        if rng.random() < 0.01:
            self.spread += rng.choice((-1, 1))
        self.spread = min(max(self.spread, 1), regime.max_spread)
        target_bid = math.floor(self.fair - self.spread / 2)
        target_ask = target_bid + self.spread
        self._recenter(target_bid, target_ask)
        self._aggressive_trades(regime)
        self._adds_and_cancels()
        self._bursts()
        self._keep_depth()

    def _recenter(self, target_bid: int, target_ask: int) -> None:
        """Move the touch to the targets: levels crossed are traded through or pulled; gaps are filled."""
        rng = self.rng
        for is_bid in (True, False):
            book = self.bids if is_bid else self.asks
            crossed = [p for p in book if (p > target_bid if is_bid else p < target_ask)]
            crossed.sort(reverse=not is_bid)  # nearest to the old touch first
            for price in crossed:
                if rng.random() < 0.6:
                    # An aggressive order sweeps the level: taker sells into bids (buyer is maker).
                    self.trades.append((price, book[price], is_bid))
                self._set(is_bid, price, 0)
            best = max(book) if is_bid and book else (min(book) if book else None)
            if is_bid:
                start = target_bid if best is None else best + 1
                for rank, price in enumerate(range(target_bid, start - 1, -1)):
                    if price not in book:
                        self._set(True, price, self._fresh_lots(rank, True))
            else:
                start = target_ask if best is None else best - 1
                for rank, price in enumerate(range(target_ask, start + 1)):
                    if price not in book:
                        self._set(False, price, self._fresh_lots(rank, False))

    def _aggressive_trades(self, regime: Regime) -> None:
        rng = self.rng
        n = _poisson(rng, regime.trade_rate * (1.0 + abs(self.pressure)))
        for _ in range(n):
            taker_buys = rng.random() < 0.5 + 0.3 * max(-1.0, min(1.0, self.pressure))
            book = self.asks if taker_buys else self.bids
            if not book:
                continue
            price = min(book) if taker_buys else max(book)
            lots = max(1, int(self.lots_per_trade * rng.lognormvariate(0.0, 0.9)))
            lots = min(lots, book[price])
            self.trades.append((price, lots, not taker_buys))
            self._set(not taker_buys, price, book[price] - lots)

    def _adds_and_cancels(self) -> None:
        rng = self.rng
        for _ in range(_poisson(rng, 1.2)):
            is_bid = rng.random() < 0.5
            book = self.bids if is_bid else self.asks
            if not book:
                continue
            rank = min(int(rng.expovariate(0.45)), 9)
            best = max(book) if is_bid else min(book)
            price = best - rank if is_bid else best + rank
            current = book.get(price, 0)
            lean = self.pressure if is_bid else -self.pressure
            if rng.random() < 0.5 + 0.25 * max(-1.0, min(1.0, lean)):
                self._set(is_bid, price, current + self._fresh_lots(rank, is_bid) // 3 + 1)
            elif current:
                cut = max(1, int(current * rng.uniform(0.1, 0.7)))
                self._set(is_bid, price, current - cut)

    def _bursts(self) -> None:
        """Spoofing: size added 1-4 levels deep on one side, then pulled with the real liquidity there."""
        rng = self.rng
        if self.burst is None:
            if rng.random() < 1 / 500:  # about one every 5 s
                side = rng.choice((0, 1))
                length = rng.randrange(50, 110)
                self.burst = (side, 0, length, [])
            return
        side, k, length, added = self.burst
        is_bid = side == 0
        book = self.bids if is_bid else self.asks
        if book:
            best = max(book) if is_bid else min(book)
            if k < length * 0.45:
                if k % 3 == 0:
                    rank = rng.randrange(1, 5)
                    price = best - rank if is_bid else best + rank
                    lots = self.lots_per_level * rng.randrange(3, 7)
                    self._set(is_bid, price, book.get(price, 0) + lots)
                    added.append((price, lots))
            elif added:
                # Pull: the spoofed size and much of what else rests near the touch, in a rush.
                if k == math.ceil(length * 0.45):
                    for rank in range(3):
                        price = best - rank if is_bid else best + rank
                        if price in book:
                            self._set(is_bid, price, max(1, int(book[price] * rng.uniform(0.2, 0.6))))
                for _ in range(min(3, len(added))):
                    price, _lots = added.pop()
                    if price in book:
                        self._set(is_bid, price, max(0, int(book[price] * rng.uniform(0.0, 0.2))))
        k += 1
        self.burst = None if k >= length else (side, k, length, added)

    def _keep_depth(self) -> None:
        if not self.bids or not self.asks:
            return
        best_bid, best_ask = max(self.bids), min(self.asks)
        for rank in range(LEVELS):
            if best_bid - rank not in self.bids:
                self._set(True, best_bid - rank, self._fresh_lots(rank, True))
            if best_ask + rank not in self.asks:
                self._set(False, best_ask + rank, self._fresh_lots(rank, False))
        for price in [p for p in self.bids if p < best_bid - LEVELS - 4]:
            self._set(True, price, 0)
        for price in [p for p in self.asks if p > best_ask + LEVELS + 4]:
            self._set(False, price, 0)

    # -- wire formatting -------------------------------------------------------------------------
    def px(self, ticks: int) -> str:
        return f"{ticks * self.spec.tick:.{self.pdec}f}"

    def qty(self, lots: int) -> str:
        return f"{lots * self.spec.lot:.{self.qdec}f}"

    def _levels(self, changes: dict[int, int], descending: bool) -> list[list[str]]:
        return [[self.px(p), self.qty(q)] for p, q in sorted(changes.items(), reverse=descending)]

    @staticmethod
    def envelope(stream: bytes, data: dict) -> bytes:
        return b'{"stream":"' + stream + b'","data":' + orjson.dumps(data) + b"}"

    def trade_messages(self, e_ms: int, t_ms: int) -> list[bytes]:
        out = []
        merged: dict[tuple[int, bool], int] = {}
        for price, lots, maker in self.trades:
            merged[(price, maker)] = merged.get((price, maker), 0) + lots
        for (price, maker), lots in merged.items():
            self.agg_id += 1
            n_fills = 1 + lots // (self.lots_per_trade * 2 + 1)
            first = self.trade_id + 1
            self.trade_id += n_fills
            data = {
                "e": "aggTrade",
                "E": e_ms,
                "s": self.spec.symbol,
                "a": self.agg_id,
                "p": self.px(price),
                "q": self.qty(lots),
                "f": first,
                "l": self.trade_id,
                "T": t_ms,
                "m": maker,
            }
            out.append(self.envelope(self.stream_trade, data))
        return out

    def ticker_message(self, e_ms: int, t_ms: int) -> bytes | None:
        if not self.bids or not self.asks:
            return None
        bb, ba = max(self.bids), min(self.asks)
        top = (bb, self.bids[bb], ba, self.asks[ba])
        if top == self.last_top:
            return None
        self.last_top = top
        data = {
            "e": "bookTicker",
            "u": self.update_id,
            "E": e_ms,
            "T": t_ms,
            "s": self.spec.symbol,
            "b": self.px(bb),
            "B": self.qty(top[1]),
            "a": self.px(ba),
            "A": self.qty(top[3]),
        }
        return self.envelope(self.stream_ticker, data)

    def diff_message(self, e_ms: int, t_ms: int) -> bytes | None:
        if not self.window_first:
            return None
        data = {
            "e": "depthUpdate",
            "E": e_ms,
            "T": t_ms,
            "s": self.spec.symbol,
            "U": self.window_first,
            "u": self.update_id,
            "pu": self.last_u,
            "b": self._levels(self.changed_bids, True),
            "a": self._levels(self.changed_asks, False),
        }
        self.last_u = self.update_id
        self.window_first = 0
        self.changed_bids = {}
        self.changed_asks = {}
        return self.envelope(self.stream_diff, data)

    def partial_message(self, e_ms: int, t_ms: int) -> bytes:
        bids = sorted(self.bids.items(), reverse=True)[:5]
        asks = sorted(self.asks.items())[:5]
        data = {
            "e": "depthUpdate",
            "E": e_ms,
            "T": t_ms,
            "s": self.spec.symbol,
            "U": self.window_first or self.update_id,
            "u": self.update_id,
            "pu": self.partial_pu,
            "b": [[self.px(p), self.qty(q)] for p, q in bids],
            "a": [[self.px(p), self.qty(q)] for p, q in asks],
        }
        self.partial_pu = self.update_id
        return self.envelope(self.stream_partial, data)

    def mark_message(self, e_ms: int) -> bytes:
        mark = self.px(round(self.fair))
        next_funding = (e_ms // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS
        data = {
            "e": "markPriceUpdate",
            "E": e_ms,
            "s": self.spec.symbol,
            "p": mark,
            "i": mark,
            "P": mark,
            "r": "0.00010000",
            "T": next_funding,
        }
        return self.envelope(self.stream_mark, data)

    def snapshot_message(self, e_ms: int, t_ms: int, limit: int = 1000) -> bytes:
        data = {
            "lastUpdateId": self.update_id,
            "E": e_ms,
            "T": t_ms,
            "bids": [[self.px(p), self.qty(q)] for p, q in sorted(self.bids.items(), reverse=True)[:limit]],
            "asks": [[self.px(p), self.qty(q)] for p, q in sorted(self.asks.items())[:limit]],
        }
        return self.envelope(self.stream_snapshot, data)


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: lambdas here are small (< 3), so it is cheap and exact."""
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass(frozen=True)
class FaultPlan:
    """Inject a fault into every N-th depth diff message (0: off). One message gets at most one fault."""

    gap_every: int = 0
    duplicate_every: int = 0
    out_of_order_every: int = 0
    torn_line_every: int = 0

    @property
    def active(self) -> bool:
        return any((self.gap_every, self.duplicate_every, self.out_of_order_every, self.torn_line_every))


class SyntheticMarket:
    """The synchronous generator: ``messages()`` yields ``(event_ms, raw_bytes)`` in event-time order."""

    def __init__(
        self,
        symbols: list[str],
        *,
        seed: int = 7,
        start_ms: int = DEFAULT_START_MS,
        parents: dict[str, str] | None = None,
        faults: FaultPlan | None = None,
        step_ms: int = 10,
    ) -> None:
        self.seed = seed
        self.start_ms = start_ms
        self.step_ms = step_ms
        self.faults = faults or FaultPlan()
        parents = {k.upper(): v.upper() for k, v in (parents or {}).items() if v}
        # Parents step before their children so a child can read its parent's shock of the same step.
        order = sorted({s.upper() for s in symbols}, key=lambda s: (s in parents, s))
        self.sims: dict[str, _SymbolSim] = {}
        for symbol in order:
            parent = self.sims.get(parents.get(symbol, ""))
            self.sims[symbol] = _SymbolSim(instrument_for(symbol), seed, parent)
        self.injected = {"gap": 0, "duplicate": 0, "out_of_order": 0, "torn": 0}
        self._snapshot_requests: list[str] = []
        self._diff_count = 0
        self._held: dict[str, bytes] = {}  # out-of-order: a diff waiting to be sent after the next one
        self.fault_rng = random.Random(f"{seed}:faults")
        self.step_index = 0

    def request_snapshot(self, symbol: str) -> None:
        symbol = symbol.upper()
        if symbol in self.sims and symbol not in self._snapshot_requests:
            self._snapshot_requests.append(symbol)

    def snapshot(self, symbol: str, limit: int = 1000) -> dict:
        """The current book of ``symbol`` as the REST ``/fapi/v1/depth`` body (for a local HTTP stub)."""
        sim = self.sims[symbol.upper()]
        e_ms = self.start_ms + self.step_index * self.step_ms
        raw = sim.snapshot_message(e_ms, e_ms - 1, limit)
        return orjson.loads(raw)["data"]

    def messages(self, max_steps: int | None = None) -> Iterator[tuple[int, bytes]]:
        step = 0
        while max_steps is None or step < max_steps:
            e_ms = self.start_ms + step * self.step_ms
            t_ms = e_ms - 1 - (step % 3)
            self.step_index = step
            while self._snapshot_requests:
                symbol = self._snapshot_requests.pop(0)
                yield e_ms, self.sims[symbol].snapshot_message(e_ms, t_ms)
            every_100ms = step % max(1, 100 // self.step_ms) == 0
            every_1s = step % max(1, 1000 // self.step_ms) == 0
            for sim in self.sims.values():
                sim.step()
            for sim in self.sims.values():
                for raw in sim.trade_messages(e_ms, t_ms):
                    yield e_ms, raw
                ticker = sim.ticker_message(e_ms, t_ms)
                if ticker is not None:
                    yield e_ms, ticker
                if every_100ms:
                    diff = sim.diff_message(e_ms, t_ms)
                    if diff is not None:
                        for raw in self._with_faults(sim.spec.symbol, diff):
                            yield e_ms, raw
                    yield e_ms, sim.partial_message(e_ms, t_ms)
                if every_1s:
                    yield e_ms, sim.mark_message(e_ms)
            step += 1

    def _with_faults(self, symbol: str, diff: bytes) -> list[bytes]:
        out: list[bytes] = []
        held = self._held.pop(symbol, None)
        f = self.faults
        if not f.active:
            return [diff]
        self._diff_count += 1
        n = self._diff_count
        if held is None and f.gap_every and n % f.gap_every == 0:
            self.injected["gap"] += 1
        elif held is None and f.duplicate_every and n % f.duplicate_every == 0:
            self.injected["duplicate"] += 1
            out += [diff, diff]
        elif held is None and f.out_of_order_every and n % f.out_of_order_every == 0:
            self.injected["out_of_order"] += 1
            self._held[symbol] = diff
        elif held is None and f.torn_line_every and n % f.torn_line_every == 0:
            self.injected["torn"] += 1
            cut = self.fault_rng.randrange(12, max(13, len(diff) - 2))
            out.append(diff[:cut])
        else:
            out.append(diff)
        if held is not None:
            out.append(held)  # the earlier diff arrives after the later one
        return out


class SyntheticFeed(Feed):
    """The synthetic market as a feed, paced in real time (``speed`` × wall clock) or as fast as possible.

    With ``start_ms=None`` and ``realtime=True`` the market is anchored at the current wall time, so
    event times look live and ``recv_ts - E`` is the true pacing lag.
    """

    name = "synthetic"

    def __init__(
        self,
        symbols: list[str],
        *,
        seed: int = 7,
        start_ms: int | None = None,
        realtime: bool = True,
        speed: float = 1.0,
        parents: dict[str, str] | None = None,
        faults: FaultPlan | None = None,
        max_messages: int | None = None,
        max_market_s: float | None = None,
    ) -> None:
        super().__init__(symbols)
        anchor_now = start_ms is None and realtime
        if start_ms is None:
            start_ms = time.time_ns() // 1_000_000 if realtime else DEFAULT_START_MS
        self.market = SyntheticMarket(self.symbols, seed=seed, start_ms=start_ms, parents=parents, faults=faults)
        self.realtime = realtime
        self.speed = speed
        self.max_messages = max_messages
        self.max_market_ms = None if max_market_s is None else max_market_s * 1000.0  # market time to stop at
        self._closed = False
        self.stats["injected"] = self.market.injected
        # Anchored at "now": re-anchored when iteration starts, so event times track the wall clock.
        self._anchor_now = anchor_now
        self.clock_offset_ns = 0 if anchor_now and speed == 1.0 else None

    def request_snapshot(self, symbol: str) -> None:
        self.market.request_snapshot(symbol)

    async def aclose(self) -> None:
        self._closed = True

    async def __aiter__(self) -> AsyncIterator[tuple[int, bytes]]:
        wall0 = time.time_ns()
        if self._anchor_now:
            self.market.start_ms = wall0 // 1_000_000
        start_ms = self.market.start_ms
        n = 0
        for e_ms, raw in self.market.messages():
            if self._closed or (self.max_messages is not None and n >= self.max_messages):
                return
            if self.max_market_ms is not None and e_ms - start_ms >= self.max_market_ms:
                return
            if self.realtime:
                due = wall0 + int((e_ms - start_ms) * 1_000_000 / self.speed)
                lag = due - time.time_ns()
                if lag > 0:
                    await asyncio.sleep(lag / 1e9)
                recv = time.time_ns()
                if self.speed != 1.0:
                    # Keep event times consistent with the (sped-up) local clock.
                    self.clock_offset_ns = recv - e_ms * 1_000_000
            else:
                recv = time.time_ns()
                if n % 256 == 0:
                    await asyncio.sleep(0)  # let other tasks (gate posts, timers) run
            n += 1
            self.stats["messages"] = n
            yield recv, raw


def instrument_steps_of(symbol: str) -> tuple[float, float]:
    """(tick, lot) of the synthetic market's own instrument (registry: ``instruments``)."""
    inst = instrument_for(symbol)
    return inst.tick, inst.lot


def open_synthetic(req: FeedRequest) -> SyntheticFeed:
    """``feed.source: synthetic`` (registered in :mod:`runner.registry`)."""
    f = req.cfg.faults
    return SyntheticFeed(req.symbols, seed=req.cfg.seed, realtime=req.realtime, speed=req.cfg.speed,
                         parents=req.parents or None,
                         faults=FaultPlan(f.gap_every, f.duplicate_every, f.out_of_order_every, f.torn_line_every))
