"""Session dirs: ``logs/YYYYMMDD-hhmmss/`` (a suffix is added when one already exists), the names of the
files in them (:mod:`aurora.session.files`) and the one reader of them (:mod:`aurora.session.reader`)."""

from __future__ import annotations

import time
from pathlib import Path

from aurora.session.files import SESSION_DIR_FORMAT


def create_session_dir(parent: Path | str = "logs", *, now: float | None = None) -> Path:
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime(SESSION_DIR_FORMAT, time.localtime(now))
    for n in range(1, 1000):
        candidate = parent / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"too many session dirs named {stamp} under {parent}")
