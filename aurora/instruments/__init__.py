"""The instrument registry (tick, lot step, min/max quantity, min notional per venue and symbol)."""

from aurora.instruments.registry import (
    DEFAULT_VENUE,
    SHIPPED_PATH,
    Instrument,
    InstrumentRegistry,
    UnknownInstrumentError,
    configured_registry,
    floor_to_step,
    load_registry,
    on_step,
    registry_at,
    resolve_path,
)

__all__ = [
    "DEFAULT_VENUE", "SHIPPED_PATH", "Instrument", "InstrumentRegistry", "UnknownInstrumentError", "configured_registry", "floor_to_step",
    "load_registry", "on_step", "registry_at", "resolve_path",
]  # fmt: skip
