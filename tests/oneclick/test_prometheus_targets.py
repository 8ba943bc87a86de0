"""Runners as Prometheus targets: the address each announced in RUNNER.START (the latest start's after a
restart), written as a file_sd document, whole."""

from __future__ import annotations

from pathlib import Path

import orjson

from oneclick.prometheus_targets import file_sd, target_of, write_file_sd
from oneclick.session_tally import SessionTally


def start(group: str, url: str | None, ts: int) -> dict:
    metrics = {"url": url, "host": "127.0.0.1", "port": 1, "auth": "none"} if url else None
    return {"event_code": "RUNNER.START", "ts_ns": ts, "details": {"group": group, "metrics": metrics}}


def test_announced_urls_become_file_sd_target_groups(tmp_path: Path) -> None:
    tally = SessionTally()
    tally.add_many([
        start("default", "http://127.0.0.1:40001/metrics", 1),
        start("alts", None, 2),  # metrics off: not a target
        start("default", "http://127.0.0.1:40002/metrics", 3),  # restarted: a new port
    ])  # fmt: skip
    assert tally.runner_metrics == {"default": "http://127.0.0.1:40002/metrics"}
    groups = file_sd(tally.runner_metrics, run_id="r1", session="20260101-000000")
    assert groups == [{"targets": ["127.0.0.1:40002"],
                       "labels": {"group": "default", "run_id": "r1", "session": "20260101-000000"}}]  # fmt: skip
    path = tmp_path / "prometheus_runners.json"
    write_file_sd(path, groups)
    assert orjson.loads(path.read_bytes()) == groups
    write_file_sd(path, [])
    assert orjson.loads(path.read_bytes()) == [] and not list(tmp_path.glob("*.tmp"))


def test_only_http_urls_with_a_port_are_targets() -> None:
    assert target_of("http://[::1]:9101/metrics") == "[::1]:9101"
    assert target_of("http://localhost:9101/metrics") == "localhost:9101"
    for bad in ("https://127.0.0.1:9101/metrics", "http://127.0.0.1/metrics", "http://127.0.0.1:99999/", "nonsense"):
        assert target_of(bad) is None, bad
