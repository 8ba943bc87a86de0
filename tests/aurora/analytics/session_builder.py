"""Hand-built session logs for analytics tests: records whose answers the tests know."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson

T0 = 1_795_251_600_000_000_000  # 2026-11-21T09:00:00Z
MS = 1_000_000
TOP = ("cid", "oid", "symbol", "side", "qty")


def rec(t_ms: float, code: str, cid: str | None = None, **fields: Any) -> dict[str, Any]:
    """An event record at ``T0 + t_ms``; keyword args named like top-level fields go on top, the rest in details."""
    r: dict[str, Any] = {"ts_ns": T0 + int(t_ms * MS), "run_id": "test", "event_code": code}
    if cid is not None:
        r["cid"] = cid
    details = fields.pop("details", {})
    for k, v in fields.items():
        if k in TOP:
            r[k] = v
        else:
            details[k] = v
    r["details"] = details
    return r


def write_jsonl(path: Path, records: list[dict[str, Any]], *, gz: bool = False, tail: bytes = b"",
                insert: dict[int, bytes] | None = None) -> Path:  # fmt: skip
    """Write ``records`` one per line; ``insert`` puts raw lines before record index k; ``tail`` is an unterminated end."""
    lines = [orjson.dumps(r) for r in records]
    for k in sorted(insert or {}, reverse=True):
        lines.insert(k, insert[k])
    data = b"".join(line + b"\n" for line in lines) + tail
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def order_log(rec_: dict[str, Any], stream: str) -> dict[str, Any]:
    """The order-log record the gate writes for an event (success / failed / denied)."""
    d = rec_["details"]
    out = {"ts_ns": rec_["ts_ns"], "run_id": "test", "stream": stream, "event_code": rec_["event_code"]}
    for k in ("cid", "oid", "symbol", "side", "qty"):
        if k in rec_:
            out[k] = rec_[k]
    for k in ("reason", "fill_qty", "fill_price"):
        if k in d:
            out[k] = d[k]
    return out
