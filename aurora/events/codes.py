"""The canonical event codes: defined once, imported everywhere (gate, runner, analytics, README).

Codes are dot-canonical. The only normalization is the legacy ``ORDER_X`` -> ``ORDER.X`` spelling.
"""

from __future__ import annotations

from enum import StrEnum


class EventCode(StrEnum):
    # Order lifecycle (keyed by the runner's client order id ``cid``)
    ORDER_SUBMIT = "ORDER.SUBMIT"
    ORDER_ACK = "ORDER.ACK"
    ORDER_PARTIAL = "ORDER.PARTIAL"
    ORDER_FILL = "ORDER.FILL"
    ORDER_REJECT = "ORDER.REJECT"
    ORDER_CANCEL_REQUEST = "ORDER.CANCEL.REQUEST"
    ORDER_CANCEL_ACK = "ORDER.CANCEL.ACK"
    ORDER_EXPIRE = "ORDER.EXPIRE"
    # Not a lifecycle event: the gate's finding about one (class, detail), keyed by the order's cid
    ORDER_ANOMALY = "ORDER.ANOMALY"
    # Gate decisions
    POLICY_DECISION = "POLICY_DECISION"
    GOVERNANCE_ALLOW = "GOVERNANCE.ALLOW"
    GOVERNANCE_DENY = "GOVERNANCE.DENY"
    GOVERNANCE_KILL_SWITCH = "GOVERNANCE.KILL_SWITCH"
    SPREAD_GUARD_TRIP = "SPREAD_GUARD_TRIP"
    # Health
    HEALTH_LATENCY_HIGH = "HEALTH.LATENCY_HIGH"
    HEALTH_LATENCY_P95_HIGH = "HEALTH.LATENCY_P95_HIGH"
    # Operator actions and security
    OPS_TOKEN_ALIAS_USED = "OPS.TOKEN.ALIAS_USED"
    OPS_TOKEN_ROTATE = "OPS.TOKEN_ROTATE"
    OPS_RESET = "OPS.RESET"
    OPS_COOLOFF = "OPS.COOLOFF"
    OPS_RELOAD = "OPS.RELOAD"
    OPS_AUTH_FAIL = "OPS.AUTH_FAIL"
    OPS_HALT = "OPS.HALT"
    OPS_KILL = "OPS.KILL"
    OPS_RESUME = "OPS.RESUME"
    # Aurora core state
    AURORA_EXPECTED_RETURN_ACCEPT = "AURORA.EXPECTED_RETURN_ACCEPT"
    AURORA_EXPECTED_RETURN_REJECT = "AURORA.EXPECTED_RETURN_REJECT"
    AURORA_SLIPPAGE_GUARD = "AURORA.SLIPPAGE_GUARD"
    AURORA_COOL_OFF = "AURORA.COOL_OFF"
    AURORA_ARM_STATE = "AURORA.ARM_STATE"
    AURORA_ESCALATION = "AURORA.ESCALATION"
    AURORA_GUARD_ERROR = "AURORA.GUARD_ERROR"
    AURORA_START = "AURORA.START"
    AURORA_STOP = "AURORA.STOP"
    AURORA_STATE_RESTORED = "AURORA.STATE_RESTORED"
    AURORA_STATE_FRESH = "AURORA.STATE_FRESH"
    AURORA_STATE_WRITE_FAILED = "AURORA.STATE_WRITE_FAILED"
    AURORA_LOG_WRITE_FAILED = "AURORA.LOG_WRITE_FAILED"
    AURORA_ANONYMOUS_TRADING = "AURORA.ANONYMOUS_TRADING"
    # Risk
    RISK_DENY = "RISK.DENY"
    RISK_UPDATE = "RISK.UPDATE"
    RISK_BALANCE = "RISK.BALANCE"
    RISK_STATE_INVALID = "RISK.STATE_INVALID"
    # Configuration
    CONFIG_SWITCHED = "CONFIG.SWITCHED"
    CONFIG_ALIAS_USED = "CONFIG.ALIAS_USED"
    CONFIG_ENV_UNKNOWN = "CONFIG.ENV_UNKNOWN"
    CONFIG_RELOAD_FAILED = "CONFIG.RELOAD_FAILED"
    #: the whole effective config in force from here on (start, reload) and where each key was set
    CONFIG_EFFECTIVE = "CONFIG.EFFECTIVE"
    # Runner explainability (XAI) stages
    MODEL = "MODEL"
    ENR_GATE = "ENR_GATE"
    PARENT_GATE = "PARENT_GATE"
    RUNNER_GATE_UNAVAILABLE = "RUNNER.GATE_UNAVAILABLE"
    RUNNER_GATE_RESTORED = "RUNNER.GATE_RESTORED"
    RUNNER_FEED_GAP = "RUNNER.FEED_GAP"
    RUNNER_FEED_RESYNC = "RUNNER.FEED_RESYNC"
    RUNNER_FEED_RECONNECT = "RUNNER.FEED_RECONNECT"
    RUNNER_START = "RUNNER.START"
    RUNNER_STOP = "RUNNER.STOP"
    RUNNER_GATE_ERROR = "RUNNER.GATE_ERROR"
    RUNNER_POSTTRADE_SPOOLED = "RUNNER.POSTTRADE_SPOOLED"
    RUNNER_POSTTRADE_DELIVERED = "RUNNER.POSTTRADE_DELIVERED"
    RUNNER_VENUE_ERROR = "RUNNER.VENUE_ERROR"
    RUNNER_POSITION_DUST = "RUNNER.POSITION_DUST"
    RUNNER_BOOK_UNSYNCED = "RUNNER.BOOK_UNSYNCED"
    RUNNER_BOOK_STALE = "RUNNER.BOOK_STALE"
    RUNNER_BOOK_RESYNCED = "RUNNER.BOOK_RESYNCED"
    RUNNER_POSITION_OPEN_AT_END = "RUNNER.POSITION_OPEN_AT_END"
    # The mid h seconds after a fill (cid, details.trade_id / horizon_s / mid): the summary's markouts
    RUNNER_MARKOUT = "RUNNER.MARKOUT"
    # Kill functionality: the gate's trading state as the runner learned it, and what it cancelled
    RUNNER_TRADING_STATE = "RUNNER.TRADING_STATE"
    RUNNER_KILL_APPLIED = "RUNNER.KILL_APPLIED"
    RUNNER_KILL_SETTLED = "RUNNER.KILL_SETTLED"
    # Live tuning (one-click --tune): the runner took a proposed overlay for its explore arm, or refused it
    RUNNER_OVERLAY_APPLIED = "RUNNER.OVERLAY_APPLIED"
    RUNNER_OVERLAY_REFUSED = "RUNNER.OVERLAY_REFUSED"
    # The live tuner (oneclick/tuner.py, its own tuner_events.jsonl): alive every period; a validated
    # candidate overlay for the runners' explore arm; a candidate it refused itself; a trial scored
    OPTUNA_HEARTBEAT = "OPTUNA.HEARTBEAT"
    OPTUNA_PARAMETER_UPDATE = "OPTUNA.PARAMETER_UPDATE"
    OPTUNA_PROPOSAL_REFUSED = "OPTUNA.PROPOSAL_REFUSED"
    OPTUNA_TRIAL_TOLD = "OPTUNA.TRIAL_TOLD"
    OPTUNA_START = "OPTUNA.START"
    OPTUNA_STOP = "OPTUNA.STOP"


