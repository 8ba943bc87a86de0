"""Pydantic models of the gate's configuration (SPEC §3).

Every section rejects unknown keys and checks ranges; the defaults here are layer 1 ("built-in
defaults") of the loader, and ``configs/aurora/base.yaml`` repeats the seed defaults explicitly.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from aurora.events.codes import Reason

Mode = Literal["development", "testnet", "production"]
MODES: tuple[str, ...] = ("development", "testnet", "production")
MODE_ALIASES: dict[str, str] = {"prod": "production", "dev": "development"}

Pct = Annotated[float, Field(ge=0, le=100)]
PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class ApiSection(Section):
    host: str = Field("127.0.0.1", description="Interface the gate listens on.", examples=["127.0.0.1"])
    port: int = Field(8000, ge=1, le=65535, description="TCP port of the gate.")


class SecuritySection(Section):
    allow_anonymous_trading: bool = Field(
        False,
        description="Outside development the gate refuses to start without security.api_token unless this is "
        "true (then it starts with a WARN event): anyone who reaches the port could then trade.",
    )
    api_token: SecretStr | None = Field(
        None, description="X-API-TOKEN for trading endpoints; at least 16 characters. Set via AURORA_API_TOKEN."
    )
    ops_token: SecretStr | None = Field(
        None, description="X-OPS-TOKEN for ops endpoints; at least 32 characters in production. Set via OPS_TOKEN."
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Read-only token for GET /metrics (Authorization: Bearer, as Prometheus sends it); at least 16 "
        "characters. Set via AURORA_METRICS_TOKEN. The ops token is accepted too.",
    )

    @field_validator("api_token", "metrics_token")
    @classmethod
    def _api_token_length(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return v



class HealthSection(Section):
    """HealthGuard: rolling p95 of observed latency with WARN -> COOL_OFF -> HALT escalation."""

    latency_guard_ms: PosFloat = Field(30.0, description="p95 latency above which HealthGuard escalates.")
    latency_window_sec: int = Field(60, ge=1, le=86400, description="Rolling window of the p95.")
    cooloff_base_sec: int = Field(120, ge=0, le=86400, description="First cool-off; doubles on repeats.")
    halt_threshold_repeats: int = Field(2, ge=1, le=100, description="Cool-offs before HALT.")
    min_samples: int = Field(20, ge=1, description="Latency samples needed before the p95 is trusted.")
    warn_grace_sec: NonNegFloat = Field(5.0, description="How long p95 may stay high in WARN before a cool-off.")


class GuardsSection(Section):
    spread_bps_limit: PosFloat = Field(80.0, description="Spread guard: deny above this spread (bps).")
    latency_ms_limit: PosFloat = Field(500.0, description="Latency guard: deny above this request latency (ms).")
    vol_guard_std_bps: PosFloat = Field(60.0, description="Volatility (std, bps) above which risk is scaled down.")
    trap_guard_enabled: bool = Field(True, description="Enable the TRAP (vanishing liquidity) guard.")
    max_request_age_ms: PosFloat = Field(
        2000.0,
        le=3_600_000,
        description="A check older than this (gate clock - market.ts_ns), or older than its own "
        "market.deadline_ms, is denied REQUEST_EXPIRED: nobody waits for its answer any more.",
    )


class AccountLimits(Section):
    equity_usd: PosFloat = Field(description="This account's equity (the drawdown stop is a % of it).")


class RiskSection(Section):
    pi_min_bps: float = Field(5.0, allow_inf_nan=False, description="Minimum expected return E[Pi] in bps.")
    max_concurrent: int = Field(3, ge=0, le=1000, description="Maximum concurrent open positions per account.")
    size_scale: float = Field(1.0, ge=0, le=1, description="Global size multiplier in [0, 1].")
    daily_dd_limit_pct: Pct = Field(10.0, description="Hard daily drawdown limit, % of equity.")
    cvar_alpha: float = Field(0.1, gt=0, lt=1, description="Tail probability of the CVaR estimate.")
    equity_usd: PosFloat = Field(10_000.0, description="Account equity used to express PnL in %.")
    max_notional_usd: PosFloat = Field(5_000.0, description="Maximum notional of a single order.")
    max_orders_per_sec: PosFloat = Field(20.0, description="Order-rate throttle per account.")
    duplicate_window_ms: NonNegFloat = Field(500.0, description="Same side/price/qty within this window is a duplicate.")
    price_collar_bps: PosFloat = Field(50.0, description="Deny a limit price further than this from mid.")
    fees_bps: NonNegFloat = Field(4.0, description="Round-trip fees subtracted from E[Pi].")
    accounts: dict[str, AccountLimits] = Field(
        default_factory=dict,
        description="Per-account settings (equity_usd) keyed by account id; others use risk.equity_usd.",
    )
    reservation_ttl_ms: PosFloat = Field(
        3000.0,
        le=600_000,
        description="An allowed order holds its concurrency/position capacity until its ORDER.SUBMIT arrives "
        "or this passes.",
    )
    day_roll_utc: str = Field(
        "00:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="UTC time (HH:MM) at which the risk day rolls: realized PnL, its peak and the CVaR sample restart.",
    )


class SlippageSection(Section):
    eta_fraction_of_b: float = Field(0.25, ge=0, le=10, description="Expected slippage = eta x b (bps).")
    scale_instead_of_deny: bool = Field(True, description="Scale max_qty down instead of denying when possible.")


class PretradeSection(Section):
    order_profile: Literal["er_before_slip", "slip_before_er"] = Field(
        "er_before_slip", description="Order of the expected-return and slippage guards."
    )


class TrapSection(Section):
    levels: int = Field(5, ge=1, le=50, description="Top book levels observed.")
    z_threshold: float = Field(2.2, allow_inf_nan=False, description="Cancel/replenish imbalance z-score threshold.")
    cancel_pctl: int = Field(90, ge=0, le=100, description="Cancel-rate percentile that must also be exceeded.")
    history: int = Field(
        300, ge=10, le=100_000, description="Per-symbol baseline: the last N observations a request is judged against."
    )
    min_history: int = Field(
        20, ge=5, le=100_000, description="Observations a symbol needs before TRAP judges it (warm-up)."
    )

    @model_validator(mode="after")
    def _history(self) -> TrapSection:
        if self.min_history > self.history:
            raise ValueError(f"trap.min_history ({self.min_history}) must not exceed trap.history ({self.history})")
        return self


class SprtSection(Section):
    enabled: bool = True
    alpha: float | None = Field(0.05, gt=0, lt=1, description="Type I error; with beta derives A/B.")
    beta: float | None = Field(0.1, gt=0, lt=1, description="Type II error; with alpha derives A/B.")
    sigma: PosFloat = Field(1.0, description="Noise std of the edge samples (bps).")
    mu0: float = Field(0.0, allow_inf_nan=False, description="Edge mean under H0 (no edge), bps.")
    mu1: float = Field(1.0, allow_inf_nan=False, description="Edge mean under H1 (edge), bps.")
    A: float | None = Field(None, allow_inf_nan=False, description="Upper log-likelihood bound (accept H1).")
    B: float | None = Field(None, allow_inf_nan=False, description="Lower log-likelihood bound (accept H0).")
    max_obs: int = Field(50, ge=1, le=100_000)
    timeout_ms: NonNegFloat = Field(20.0)
    on_undecided: Literal["allow", "deny"] = "allow"

    @model_validator(mode="after")
    def _bounds(self) -> SprtSection:
        if self.A is not None and self.B is not None and not self.B < 0 < self.A:
            raise ValueError(f"sprt bounds must satisfy B < 0 < A (got A={self.A}, B={self.B})")
        if self.mu1 == self.mu0:
            raise ValueError("sprt.mu1 must differ from sprt.mu0")
        return self


def sprt_bounds(alpha: float, beta: float) -> tuple[float, float]:
    """Wald's bounds: A = ln((1-beta)/alpha), B = ln(beta/(1-alpha))."""
    return math.log((1 - beta) / alpha), math.log(beta / (1 - alpha))


