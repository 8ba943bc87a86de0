"""The environment-override table: the single source of truth (SPEC §3).

The loader, ``config conflicts``, the typo detector and the README table are all generated from
``ENV_OVERRIDES``; add a variable here and nowhere else.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from aurora.events.codes import EventCode
from aurora.native import PURE_ENV

EnvType = Literal["str", "int", "float", "bool", "secret", "path", "fraction"]
Target = Literal["aurora", "runner"]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class EnvOverride:
    name: str
    key: str
    type: EnvType
    aliases: tuple[str, ...] = ()
    target: Target = "aurora"
    note: str = ""
    #: Event emitted when an alias (not the canonical name) supplied the value.
    alias_event: str = EventCode.CONFIG_ALIAS_USED.value

    @property
    def secret(self) -> bool:
        return self.type == "secret"

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


ENV_OVERRIDES: tuple[EnvOverride, ...] = (
    EnvOverride("AURORA_LATENCY_GUARD_MS", "aurora.latency_guard_ms", "float"),
    EnvOverride("AURORA_LATENCY_WINDOW_SEC", "aurora.latency_window_sec", "int"),
    EnvOverride("AURORA_COOLOFF_SEC", "aurora.cooloff_base_sec", "int"),
    EnvOverride("AURORA_HALT_THRESHOLD_REPEATS", "aurora.halt_threshold_repeats", "int"),
    EnvOverride("AURORA_API_HOST", "api.host", "str"),
    EnvOverride("AURORA_API_PORT", "api.port", "int"),
    EnvOverride("AURORA_API_TOKEN", "security.api_token", "secret", note=">= 16 chars"),
    EnvOverride("AURORA_METRICS_TOKEN", "security.metrics_token", "secret", note=">= 16 chars, /metrics only"),
    EnvOverride(
        "OPS_TOKEN",
        "security.ops_token",
        "secret",
        aliases=("AURORA_OPS_TOKEN",),
        note=">= 32 chars in production",
        alias_event=EventCode.OPS_TOKEN_ALIAS_USED.value,
    ),
    EnvOverride("AURORA_SPREAD_BPS_LIMIT", "guards.spread_bps_limit", "float", aliases=("AURORA_SPREAD_MAX_BPS",)),
    EnvOverride("AURORA_LATENCY_MS_LIMIT", "guards.latency_ms_limit", "float", aliases=("AURORA_LMAX_MS",)),
    EnvOverride("AURORA_VOL_GUARD_STD_BPS", "guards.vol_guard_std_bps", "float"),
    EnvOverride("TRAP_GUARD", "guards.trap_guard_enabled", "bool"),
    EnvOverride("AURORA_PI_MIN_BPS", "risk.pi_min_bps", "float"),
    EnvOverride("AURORA_MAX_CONCURRENT", "risk.max_concurrent", "int"),
    EnvOverride("AURORA_SIZE_SCALE", "risk.size_scale", "fraction", note="in [0, 1]"),
    EnvOverride("AURORA_SLIP_ETA", "slippage.eta_fraction_of_b", "float"),
    EnvOverride("AURORA_ORDER_PROFILE", "pretrade.order_profile", "str"),
    EnvOverride("AURORA_TRAP_LEVELS", "trap.levels", "int"),
    EnvOverride("AURORA_TRAP_Z_THRESHOLD", "trap.z_threshold", "float"),
    EnvOverride("AURORA_TRAP_CANCEL_PCTL", "trap.cancel_pctl", "int"),
    EnvOverride("AURORA_SPRT_ENABLED", "sprt.enabled", "bool"),
    EnvOverride("AURORA_SPRT_ALPHA", "sprt.alpha", "float"),
    EnvOverride("AURORA_SPRT_BETA", "sprt.beta", "float"),
    EnvOverride("AURORA_SPRT_SIGMA", "sprt.sigma", "float"),
    EnvOverride("AURORA_SPRT_A", "sprt.A", "float", note="wins over alpha/beta"),
    EnvOverride("AURORA_SPRT_B", "sprt.B", "float", note="wins over alpha/beta"),
    EnvOverride("AURORA_SPRT_MAX_OBS", "sprt.max_obs", "int"),
    EnvOverride("AURORA_SPRT_TIMEOUT_MS", "sprt.timeout_ms", "float"),
    EnvOverride("AURORA_SESSION_DIR", "logging.session_dir", "path", note="session log dir"),
    EnvOverride("AURORA_STATE_DIR", "logging.state_dir", "path", note="durable risk state"),
    EnvOverride("AURORA_INSTRUMENTS_PATH", "instruments.path", "path",
                note="instrument registry file (the runner reads it too)"),
    EnvOverride("AURORA_MAX_QUOTE_AGE_MS", "guards.max_quote_age_ms", "float"),
    EnvOverride("AURORA_ACK_TTL_S", "observability.ack.ttl_s", "float"),
    EnvOverride("AURORA_ACK_SCAN_PERIOD_S", "observability.ack.scan_period_s", "float"),
    EnvOverride("AURORA_LOG_RETENTION_DAYS", "logging.retention_days", "int"),
    EnvOverride("AURORA_LOG_ROTATE_MAX_MB", "logging.rotate_max_mb", "int"),
    EnvOverride("AURORA_CANCEL_STUB", "venue.cancel_stub", "bool", target="runner", note="testnet only"),
    EnvOverride("AURORA_CANCEL_STUB_EVERY_TICKS", "venue.cancel_stub_every_ticks", "int", target="runner"),
)

#: Variables whose key was removed because nothing read it: ignored with a warning, not reported as typos.
REMOVED_VARS: dict[str, str] = {
    "TRADING_MAX_LATENCY_MS": "trading.max_latency_ms",
    "AURORA_ICP_OBS": "observability.icp_enabled",
    "AURORA_TRAP_WINDOW_S": "trap.window_s",
}

#: Variables that are read directly (not overrides of a key) but are legitimate; never reported as typos.
RUNTIME_VARS: dict[str, str] = {
    "AURORA_MODE": "active mode: development | testnet | production (prod)",
    "AURORA_CONFIG": "extra config layer: a path or a bare name under configs/aurora/",
    "AURORA_CONFIG_NAME": "extra config layer by bare name (when AURORA_CONFIG is not set)",
    "AURORA_ROOT": "project root holding configs/ and profiles/ (default: the working dir)",
    "AURORA_DEBUG": "1 shows tracebacks on errors",
    "AURORA_RUN_ID": "run id stamped on events (default: generated)",
    PURE_ENV: "1 runs the gate's decision path interpreted, not compiled (same answers, ~2x slower)",
    "AURORA_GATE_URL": "runner: URL of the gate (default from the runner config)",
    "AURORA_TESTNET_API_KEY": "runner: exchange API key for the testnet venue",
    "AURORA_TESTNET_API_SECRET": "runner: exchange API secret for the testnet venue",
    "AURORA_LIVE_API_KEY": "runner: exchange API key for the live venue",
    "AURORA_LIVE_API_SECRET": "runner: exchange API secret for the live venue",
}

BY_NAME: dict[str, EnvOverride] = {n: e for e in ENV_OVERRIDES for n in e.all_names}
BY_KEY: dict[tuple[str, str], EnvOverride] = {(e.target, e.key): e for e in ENV_OVERRIDES}
KNOWN_NAMES: frozenset[str] = frozenset(BY_NAME) | frozenset(RUNTIME_VARS)
#: Exchange credentials are secrets too, although they are not config keys.
SECRET_VARS: frozenset[str] = frozenset(
    {n for e in ENV_OVERRIDES if e.secret for n in e.all_names}
    | {n for n in RUNTIME_VARS if n.endswith(("_API_KEY", "_API_SECRET"))}
)


class EnvValueError(ValueError):
    """An environment variable could not be parsed; the message names the variable."""

    def __init__(self, var: str, expected: str, got: str, *, secret: bool = False) -> None:
        self.var = var
        self.expected = expected
        self.got = "***" if secret else got
        super().__init__(f"{var}: expected {expected}, got {self.got!r}")


def parse_bool(var: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise EnvValueError(var, "a boolean (1/true/yes/on or 0/false/no/off)", raw)


def parse_value(entry: EnvOverride, var: str, raw: str) -> object:
    """Convert the raw string of ``var`` (the canonical name or an alias) to the entry's type."""
    text = raw.strip()
    try:
        match entry.type:
            case "bool":
                return parse_bool(var, raw)
            case "int":
                return int(text)
            case "float":
                value = float(text)
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError
                return value
            case "fraction":
                value = float(text)
                if not 0.0 <= value <= 1.0:
                    raise EnvValueError(var, "a number in [0, 1]", raw)
                return value
            case "secret":
                # Secrets keep their exact bytes but not surrounding whitespace a shell might add.
                return text
            case _:
                return text
    except EnvValueError:
        raise
    except ValueError:
        expected = {"int": "an integer", "float": "a finite number"}.get(entry.type, entry.type)
        raise EnvValueError(var, expected, raw, secret=entry.secret) from None


