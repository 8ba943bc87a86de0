"""The one guard interface, the flat request the guards read, and the decision they build.

The hot path is plain Python: ``CheckRequest`` and ``DecisionState`` are slotted classes (attribute
access without pydantic's overhead); the HTTP layer validates with pydantic once and converts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from aurora.events.codes import Reason

__all__ = ["CheckRequest", "Decision", "DecisionState", "Guard", "Reason"]


@dataclass(slots=True)
class CheckRequest:
    """One ``/pretrade/check`` request, flattened. ``score`` is side-aligned (higher = more likely to win)."""

    account_id: str
    symbol: str
    side: str  # "buy" | "sell"
    qty: float
    best_bid: float
    best_ask: float
    bid_size: float
    ask_size: float
    spread_bps: float
    latency_ms: float
    vol_std_bps: float
    score: float
    tp_bps: float
    sl_bps: float
    l2_add_volumes: list[float] = field(default_factory=list)
    l2_cancel_volumes: list[float] = field(default_factory=list)
    sprt_samples: list[float] | None = None
    price: float | None = None
    order_type: str = "limit"
    reduce_only: bool = False
    cid: str | None = None
    equity_usd: float | None = None  # the client's claim: logged, never used for a limit
    ts_ns: int | None = None  # when the runner asked (its clock, ns since epoch)
    deadline_ms: float | None = None  # how long the runner waits for this answer
    book_age_ms: float | None = None  # how old the runner's book already was when it asked

    @property
    def mid(self) -> float:
        return (self.best_bid + self.best_ask) * 0.5


class DecisionState:
    """What the guards build up while one request passes through them."""

    __slots__ = (
        "max_qty", "risk_scale", "cooldown_ms", "obs", "risk_reducing", "p_win", "edge_bps", "slip_bps",
        "spread_bps", "instrument",
    )  # fmt: skip

    def __init__(self, qty: float, risk_reducing: bool) -> None:
        self.max_qty = qty
        self.risk_scale = 1.0
        self.cooldown_ms = 0.0
        self.obs: dict[str, dict[str, Any]] = {}
        self.risk_reducing = risk_reducing
        self.p_win: float | None = None
        self.edge_bps: float | None = None  # p*TP - (1-p)*SL - fees, before slippage
        self.slip_bps: float | None = None  # expected slippage for the requested qty
        self.spread_bps: float | None = None  # computed from the book by the market guard
        self.instrument: Any = None  # the registry's Instrument, once the instrument guard found it


@dataclass(slots=True)
class Decision:
    allow: bool
    reason: str
    max_qty: float
    risk_scale: float
    cooldown_ms: float
    observability: dict[str, Any]
    decision_us: float = 0.0
    risk_reducing: bool = False
    guard: str | None = None  # the guard that decided a deny

    def response(self) -> dict[str, Any]:
        return {
            "allow": self.allow,
            "max_qty": self.max_qty,
            "risk_scale": self.risk_scale,
            "cooldown_ms": self.cooldown_ms,
            "reason": self.reason,
            "observability": self.observability,
        }


class Guard(Protocol):
    """One pipeline stage. ``check`` returns ``None`` to pass or a :class:`Reason` to deny.

    It records its inputs, threshold and verdict in ``d.obs[self.name]`` and may lower ``d.max_qty``
    or ``d.risk_scale``. ``now_ns`` is the decision time (monotonic ns) so windows are testable.
    """

    name: str

    def check(self, r: CheckRequest, d: DecisionState, now_ns: int) -> str | None: ...

    def configure(self, cfg: Any) -> None:
        """Take (new) thresholds from an ``AuroraConfig``; state is kept across reloads."""
        ...
