"""The order lifecycle state machine (SPEC §8): defined once, shared by gate, runner and audit."""

from __future__ import annotations

from enum import StrEnum


class OrderState(StrEnum):
    PREPARED = "PREPARED"
    SUBMITTED = "SUBMITTED"
    ACKED = "ACKED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


S = OrderState

#: (state, lifecycle event short name) -> next state. Anything absent is illegal.
TRANSITIONS: dict[tuple[OrderState, str], OrderState] = {
    (S.PREPARED, "SUBMIT"): S.SUBMITTED,
    (S.SUBMITTED, "ACK"): S.ACKED,
    (S.SUBMITTED, "REJECT"): S.REJECTED,
    (S.SUBMITTED, "EXPIRE"): S.EXPIRED,
    (S.SUBMITTED, "CANCEL.REQUEST"): S.PENDING_CANCEL,
    (S.SUBMITTED, "PARTIAL"): S.PARTIALLY_FILLED,
    (S.SUBMITTED, "FILL"): S.FILLED,
    (S.ACKED, "PARTIAL"): S.PARTIALLY_FILLED,
    (S.ACKED, "FILL"): S.FILLED,
    (S.ACKED, "CANCEL.REQUEST"): S.PENDING_CANCEL,
    (S.ACKED, "EXPIRE"): S.EXPIRED,
    (S.PARTIALLY_FILLED, "PARTIAL"): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, "FILL"): S.FILLED,
    (S.PARTIALLY_FILLED, "CANCEL.REQUEST"): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, "EXPIRE"): S.EXPIRED,
    (S.PENDING_CANCEL, "CANCEL.ACK"): S.CANCELED,
    (S.PENDING_CANCEL, "PARTIAL"): S.PENDING_CANCEL,
    # A fill racing the cancel request is legal.
    (S.PENDING_CANCEL, "FILL"): S.FILLED,
}

TERMINAL_STATES: frozenset[OrderState] = frozenset({S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED})

#: Events that, after CANCEL.ACK, are the real-world "fill after cancel" race (a warning, not corruption).
FILL_EVENTS: frozenset[str] = frozenset({"PARTIAL", "FILL"})


class TransitionVerdict(StrEnum):
    OK = "OK"
    FILL_AFTER_CANCEL = "FILL_AFTER_CANCEL"
    ILLEGAL = "ILLEGAL"


def step(state: OrderState, event: str) -> tuple[OrderState, TransitionVerdict]:
    """Apply one lifecycle event (short name, e.g. ``"ACK"``) to ``state``.

    Returns the next state and a verdict. An illegal event leaves the state unchanged.
    """
    nxt = TRANSITIONS.get((state, event))
    if nxt is not None:
        return nxt, TransitionVerdict.OK
    if state is OrderState.CANCELED and event in FILL_EVENTS:
        return state, TransitionVerdict.FILL_AFTER_CANCEL
    return state, TransitionVerdict.ILLEGAL


def short_name(event_code: str) -> str:
    """``ORDER.CANCEL.ACK`` -> ``CANCEL.ACK``."""
    return event_code[len("ORDER.") :] if event_code.startswith("ORDER.") else event_code
