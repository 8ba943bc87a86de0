"""Stage 4: expected return — ``E[Π] = p·TP − (1−p)·SL − fees − expected slippage`` ≥ ``risk.pi_min_bps``.

``p`` is the calibrated win probability of the (side-aligned) score: an interpolation on the
isotonic map, with the Platt sigmoid when the map is too sparse (see :mod:`aurora.calibration`).
"""

from __future__ import annotations

from aurora.calibration import CalibrationMap
from aurora.config.models import AuroraConfig
from aurora.gate.guard import CheckRequest, DecisionState, Reason
from aurora.gate.slippage_guard import edge_bps, expected_slippage_bps


class ExpectedReturnGuard:
    name = "expected_return"

    def __init__(self, cfg: AuroraConfig, calibration: CalibrationMap) -> None:
        self.calibration = calibration
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig) -> None:
        self.pi_min = cfg.risk.pi_min_bps
        self.fees_bps = cfg.risk.fees_bps
        self.eta = cfg.slippage.eta_fraction_of_b

    def check(self, r: CheckRequest, d: DecisionState, now_ns: int) -> str | None:
        if d.risk_reducing:  # an exit needs no edge: closing risk must not wait for alpha
            d.obs["expected_return"] = {"skipped": "risk-reducing order", "pass": True}
            return None
        if d.p_win is None:
            d.p_win = self.calibration.for_symbol(r.symbol).predict(r.score)
        p = d.p_win
        if d.edge_bps is None:
            d.edge_bps = edge_bps(p, r.tp_bps, r.sl_bps, self.fees_bps)
        # After a slippage guard that scaled the order down, the cost is that of the scaled size.
        slip = expected_slippage_bps(r, self.eta, d.max_qty) if d.max_qty < r.qty else d.slip_bps
        if slip is None:
            slip = d.slip_bps = expected_slippage_bps(r, self.eta)
        e_pi = d.edge_bps - slip
        ok = e_pi >= self.pi_min
        d.obs["expected_return"] = {
            "score": r.score, "p_win": p, "tp_bps": r.tp_bps, "sl_bps": r.sl_bps, "fees_bps": self.fees_bps,
            "slip_bps": slip, "e_pi_bps": e_pi, "pi_min_bps": self.pi_min, "key": "risk.pi_min_bps", "pass": ok,
        }  # fmt: skip
        return None if ok else Reason.ER_BELOW_MIN
