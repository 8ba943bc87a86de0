"""Read labelled (score, outcome) pairs for ``auroractl calibrate``.

Two inputs are understood:

* **pairs** — a JSONL file, one ``{"score": float, "outcome": 0|1}`` object per line (``outcome`` may
  also be ``true``/``false``);
* **session** — a session dir (or one events file in it): every closing ``ORDER.FILL``/``ORDER.PARTIAL``
  event of ``aurora_events*.jsonl*`` (rotated files included) whose details carry ``realized_pnl_bps``
  and the entry's ``entry_score``; the outcome is a win when ``realized_pnl_bps > 0``.
"""

from __future__ import annotations

import math
from pathlib import Path

from aurora.calibration.calibration_map import CalibrationError
from aurora.events.reader import LogReadError, ReadStats, iter_file, iter_records


def _outcome(value: object, where: str) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and value in (0, 1):
        return int(value)
    raise CalibrationError(f"{where}: outcome must be 0/1 or true/false (got {value!r})")


def read_pairs(path: Path) -> tuple[list[float], list[int], ReadStats]:
    stats = ReadStats()
    scores: list[float] = []
    outcomes: list[int] = []
    try:
        for i, rec in enumerate(iter_file(path, stats), 1):
            where = f"{path}: record {i}"
            if "score" not in rec or "outcome" not in rec:
                raise CalibrationError(f"{where}: needs 'score' and 'outcome' fields")
            s = rec["score"]
            if not isinstance(s, int | float) or isinstance(s, bool) or not math.isfinite(s):
                raise CalibrationError(f"{where}: score must be a finite number (got {s!r})")
            scores.append(float(s))
            outcomes.append(_outcome(rec["outcome"], where))
    except LogReadError as exc:
        raise CalibrationError(str(exc)) from None
    return scores, outcomes, stats


def read_session(path: Path) -> tuple[list[float], list[int], ReadStats]:
    stats = ReadStats()
    directory, stem = (path, "aurora_events") if path.is_dir() else (path.parent, path.name.split(".")[0])
    scores: list[float] = []
    outcomes: list[int] = []
    try:
        for rec in iter_records(directory, stem, stats):
            if rec.get("event_code") not in ("ORDER.FILL", "ORDER.PARTIAL"):
                continue
            d = rec.get("details") or {}
            s, pnl = d.get("entry_score"), d.get("realized_pnl_bps")
            if isinstance(s, int | float) and isinstance(pnl, int | float) and math.isfinite(s) and math.isfinite(pnl):
                scores.append(float(s))
                outcomes.append(1 if pnl > 0 else 0)
    except LogReadError as exc:
        raise CalibrationError(str(exc)) from None
    return scores, outcomes, stats


def read_labelled(path: Path, fmt: str = "auto") -> tuple[list[float], list[int], ReadStats, str]:
    """``(scores, outcomes, read stats, format used)``; ``fmt`` is ``auto``, ``pairs`` or ``session``."""
    if not path.exists():
        raise CalibrationError(f"{path}: no such file or directory")
    if fmt == "auto":
        fmt = "session" if path.is_dir() or path.name.startswith("aurora_events") else "pairs"
    if fmt == "pairs":
        if path.is_dir():
            raise CalibrationError(f"{path}: is a directory; pairs come from a JSONL file")
        return (*read_pairs(path), fmt)
    if fmt == "session":
        return (*read_session(path), fmt)
    raise CalibrationError(f"unknown format {fmt!r} (expected auto, pairs or session)")
