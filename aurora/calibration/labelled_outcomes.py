"""Read labelled (score, outcome) pairs for ``auroractl calibrate``.

Two inputs are understood:

* **pairs** — a JSONL file, one ``{"score": float, "outcome": 0|1}`` object per line (``outcome`` may
  also be ``true``/``false``);
* **session** — a session dir (or one events file in it): every closing ``ORDER.FILL``/``ORDER.PARTIAL``
  event of ``aurora_events*.jsonl*`` (rotated files included) whose details carry ``realized_pnl_bps``
  and the entry's ``entry_score``; the outcome is a win when ``realized_pnl_bps > 0``.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

from aurora.calibration.calibration_map import CalibrationError
from aurora.session.fields import Field
from aurora.session.files import GATE_EVENTS, parse_name
from aurora.session.reader import ReadReport, SessionReadError, decode_line, iter_records

_FILLS = ("ORDER.FILL", "ORDER.PARTIAL")


def _outcome(value: object, where: str) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and value in (0, 1):
        return int(value)
    raise CalibrationError(f"{where}: outcome must be 0/1 or true/false (got {value!r})")


def read_pairs(path: Path) -> tuple[list[float], list[int], ReadReport]:
    """A pairs file is the operator's own input, not a log: a damaged line is an error naming it
    (``decode_line`` says why), only an unterminated last line (a torn write) is skipped and counted."""
    report = ReadReport(session=str(path))
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    lines = data.split(b"\n")
    if lines[-1].strip():
        report.torn.append({"file": path.name, "line": len(lines)})
    scores: list[float] = []
    outcomes: list[int] = []
    for lineno, line in enumerate(lines[:-1], 1):
        if not line.strip():
            continue
        rec = decode_line(line)
        where = f"{path}:{lineno}"
        if isinstance(rec, str):
            raise CalibrationError(f"{where}: {rec}")
        if "score" not in rec or "outcome" not in rec:
            raise CalibrationError(f"{where}: needs 'score' and 'outcome' fields")
        s = rec["score"]
        if not isinstance(s, int | float) or isinstance(s, bool) or not math.isfinite(s):
            raise CalibrationError(f"{where}: score must be a finite number (got {s!r})")
        scores.append(float(s))
        outcomes.append(_outcome(rec["outcome"], where))
    return scores, outcomes, report


def read_session(path: Path) -> tuple[list[float], list[int], ReadReport]:
    """Pairs from a session's closing fills, read by the one session reader (its damage policy: a
    damaged line is counted and skipped, see :func:`aurora.session.reader.read_warnings`)."""
    named = None if path.is_dir() else parse_name(path.name)
    directory, stem = (path, GATE_EVENTS) if path.is_dir() else (path.parent, named.stem if named else "")
    if not stem:
        raise CalibrationError(f"{path}: not a session log (expected a session dir or an aurora_events file)")
    report = ReadReport(session=str(directory))
    scores: list[float] = []
    outcomes: list[int] = []
    score_key, pnl_key = Field.ENTRY_SCORE.value, Field.REALIZED_PNL_BPS.value
    try:
        for rec in iter_records(directory, report, stems=[stem]):
            if rec["event_code"] not in _FILLS:
                continue
            d = rec.get("details") or {}
            s, pnl = d.get(score_key), d.get(pnl_key)
            if _finite(s) and _finite(pnl):
                scores.append(float(s))
                outcomes.append(1 if pnl > 0 else 0)
    except SessionReadError as exc:
        raise CalibrationError(str(exc)) from None
    return scores, outcomes, report


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def read_labelled(path: Path, fmt: str = "auto") -> tuple[list[float], list[int], ReadReport, str]:
    """``(scores, outcomes, what was read, format used)``; ``fmt`` is ``auto``, ``pairs`` or ``session``.
    The report's :func:`~aurora.session.reader.read_warnings` say what was skipped."""
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
