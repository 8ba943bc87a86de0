"""The gate's order logs (SPEC §9): ``orders_success``, ``orders_failed``, ``orders_denied`` and the
consolidated ``orders.jsonl`` (each record there carries its ``stream``).

Record: ``ts_ns, run_id, stream, cid, oid, symbol, side, qty, price, event_code, reason, fill_qty,
fill_price, details`` with absent fields omitted. Each record is one ``os.write`` per file, done before
the HTTP response that caused it returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import orjson

from aurora.events.rotating_jsonl import RotatingJsonl
from aurora.session.files import order_stream_file

Stream = Literal["success", "failed", "denied"]
STREAMS: tuple[Stream, ...] = ("success", "failed", "denied")
FIELDS: tuple[str, ...] = (
    "cid", "oid", "symbol", "side", "qty", "price", "event_code", "reason", "fill_qty", "fill_price",
)  # fmt: skip

#: Which stream an order lifecycle event lands in (others are not order-log records).
STREAM_OF_EVENT: dict[str, Stream] = {
    "ORDER.FILL": "success",
    "ORDER.REJECT": "failed",
    "ORDER.EXPIRE": "failed",
}


class OrderLogs:
    def __init__(
        self,
        session_dir: Path | str,
        run_id: str,
        *,
        max_bytes: int | None = None,
        retention_days: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session_dir = Path(session_dir)
        self.run_id = run_id
        opts = {"max_bytes": max_bytes, "retention_days": retention_days, "clock": clock}
        self._files = {s: RotatingJsonl(self.session_dir / order_stream_file(s), **opts) for s in STREAMS}
        self._all = RotatingJsonl(self.session_dir / order_stream_file(), **opts)

    def write(self, stream: Stream, *, ts_ns: int | None = None, details: dict[str, Any] | None = None,
              **fields: Any) -> dict[str, Any]:  # fmt: skip
        record: dict[str, Any] = {"ts_ns": ts_ns or time.time_ns(), "run_id": self.run_id, "stream": stream}
        for k in FIELDS:
            v = fields.get(k)
            if v is not None:
                record[k] = v
        if details:
            record["details"] = details
        line = orjson.dumps(record, default=str) + b"\n"
        self._files[stream].write(line)
        self._all.write(line)
        return record

    def close(self) -> None:
        for f in self._files.values():
            f.close(wait=False)
        self._all.close()