class Reason(StrEnum):
    """Stable reason codes of a gate decision (SPEC §4)."""

    OK = "OK"
    SPREAD_GUARD = "SPREAD_GUARD"
    LATENCY_GUARD = "LATENCY_GUARD"
    HEALTH_COOL_OFF = "HEALTH_COOL_OFF"
    HALTED = "HALTED"
    TRAP_GUARD = "TRAP_GUARD"
    ER_BELOW_MIN = "ER_BELOW_MIN"
    SLIPPAGE_GUARD = "SLIPPAGE_GUARD"
    RISK_DAILY_DD = "RISK_DAILY_DD"
    RISK_CVAR = "RISK_CVAR"
    RISK_MAX_CONCURRENT = "RISK_MAX_CONCURRENT"
    RISK_MAX_NOTIONAL = "RISK_MAX_NOTIONAL"
    RISK_RATE_LIMIT = "RISK_RATE_LIMIT"
    RISK_DUPLICATE = "RISK_DUPLICATE"
    RISK_PRICE_COLLAR = "RISK_PRICE_COLLAR"
    RISK_SIZE_ZERO = "RISK_SIZE_ZERO"
    SPRT_REJECT = "SPRT_REJECT"
    KILL_SWITCH = "KILL_SWITCH"
    DISARMED = "DISARMED"
    GUARD_ERROR = "GUARD_ERROR"
    REQUEST_EXPIRED = "REQUEST_EXPIRED"
    RISK_REDUCE_ONLY_INVALID = "RISK_REDUCE_ONLY_INVALID"
    # market-data sanity (before every other check)
    MARKET_DATA_INVALID = "MARKET_DATA_INVALID"
    STALE_MARKET_DATA = "STALE_MARKET_DATA"
    # instrument rules (the instrument registry)
    RISK_UNKNOWN_INSTRUMENT = "RISK_UNKNOWN_INSTRUMENT"
    RISK_INSTRUMENT_NOT_TRADING = "RISK_INSTRUMENT_NOT_TRADING"
    RISK_PRICE_TICK = "RISK_PRICE_TICK"
    RISK_QTY_STEP = "RISK_QTY_STEP"
    RISK_MIN_QTY = "RISK_MIN_QTY"
    RISK_MAX_QTY = "RISK_MAX_QTY"
    RISK_MIN_NOTIONAL = "RISK_MIN_NOTIONAL"
    RISK_MAX_POSITION = "RISK_MAX_POSITION"


