"""Stage 3: TRAP guard — liquidity that vanishes when you reach for it.

Each request carries the L2 add and cancel volumes per level over the runner's own trap window; summed
over the top ``trap.levels`` levels they make one *observation*: the cancel/replenish imbalance
``x = (cancel - add) / (cancel + add)`` and the cancel volume ``c``. Per symbol the gate keeps a
baseline of the last ``trap.history`` observations (a bounded ring, so a runner checking 1–3 times a
second has minutes of history, not the handful a short time window would hold). The current
observation is judged against that baseline *before* it joins it: deny when its imbalance z-score
``> trap.z_threshold`` **and** ``c`` is above the baseline's ``trap.cancel_pctl`` percentile
(nearest rank). Until a symbol has ``trap.min_history`` observations it is only recorded (warm-up).

Running sums give the mean/std in O(1) (re-anchored with ``math.fsum`` once per ``history``
evictions, so float drift cannot build up). The percentile is needed only when the z-score is above
its threshold (both conditions must hold to deny), so only then is it computed, by sorting the ring's
cancel volumes (a few hundred floats, in C); otherwise ``cancel_pctl_value`` is reported as ``None``.
The window of the volumes is the runner's (``strategy.trap_window_s``); the gate's former
``trap.window_s`` never had an effect and was removed (set, it is ignored with ``CONFIG.KEY_REMOVED``).
"""

from __future__ import annotations

import math
from collections import deque

from mypy_extensions import mypyc_attr

from aurora.config.models import AuroraConfig
from aurora.gate.guard import CheckRequest, DecisionState, Reason


class TrapHistory:
    """The last ``size`` observations of one symbol: imbalances ``xs`` and cancel volumes ``cs``."""

    __slots__ = ("size", "xs", "cs", "sum_x", "sum_x2", "evictions")

    def __init__(self, size: int) -> None:
        self.size = size
        self.xs: deque[float] = deque(maxlen=size)  # oldest first; an append to a full ring drops the oldest
        self.cs: deque[float] = deque(maxlen=size)
        self.sum_x = 0.0
        self.sum_x2 = 0.0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self.xs)

    def add(self, x: float, c: float) -> None:
        xs = self.xs
        if len(xs) == self.size:
            ox = xs[0]  # dropped by the append below
            self.evictions += 1
            if self.evictions >= self.size:  # re-anchor the running sums (no long-run float drift)
                xs.append(x)
                self.cs.append(c)
                self._resum()
                return
            self.sum_x += x - ox
            self.sum_x2 += x * x - ox * ox
        else:
            self.sum_x += x
            self.sum_x2 += x * x
        xs.append(x)
        self.cs.append(c)

    def _resum(self) -> None:
        self.evictions = 0
        self.sum_x = math.fsum(self.xs)
        self.sum_x2 = math.fsum(v * v for v in self.xs)

    def cancel_percentile(self, pctl: float) -> float:
        """Nearest-rank ``pctl`` percentile of the cancel volumes."""
        s = sorted(self.cs)
        return s[max(0, math.ceil(pctl * len(s) / 100.0) - 1)]

    def resize(self, size: int) -> None:
        """A reload changed ``trap.history``: keep the newest observations that fit."""
        self.size = size
        self.xs = deque(self.xs, maxlen=size)
        self.cs = deque(self.cs, maxlen=size)
        self._resum()


# compiled (aurora.native), yet open to an interpreted subclass: the tests' faulty guard stands in for it
@mypyc_attr(allow_interpreted_subclasses=True)
class TrapGuard:
    name = "trap"

    def __init__(self, cfg: AuroraConfig) -> None:
        self.histories: dict[str, TrapHistory] = {}
        self.trips = 0
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig) -> None:
        t = cfg.trap
        self.enabled = cfg.guards.trap_guard_enabled
        self.levels = t.levels
        self.z_threshold = t.z_threshold
        self.pctl = t.cancel_pctl
        self.min_history = t.min_history
        if getattr(self, "history", t.history) != t.history:
            for h in self.histories.values():
                h.resize(t.history)
        self.history = t.history

    def reset(self) -> None:
        self.histories.clear()

    def check(self, r: CheckRequest, d: DecisionState, now_ns: int) -> str | None:
        if not self.enabled:
            d.obs["trap"] = {"enabled": False, "pass": True}
            return None
        lv = self.levels
        cv, av = r.l2_cancel_volumes, r.l2_add_volumes
        c = sum(cv) if len(cv) <= lv else sum(cv[:lv])  # no slice copy in the usual case
        a = sum(av) if len(av) <= lv else sum(av[:lv])
        tot = c + a
        x = (c - a) / tot if tot > 0 else 0.0
        h = self.histories.get(r.symbol)
        if h is None:
            h = self.histories[r.symbol] = TrapHistory(self.history)
        n = len(h.xs)
        if n >= self.min_history:
            mean = h.sum_x / n
            var = h.sum_x2 / n - mean * mean
            # a flat baseline (every observation identical) gives no scale to judge a deviation on
            z = (x - mean) / math.sqrt(var) if var > 1e-18 else 0.0
            if z > self.z_threshold:
                pctl_cut = h.cancel_percentile(self.pctl)
                ok = not c > pctl_cut
                pct_value: float | None = pctl_cut
            else:
                pct_value = None  # not needed: the imbalance alone clears the order
                ok = True
            # one dict literal: cheaper than filling a dict key by key on this path
            d.obs["trap"] = {"cancel": c, "add": a, "imbalance": x, "samples": n, "z": z, "z_threshold": self.z_threshold,
                             "cancel_pctl": self.pctl, "cancel_pctl_value": pct_value, "key": "trap.z_threshold",
                             "pass": ok}  # fmt: skip
        else:
            ok = True
            d.obs["trap"] = {"cancel": c, "add": a, "imbalance": x, "samples": n, "min_samples": self.min_history,
                             "z_threshold": self.z_threshold, "cancel_pctl": self.pctl, "warming_up": True,
                             "key": "trap.min_history", "pass": True}  # fmt: skip
        # The current observation joins the baseline after it is judged (it is not its own baseline).
        h.add(x, c)
        if ok:
            return None
        self.trips += 1
        return Reason.TRAP_GUARD
