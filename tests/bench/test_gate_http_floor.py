"""The HTTP floor bench's skips (bench/gate_http_floor.py): each takes out exactly its part of the gate's
work, on a real gate over HTTP, and leaves the rest (the decision's state record) in place."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from aurora.api import create_app
from aurora.config.loader import load_aurora
from aurora.gate.state_store import JOURNAL_FILE
from bench.gate_http_floor import SKIPS, apply_skips
from tests.aurora.api.conftest import API_TOKEN, OPS_TOKEN, TEST_CALIBRATION_PATH, LiveGate, check_body


@pytest.fixture
def skipped(project: Path, tmp_path: Path) -> Iterator[Callable[[str], LiveGate]]:
    started: list[LiveGate] = []

    def start(spec: str) -> LiveGate:
        where = tmp_path / (spec or "nothing")
        where.mkdir()
        overlay = where / "gate_test.yaml"
        overlay.write_text(yaml.safe_dump({"calibration": {"path": str(TEST_CALIBRATION_PATH)}}))
        environ = {"AURORA_API_TOKEN": API_TOKEN, "OPS_TOKEN": OPS_TOKEN, "AURORA_ROOT": str(project),
                   "AURORA_CONFIG": str(overlay)}  # fmt: skip
        app = create_app(load_aurora("development", environ=environ, root=project), where / "session",
                         run_id="floor-test", state_dir=where / "state", handle_sighup=False)  # fmt: skip
        apply_skips(app.gate, spec)
        live = LiveGate(app, where / "session").start()
        started.append(live)
        return live

    yield start
    for live in started:
        live.stop()


def two_checks(live: LiveGate) -> list[dict]:
    first = live.post("/pretrade/check", check_body(cid="f-1"))
    second = live.post("/pretrade/check", check_body(cid="f-2", spread_bps=500.0))  # denied: a 500 bps spread leaves no edge
    assert first.status_code == second.status_code == 200
    return [first.json(), second.json()]


def journal_lines(live: LiveGate) -> int:
    path = live.session_dir.parent / "state" / JOURNAL_FILE
    return len(path.read_bytes().splitlines())


def test_with_nothing_skipped_the_gate_decides_writes_and_answers_in_full(skipped: Callable[[str], LiveGate]) -> None:
    live = skipped("")
    before = journal_lines(live)
    first, second = two_checks(live)
    assert (first["allow"], second["reason"]) == (True, "ER_BELOW_MIN")
    assert "spread" in first["observability"]
    assert [e["cid"] for e in live.events("POLICY_DECISION")] == ["f-1", "f-2"]
    assert journal_lines(live) == before + 2


def test_each_skip_takes_out_its_part_only(skipped: Callable[[str], LiveGate]) -> None:
    decide = skipped("decide")
    first, second = two_checks(decide)
    assert first["allow"] and second["allow"]  # the first decision, answered again
    assert [e["cid"] for e in decide.events("POLICY_DECISION")] == ["f-1", "f-2"]

    events = skipped("events")
    before = journal_lines(events)
    two_checks(events)
    assert events.events("POLICY_DECISION") == [] and journal_lines(events) == before + 2

    journal = skipped("journal")
    before = journal_lines(journal)
    first, second = two_checks(journal)
    assert second["reason"] == "ER_BELOW_MIN" and journal_lines(journal) == before
    assert len(journal.events("POLICY_DECISION")) == 2

    response = skipped("response")
    first, second = two_checks(response)
    assert (first, second) == ({"allow": True, "reason": "OK"}, {"allow": False, "reason": "ER_BELOW_MIN"})


def test_all_skips_together_and_an_unknown_one(skipped: Callable[[str], LiveGate]) -> None:
    live = skipped(",".join(SKIPS))
    before = journal_lines(live)
    assert two_checks(live) == [{"allow": True, "reason": "OK"}] * 2
    assert live.events("POLICY_DECISION") == [] and journal_lines(live) == before
    with pytest.raises(SystemExit, match="unknown skip.*'fsync'"):
        apply_skips(live.app.gate, "fsync,events")  # refused whole, before anything is patched
