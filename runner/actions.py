"""What the runner decides to do, and what came of it: typed values between the market loop, the
position/exit manager and the order executor (:mod:`runner.loop`, :mod:`runner.exits`,
:mod:`runner.executor`).

An *action* names one order to place or cancel; the executor turns it into a gate check and a venue
call and answers with an *outcome* the exit manager learns from (back off after a denial, trade around
an unclosable remainder).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from runner.strategy import Candidate
from runner.venues.base import CANCEL_BY_RUNNER


class Purpose(StrEnum):
    """Why an order exists (``TrackedOrder.purpose``; recorded with its events)."""

    ENTRY = "entry"
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    TIME_STOP = "time_stop"
    FLATTEN = "flatten"  # closing at the end of a run


#: the purposes of a reduce-only market close
CLOSING = (Purpose.STOP_LOSS, Purpose.TIME_STOP, Purpose.FLATTEN)


@dataclass(frozen=True, slots=True)
class Enter:
    """Open a position on a candidate that passed the strategy's gates."""

    candidate: Candidate

    @property
    def symbol(self) -> str:
        return self.candidate.symbol


@dataclass(frozen=True, slots=True)
class TakeProfit:
    """Rest a reduce-only limit ``tp_bps`` beyond the position's entry price."""

    symbol: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close the whole position at market, reduce-only, for ``reason`` (one of :data:`CLOSING`)."""

    symbol: str
    reason: Purpose


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel one resting order; ``reason`` goes with its ``CANCEL.REQUEST`` (a KillReason on a kill)."""

    symbol: str
    cid: str
    reason: str = CANCEL_BY_RUNNER


Action = Enter | TakeProfit | Close | Cancel


@dataclass(frozen=True, slots=True)
class Placed:
    """Allowed by the gate and handed to the venue."""

    cid: str
    qty: float


@dataclass(frozen=True, slots=True)
class Denied:
    """The gate said no; ``cooldown_ms`` is its hint of when asking again makes sense."""

    reason: str
    cooldown_ms: float


@dataclass(frozen=True, slots=True)
class NoGate:
    """The gate could not be asked (down, timed out, refused the request): no order (fail closed)."""


@dataclass(frozen=True, slots=True)
class BelowLot:
    """Allowed, but scaled below one lot: nothing could be sent."""

    cid: str
    requested_qty: float
    allowed_max_qty: float | None
    risk_scale: float
    reduce_only: bool


@dataclass(frozen=True, slots=True)
class Skipped:
    """Nothing to do any more (the position went flat, the order is done, the features are not ready)."""


@dataclass(frozen=True, slots=True)
class CancelSent:
    cid: str


Outcome = Placed | Denied | NoGate | BelowLot | Skipped | CancelSent