def suggest(name: str) -> str | None:
    """The closest known variable name for a probable typo, or ``None``."""
    matches = difflib.get_close_matches(name, sorted(KNOWN_NAMES), n=1, cutoff=0.75)
    return matches[0] if matches else None


@dataclass(frozen=True)
class UnknownVar:
    name: str
    suggestion: str | None


def unknown_vars(environ: Mapping[str, str]) -> list[UnknownVar]:
    """``AURORA_*`` variables that no part of Aurora reads: probable typos."""
    out = []
    for name in sorted(environ):
        if name.startswith("AURORA_") and name not in KNOWN_NAMES and name not in REMOVED_VARS:
            out.append(UnknownVar(name, suggest(name)))
    return out


@dataclass
class EnvPick:
    """The value one table entry takes from the environment, with the alias bookkeeping."""

    entry: EnvOverride
    var: str
    raw: str
    shadowed: list[tuple[str, str]] = field(default_factory=list)  # (alias, raw) that lost to ``var``

    @property
    def via_alias(self) -> bool:
        return self.var != self.entry.name


def pick(entry: EnvOverride, environ: Mapping[str, str]) -> EnvPick | None:
    """The canonical name wins over aliases; aliases set alongside it are recorded as shadowed."""
    present = [(n, environ[n]) for n in entry.all_names if n in environ]
    if not present:
        return None
    var, raw = present[0]
    return EnvPick(entry, var, raw, shadowed=present[1:])


def markdown_table() -> str:
    """The README's env-override table, generated from ``ENV_OVERRIDES``."""
    lines = ["| env | aliases | applies to | key | type | note |", "|---|---|---|---|---|---|"]
    for e in ENV_OVERRIDES:
        aliases = ", ".join(f"`{a}`" for a in e.aliases) or "—"
        lines.append(f"| `{e.name}` | {aliases} | {e.target} | `{e.key}` | {e.type} | {e.note or '—'} |")
    return "\n".join(lines)
