"""Strict request/response models of the gate's HTTP contract (SPEC §4).

Unknown fields are rejected, numbers must be finite, quantities and prices positive, sides
``buy|sell``. Validation happens once, here; the guards then read a flat ``CheckRequest``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from aurora.config.secrets import PLACEHOLDER_MARKERS
from aurora.events.codes import Reason, normalize_code
from aurora.gate.guard import CheckRequest

#: Documented bounds (SPEC §4 "numbers in bounds"): far beyond any real order or market, close enough
#: that no sum or product the gate forms from them can overflow to inf.
MAX_QTY = 1e9
MAX_PRICE = 1e9
MAX_USD = 1e12
MAX_BPS = 1e5
MAX_MS = 1e7
MAX_SCORE = 1e6
MAX_TS_NS = 2**63 - 1
Pos = Annotated[float, Field(gt=0, le=MAX_PRICE)]
Qty = Annotated[float, Field(gt=0, le=MAX_QTY)]
Size = Annotated[float, Field(ge=0, le=MAX_USD)]
Bps = Annotated[float, Field(ge=0, le=MAX_BPS)]
PosBps = Annotated[float, Field(gt=0, le=MAX_BPS)]
Ms = Annotated[float, Field(ge=0, le=MAX_MS)]
Usd = Annotated[float, Field(ge=-MAX_USD, le=MAX_USD)]
_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


def _integral(v: Any) -> Any:
    """JSON Schema's ``integer`` includes ``23078.0``: accept a float with no fractional part as that integer
    (strings, booleans and fractions stay invalid)."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


#: Nanoseconds since the epoch (an integral JSON number; ``1.7e18`` is read to the nearest float, ~100 ns).
TsNs = Annotated[int, Field(gt=0, le=MAX_TS_NS, strict=True), BeforeValidator(_integral)]
TsNs0 = Annotated[int, Field(ge=0, le=MAX_TS_NS, strict=True), BeforeValidator(_integral)]

_EXAMPLE_CHECK: dict[str, Any] = {
    "account": {"id": "acc-1", "equity_usd": 10000.0},
    "order": {"cid": "r1-000042", "symbol": "SOLUSDT", "side": "buy", "qty": 1.5, "price": 187.42,
              "order_type": "limit", "reduce_only": False},
    "market": {"best_bid": 187.41, "best_ask": 187.43, "bid_size": 120.0, "ask_size": 95.0, "spread_bps": 1.07,
               "latency_ms": 12.0, "vol_std_bps": 18.0, "score": 2.1, "tp_bps": 20.0, "sl_bps": 10.0,
               "l2_add_volumes": [10.0, 8.0, 6.5, 5.0, 4.0], "l2_cancel_volumes": [7.0, 6.0, 5.5, 3.0, 2.0],
               "sprt_samples": [1.2, 0.8, 1.6, 0.9]},
}  # fmt: skip


class Account(BaseModel):
    model_config = _STRICT
    id: str = Field(min_length=1, max_length=64, description="Account id (throttles are per account).")
    equity_usd: Annotated[float, Field(gt=0, le=MAX_USD)] | None = Field(
        None, description="The client's view of its equity: logged only. Limits use risk.accounts/risk.equity_usd, "
        "lowered by a balance posted to /posttrade/balance.")


class Order(BaseModel):
    model_config = _STRICT
    cid: str | None = Field(None, min_length=1, max_length=64, description="Client order id, unique per run.")
    symbol: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-.:/]+$")
    side: Literal["buy", "sell"]
    qty: Qty
    price: Pos | None = Field(None, description="Limit price; market orders may omit it.")
    order_type: Literal["limit", "market"] = "limit"
    reduce_only: bool = False


class Market(BaseModel):
    model_config = _STRICT
    best_bid: Pos
    best_ask: Pos
    bid_size: Size
    ask_size: Size
    spread_bps: Bps
    latency_ms: Ms = Field(description="Runner-measured latency of this decision's inputs (ms).")
    vol_std_bps: Bps
    score: float = Field(ge=-MAX_SCORE, le=MAX_SCORE,
                         description="Alpha score, side-aligned: higher = this trade more likely to win.")
    tp_bps: PosBps
    sl_bps: PosBps
    l2_add_volumes: list[Size] = Field(max_length=50, description="Recent added volume per book level.")
    l2_cancel_volumes: list[Size] = Field(max_length=50, description="Recent cancelled volume per book level.")
    sprt_samples: list[Annotated[float, Field(ge=-MAX_BPS, le=MAX_BPS)]] | None = Field(
        None, max_length=10_000, description="Edge samples (bps) for SPRT.")
    ts_ns: TsNs0 | None = Field(None,
                              description="When the runner asked (ns since the epoch, its clock): with deadline_ms "
                              "the gate denies REQUEST_EXPIRED once nobody waits for the answer. Required on a "
                              "gate running on the request clock.")
    deadline_ms: Annotated[float, Field(gt=0, le=MAX_MS)] | None = Field(
        None, description="How long the runner waits for this answer (ms after ts_ns).")
    book_age_ms: Ms | None = Field(
        None, description="How old the runner's book already was when it asked (ms): added to the quote's age.")


