"""Read back what a writer wrote, through the one session reader (:mod:`aurora.session.reader`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aurora.session.reader import ReadReport, iter_records


def read_records(directory: Path | str, stem: str) -> tuple[list[dict[str, Any]], ReadReport]:
    """Every record of the log ``stem`` (rotated parts, then the live file) and what was read past.

    Records keep the stamps they were given (tests use small or future ones); a line the reader would
    count as corrupt fails here rather than go missing from the test's view."""
    report = ReadReport(session=str(directory))
    records = list(iter_records(directory, report, stems=[stem], on_clock=False))
    assert not report.corrupt_count, report.corrupt
    return records, report
