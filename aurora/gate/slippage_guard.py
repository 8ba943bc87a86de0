"""Stage 5: slippage guard — expected slippage must not exceed the trade's edge.

Expected slippage is ``eta × b`` (``slippage.eta_fraction_of_b``) where ``b`` is the half-spread in
bps, grown linearly when the order is larger than the size at the touch (walking the book costs more):
``b = half_spread × max(1, qty / touch_size)``. When the edge covers the cost at the touch but not for
the full size, the guard scales ``max_qty`` down to the size whose slippage the edge still pays for
(``slippage.scale_instead_of_deny``) instead of denying.
"""

from __future__ import annotations

from aurora.calibration import CalibrationMap
from aurora.config.models import AuroraConfig
from aurora.gate.guard import CheckRequest, DecisionState, Reason


def touch_size(r: CheckRequest) -> float:
    return r.ask_size if r.side == "buy" else r.bid_size


def expected_slippage_bps(r: CheckRequest, eta: float, qty: float | None = None) -> float:
    half = r.spread_bps * 0.5
    q = r.qty if qty is None else qty
    ts = r.ask_size if r.side == "buy" else r.bid_size  # touch_size(r), inlined (hot path)
    depth = q / ts if ts > 0 else float("inf") if q > 0 else 1.0
    return eta * half * (depth if depth > 1.0 else 1.0)


def edge_bps(p: float, tp_bps: float, sl_bps: float, fees_bps: float) -> float:
    """Expected return before slippage: ``p·TP − (1−p)·SL − fees``."""
    return p * tp_bps - (1.0 - p) * sl_bps - fees_bps


class SlippageGuard:
    name = "slippage"

    def __init__(self, cfg: AuroraConfig, calibration: CalibrationMap) -> None:
        self.calibration = calibration
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig) -> None:
        self.eta = cfg.slippage.eta_fraction_of_b
        self.scale = cfg.slippage.scale_instead_of_deny
        self.fees_bps = cfg.risk.fees_bps

    def check(self, r: CheckRequest, d: DecisionState, now_ns: int) -> str | None:
        if d.risk_reducing:  # an exit needs no edge: closing risk must not wait for alpha
            d.obs["slippage"] = {"skipped": "risk-reducing order", "pass": True}
            return None
        if d.edge_bps is None:  # slip_before_er: the ER guard has not run yet
            d.p_win = self.calibration.for_symbol(r.symbol).predict(r.score)
            d.edge_bps = edge_bps(d.p_win, r.tp_bps, r.sl_bps, self.fees_bps)
        if d.slip_bps is None:
            d.slip_bps = expected_slippage_bps(r, self.eta)
        edge, slip = d.edge_bps, d.slip_bps
        obs = {"slip_bps": slip, "edge_bps": edge, "eta": self.eta, "half_spread_bps": r.spread_bps * 0.5,
               "key": "slippage.eta_fraction_of_b"}  # fmt: skip
        d.obs["slippage"] = obs
        if slip <= edge:
            obs["pass"] = True
            return None
        at_touch = self.eta * r.spread_bps * 0.5
        if self.scale and at_touch <= edge and edge > 0:
            # slippage is linear in qty beyond the touch: largest q with eta*half*q/touch <= edge
            q_max = touch_size(r) * (edge / at_touch) if at_touch > 0 else d.max_qty
            if q_max <= 0:
                obs["pass"] = False
                return Reason.SLIPPAGE_GUARD
            if q_max < d.max_qty:
                d.max_qty = q_max
            obs["scaled_max_qty"] = d.max_qty
            obs["pass"] = True
            return None
        obs["pass"] = False
        return Reason.SLIPPAGE_GUARD
