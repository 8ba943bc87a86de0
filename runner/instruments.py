"""Price tick and lot step per symbol: the one lookup the runner uses (to be backed by the registry).

Until the instrument registry lands, the steps of the symbols the runner ships profiles for are listed
here (Binance USD-M values). An unknown symbol is refused, never guessed: a wrong tick gets every order
rejected, a wrong lot step sizes wrongly. A profile may give ``tick``/``lot`` for a symbol explicitly.
"""

from __future__ import annotations

#: symbol -> (tick, lot step), Binance USD-M.
KNOWN_STEPS: dict[str, tuple[float, float]] = {
    "BTCUSDT": (0.1, 0.001),
    "ETHUSDT": (0.01, 0.001),
    "SOLUSDT": (0.01, 0.01),
    "SOONUSDT": (0.0001, 1.0),
}


class UnknownInstrumentError(LookupError):
    """No tick/lot step is known for a symbol; the message says how to give them."""


def instrument_steps(symbol: str) -> tuple[float, float]:
    """``(tick, lot)`` of ``symbol``; :class:`UnknownInstrumentError` when it is not known."""
    steps = KNOWN_STEPS.get(symbol.upper())
    if steps is None:
        raise UnknownInstrumentError(
            f"no tick size / lot step known for {symbol} (known: {', '.join(sorted(KNOWN_STEPS))}); give "
            f"symbols[].tick and symbols[].lot for it in the profile"
        )
    return steps
