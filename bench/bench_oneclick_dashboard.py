"""What the one-click dashboard costs: one refresh (read the appended log lines, update the tally, build
the snapshot, render the rich layout) at several event rates, and the CPU share that is at 4 Hz.

The gate is not scraped here (its /metrics read is one small HTTP GET per second); the logs are the
part that grows with traffic.
"""

from __future__ import annotations

import io
import math
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from auroractl.dashboard_view import MAX_HZ, render
from oneclick.dashboard_model import DashboardModel
from tests.support.session_log_generator import generate_session

RATES = (1_000, 10_000, 50_000)  # events per second written by gate + runners
REFRESHES = 40


def _lines(session: Path) -> list[bytes]:
    out: list[bytes] = []
    for name in ("aurora_events.jsonl", "runner_events-sol.jsonl"):
        out += [line + b"\n" for line in (session / name).read_bytes().split(b"\n") if line.strip()]
    return out


def run() -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src = generate_session(Path(tmp) / "src", n_orders=8_000, rotations=0).path
        lines = _lines(src)
        console = Console(file=io.StringIO(), width=140, force_terminal=True)
        for rate in RATES:
            live = Path(tmp) / f"live-{rate}"
            live.mkdir()
            model = DashboardModel(live, "http://127.0.0.1:9", duration_s=60, scrape_every_s=math.inf)
            per_refresh = int(rate / MAX_HZ)
            times = []
            pos = 0
            with open(live / "aurora_events.jsonl", "ab") as fh:
                for _ in range(REFRESHES):
                    chunk = lines[pos : pos + per_refresh]
                    pos = (pos + per_refresh) % max(1, len(lines) - per_refresh)
                    fh.write(b"".join(chunk))
                    fh.flush()
                    t0 = time.perf_counter()
                    snap = model.refresh(elapsed_s=1.0, processes=[], notes=[])
                    console.print(render(snap))
                    times.append((time.perf_counter() - t0) * 1000)
                    console.file.seek(0)
                    console.file.truncate()
            model.close()
            ms = np.array(times)
            rows.append(
                {
                    "events_per_s": rate,
                    "events_per_refresh": per_refresh,
                    "refresh_p50_ms": round(float(np.percentile(ms, 50)), 2),
                    "refresh_p99_ms": round(float(np.percentile(ms, 99)), 2),
                    "cpu_share_at_4hz_pct": round(float(ms.mean()) * MAX_HZ / 10, 1),
                }
            )
    return {"table": rows, "target": "dashboard refresh <= 4 Hz; CPU share reported, no target"}
