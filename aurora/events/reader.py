"""Read JSONL logs written by :mod:`aurora.events.rotating_jsonl`, rotated ``.gz`` files included.

Only an unterminated final fragment (a write torn by a crash) is skipped, and it is counted; a
complete line that is not a JSON object is an error naming file and line.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from aurora.session.files import live_file, rotated_name_re


class LogReadError(ValueError):
    """A complete line of a log file is not a JSON object."""


@dataclass
class ReadStats:
    files: list[str] = field(default_factory=list)
    records: int = 0
    torn: int = 0  # unterminated final fragments skipped


def log_files(directory: Path | str, stem: str) -> list[Path]:
    """The rotated files of ``stem`` in order (day, seq), then the live file.

    A rotated file present both plain and gzipped (compression just finished) is read once, as ``.gz``.
    """
    d = Path(directory)
    pattern = rotated_name_re(stem)
    rotated: dict[tuple[str, int], Path] = {}
    if d.is_dir():
        for p in d.iterdir():
            m = pattern.match(p.name)
            if not m:
                continue
            key = (m.group(1), int(m.group(2)))
            if key not in rotated or p.name.endswith(".gz"):
                rotated[key] = p
    files = [rotated[k] for k in sorted(rotated)]
    live = d / live_file(stem)
    if live.is_file():
        files.append(live)
    return files


def _read_bytes(path: Path) -> bytes:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            try:
                return fh.read()
            except EOFError:  # truncated gzip stream: keep what decompressed
                return b""
    return path.read_bytes()


def iter_file(path: Path | str, stats: ReadStats | None = None) -> Iterator[dict[str, Any]]:
    path = Path(path)
    data = _read_bytes(path)
    stats = stats if stats is not None else ReadStats()
    stats.files.append(str(path))
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    if tail.strip():
        stats.torn += 1
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise LogReadError(f"{path}:{lineno}: not a JSON record ({exc})") from None
        if not isinstance(rec, dict):
            raise LogReadError(f"{path}:{lineno}: not a JSON object")
        stats.records += 1
        yield rec


def iter_records(directory: Path | str, stem: str, stats: ReadStats | None = None) -> Iterator[dict[str, Any]]:
    """Every record of ``<directory>/<stem>*.jsonl*`` in write order."""
    stats = stats if stats is not None else ReadStats()
    for path in log_files(directory, stem):
        yield from iter_file(path, stats)


def read_records(directory: Path | str, stem: str) -> tuple[list[dict[str, Any]], ReadStats]:
    stats = ReadStats()
    return list(iter_records(directory, stem, stats)), stats
