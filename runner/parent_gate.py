"""ParentGate: a child symbol trades only when its parent's signal agrees.

The parent's signal z-score must have the sign of the child's trade (positive for a buy, negative
for a sell) and a magnitude of at least ``z_threshold``. A symbol without a parent passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParentVerdict:
    passed: bool
    reason: str  # NO_PARENT | DISABLED | PARENT_NOT_READY | DISAGREE_SIGN | PARENT_WEAK | AGREE
    details: dict[str, Any]


class ParentGate:
    def __init__(self, *, enabled: bool = True, z_threshold: float = 0.75) -> None:
        self.enabled = enabled
        self.z_threshold = z_threshold

    def check(self, side: str, parent: str | None, parent_z: float | None) -> ParentVerdict:
        details: dict[str, Any] = {"parent": parent, "side": side, "z_threshold": self.z_threshold}
        if parent is None:
            return ParentVerdict(True, "NO_PARENT", {**details, "pass": True, "reason": "NO_PARENT"})
        if not self.enabled:
            return ParentVerdict(True, "DISABLED", {**details, "pass": True, "reason": "DISABLED"})
        if parent_z is None or not math.isfinite(parent_z):
            return ParentVerdict(False, "PARENT_NOT_READY", {**details, "parent_z": None, "pass": False,
                                                             "reason": "PARENT_NOT_READY"})
        aligned = parent_z if side == "buy" else -parent_z  # parent's z in the child's trade direction
        details["parent_z"] = round(parent_z, 4)
        details["aligned_z"] = round(aligned, 4)
        if aligned <= 0:
            reason, ok = "DISAGREE_SIGN", False
        elif aligned < self.z_threshold:
            reason, ok = "PARENT_WEAK", False
        else:
            reason, ok = "AGREE", True
        details["pass"] = ok
        details["reason"] = reason
        return ParentVerdict(ok, reason, details)
