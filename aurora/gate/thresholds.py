"""The config keys behind the guards' thresholds, and the one sentence that explains a denial by them.

Every guard names, in its observability record (``obs["key"]``), the config key of the threshold that
decided (the risk manager's passing record names all of its thresholds under ``obs["keys"]``); the
instrument rules name none: their tick, step and minimums come from the instrument registry, not from
a config key. This
table says, per key, which observability field holds the value that was compared with it and how the
comparison reads; :func:`explain` turns a denial's threshold record (``details.threshold`` of a
``POLICY_DECISION`` and of its ``orders_denied`` record: key, value, source, observed) into the line ``lifecycle-audit --order``,
``whatif`` and the summary print::

    SPREAD_GUARD: spread 92.0 bps > guards.spread_bps_limit 80 (configs/aurora/testnet.yaml:3)

Plain data and string formatting only (no config models): the analytics import it cheaply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple


class Threshold(NamedTuple):
    observed: str | None  # the observability field compared with the key's value (None: nothing measured)
    phrase: str  # what was measured and how it compares; ``{}`` is the observed value


#: key -> threshold; ``*`` stands for one dotted segment (a symbol).
THRESHOLDS: dict[str, Threshold] = {
    "guards.spread_bps_limit": Threshold("spread_bps", "spread {} bps >"),
    "guards.latency_ms_limit": Threshold("latency_ms", "latency {} ms >"),
    "guards.max_quote_age_ms": Threshold("quote_age_ms", "quote age {} ms >"),
    "guards.require_quote_ts": Threshold(None, "no market.ts_ns, and"),
    "guards.spread_bps_tolerance": Threshold("off_bps", "market.spread_bps off the book's spread by {} bps >"),
    "guards.max_request_age_ms": Threshold("age_ms", "request age {} ms >"),
    "aurora.latency_guard_ms": Threshold("p95_ms", "latency p95 {} ms >"),
    "aurora.halt_threshold_repeats": Threshold("cooloffs", "cool-offs {} reached"),
    "trap.z_threshold": Threshold("z", "cancel/replenish imbalance z {} >"),
    "risk.pi_min_bps": Threshold("e_pi_bps", "E[Pi] {} bps <"),
    "slippage.eta_fraction_of_b": Threshold("slip_bps", "expected slippage {} bps > edge, at"),
    "risk.size_scale": Threshold("risk_scale", "size scale {} from"),
    "risk.daily_dd_limit_pct": Threshold("dd_pct", "drawdown {} % >="),
    "gates.dd_day_pct_max": Threshold("dd_pct", "drawdown {} % >="),
    "gates.cvar_day_pct_max": Threshold("cvar_pct", "CVaR {} % >"),
    "risk.max_concurrent": Threshold("open_positions", "open positions {} >="),
    "risk.max_notional_usd": Threshold("notional_usd", "notional {} >"),
    "risk.symbols.*.max_order_notional": Threshold("notional_usd", "notional {} >"),
    "risk.max_position_notional": Threshold("position_notional_after", "position notional {} >"),
    "risk.symbols.*.max_position_notional": Threshold("position_notional_after", "position notional {} >"),
    "risk.price_collar_bps": Threshold("collar_dev_bps", "price {} bps from mid >"),
    "risk.max_orders_per_sec": Threshold("orders_last_s", "orders in the last second {} >="),
    "risk.max_orders_per_sec_per_symbol": Threshold("last_s", "orders in this symbol in the last second {} >="),
    "risk.max_cancels_per_sec": Threshold("last_s", "cancels in the last second {} >="),
    "risk.duplicate_window_ms": Threshold(None, "same side, price and qty within"),
    "sprt.B": Threshold("llr", "SPRT log-likelihood ratio {} <="),
    "sprt.beta": Threshold("llr", "SPRT log-likelihood ratio {} <= the bound of"),
    "sprt.on_undecided": Threshold(None, "SPRT undecided, and"),
    "killswitch.max_denied_rate_pct": Threshold("rate_pct", "denied rate {} % >"),
    "killswitch.max_reject_rate_pct": Threshold("rate_pct", "reject rate {} % >"),
}


def threshold(key: str) -> Threshold | None:
    t = THRESHOLDS.get(key)
    if t is None and key.startswith("risk.symbols."):
        head, _, tail = key.rpartition(".")
        t = THRESHOLDS.get(f"risk.symbols.*.{tail}")
    return t


def observed(key: str, why: Mapping[str, Any]) -> Any:
    """The value the deciding guard compared with ``key`` (from its observability record), if any."""
    t = threshold(key)
    return why.get(t.observed) if t is not None and t.observed is not None else None


def fmt_value(v: Any) -> str:
    """A threshold or measured value as the sentence shows it (``80``, ``92.0``, ``0.0123``, ``true``)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v == int(v) and abs(v) < 1e15:
            return str(int(v)) if abs(v) >= 1e3 or v == 0 else f"{v:.1f}"
        return f"{v:.1f}" if abs(v) >= 10 else f"{v:.3g}"
    return str(v)


def fmt_threshold(v: Any) -> str:
    """The config value: as written (``80``, not ``80.0``); a value read back as text (``"80.0"``) too."""
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return v
    if isinstance(v, float) and math.isfinite(v) and v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return fmt_value(v)


def key_value(rec: Mapping[str, Any]) -> str:
    """``<key> <value> (<source>)``: a config value and where it was set."""
    src = rec.get("source")
    return f"{rec.get('key')} {fmt_threshold(rec.get('value'))}" + (f" ({src})" if src else "")


def explain(reason: str, rec: Mapping[str, Any] | None) -> str:
    """``REASON: <measured> <op> <key> <value> (<source>)``; just the reason when no key decided."""
    if not rec or not rec.get("key"):
        return reason
    key = rec["key"]
    t = threshold(key)
    tail = key_value(rec)
    if t is None:
        return f"{reason}: {tail}"
    obs = rec.get("observed")
    if t.observed is not None and obs is None:
        return f"{reason}: {tail}"
    return f"{reason}: {t.phrase.format(fmt_value(obs))} {tail}"
