"""Instrument registries for tests that need more symbols than the shipped snapshot holds."""

from __future__ import annotations

from pathlib import Path

import orjson

from aurora.instruments import SHIPPED_PATH


def registry_with(directory: Path, *symbols: str, like: str = "SOLUSDT") -> Path:
    """A registry file in ``directory``: the shipped snapshot plus ``symbols``, each with ``like``'s rules."""
    doc = orjson.loads(SHIPPED_PATH.read_bytes())
    venue = doc["venues"]["binanceusdm"]
    for s in symbols:
        venue[s] = dict(venue[like])
    path = directory / "instruments.json"
    path.write_bytes(orjson.dumps(doc))
    return path
