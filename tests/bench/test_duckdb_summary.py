"""The summary benchmark's DuckDB reference computes the same figures as ``metrics summary``: the
ratio is only like for like if both do the same work, so the bench's agreement check must hold on a
session with rotated parts, a torn line, corrupt lines and planted anomalies, and must fail when the
two disagree."""

from __future__ import annotations

import copy
from pathlib import Path

from aurora.analytics.metrics_summary import summarize_session
from aurora.config.loader import load_aurora
from bench.bench_analytics_summary import _agree
from bench.duckdb_summary import duckdb_summary
from tests.support.session_log_generator import ANOMALY_CLASSES, generate_session


def test_reference_agrees_with_the_summary_and_the_check_catches_a_difference(tmp_path: Path) -> None:
    session = tmp_path / "20261121-090000"
    generate_session(session, n_orders=3000, rotations=2, torn_last_line=True, corrupt_lines=2,
                     anomalies={c: 2 for c in ANOMALY_CLASSES})  # fmt: skip
    cfg = load_aurora(None, environ={}).config
    ours = summarize_session(session, cfg, 3600.0)
    ref = duckdb_summary(session, 3600.0, cfg.risk.cvar_alpha, cfg.killswitch.window_trades)
    assert _agree(ours, ref) == []
    assert ref["fills"][0][0] == ours["fills"]["fill_events"] > 0
    assert sum(r[1] for r in ref["by_symbol"]["decisions"]) == ours["decisions"]["total"]

    off = copy.deepcopy(ours)
    off["hourly"][0]["fills"] += 1
    first = next(iter(off["by_symbol"]))
    off["by_symbol"][first]["allow"] += 1
    problems = _agree(off, ref)
    assert "hourly" in problems and any(p.startswith("by_symbol") for p in problems)
    # the first summary's subset skips the views
    core = duckdb_summary(session, 3600.0, cfg.risk.cvar_alpha, cfg.killswitch.window_trades, views=False)
    assert "by_symbol" not in core and core["decisions"] == ref["decisions"]
