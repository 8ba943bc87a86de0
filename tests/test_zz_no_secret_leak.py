"""No test token may appear in any log, event or report file written during the suite.

The suite-wide scan runs once after every test (``pytest_sessionfinish`` in tests/conftest.py, in the
controller process when the suite runs in parallel); this module holds the scanner and its own test.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Test tokens follow this naming so they are found even when no fixture registered them.
TOKEN_RE = re.compile(rb"(?:apitok|opstok)-[A-Za-z0-9-]{8,}")
#: What logs, events and reports are made of (configs and .env inputs, which hold tokens on purpose, are not).
WRITTEN_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".log", ".txt", ".md", ".html", ".csv", ".graphml", ".dot", ".svg")


def leaks(roots: list[Path], secrets: set[str], since: float) -> list[str]:
    found = []
    needles = [s.encode() for s in secrets if len(s) >= 8]
    for root in roots:
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if not path.is_file() or not path.name.endswith(WRITTEN_SUFFIXES):
                continue
            try:
                if path.stat().st_mtime < since:
                    continue
                data = path.read_bytes()
                if path.name.endswith(".gz"):
                    data = gzip.decompress(data)
            except (OSError, EOFError):
                continue
            m = TOKEN_RE.search(data)
            if m or any(n in data for n in needles):
                found.append(str(path))
    return found


def test_the_scanner_finds_a_planted_token(tmp_path):
    import shutil

    planted = tmp_path / "planted"
    (planted / "a").mkdir(parents=True)
    (planted / "a" / "aurora_events.jsonl").write_text('{"details": {"x": "opstok-Planted-Ab12Cd34Ef"}}\n')
    (planted / "b.jsonl.gz").write_bytes(gzip.compress(b"registered-secret-123"))
    (planted / "gate_test.yaml").write_text("ops_token: opstok-InAConfigInput-Xy12")  # inputs are not scanned
    try:
        found = set(leaks([planted], {"registered-secret-123"}, 0))
        assert found == {str(planted / "a" / "aurora_events.jsonl"), str(planted / "b.jsonl.gz")}
    finally:
        shutil.rmtree(planted)  # the suite-wide scan below must not find the plant
