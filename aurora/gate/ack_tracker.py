"""AckTracker: orders submitted but not acknowledged within ``observability.ack.ttl_s`` expire.

``SUBMIT`` registers a client order id; the first venue response (ACK, REJECT, a fill, a cancel, an
expiry) clears it. ``expired(now)`` pops every order older than the TTL; the gate turns each into an
``ORDER.EXPIRE`` event and an ``orders_failed`` record. Entries are kept in submit order, so a scan
only looks at the oldest ones.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class PendingOrder:
    cid: str
    submitted_mono_ns: int
    submit_ts_ns: int
    info: dict[str, Any] = field(default_factory=dict)


class AckTracker:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_ns = int(ttl_s * 1e9)
        self.pending: OrderedDict[str, PendingOrder] = OrderedDict()

    def submit(self, cid: str, mono_ns: int, ts_ns: int, info: dict[str, Any] | None = None) -> None:
        self.pending[cid] = PendingOrder(cid, mono_ns, ts_ns, info or {})
        self.pending.move_to_end(cid)

    def clear(self, cid: str) -> PendingOrder | None:
        return self.pending.pop(cid, None)

    def expired(self, now_mono_ns: int) -> list[PendingOrder]:
        out = []
        cutoff = now_mono_ns - self.ttl_ns
        pending = self.pending
        while pending:
            cid, po = next(iter(pending.items()))
            if po.submitted_mono_ns > cutoff:
                break
            del pending[cid]
            out.append(po)
        return out

    def __len__(self) -> int:
        return len(self.pending)
