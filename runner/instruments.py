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
