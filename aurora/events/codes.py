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
    # Risk
    RISK_DENY = "RISK.DENY"
    RISK_UPDATE = "RISK.UPDATE"
    # Configuration
    CONFIG_SWITCHED = "CONFIG.SWITCHED"
    CONFIG_ALIAS_USED = "CONFIG.ALIAS_USED"
    CONFIG_ENV_UNKNOWN = "CONFIG.ENV_UNKNOWN"
    CONFIG_RELOAD_FAILED = "CONFIG.RELOAD_FAILED"
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
    RUNNER_VENUE_ERROR = "RUNNER.VENUE_ERROR"
    RUNNER_POSITION_DUST = "RUNNER.POSITION_DUST"
    RUNNER_BOOK_UNSYNCED = "RUNNER.BOOK_UNSYNCED"
    RUNNER_BOOK_STALE = "RUNNER.BOOK_STALE"
    RUNNER_BOOK_RESYNCED = "RUNNER.BOOK_RESYNCED"
    RUNNER_POSITION_OPEN_AT_END = "RUNNER.POSITION_OPEN_AT_END"


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
