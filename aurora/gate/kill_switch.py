"""Governance kill-switch (SPEC §4), written down:

* **What it counts.** Venue outcomes: each order's first venue response is one sample, a hit when it
  is ``REJECT`` or ``EXPIRE`` (the AckTracker's expiries of orders the venue never answered included).
  Gate decisions: an allow is a miss, a denial is a hit *only* if its reason is in
  ``killswitch.counted_denials`` — throttles, cool-offs, expired requests and the kill-switch's own
  denials are the gate protecting itself, not evidence, and are not counted at all.
* **When it trips.** Over the last ``window_trades`` samples of one kind, once ``min_outcomes`` are in
  the window, a reject rate above ``max_reject_rate_pct`` or a denied rate above
  ``max_denied_rate_pct`` (strictly above).
* **Scope.** Per account by default (one account's storm does not stop the others);
  ``killswitch.scope: global`` keeps one set of windows for the whole gate.
* **What a trip does.** ``GOVERNANCE.KILL_SWITCH``; with ``HALT_AND_ALERT`` the scope enters the trading
  state ``trading_state.kill_switch`` (REDUCING by default: only position-reducing orders pass);
  ``ALERT_ONLY`` only alerts. It latches until ``ops reset``; a timed cool-off never trips it because
  cool-off denials are not counted.

The windows and trips are durable (``snapshot``/``restore``); samples are added only through
:meth:`aurora.gate.gate_state.GateState.apply`, so a restart replays exactly what was counted.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from aurora.config.models import AuroraConfig

GLOBAL_SCOPE = "*"


class _RateWindow:
    __slots__ = ("q", "hits")

    def __init__(self, size: int, items: list[bool] | None = None) -> None:
        self.q: deque[bool] = deque(items or (), maxlen=size)
        self.hits = sum(self.q)

    def add(self, hit: bool) -> None:
        q = self.q
        if len(q) == q.maxlen and q[0]:
            self.hits -= 1
        q.append(hit)
        if hit:
            self.hits += 1

    def rate_pct(self) -> float:
        return 100.0 * self.hits / len(self.q) if self.q else 0.0

    def resize(self, size: int) -> None:
        items = list(self.q)[-size:]
        self.q = deque(items, maxlen=size)
        self.hits = sum(items)


class _Scope:
    __slots__ = ("outcomes", "decisions", "trip")

    def __init__(self, size: int) -> None:
        self.outcomes = _RateWindow(size)
        self.decisions = _RateWindow(size)
        self.trip: dict[str, Any] | None = None


class KillSwitch:
    def __init__(self, cfg: AuroraConfig) -> None:
        self.scopes: dict[str, _Scope] = {}
        self._active = False  # any scope tripped: read on every decision, so kept rather than scanned
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig) -> None:
        k = cfg.killswitch
        self.window = k.window_trades
        self.max_reject = k.max_reject_rate_pct
        self.max_denied = k.max_denied_rate_pct
        self.min_outcomes = k.min_outcomes
        self.halt = k.action == "HALT_AND_ALERT"
        self.action = k.action
        self.per_account = k.scope == "account"
        self.counted = frozenset(k.counted_denials)
        for s in self.scopes.values():
            for w in (s.outcomes, s.decisions):
                if w.q.maxlen != self.window:
                    w.resize(self.window)

    def scope_of(self, account: str) -> str:
        return account if self.per_account else GLOBAL_SCOPE

    def _scope(self, account: str) -> _Scope:
        key = account if self.per_account else GLOBAL_SCOPE
        s = self.scopes.get(key)
        if s is None:
            s = self.scopes[key] = _Scope(self.window)
        return s

    # -- reading ----------------------------------------------------------------------------------
    def tripped(self, account: str) -> dict[str, Any] | None:
        """The trip in force for ``account``'s orders (None if none, or if the action only alerts).

        A trip made under the other scope setting still holds after a reload changes ``killswitch.scope``
        (a global trip stops every account; under ``global`` any account's trip stops everyone): a
        config change must never clear a trip — only ``ops reset`` does.
        """
        if not self.halt:
            return None
        scopes = self.scopes
        if self.per_account:
            s = scopes.get(account) or scopes.get(GLOBAL_SCOPE)
            return s.trip if s is not None and s.trip is not None else self._any_global_trip()
        s = scopes.get(GLOBAL_SCOPE)
        if s is not None and s.trip is not None:
            return s.trip
        return next((x.trip for x in scopes.values() if x.trip is not None), None)

    def _any_global_trip(self) -> dict[str, Any] | None:
        s = self.scopes.get(GLOBAL_SCOPE)
        return s.trip if s is not None else None

    @property
    def active(self) -> bool:
        return self._active

    def tripped_scopes(self) -> dict[str, dict[str, Any]]:
        return {k: s.trip for k, s in self.scopes.items() if s.trip is not None}

    def counts(self, reason: str) -> bool:
        return reason in self.counted

    # -- samples (from GateState.apply only) ------------------------------------------------------
    def record_outcome(self, account: str, hit: bool) -> dict[str, Any] | None:
        s = self._scope(account)
        w = s.outcomes
        w.add(hit)
        if s.trip is None and len(w.q) >= self.min_outcomes and w.rate_pct() > self.max_reject:
            return self._trip(s, account, "reject_rate", w, self.max_reject)
        return None

    def record_decision(self, account: str, hit: bool) -> dict[str, Any] | None:
        s = self._scope(account)
        w = s.decisions
        w.add(hit)
        if hit and s.trip is None and len(w.q) >= self.min_outcomes and w.rate_pct() > self.max_denied:
            return self._trip(s, account, "denied_rate", w, self.max_denied)
        return None

    def _trip(self, s: _Scope, account: str, why: str, w: _RateWindow, limit: float) -> dict[str, Any]:
        self._active = True
        s.trip = {"trigger": why, "rate_pct": w.rate_pct(), "limit_pct": limit, "window": len(w.q),
                  "action": self.action, "scope": self.scope_of(account)}  # fmt: skip
        return s.trip

    def reset(self) -> None:
        self.scopes.clear()
        self._active = False

    # -- durability and status --------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {k: {"outcomes": list(s.outcomes.q), "decisions": list(s.decisions.q), "trip": s.trip}
                for k, s in self.scopes.items()}  # fmt: skip

    def restore(self, snap: dict[str, Any]) -> None:
        self.scopes = {}
        for k, v in snap.items():
            s = _Scope(self.window)
            s.outcomes = _RateWindow(self.window, [bool(x) for x in v.get("outcomes", [])])
            s.decisions = _RateWindow(self.window, [bool(x) for x in v.get("decisions", [])])
            s.trip = v.get("trip")
            self.scopes[k] = s
        self._active = any(s.trip is not None for s in self.scopes.values())

    def status(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "action": self.action,
            "scope": "account" if self.per_account else "global",
            "tripped": self.tripped_scopes(),
            "windows": {k: {"reject_rate_pct": round(s.outcomes.rate_pct(), 3), "outcomes": len(s.outcomes.q),
                            "denied_rate_pct": round(s.decisions.rate_pct(), 3), "decisions": len(s.decisions.q)}
                        for k, s in self.scopes.items()},  # fmt: skip
        }
