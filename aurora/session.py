"""Isolated session dirs: ``logs/YYYYMMDD-hhmmss/`` (a suffix is added when one already exists)."""

from __future__ import annotations

import time
from pathlib import Path


def create_session_dir(parent: Path | str = "logs", *, now: float | None = None) -> Path:
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    for n in range(1, 1000):
        candidate = parent / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"too many session dirs named {stamp} under {parent}")
