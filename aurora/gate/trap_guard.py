"""Stage 3: TRAP guard — liquidity that vanishes when you reach for it.

Per symbol the gate keeps a rolling window (``trap.window_s``) of the L2 add and cancel volumes the
runner reports with each request, summed over the top ``trap.levels`` levels. The cancel/replenish
imbalance ``x = (cancel - add) / (cancel + add)`` of the current request is z-scored against the
window; the guard denies when ``z > trap.z_threshold`` **and** the current cancel volume is above the
window's ``trap.cancel_pctl`` percentile. Running sums give the mean/std in O(1); a sorted list gives
the percentile (``bisect``; windows hold tens to hundreds of samples per symbol, at most
``max_samples`` — the newest — when requests come faster than that).
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque

from aurora.config.models import AuroraConfig
from aurora.gate.guard import CheckRequest, DecisionState, Reason

NS = 1_000_000_000


class TrapWindow:
    __slots__ = ("samples", "cancels_sorted", "sum_x", "sum_x2")

    def __init__(self) -> None:
        self.samples: deque[tuple[int, float, float]] = deque()  # (ts_ns, imbalance, cancel volume)
        self.cancels_sorted: list[float] = []
        self.sum_x = 0.0
        self.sum_x2 = 0.0

    def expire(self, cutoff_ns: int) -> None:
        samples, cs = self.samples, self.cancels_sorted
        while samples and samples[0][0] < cutoff_ns:
            _, x, c = samples.popleft()
            self.sum_x -= x
            self.sum_x2 -= x * x
            del cs[bisect_left(cs, c)]
        if not samples:  # drop accumulated float drift of the running sums
            self.sum_x = self.sum_x2 = 0.0

    def add(self, ts_ns: int, x: float, c: float) -> None:
        self.samples.append((ts_ns, x, c))
        insort(self.cancels_sorted, c)
        self.sum_x += x
        self.sum_x2 += x * x


class TrapGuard:
    name = "trap"

    def __init__(self, cfg: AuroraConfig, *, min_samples: int = 10, max_samples: int = 1024) -> None:
        self.windows: dict[str, TrapWindow] = {}
        self.min_samples = min_samples
        self.max_samples = max_samples
        self.trips = 0
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig) -> None:
        self.enabled = cfg.guards.trap_guard_enabled
        self.window_ns = int(cfg.trap.window_s * NS)
        self.levels = cfg.trap.levels
        self.z_threshold = cfg.trap.z_threshold
        self.pctl = cfg.trap.cancel_pctl

    def reset(self) -> None:
        self.windows.clear()

    def check(self, r: CheckRequest, d: DecisionState, now_ns: int) -> str | None:
        if not self.enabled:
            d.obs["trap"] = {"enabled": False, "pass": True}
            return None
        lv = self.levels
        c = sum(r.l2_cancel_volumes[:lv])
        a = sum(r.l2_add_volumes[:lv])
        tot = c + a
        x = (c - a) / tot if tot > 0 else 0.0
        w = self.windows.get(r.symbol)
        if w is None:
            w = self.windows[r.symbol] = TrapWindow()
        samples = w.samples
        cutoff = now_ns - self.window_ns
        if samples and samples[0][0] < cutoff:
            w.expire(cutoff)
        n = len(samples)
        if n >= self.min_samples:
            mean = w.sum_x / n
            var = w.sum_x2 / n - mean * mean
            std = math.sqrt(var) if var > 0.0 else 0.0
            z = (x - mean) / std if std > 1e-12 else 0.0
            pct_value = w.cancels_sorted[max(0, math.ceil(self.pctl * n / 100.0) - 1)]
            ok = not (z > self.z_threshold and c > pct_value)
            # one dict literal: cheaper than filling a dict key by key on this path
            d.obs["trap"] = {"cancel": c, "add": a, "imbalance": x, "samples": n, "z": z, "z_threshold": self.z_threshold,
                             "cancel_pctl": self.pctl, "cancel_pctl_value": pct_value, "pass": ok}  # fmt: skip
        else:
            ok = True
            d.obs["trap"] = {"cancel": c, "add": a, "imbalance": x, "samples": n, "z_threshold": self.z_threshold,
                             "cancel_pctl": self.pctl, "warming_up": True, "pass": True}  # fmt: skip
        # The current sample joins the window after it is judged (it is not its own baseline).
        if n >= self.max_samples:
            w.expire(samples[0][0] + 1)
        w.add(now_ns, x, c)
        if ok:
            return None
        self.trips += 1
        return Reason.TRAP_GUARD