class PretradeCheck(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE_CHECK]})
    account: Account
    order: Order
    market: Market

    def to_request(self) -> CheckRequest:
        a, o, m = self.account, self.order, self.market
        # positional, in CheckRequest's field order: ~4x cheaper than 23 keywords on the hot path
        return CheckRequest(
            a.id, o.symbol, o.side, o.qty, m.best_bid, m.best_ask, m.bid_size, m.ask_size, m.spread_bps,
            m.latency_ms, m.vol_std_bps, m.score, m.tp_bps, m.sl_bps, m.l2_add_volumes, m.l2_cancel_volumes,
            m.sprt_samples, o.price, o.order_type, o.reduce_only, o.cid, a.equity_usd, m.ts_ns, m.deadline_ms,
            m.book_age_ms,
        )  # fmt: skip

    def key_count(self) -> int:
        """Distinct keys given (see :func:`aurora.api.request_body.key_count`; no nested objects here)."""
        return (len(self.model_fields_set) + len(self.account.model_fields_set) + len(self.order.model_fields_set)
                + len(self.market.model_fields_set))  # fmt: skip


class PretradeResponse(BaseModel):
    allow: bool
    max_qty: float
    risk_scale: float
    cooldown_ms: float
    reason: Reason = Field(description="Stable reason code (OK when allowed).")
    trading_state: str = Field(description="ACTIVE | REDUCING | HALTED: the state this account's orders meet now.")
    state_seq: int = Field(description="Changes whenever the trading state may have changed (compare for inequality).")
    observability: dict[str, Any] = Field(description="Per guard: inputs, threshold, verdict (pass) and time (us).")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"allow": False, "max_qty": 0.0, "risk_scale": 1.0, "cooldown_ms": 0.0, "reason": "SPREAD_GUARD",
                 "observability": {"spread": {"spread_bps": 92.0, "limit_bps": 80.0, "pass": False, "us": 0.4}}}
            ]
        }
    )  # fmt: skip


#: Bounds of the detail fields the gate computes with (inclusive).
DETAIL_BOUNDS: dict[str, tuple[float, float]] = {
    "fill_qty": (0.0, MAX_QTY), "cum_qty": (0.0, MAX_QTY), "price": (0.0, MAX_PRICE), "fill_price": (0.0, MAX_PRICE),
    "realized_pnl_usd": (-1e9, 1e9), "fee_usd": (-1e9, 1e9), "latency_ms": (0.0, MAX_MS),
}  # fmt: skip
#: Any other number in details: finite and within this magnitude.
MAX_DETAIL_MAGNITUDE = 1e15
#: ``details`` is a free-form record, bounded: nesting, entries per object or list, the length of every
#: string and key (the body limit bounds it in bytes too). :data:`DETAILS_SCHEMA` states the same rules.
MAX_DETAIL_DEPTH = 4
MAX_DETAIL_ENTRIES = 64
MAX_DETAIL_STR = 1024


def _check_number(name: str, x: Any, bounds: tuple[float, float] | None, depth: int) -> None:
    """One value of ``details``: numbers finite and in bounds, strings short, containers small and shallow."""
    if x is None:
        return
    if isinstance(x, bool) or isinstance(x, str):
        if bounds is not None:
            raise ValueError(f"{name} must be a number")
        if isinstance(x, str) and len(x) > MAX_DETAIL_STR:
            raise ValueError(f"{name} is longer than {MAX_DETAIL_STR} characters")
        return
    if isinstance(x, int | float):
        if x != x or x in (math.inf, -math.inf):
            raise ValueError(f"{name} must be a finite number")
        lo, hi = bounds if bounds is not None else (-MAX_DETAIL_MAGNITUDE, MAX_DETAIL_MAGNITUDE)
        if not lo <= x <= hi:
            raise ValueError(f"{name} must be within [{lo:g}, {hi:g}]")
        return
    if bounds is not None:
        raise ValueError(f"{name} must be a number")
    if depth >= MAX_DETAIL_DEPTH:
        raise ValueError(f"{name} is nested too deeply")
    if isinstance(x, dict):
        _check_container(name, x)
        for k, y in x.items():
            _check_number(f"{name}.{k}", y, None, depth + 1)
    elif isinstance(x, list):
        _check_container(name, x)
        for i, y in enumerate(x):
            _check_number(f"{name}[{i}]", y, None, depth + 1)


