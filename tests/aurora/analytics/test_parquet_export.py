"""The Parquet export and the summary over a dataset: the same figures as over the sessions themselves."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from aurora.analytics.metrics_summary import summarize_dataset, summarize_session
from aurora.analytics.parquet_export import export_sessions, family_of
from aurora.config.models import AuroraConfig
from aurora.session.reader import SessionReadError, read_dataset
from tests.aurora.analytics.test_metrics_summary import _session


@pytest.fixture()
def two(tmp_path):
    """The hand-built session twice, under two names: the same client order ids in both runs."""
    a = _session(tmp_path / "20261121-090000")
    b = tmp_path / "20261122-090000"
    shutil.copytree(a, b)
    return a, b


def test_export_writes_hive_partitions_by_date_and_family(two, tmp_path):
    ds = tmp_path / "ds"
    result = export_sessions(list(two), ds)
    assert [s["session"] for s in result["sessions"]] == ["20261121-090000", "20261122-090000"]
    one = result["sessions"][0]
    assert one["days"] == ["2026-11-21"] and "ORDER" in one["families"] and "POLICY_DECISION" in one["families"]
    assert any("corrupt" in w or "torn" in w for w in one["warnings"]) or one["warnings"] == []
    parts = sorted(p.relative_to(ds).parts[:2] for p in ds.rglob("*.parquet"))
    assert ("date=2026-11-21", "family=ORDER") in parts and ("date=2026-11-21", "family=GOVERNANCE") in parts
    names = {p.name for p in ds.rglob("*.parquet")}
    assert all(n.startswith(("20261121-090000-", "20261122-090000-")) for n in names)
    again = export_sessions([two[0]], ds)  # a re-export replaces that session's files, leaves the other's
    assert again["files"] == result["files"] and again["events"] == one["events"]


def test_the_summary_over_a_dataset_adds_up_its_sessions(two, tmp_path):
    ds = tmp_path / "ds"
    export_sessions(list(two), ds)
    cfg = AuroraConfig()
    single = summarize_session(two[0], cfg, 0)
    both = summarize_dataset(ds, cfg, 0)
    per_session = both["dataset"]["sessions"]
    assert set(per_session) == {"20261121-090000", "20261122-090000"} and len(set(per_session.values())) == 1
    assert both["decisions"]["total"] == 2 * single["decisions"]["total"]
    assert both["decisions"]["deny_by_reason"] == {k: 2 * v for k, v in single["decisions"]["deny_by_reason"].items()}
    # the same cids in two runs are two orders each (an order is (session, cid))
    for k in ("submitted", "success", "rejected", "expired", "canceled", "venue_outcomes"):
        assert both["orders"][k] == 2 * single["orders"][k], k
    assert both["orders"]["order_logs"] is None  # the dataset holds events only
    assert both["risk"]["closed_trades"] == 2 * single["risk"]["closed_trades"]
    assert both["risk"]["realized_pnl_usd"] == pytest.approx(2 * single["risk"]["realized_pnl_usd"])
    assert both["latency_ms"]["submit_to_ack"]["p50"] == single["latency_ms"]["submit_to_ack"]["p50"]
    assert both["events_by_code"] == {k: 2 * v for k, v in single["events_by_code"].items()}


def test_the_readme_query_runs_on_the_dataset(two, tmp_path):
    """The README's SQL (as Spark SQL / Trino would run it) over the files: the summary's deny counts."""
    ds = tmp_path / "ds"
    export_sessions(list(two), ds)
    rows = duckdb.sql(
        f"""SELECT session, reason, count(*) AS denies
            FROM read_parquet('{ds}/**/*.parquet', hive_partitioning = true)
            WHERE family = 'POLICY_DECISION' AND event_code = 'POLICY_DECISION' AND NOT allow
              AND source = 'aurora_events'
            GROUP BY session, reason ORDER BY session, denies DESC, reason"""
    ).fetchall()
    single = summarize_session(two[0], AuroraConfig(), 0)["decisions"]["deny_by_reason"]
    per_session = {}
    for session, reason, n in rows:
        per_session.setdefault(session, {})[reason] = n
    assert per_session == {"20261121-090000": single, "20261122-090000": single}


def test_family_and_bad_datasets(tmp_path):
    assert [family_of(c) for c in ("ORDER.FILL", "POLICY_DECISION", "RUNNER.MARKOUT", "", "123", "a b.c")] == [
        "ORDER", "POLICY_DECISION", "RUNNER", "OTHER", "123", "OTHER"]  # fmt: skip
    with pytest.raises(SessionReadError, match="dataset directory not found"):
        read_dataset(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SessionReadError, match="no Parquet files"):
        read_dataset(tmp_path / "empty")
