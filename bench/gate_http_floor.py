"""What bounds the HTTP ratio of ``bench_gate_http``: the gate with parts of its work taken out.

``python -m bench.gate_http_floor`` (not part of ``make bench``: ~5 min) starts the HTTP bench's gate
once per variant and measures ``/pretrade/check`` against ``/bench/noop`` at 16 connections, back to
back in the same server, by the server's CPU time per request. A variant skips some of:

* ``decide``   — the pipeline's decision: the first real decision (an allow) is answered to every request;
* ``events``   — writing the decision's events (``POLICY_DECISION``, ``GOVERNANCE.*``; they are still built);
* ``journal``  — writing the state journal (records are numbered and applied, not written);
* ``response`` — the response body (``allow`` and ``reason`` only, instead of every guard's observability).

Each of them is something the issue asks for (a decision, durable records before the answer, each
guard's inputs in the answer), so the variant with all four skipped is an upper bound of the ratio any
tuning of the rest (token check, request conversion, reservation, metrics, the records' dicts) can
reach with this HTTP stack. The product is untouched: the skips patch the bench's own server.
``AURORA_BENCH_HTTP_ROUNDS`` (default 3) and ``AURORA_BENCH_HTTP_SECONDS`` (3) set its length.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from pathlib import Path
from typing import Any

from bench.bench_gate_http import LAUNCHER, GateServer

SKIPS = ("decide", "events", "journal", "response")
VARIANTS: tuple[tuple[str, ...], ...] = ((), *((s,) for s in SKIPS), SKIPS)
ROUNDS = int(os.environ.get("AURORA_BENCH_HTTP_ROUNDS", "3"))
SECONDS = int(os.environ.get("AURORA_BENCH_HTTP_SECONDS", "3"))
CONNECTIONS = 16

_MARK = "freeze_startup_heap()  # as start-api does\n"
assert _MARK in LAUNCHER
FLOOR_LAUNCHER = LAUNCHER.replace(
    _MARK, _MARK + "import os\nfrom bench.gate_http_floor import apply_skips\n"
    "apply_skips(app.gate, os.environ.get('BENCH_FLOOR_SKIP', ''))\n"
)  # fmt: skip


class _FirstDecision:
    """The gate's pipeline, answering every ``decide`` with its first real decision."""

    def __init__(self, pipeline: Any) -> None:
        object.__setattr__(self, "_pipeline", pipeline)
        object.__setattr__(self, "_first", None)

    def decide(self, r: Any, now: int) -> Any:
        if self._first is None:
            object.__setattr__(self, "_first", self._pipeline.decide(r, now))
        return self._first

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._pipeline, name)
        if not isinstance(value, (bool, int, float, str, type(None))):
            object.__setattr__(self, name, value)  # objects and methods: looked up once (scalars stay live)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._pipeline, name, value)


def apply_skips(gate: Any, spec: str) -> None:
    skips = {s for s in spec.split(",") if s}
    unknown = skips - set(SKIPS)
    if unknown:
        raise SystemExit(f"unknown skip(s) {sorted(unknown)}; known: {', '.join(SKIPS)}")
    if "decide" in skips:
        gate.pipeline = _FirstDecision(gate.pipeline)
    if "events" in skips:
        gate.events.write_records = lambda records: records
    if "journal" in skips:
        journal = gate.state.journal

        def numbered_only(record: dict[str, Any]) -> int:
            journal.n += 1
            record["n"] = journal.n
            return journal.n

        journal.append = numbered_only
    if "response" in skips:
        gate.response_for = lambda r, dec: {"allow": dec.allow, "reason": dec.reason}


def measure() -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("the floor bench needs wrk (apt-get install wrk)")
    # per variant: (noop, gate) CPU µs per request, each pair back to back in the same server
    pairs: dict[tuple[str, ...], list[tuple[float, float]]] = {v: [] for v in VARIANTS}
    for _ in range(ROUNDS):
        for variant in VARIANTS:
            with GateServer(FLOOR_LAUNCHER, {"BENCH_FLOOR_SKIP": ",".join(variant)}) as server:
                if server.pid is None:
                    raise SystemExit("the server's CPU time cannot be read (/proc)")
                for _pair in range(2):
                    n = server.wrk("/bench/noop", CONNECTIONS, SECONDS)["cpu_us_per_req"]
                    pairs[variant].append((n, server.wrk("/pretrade/check", CONNECTIONS, SECONDS)["cpu_us_per_req"]))
    rows = []
    base_extra = statistics.median(g - n for n, g in pairs[()])
    for variant in VARIANTS:
        n = statistics.median(n for n, _ in pairs[variant])
        g = statistics.median(g for _, g in pairs[variant])
        e = statistics.median(g - n for n, g in pairs[variant])
        rows.append({"skipped": "+".join(variant) or "nothing", "cpu_us_noop": round(n, 1),
                     "cpu_us_gate": round(g, 1), "gate_extra_us": round(e, 1),
                     "saved_us": round(base_extra - e, 1), "cpu_ratio": round(n / g, 3)})  # fmt: skip
    return {"connections": CONNECTIONS, "rounds": ROUNDS, "seconds_per_run": SECONDS, "table": rows,
            "target_ratio": 0.80,
            "upper_bound_ratio": rows[-1]["cpu_ratio"]}  # fmt: skip


if __name__ == "__main__":
    result = measure()
    for row in result["table"]:
        print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
    out = Path("reports/bench/gate_http_floor.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"   -> {out}")