def _check_container(name: str, x: dict[str, Any] | list[Any]) -> None:
    if len(x) > MAX_DETAIL_ENTRIES:
        raise ValueError(f"{name} holds more than {MAX_DETAIL_ENTRIES} entries")
    if isinstance(x, dict) and any(len(k) > MAX_DETAIL_STR for k in x):
        raise ValueError(f"{name}: a key is longer than {MAX_DETAIL_STR} characters")


def check_details(v: dict[str, Any]) -> dict[str, Any]:
    _check_container("details", v)
    for k, x in v.items():
        _check_number(f"details.{k}", x, DETAIL_BOUNDS.get(k), 0)
    return v


def _detail_value_schema(depth: int) -> dict[str, Any]:
    scalars: list[dict[str, Any]] = [
        {"type": "string", "maxLength": MAX_DETAIL_STR},
        {"type": "number", "minimum": -MAX_DETAIL_MAGNITUDE, "maximum": MAX_DETAIL_MAGNITUDE},
        {"type": "boolean"}, {"type": "null"},
    ]  # fmt: skip
    if depth < MAX_DETAIL_DEPTH:
        inner = _detail_value_schema(depth + 1)
        scalars += [
            {"type": "array", "maxItems": MAX_DETAIL_ENTRIES, "items": inner},
            {"type": "object", "maxProperties": MAX_DETAIL_ENTRIES, "propertyNames": {"maxLength": MAX_DETAIL_STR},
             "additionalProperties": inner},
        ]  # fmt: skip
    return {"anyOf": scalars}


#: The JSON Schema of ``details`` (what :func:`check_details` accepts, no more, no less).
DETAILS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "maxProperties": MAX_DETAIL_ENTRIES,
    "propertyNames": {"maxLength": MAX_DETAIL_STR},
    "properties": {k: {"anyOf": [{"type": "number", "minimum": lo, "maximum": hi}, {"type": "null"}]}
                   for k, (lo, hi) in DETAIL_BOUNDS.items()},
    "additionalProperties": _detail_value_schema(0),
    "description": "price, fill_qty, fill_price, cum_qty, trade_id, realized_pnl_usd, fee_usd, reason, latency_ms ... "
    f"Numbers finite (the ones the gate uses within their bounds, others within ±{MAX_DETAIL_MAGNITUDE:g}), strings "
    f"and keys up to {MAX_DETAIL_STR} characters, at most {MAX_DETAIL_ENTRIES} entries per object or list, "
    f"nested at most {MAX_DETAIL_DEPTH} deep.",
}  # fmt: skip


#: What ``event_code`` accepts: the lifecycle events, canonical and in the legacy ``ORDER_X`` spelling.
EventCodeIn = Literal[
    "ORDER.SUBMIT", "ORDER.ACK", "ORDER.PARTIAL", "ORDER.FILL", "ORDER.REJECT", "ORDER.CANCEL.REQUEST",
    "ORDER.CANCEL.ACK", "ORDER.EXPIRE", "ORDER_SUBMIT", "ORDER_ACK", "ORDER_PARTIAL", "ORDER_FILL", "ORDER_REJECT",
    "ORDER_CANCEL_REQUEST", "ORDER_CANCEL_ACK", "ORDER_EXPIRE",
]  # fmt: skip


class PosttradeEvent(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {"event_code": "ORDER.ACK", "ts_ns": 1763700000123456789, "cid": "r1-000042", "oid": "8812731",
                 "symbol": "SOLUSDT", "details": {"latency_ms": 41.0}}
            ]
        },
    )  # fmt: skip
    event_code: EventCodeIn = Field(description="The lifecycle event (the legacy ORDER_X spelling is accepted and "
                                    "recorded as ORDER.X).")  # fmt: skip
    ts_ns: TsNs
    cid: str = Field(min_length=1, max_length=64)
    oid: str | None = Field(None, max_length=128)
    account: str | None = Field(None, min_length=1, max_length=64,
                                description="Account id; default: the account of the check that allowed the cid.")
    symbol: str | None = Field(None, max_length=32)
    side: Literal["buy", "sell"] | None = None
    qty: Qty | None = None
    details: Annotated[dict[str, Any], WithJsonSchema(DETAILS_SCHEMA)] = Field(default_factory=dict)

    @field_validator("details")
    @classmethod
    def _numbers_in_bounds(cls, v: dict[str, Any]) -> dict[str, Any]:
        return check_details(v)

    def to_event(self) -> dict[str, Any]:
        ev = self.model_dump()
        ev["event_code"] = normalize_code(self.event_code)
        return ev


