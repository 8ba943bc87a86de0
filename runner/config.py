"""Pydantic model of the WiseScalp runner config (``configs/runner/*.yaml`` + profiles + overlays).

Loaded by :func:`aurora.config.loader.load_runner` with the same merge and provenance as the gate.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
VenueKind = Literal["shadow", "paper", "testnet", "live"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RunnerSection(Section):
    name: str = "wisescalp"
    mode: VenueKind = Field("paper", description="Venue: shadow | paper | testnet | live.")
    duration_s: NonNegFloat | None = Field(None, description="Stop after this many seconds (None: run until stopped).")
    account: str = Field("acc-1", description="Account id sent to the gate.")
    flatten_on_stop: bool = Field(True, description="On stop, cancel working orders and close positions (via the gate).")
    wind_down_s: NonNegFloat = Field(5.0, description="How long stopping may take to cancel and flatten, market still flowing.")
    stop_timeout_s: PosFloat = Field(
        7.0, description="Everything stopping does (wind-down, closes, lifecycle flush) ends within this; what "
        "the gate has not answered by then is spooled. Keep it below one-click's --grace (10 s)."
    )
    gate_state_poll_ms: PosFloat = Field(
        500.0, description="The gate's trading state reaches the runner within this even with no market data: "
        "GET /trading_state is long-polled, held this long by the gate (a change answers at once)."
    )
    halt_cancels_exits: bool = Field(
        True, description="On HALTED also cancel resting exits (take-profits): nothing may execute. False keeps "
        "them resting (entries are cancelled on REDUCING and HALTED alike; the gate's cancel_all cancels all)."
    )
    cancel_entries_when_gate_unknown: bool = Field(
        False, description="Cancel resting entries while the gate's trading state cannot be learned (gate down "
        "or hung). Off: no new entries then, resting ones stay until their TTL (see runner/kill.py)."
    )


class SymbolSpec(Section):
    symbol: str = Field(..., pattern=r"^[A-Z0-9]{2,20}$", description="Exchange symbol, e.g. SOLUSDT.")
    parent: str | None = Field(None, description="Parent symbol whose signal must agree (ParentGate).")
    qty: PosFloat | None = Field(None, description="Order quantity in base units (default 1.0 unless notional_usd).")
    notional_usd: PosFloat | None = Field(
        None, description="Order size as notional (USD) instead of qty: notional / price, down to the lot step."
    )
    group: str | None = Field(None, description="Runner process group in one-click (default: one group).")
    tick: PosFloat | None = Field(None, description="Price tick (default: the instrument table / the venue's market).")
    lot: PosFloat | None = Field(None, description="Quantity step (default: the instrument table / the venue's market).")

    @model_validator(mode="after")
    def _one_size(self) -> SymbolSpec:
        if self.qty is not None and self.notional_usd is not None:
            raise ValueError(f"{self.symbol}: give qty or notional_usd, not both")
        if self.qty is None and self.notional_usd is None:
            self.qty = 1.0
        return self


class FaultsSection(Section):
    gap_every: int = Field(0, ge=0, description="Inject a diff-depth sequence gap every N messages (0: off).")
    duplicate_every: int = Field(0, ge=0)
    out_of_order_every: int = Field(0, ge=0)
    torn_line_every: int = Field(0, ge=0)


class BinanceFeedSection(Section):
    public_url: str = "wss://fstream.binance.com/public/stream"
    market_url: str = "wss://fstream.binance.com/market/stream"
    rest_url: str = "https://fapi.binance.com"
    depth_snapshot_limit: int = Field(1000, ge=5, le=1000)
    ping_interval_s: PosFloat = 20.0
    reconnect_initial_s: PosFloat = 0.5
    reconnect_max_s: PosFloat = 30.0
    max_connection_h: PosFloat = Field(23.5, description="Reconnect before Binance's 24 h limit.")
    open_timeout_s: PosFloat = Field(10.0, description="Websocket/REST connect timeout.")


class FeedSection(Section):
    source: str = Field("synthetic", description="synthetic | replay:PATH | binance")
    seed: int = 7
    realtime: bool = Field(True, description="Pace replay/synthetic in real time (False: as fast as possible).")
    speed: PosFloat = 1.0
    faults: FaultsSection = Field(default_factory=FaultsSection)
    binance: BinanceFeedSection = Field(default_factory=BinanceFeedSection)
    max_book_age_ms: PosFloat = Field(
        2000.0, description="A book not updated for this long (market time) is stale: no new orders, exits only."
    )
    sync_grace_ms: NonNegFloat = Field(
        5000.0, description="How long a symbol may wait for its first book sync before RUNNER.BOOK_UNSYNCED."
    )
    replay_until_s: PosFloat | None = Field(
        None, description="A replay ends this many seconds (recorded time) after the recording's first line "
        "(None: the whole recording); the tuner's training runs stop at the end of their window."
    )

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        from runner.registry import RegistryError, feed_entry, feed_names

        try:
            feed_entry(v)
        except RegistryError:
            raise ValueError(f"must be one of {', '.join(repr(n) for n in feed_names())}") from None
        return v


class GateClientSection(Section):
    url: str = "http://127.0.0.1:8000"
    timeout_ms: PosFloat = 250.0
    backoff_initial_ms: PosFloat = 100.0
    backoff_max_ms: PosFloat = 5000.0
    flush_timeout_s: PosFloat = Field(5.0, description="On stop, wait this long for queued lifecycle events to post.")
    send_deadline: bool = Field(
        True, description="Send market.deadline_ms (the check timeout) with each check: the gate denies "
        "REQUEST_EXPIRED an answer nobody waits for any more."
    )
    send_book_age: bool = Field(
        True, description="Send market.book_age_ms (how old the book already was when the check was built) "
        "with each check: the gate adds it to the quote's age against guards.max_quote_age_ms."
    )


class SignalWeights(Section):
    obi: float = Field(0.5, allow_inf_nan=False, description="Weight of the order-book imbalance.")
    micro: float = Field(0.3, allow_inf_nan=False, description="Weight of the microprice tilt.")
    tfi: float = Field(0.4, allow_inf_nan=False, description="Weight of the trade-flow imbalance.")


class StrategySection(Section):
    # at most 100 % of the price: beyond, a take-profit or stop price is not a price (1e308 bps is inf)
    tp_bps: PosFloat = Field(12.0, le=10_000, description="Take-profit distance (bps, at most 10000).")
    sl_bps: PosFloat = Field(8.0, le=10_000, description="Stop-loss distance (bps, at most 10000).")
    fees_bps: NonNegFloat = 4.0
    enr_threshold_bps: float = Field(0.0, allow_inf_nan=False, description="ENR gate: expected net return >= this.")
    score_threshold: NonNegFloat = Field(0.2, description="|z| of the signal needed to consider a trade.")
    obi_levels: int = Field(5, ge=1, le=50)
    vol_window_s: PosFloat = 5.0
    tfi_window_s: PosFloat = 2.0
    cooldown_ms: NonNegFloat = Field(500.0, description="Minimum time between decisions per symbol.")
    order_type: Literal["limit", "market"] = "limit"
    order_ttl_s: PosFloat = Field(3.0, description="Cancel a resting order after this long.")
    max_open_orders: int = Field(2, ge=1)
    entry: Literal["cross", "join"] = Field(
        "cross", description="Entry limit price: cross the spread (take) or join the touch (make)."
    )
    max_hold_s: PosFloat = Field(20.0, description="Close a position at market after this long (time stop).")
    weights: SignalWeights = Field(default_factory=SignalWeights)
    z_window_s: PosFloat = Field(30.0, description="Time constant of the signal's running mean/std (z-score).")
    warmup_s: NonNegFloat = Field(3.0, description="No decisions before the features have this much history.")
    trap_levels: int = Field(5, ge=1, le=50, description="Book levels whose add/cancel volumes go to the gate.")
    trap_window_s: PosFloat = Field(1.0, description="Window of the add/cancel volumes sent to the gate.")
    calibration_path: str | None = Field(None, description="Calibration map (default: the shipped map).")
    entries_from_s: NonNegFloat = Field(
        0.0, description="No new entry before this many seconds of market time since the feed's first message: "
        "the book and features are built meanwhile (the tuner's validation window)."
    )
    entries_until_s: PosFloat | None = Field(
        None, description="No new entry from this many seconds of market time since the feed's first message "
        "(None: no end); open positions are still managed and closed."
    )

    @model_validator(mode="after")
    def _entry_window(self) -> StrategySection:
        if self.entries_until_s is not None and self.entries_until_s <= self.entries_from_s:
            raise ValueError("strategy.entries_until_s must be after strategy.entries_from_s")
        return self


class ParentGateSection(Section):
    enabled: bool = True
    z_threshold: NonNegFloat = Field(0.75, description="Parent's score z must agree in sign and exceed this.")


class PaperVenueSection(Section):
    latency_ms: NonNegFloat = 5.0
    jitter_ms: NonNegFloat = 2.0
    slippage_bps: NonNegFloat = 1.0
    seed: int = 11
    late_ack: bool = False
    duplicate_ack: bool = False
    fill_after_cancel: bool = False
    overfill: bool = False
    reject_rate: float = Field(0.0, ge=0, le=1)
    fault_every: int = Field(1, ge=1, description="Fault switches hit every N-th order (1: every order).")
    late_ack_ms: NonNegFloat = Field(6000.0, description="Extra ack delay when late_ack is on (> the gate's ack TTL).")


class ExchangeSection(Section):
    name: str = Field("binance_usdm", description="The exchange a testnet/live venue trades on (an adapter "
                      "registered in runner/registry.py).")
    testnet_url: str = "https://demo-fapi.binance.com"
    live_url: str = "https://fapi.binance.com"
    recv_window_ms: int = Field(5000, ge=1, le=60000)
    poll_interval_s: PosFloat = Field(1.0, description="How often open orders are polled for fills.")
    timeout_ms: PosFloat = Field(10_000.0, description="HTTP timeout of exchange calls.")

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        from runner.registry import exchange_names

        if v not in exchange_names():
            raise ValueError(f"no adapter for exchange {v!r} (known: {', '.join(exchange_names())})")
        return v


class VenueSection(Section):
    paper: PaperVenueSection = Field(default_factory=PaperVenueSection)
    exchange: ExchangeSection = Field(default_factory=ExchangeSection)
    cancel_stub: bool = Field(False, description="Testnet only: cancel every N ticks (AURORA_CANCEL_STUB).")
    cancel_stub_every_ticks: int = Field(120, ge=1)
    live_armed: bool = Field(False, description="Live trading also needs --i-understand-live on the CLI.")


class MetricsSection(Section):
    port: int | None = Field(
        None, ge=0, le=65535, description="Serve Prometheus /metrics on this port (0: a free one, announced in "
        "RUNNER.START); none: no metrics server. run-runner --metrics-port overrides; one-click always serves them."
    )
    host: str = Field(
        "127.0.0.1", min_length=1, description="Address of the metrics server; a non-loopback one needs "
        "AURORA_METRICS_TOKEN (then scrapes send Authorization: Bearer)."
    )


class RunnerConfig(Section):
    runner: RunnerSection = Field(default_factory=RunnerSection)
    symbols: list[SymbolSpec] = Field(default_factory=lambda: [SymbolSpec(symbol="SOLUSDT")], min_length=1)
    feed: FeedSection = Field(default_factory=FeedSection)
    gate: GateClientSection = Field(default_factory=GateClientSection)
    strategy: StrategySection = Field(default_factory=StrategySection)
    parent_gate: ParentGateSection = Field(default_factory=ParentGateSection)
    venue: VenueSection = Field(default_factory=VenueSection)
    metrics: MetricsSection = Field(default_factory=MetricsSection)

    @model_validator(mode="after")
    def _parents_known(self) -> RunnerConfig:
        names = {s.symbol for s in self.symbols}
        for s in self.symbols:
            if s.parent is not None and s.parent not in names:
                raise ValueError(f"symbols: parent {s.parent!r} of {s.symbol} is not one of the profile's symbols")
        if self.venue.cancel_stub and self.runner.mode != "testnet":
            raise ValueError("venue.cancel_stub is only allowed with runner.mode testnet")
        return self