class AckSection(Section):
    ttl_s: PosFloat = Field(5.0, description="Submitted orders not acked within this are expired.")
    scan_period_s: PosFloat = Field(1.0, description="AckTracker scan period.")


class ObservabilitySection(Section):
    ack: AckSection = Field(default_factory=AckSection)


class LoggingSection(Section):
    dir: str = Field("logs", description="Parent of session dirs.")
    session_dir: str | None = Field(None, description="Session log dir (AURORA_SESSION_DIR); created on start.")
    retention_days: int = Field(7, ge=1, le=3650)
    rotate_max_mb: PosFloat = Field(50.0, description="Size-triggered rotation threshold (MB).")
    state_dir: str | None = Field(
        None,
        description="Durable risk state (AURORA_STATE_DIR); default .aurora/state/<mode>/ under the project root. "
        "Not the session dir: a new session of the same deployment keeps yesterday's halt.",
    )
    state_fsync: bool = Field(
        False,
        description="fsync the state journal after every record: survives a power cut, not only kill -9, "
        "at the cost of a disk flush per decision.",
    )


#: Denials that say the strategy or the market is misbehaving; the state denials (KILL_SWITCH, DISARMED,
#: HEALTH_COOL_OFF, HALTED), throttles and abandoned requests are the gate protecting itself, not evidence.
DEFAULT_COUNTED_DENIALS: tuple[str, ...] = (
    "SPREAD_GUARD", "LATENCY_GUARD", "TRAP_GUARD", "ER_BELOW_MIN", "SLIPPAGE_GUARD", "RISK_DAILY_DD", "RISK_CVAR",
    "RISK_MAX_CONCURRENT", "RISK_MAX_NOTIONAL", "RISK_PRICE_COLLAR", "RISK_SIZE_ZERO", "RISK_DUPLICATE",
    "RISK_REDUCE_ONLY_INVALID", "SPRT_REJECT", "GUARD_ERROR",
)  # fmt: skip