def _token_pattern() -> str:
    """A new token: no surrounding whitespace, none of the placeholder markers (any case), at least three
    distinct characters — :func:`aurora.config.secrets.is_placeholder` as one regular expression, so that
    the OpenAPI document states the rule the gate applies (validated with it, not with a copy)."""

    def any_case(m: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in m)

    markers = "|".join(any_case(m) for m in PLACEHOLDER_MARKERS)
    # whitespace spelled out as str.strip() knows it (``\s`` differs between regex engines)
    ws = "[" + "".join(_ranges([i for i in range(0x110000) if chr(i).isspace()])) + "]"
    return (r"^(?!" + ws + r")(?![\s\S]*" + ws + r"$)(?![\s\S]*(?:" + markers + r"))"
            r"(?=[\s\S]*?([\s\S])[\s\S]*?(?!\1)([\s\S])[\s\S]*?(?!\1)(?!\2)[\s\S])[\s\S]*$")  # fmt: skip


def _ranges(points: list[int]) -> list[str]:
    """Code points as regex class ranges (``\\uXXXX-\\uYYYY``)."""
    out: list[str] = []
    start = prev = points[0]
    for c in [*points[1:], -1]:
        if c == prev + 1:
            prev = c
            continue
        out.append(f"\\u{start:04x}" + (f"-\\u{prev:04x}" if prev != start else ""))
        start = prev = c
    return out


TOKEN_PATTERN = _token_pattern()
_TOKEN_RE = re.compile(TOKEN_PATTERN)


class RotateToken(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    new_token: str = Field(min_length=32, max_length=512, json_schema_extra={"pattern": TOKEN_PATTERN},
                           description="The new token: >= 32 characters, random (not a placeholder such as "
                           "changeme/xxxx/<...>, at least 3 distinct characters), no surrounding whitespace.")
    target: Literal["ops", "api"] = Field("ops", description="Which token to rotate.")

    @field_validator("new_token")
    @classmethod
    def _not_placeholder(cls, v: str) -> str:
        if _TOKEN_RE.match(v) is None:
            raise ValueError("looks like a placeholder or has surrounding whitespace; use a random token")
        return v


class Balance(BaseModel):
    """A venue-reported account balance (``POST /posttrade/balance``): it can only lower the equity the
    drawdown and CVaR limits are computed on, never raise it above the configured one."""

    model_config = _STRICT
    account: str = Field(min_length=1, max_length=64)
    equity_usd: Annotated[float, Field(gt=0, le=MAX_USD)]
    ts_ns: TsNs | None = None


class Halt(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=200, description="Why (shown in events and ops status).")
    cancel_all: bool = Field(False, description="Runners also cancel every resting order, exits included.")


# --- error and status bodies (documented per endpoint: aurora.api.responses) -----------------------
class Problem(BaseModel):
    """A refused request: 400 (unreadable length), 401 (no or wrong token: no hint which), 413, 415."""

    detail: str


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending input (order.qty, details.fill_qty, sec).")
    msg: str
    type: str


class InvalidRequest(BaseModel):
    """422: the input does not validate (the value itself is never echoed: it may be a token)."""

    error: str = Field(description="A one-line summary naming the fields.")
    detail: list[FieldError]


class NotRecorded(BaseModel):
    """503: nothing was recorded or changed (e.g. a full disk); the client re-posts."""

    ok: Literal[False]
    detail: str


class Readiness(BaseModel):
    ready: bool
    reasons: list[str]
    config_version: str


class PosttradeAck(BaseModel):
    ok: Literal[True]
    event_code: str | None = None
    duplicate: bool | None = Field(None, description="The event was already recorded: nothing changed.")


class BalanceAck(BaseModel):
    ok: Literal[True]
    account: str
    equity_usd: float
    equity_source: str


class ReloadResult(BaseModel):
    ok: bool
    config_version: str | None = None
    error: str | None = None
    issues: list[dict[str, Any]] | None = None
    model_config = ConfigDict(extra="allow")