class KillReason(StrEnum):
    """Why the runner cancels its resting orders on a trading-state change (``ORDER.CANCEL.REQUEST``
    ``details.reason`` and ``RUNNER.KILL_*``): the gate's trigger, named as its ``/trading_state`` view
    names it (``trigger``, in upper case)."""

    KILL_SWITCH = "KILL_SWITCH"
    DISARMED = "DISARMED"
    HEALTH_COOL_OFF = "HEALTH_COOL_OFF"
    HEALTH_HALT = "HEALTH_HALT"
    OPS_HALT = "OPS_HALT"
    #: the gate said REDUCING / HALTED in an answer, and its trigger could not be fetched
    GATE_REDUCING = "GATE_REDUCING"
    GATE_HALTED = "GATE_HALTED"
    #: the gate's state cannot be learned (``runner.cancel_entries_when_gate_unknown``)
    GATE_UNKNOWN = "GATE_UNKNOWN"


def kill_reason(trigger: str | None, state: str | None) -> KillReason:
    """The reason for a view's ``trigger`` (a gate trigger name), else for its bare ``state``."""
    if trigger:
        try:
            return KillReason(trigger.upper())
        except ValueError:
            pass  # a trigger this runner does not know yet: named by the state it put the gate in
    if state == "HALTED":
        return KillReason.GATE_HALTED
    return KillReason.GATE_REDUCING if state == "REDUCING" else KillReason.GATE_UNKNOWN


#: Lifecycle events that ``/posttrade/log`` accepts, by their short name (the part after ``ORDER.``).
ORDER_EVENT_NAMES: tuple[str, ...] = (
    "SUBMIT",
    "ACK",
    "PARTIAL",
    "FILL",
    "REJECT",
    "CANCEL.REQUEST",
    "CANCEL.ACK",
    "EXPIRE",
)

KNOWN_CODES: frozenset[str] = frozenset(c.value for c in EventCode)
#: The order lifecycle events themselves (what the FSM walks). ``ORDER.ANOMALY`` shares the ``ORDER.``
#: family but is the gate's verdict on them: a reader of the lifecycle selects on this set, not on the prefix.
LIFECYCLE_CODES: frozenset[str] = frozenset("ORDER." + n for n in ORDER_EVENT_NAMES)


def is_lifecycle_code(code: str) -> bool:
    """An ``ORDER.*`` lifecycle event (unknown ``ORDER.*`` codes included: the audit flags those)."""
    return code.startswith("ORDER.") and code != EventCode.ORDER_ANOMALY


def normalize_code(code: str) -> str:
    """Map the legacy ``ORDER_X`` spelling to ``ORDER.X``; every other code is returned unchanged.

    ``ORDER_CANCEL_REQUEST`` becomes ``ORDER.CANCEL.REQUEST`` because the lifecycle names are known.
    """
    if code.startswith("ORDER_"):
        tail = code[len("ORDER_") :]
        for name in ORDER_EVENT_NAMES:
            if name.replace(".", "_") == tail:
                return "ORDER." + name
        return "ORDER." + tail
    return code