TradingStateName = Literal["REDUCING", "HALTED"]


class TradingStateSection(Section):
    """Which trading state each trigger puts the gate in (REDUCING: only position-reducing orders pass)."""

    kill_switch: TradingStateName = "REDUCING"
    health_cool_off: TradingStateName = "REDUCING"
    health_halt: TradingStateName = "REDUCING"
    disarmed: TradingStateName = "REDUCING"


class KillswitchSection(Section):
    @field_validator("counted_denials")
    @classmethod
    def _known_reasons(cls, v: list[str]) -> list[str]:
        known = {r.value for r in Reason}
        bad = [x for x in v if x not in known or x == "OK"]
        if bad:
            raise ValueError(f"unknown denial reason(s) {bad}; known: {', '.join(sorted(known - {'OK'}))}")
        return v

    window_trades: int = Field(50, ge=1, le=100_000)
    max_reject_rate_pct: Pct = 35.0
    max_denied_rate_pct: Pct = 50.0
    min_outcomes: int = Field(20, ge=1, description="Outcomes needed before the rates are judged.")
    action: Literal["HALT_AND_ALERT", "ALERT_ONLY"] = "HALT_AND_ALERT"
    scope: Literal["account", "global"] = Field(
        "account", description="Windows and trips per account (default) or one for the whole gate."
    )
    counted_denials: list[str] = Field(
        default_factory=lambda: list(DEFAULT_COUNTED_DENIALS),
        description="Denial reasons the denied-rate trigger counts (throttles, cool-offs, expired requests and "
        "the kill-switch's own denials are not in the default list).",
    )


class GatesSection(Section):
    """Kill-switch recommendation thresholds evaluated by `metrics summary`."""

    spread_bps_max: PosFloat = 8.0
    vol_std_bps_max: PosFloat = 60.0
    latency_ms_max: PosFloat = 150.0
    dd_day_pct_max: Pct = 5.0
    cvar_day_pct_max: Pct = 10.0


class CalibrationSection(Section):
    path: str | None = Field(None, description="Calibration map file; default: the shipped map.")
    min_points: int = Field(5, ge=2, description="An isotonic map with fewer knots falls back to Platt.")


class AuroraConfig(Section):
    """The effective gate configuration."""

    api: ApiSection = Field(default_factory=ApiSection)
    security: SecuritySection = Field(default_factory=SecuritySection)
    aurora: HealthSection = Field(default_factory=HealthSection)
    guards: GuardsSection = Field(default_factory=GuardsSection)
    risk: RiskSection = Field(default_factory=RiskSection)
    slippage: SlippageSection = Field(default_factory=SlippageSection)
    pretrade: PretradeSection = Field(default_factory=PretradeSection)
    trap: TrapSection = Field(default_factory=TrapSection)
    sprt: SprtSection = Field(default_factory=SprtSection)
    observability: ObservabilitySection = Field(default_factory=ObservabilitySection)
    logging: LoggingSection = Field(default_factory=LoggingSection)
    killswitch: KillswitchSection = Field(default_factory=KillswitchSection)
    trading_state: TradingStateSection = Field(default_factory=TradingStateSection)
    gates: GatesSection = Field(default_factory=GatesSection)
    calibration: CalibrationSection = Field(default_factory=CalibrationSection)
