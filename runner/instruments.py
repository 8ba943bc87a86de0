"""The runner's view of the instrument registry (:mod:`aurora.instruments`): the one lookup it uses.

The registry is the file ``AURORA_INSTRUMENTS_PATH`` names — the same variable that sets the gate's
``instruments.path`` — else the snapshot shipped with the package, so runner and gate round to the
same tick and lot step. An unknown symbol is refused, never guessed: a wrong tick gets every order
rejected, a wrong lot step sizes wrongly. A profile may still give ``tick``/``lot`` for a symbol
explicitly (the gate refuses it unless its registry knows the symbol too).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aurora.config.errors import ConfigError
from aurora.instruments import DEFAULT_VENUE, Instrument, InstrumentRegistry, registry_at
from aurora.instruments import UnknownInstrumentError as _RegistryUnknown
from aurora.instruments.registry import (
    MAX_QTY,
    MIN_NOTIONAL,
    MIN_QTY,
    NOT_TRADING,
    PRICE_TICK,
    QTY_STEP,
    order_violation,
)

PATH_VAR = "AURORA_INSTRUMENTS_PATH"


class UnknownInstrumentError(_RegistryUnknown):
    """No instrument is known for a symbol (or the registry cannot be read); the message says what to do."""


def registry(environ: Mapping[str, str] | None = None) -> InstrumentRegistry:
    env = os.environ if environ is None else environ
    try:
        return registry_at(env.get(PATH_VAR) or None)
    except ConfigError as exc:
        raise UnknownInstrumentError(f"{PATH_VAR}: {exc}") from None


def instrument(symbol: str, venue: str = DEFAULT_VENUE, environ: Mapping[str, str] | None = None) -> Instrument:
    """The registry's instrument for ``symbol``; :class:`UnknownInstrumentError` when it has none."""
    reg = registry(environ)
    inst = reg.get(symbol, venue)
    if inst is None:
        raise UnknownInstrumentError(
            f"{reg.unknown_message(symbol, venue)}; or give symbols[].tick and symbols[].lot for it in the profile"
        )
    return inst


def instrument_steps(symbol: str) -> tuple[float, float]:
    """``(tick, lot)`` of ``symbol``; :class:`UnknownInstrumentError` when it is not known."""
    inst = instrument(symbol)
    return inst.tick, inst.step


#: What the venue's filter says when it refuses an order (the paper venue's reject reasons).
_FILTER_OF = {
    NOT_TRADING: "SYMBOL_STATUS", PRICE_TICK: "PRICE_FILTER", QTY_STEP: "LOT_SIZE", MIN_QTY: "LOT_SIZE",
    MAX_QTY: "LOT_SIZE", MIN_NOTIONAL: "MIN_NOTIONAL",
}  # fmt: skip


def venue_rejection(symbol: str, price: float | None, qty: float, order_type: str, reduce_only: bool,
                    ref_price: float) -> str | None:  # fmt: skip
    """Why an exchange with the registry's filters would refuse this order (``None``: it would accept it):
    for the paper venue, which must be as strict as the real one. Judged by the same rules as the gate
    (:func:`aurora.instruments.registry.order_violation`)."""
    try:
        inst = instrument(symbol)
    except UnknownInstrumentError:
        return f"SYMBOL: {symbol} is not listed"
    rule = order_violation(inst, price, qty, order_type, reduce_only, ref_price)
    if rule is None:
        return None
    detail = {
        NOT_TRADING: f"status {inst.status}", PRICE_TICK: f"price {price} is not a multiple of tick {inst.tick:g}",
        QTY_STEP: f"qty {qty} is not a multiple of step {inst.step:g}", MIN_QTY: f"qty {qty} < min {inst.min_qty:g}",
        MAX_QTY: f"qty {qty} > max {inst.max_qty_for(order_type)}",
        MIN_NOTIONAL: f"notional {qty * ref_price:g} < {inst.min_notional:g} (unless reduce only)",
    }[rule]  # fmt: skip
    return f"{_FILTER_OF[rule]}: {detail}"
