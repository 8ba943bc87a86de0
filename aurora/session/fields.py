"""The event and lifecycle field names, defined once (SPEC §9), with where each lives in a record and its type.

Analytics code names a field as ``Field.CID`` (a ``str``: it is also the column's name in a frame and in the
Parquet export), never as a string literal. :data:`EVENT` says where each field sits in an event record
(``details.*`` are flattened to the bare name) and :data:`ORDER_LOG` where it sits in an order-log record
(``orders*.jsonl``: the same fields, mostly at the top level). The reader builds its schema from these
tables, so adding a field here is all it takes to read it.

Markouts (issue 14): the runner logs the mid some seconds after each fill as a :data:`MARKOUT_CODE`
event (``cid``, ``symbol``, ``details.trade_id``, ``details.horizon_s``, ``details.mid``; the time of the
record is the fill's time plus the horizon: the mid is the one as of then), one per horizon in
:data:`MARKOUT_HORIZONS_S`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from aurora.events.codes import EventCode

Kind = Literal["int", "float", "str", "bool"]


class Field(StrEnum):
    # the record (SPEC §9)
    TS_NS = "ts_ns"
    EVENT_CODE = "event_code"
    RUN_ID = "run_id"
    SYMBOL = "symbol"
    CID = "cid"
    OID = "oid"
    SIDE = "side"
    QTY = "qty"
    STREAM = "stream"  # order logs: success | failed | denied
    GATE_NS = "gate_ns"  # the gate clock a decision / lifecycle event / operator action was applied at
    # POLICY_DECISION details
    ALLOW = "allow"
    REASON = "reason"
    MAX_QTY = "max_qty"
    RISK_SCALE = "risk_scale"
    DECISION_US = "decision_us"
    REDUCE_ONLY = "reduce_only"
    SPREAD_BPS = "spread_bps"
    VOL_STD_BPS = "vol_std_bps"
    LATENCY_MS = "latency_ms"
    MID = "mid"  # the mid at the decision; on a markout record, the mid at the horizon
    ORDER_TYPE = "order_type"
    GUARD = "guard"  # the guard that decided a deny
    # a deny's deciding config key (``details.threshold``): its value, where it was set, the value compared with it
    CONFIG_KEY = "config_key"
    CONFIG_VALUE = "config_value"  # as text (a number, a boolean or a string)
    CONFIG_SOURCE = "config_source"
    CONFIG_OBSERVED = "config_observed"
    # ORDER.* details
    PRICE = "price"
    FILL_QTY = "fill_qty"
    FILL_PRICE = "fill_price"
    CUM_QTY = "cum_qty"
    TRADE_ID = "trade_id"
    REALIZED_PNL_USD = "realized_pnl_usd"
    REALIZED_PNL_BPS = "realized_pnl_bps"
    ENTRY_P_WIN = "entry_p_win"
    ENTRY_SCORE = "entry_score"
    FEE_USD = "fee_usd"
    # markouts (MARKOUT_CODE details; ``mid`` is MID)
    HORIZON_S = "horizon_s"
    # health / kill-switch / arm / ops state changes
    STATE = "state"
    ACTION = "action"
    ARMED = "armed"
    HALTED = "halted"
    P95_MS = "p95_ms"
    THRESHOLD_MS = "threshold_ms"
    FROM_STATE = "from_state"
    TO_STATE = "to_state"
    TRIGGER = "trigger"
    RATE_PCT = "rate_pct"
    COOLOFF_SEC = "cooloff_sec"
    # the runner's kill records (RUNNER.KILL_APPLIED / RUNNER.KILL_SETTLED; ``state``, ``reason`` as above)
    KILL = "kill"  # the kill's number within its runner
    COUNT = "count"  # cancel requests it sent
    REQUEST_LATENCY_MS = "request_latency_ms"  # learned the change -> last cancel request
    ACK_LATENCY_MS = "ack_latency_ms"  # learned the change -> the last of those orders done
    SETTLED = "settled"
    # live tuning: the arm a runner decision / order belongs to (base | explore) and its parameter
    # version (the tuner's trial number; none on the base arm); OPTUNA.* records (see aurora/events/codes.py)
    ARM = "arm"
    TRIAL = "trial"
    OVERLAY = "overlay"
    OVERLAY_SHA256 = "overlay_sha256"
    EXPLORE_RATIO = "explore_ratio"
    PERIOD_S = "period_s"
    TRIALS_TOLD = "trials_told"
    VALUE = "value"
    # AURORA.START
    MODE = "mode"
    CONFIG_VERSION = "config_version"


@dataclass(frozen=True)
class Spec:
    path: str  # dotted JSON path inside a record
    kind: Kind


def _top(kind: Kind) -> Spec:
    return Spec("", kind)  # "" = at the top level, under the field's own name


def _details(kind: Kind, key: str | None = None) -> Spec:
    return Spec("details." + (key or ""), kind)


_EVENT: dict[Field, Spec] = {
    Field.TS_NS: _top("int"),
    Field.EVENT_CODE: _top("str"),
    Field.RUN_ID: _top("str"),
    Field.SYMBOL: _top("str"),
    Field.CID: _top("str"),
    Field.OID: _top("str"),
    Field.SIDE: _top("str"),
    Field.QTY: _top("float"),
    Field.GATE_NS: _top("int"),
    Field.ALLOW: _details("bool"),
    Field.REASON: _details("str"),
    Field.MAX_QTY: _details("float"),
    Field.RISK_SCALE: _details("float"),
    Field.DECISION_US: _details("float"),
    Field.REDUCE_ONLY: _details("bool"),
    Field.SPREAD_BPS: _details("float"),
    Field.VOL_STD_BPS: _details("float"),
    Field.LATENCY_MS: _details("float"),
    Field.MID: _details("float"),
    Field.ORDER_TYPE: _details("str"),
    Field.GUARD: _details("str"),
    Field.CONFIG_KEY: _details("str", "threshold.key"),
    Field.CONFIG_VALUE: _details("str", "threshold.value"),
    Field.CONFIG_SOURCE: _details("str", "threshold.source"),
    Field.CONFIG_OBSERVED: _details("float", "threshold.observed"),
    Field.PRICE: _details("float"),
    Field.FILL_QTY: _details("float"),
    Field.FILL_PRICE: _details("float"),
    Field.CUM_QTY: _details("float"),
    Field.TRADE_ID: _details("str"),
    Field.REALIZED_PNL_USD: _details("float"),
    Field.REALIZED_PNL_BPS: _details("float"),
    Field.ENTRY_P_WIN: _details("float"),
    Field.ENTRY_SCORE: _details("float"),
    Field.FEE_USD: _details("float"),
    Field.HORIZON_S: _details("float"),
    Field.STATE: _details("str"),
    Field.ACTION: _details("str"),
    Field.ARMED: _details("bool"),
    Field.HALTED: _details("bool"),
    Field.P95_MS: _details("float"),
    Field.THRESHOLD_MS: _details("float"),
    Field.FROM_STATE: _details("str", "from"),
    Field.TO_STATE: _details("str", "to"),
    Field.TRIGGER: _details("str"),
    Field.RATE_PCT: _details("float"),
    Field.COOLOFF_SEC: _details("float"),
    Field.KILL: _details("float"),
    Field.COUNT: _details("float"),
    Field.REQUEST_LATENCY_MS: _details("float"),
    Field.ACK_LATENCY_MS: _details("float"),
    Field.SETTLED: _details("bool"),
    Field.ARM: _details("str"),
    Field.TRIAL: _details("float"),  # a number; float so that "none" (the base arm) reads as NaN
    Field.OVERLAY: _details("str"),
    Field.OVERLAY_SHA256: _details("str"),
    Field.EXPLORE_RATIO: _details("float"),
    Field.PERIOD_S: _details("float"),
    Field.TRIALS_TOLD: _details("float"),
    Field.VALUE: _details("float"),
    Field.MODE: _details("str"),
    Field.CONFIG_VERSION: _details("str"),
}

_ORDER_LOG: dict[Field, Spec] = {
    **{f: _top(_EVENT[f].kind) for f in (Field.TS_NS, Field.EVENT_CODE, Field.RUN_ID, Field.CID, Field.OID,
                                          Field.SYMBOL, Field.SIDE, Field.QTY)},  # fmt: skip
    Field.STREAM: _top("str"),
    Field.PRICE: _top("float"),
    Field.REASON: _top("str"),
    Field.FILL_QTY: _top("float"),
    Field.FILL_PRICE: _top("float"),
    Field.TRADE_ID: _details("str"),
    Field.REALIZED_PNL_USD: _details("float"),
}


def _resolve(table: dict[Field, Spec]) -> dict[Field, Spec]:
    out = {}
    for f, s in table.items():
        path = f.value if not s.path else s.path + (f.value if s.path.endswith(".") else "")
        out[f] = Spec(path, s.kind)
    return out


#: Event records: field -> (JSON path, type).
EVENT: Mapping[Field, Spec] = _resolve(_EVENT)
#: Order-log records (``orders*.jsonl``): field -> (JSON path, type).
ORDER_LOG: Mapping[Field, Spec] = _resolve(_ORDER_LOG)
#: Every record has these; a line without them is not a record.
REQUIRED: tuple[Field, Field] = (Field.TS_NS, Field.EVENT_CODE)
#: Where a record came from: the stem of its file (``aurora_events``, ``runner_events-sol``, ...).
SOURCE = "source"

#: The runner's markout record (see the module docstring; written by :mod:`runner.markouts`).
MARKOUT_CODE: str = EventCode.RUNNER_MARKOUT.value
MARKOUT_HORIZONS_S: tuple[int, ...] = (1, 5, 30)

#: OPTUNA.PARAMETER_UPDATE / OPTUNA.TRIAL_TOLD ``details.params``: the trial's values by parameter name (a
#: mapping, so not a column of the reader's frames; the tuner's and the proof's readers take it whole).
PARAMS_KEY = "params"
