"""Where each effective config value came from, as one flat map per loaded config version.

The loader records every write of every leaf (:class:`aurora.config.merge.KeyHistory`); this module
turns that history into what a decision record names: ``{key: {"value": v, "source": "file:line"}}``.
The gate builds the map once per config load or reload (never per request) and reads it when it
denies; ``auroractl whatif`` builds one for the session's version and one for a candidate.

``source`` is ``<path>:<line>`` for a YAML layer, ``env:VAR`` for the environment, ``defaults`` for
the built-in models, ``derived from …`` for a value computed from others (``sprt.A``/``sprt.B``), the
recorded source itself for a layer rebuilt from a recording (:func:`aurora.config.loader.load_over`),
and ``None`` when the config was built without a loader (tests, benchmarks): an origin nobody recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aurora.config.merge import KeyHistory, Origin, flatten

DEFAULTS_SOURCE = "defaults"


def where(origin: Origin) -> str:
    """One origin as an operator reads it: ``configs/aurora/testnet.yaml:3``, ``env:AURORA_X``, ``defaults``."""
    if origin.layer == "defaults":
        return DEFAULTS_SOURCE
    if origin.layer == "derived":
        return f"derived {origin.source}"
    return f"{origin.source}:{origin.line}" if origin.line else origin.source


def provenance_map(effective: Mapping[str, Any], history: Mapping[str, KeyHistory]) -> dict[str, dict[str, Any]]:
    """Every leaf of ``effective`` (the validated, redacted config dump) with its value and source."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in flatten(effective):
        h = history.get(key)
        out[key] = {"value": value, "source": where(h.effective) if h is not None else None}
    return out


def sources_of(history: Mapping[str, KeyHistory]) -> dict[str, str]:
    """``key -> source`` for every key not left at its built-in default (what a session records)."""
    return {k: where(h.effective) for k, h in history.items() if h.effective.layer != "defaults"}
