"""The HTML report: one self-contained file, every picture embedded, renders in headless Chromium."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import pytest

from aurora.analytics.html_report import render_report
from aurora.analytics.lifecycle_audit import ANOMALY_CLASSES, audit_session
from aurora.analytics.metrics_summary import summarize_session
from aurora.config.models import AuroraConfig
from tests.support.session_log_generator import generate_session

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    d = tmp_path_factory.mktemp("session")
    generate_session(d, n_orders=120, rotations=1, corrupt_lines=1, torn_last_line=True,
                     anomalies={c: 1 for c in ANOMALY_CLASSES}, state_events=True)  # fmt: skip
    summary = summarize_session(d, AuroraConfig(), 0)
    audit = audit_session(d, 5.0)
    out = d / "report.html"
    out.write_text(render_report(str(d), summary, audit))
    return out


def test_every_image_is_embedded_and_nothing_is_fetched(page):
    html = page.read_text()
    srcs = re.findall(r'<img src="([^"]+)"', html)
    # decisions over time, deny reasons, latency, PnL and drawdown, lifecycle graph, lifecycle latency
    assert len(srcs) == 6
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.I)  # no URL of any kind
    assert "<script" not in html and "<link" not in html
    for cls in ANOMALY_CLASSES:
        assert f"<td>{cls}</td>" in html


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="headless Chromium not installed (Debian package: chromium)"
)
def test_renders_offline_in_headless_chromium(page, tmp_path):
    shot = tmp_path / "shot.png"
    cmd = [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,3000", f"--screenshot={shot}", page.as_uri(),
    ]  # fmt: skip
    subprocess.run(cmd, capture_output=True, timeout=90, check=False)
    assert shot.is_file(), "chromium wrote no screenshot"
    data = shot.read_bytes()
    assert data[:8] == PNG and len(data) > 50_000  # a page with pictures, not a blank one


def test_numbers_are_plain_and_unjudged_gates_say_so(page):
    from aurora.analytics.html_report import plain

    text = re.sub(r"data:image/png;base64,[^\"]+", "", page.read_text())
    assert not re.search(r"\de[+-]\d", text)  # no scientific notation anywhere in the page's text
    assert "<h3>By symbol</h3>" in text and "<td>SOLUSDT</td>" in text
    assert (plain(60000.0), plain(2320.5), plain(0.000123), plain(0), plain(0.0), plain(None)) == (
        "60,000", "2,320.5", "0.000123", "0", "0", "—",
    )  # fmt: skip


def test_zero_latencies_are_counted_not_dropped():
    from aurora.analytics.order_timing import histogram

    h = histogram([0.0, 0.0, 1.0, 2.0])
    assert h["zeros"] == 2 and sum(h["counts"]) == 2
