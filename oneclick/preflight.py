"""Preflight for one-click: every reason the run would fail, found before any process starts.

Each check answers pass / warn / fail / skip with a one-line detail and, on warn/fail, a hint saying
what to do. Cheap checks always run; network checks (feed and exchange reachability) only with
``--preflight`` (``full=True``). The result also carries the :class:`Plan` the run executes, so
what was checked is exactly what runs.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from aurora.config.errors import ConfigError, ConfigIssue
from aurora.config.loader import Environment, Loaded, LoadedAurora, load_aurora, load_runner, normalize_mode
from aurora.config.models import MODES
from aurora.config.paths import project_root
from aurora.config.secrets import is_placeholder
from aurora.instruments import configured_registry
from runner.config import RunnerConfig

Status = Literal["pass", "warn", "fail", "skip"]

OFFLINE_VENUES = frozenset({"paper", "shadow"})
API_TOKEN_MIN, OPS_TOKEN_MIN_PROD = 16, 32
DISK_FAIL_MB, DISK_WARN_MB = 200, 1024
DEFAULT_GROUP = "default"  # the runner's name for symbols without a group (runner.app.group_of)
NETWORK_TIMEOUT_S = 3.0


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    hint: str = ""

    def to_dict(self) -> dict[str, str]:
        d = {"name": self.name, "status": self.status, "detail": self.detail}
        if self.hint:
            d["hint"] = self.hint
        return d


@dataclass
class OneClickOptions:
    mode: str = "testnet"
    duration_s: float = 60.0
    runner_config: str | None = None
    profile: str | None = None
    overlays: list[str] = field(default_factory=list)
    port: int | None = None  # None: from config; 0: pick a free port
    session_dir: Path | None = None
    venue: str | None = None  # None: runner.mode of the runner config
    state_dir: Path | None = None  # the gate's durable risk state; None: see Plan.state_dir
    full: bool = False  # --preflight: also the network checks
    restart_dead: bool = False
    environ: Mapping[str, str] | None = None
    root: Path | None = None


@dataclass
class Plan:
    """Everything the run needs, resolved and checked."""

    mode: str
    root: Path
    gate: LoadedAurora
    runner: Loaded[RunnerConfig]
    host: str
    port: int
    session_dir: Path | None  # None: a fresh logs/YYYYMMDD-hhmmss/ under session_parent
    session_parent: Path
    groups: dict[str, list[str]]  # group name -> symbols; one runner process per group
    child_env: dict[str, str]  # tokens included: never printed or serialized
    tokens_generated: list[str]  # names of the variables generated for this run
    venue: str
    feed: str
    #: --state-dir as given; None: an offline paper/shadow run uses a fresh state inside its session dir,
    #: a run that trades on an exchange uses the deployment's state dir (its halts and positions apply)
    state_dir: Path | None = None

    @property
    def gate_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def ops_token(self) -> str | None:
        return self.child_env.get("OPS_TOKEN")

    @property
    def api_token(self) -> str | None:
        return self.child_env.get("AURORA_API_TOKEN")


@dataclass
class PreflightReport:
    checks: list[Check]
    plan: Plan | None

    @property
    def ok(self) -> bool:
        return self.plan is not None and not any(c.status == "fail" for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.to_dict() for c in self.checks]}


def _issues_text(issues: list[ConfigIssue], limit: int = 3) -> str:
    parts = [f"{i.location()}: {i.message}" for i in issues[:limit]]
    more = f" (+{len(issues) - limit} more)" if len(issues) > limit else ""
    return "; ".join(parts) + more


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def port_is_free(host: str, port: int) -> tuple[bool, str]:
    """Can a server bind ``host:port``? (SO_REUSEADDR like uvicorn, so TIME_WAIT does not count.)"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False, "in use"
            return False, exc.strerror or str(exc)
    return True, ""


def pick_free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def runner_groups(cfg: RunnerConfig) -> dict[str, list[str]]:
    """Symbols by process group (``symbols[*].group``; no group means the one default group)."""
    groups: dict[str, list[str]] = {}
    for s in cfg.symbols:
        groups.setdefault(s.group or DEFAULT_GROUP, []).append(s.symbol)
    return groups


# --- individual checks --------------------------------------------------------------------------


def check_groups(cfg: RunnerConfig) -> Check:
    groups = runner_groups(cfg)
    text = "; ".join(f"{g}: {', '.join(syms)}" for g, syms in groups.items())
    n = len(groups)
    return Check("runner groups", "pass", f"{n} runner process{'es' if n != 1 else ''} ({text})")


def check_venue(venue: str, source: str = "runner.mode") -> Check:
    """``source`` says where the venue came from: the gate's --mode never picks it (SPEC §2)."""
    if venue == "live":
        return Check(
            "venue",
            "fail",
            "the runner config trades live",
            "one-click never starts live trading; use a testnet/paper config here, and "
            "`auroractl run-runner --venue live` with an armed gate for live",
        )
    if venue == "testnet":
        return Check("venue", "pass", f"testnet (Binance demo/testnet through ccxt; from {source})")
    return Check("venue", "pass", f"{venue} (offline: no order leaves this machine; from {source})")


def decide_tokens(
    mode: str, venue: str, values: Mapping[str, str]
) -> tuple[list[Check], dict[str, str], list[str]]:
    """Tokens for the gate and the runners: from the environment, or generated for an offline run."""
    offline = venue in OFFLINE_VENUES and mode != "production"
    api = values.get("AURORA_API_TOKEN") or None
    ops_var = (
        "OPS_TOKEN"
        if values.get("OPS_TOKEN")
        else ("AURORA_OPS_TOKEN" if values.get("AURORA_OPS_TOKEN") else None)
    )
    ops = values.get(ops_var) if ops_var else None
    env: dict[str, str] = {}
    generated: list[str] = []
    problems: list[tuple[Status, str, str]] = []

    if api is None:
        if offline:
            env["AURORA_API_TOKEN"] = secrets.token_urlsafe(32)
            generated.append("AURORA_API_TOKEN")
        else:
            problems.append(
                ("fail", "AURORA_API_TOKEN is not set", _token_hint("AURORA_API_TOKEN", API_TOKEN_MIN))
            )
    else:
        env["AURORA_API_TOKEN"] = api
        if len(api) < API_TOKEN_MIN:
            problems.append(
                ("fail", f"AURORA_API_TOKEN is shorter than {API_TOKEN_MIN} characters",
                 _token_hint("AURORA_API_TOKEN", API_TOKEN_MIN))
            )  # fmt: skip
        elif is_placeholder(api):
            problems.append(
                ("fail" if mode == "production" else "warn", "AURORA_API_TOKEN looks like a placeholder",
                 _token_hint("AURORA_API_TOKEN", API_TOKEN_MIN))
            )  # fmt: skip

    if ops is None:
        if offline:
            env["OPS_TOKEN"] = secrets.token_urlsafe(32)
            generated.append("OPS_TOKEN")
        else:
            problems.append(("fail", "OPS_TOKEN is not set", _token_hint("OPS_TOKEN", OPS_TOKEN_MIN_PROD)))
    else:
        env["OPS_TOKEN"] = ops
        if ops_var == "AURORA_OPS_TOKEN":
            problems.append(
                ("warn", "the OPS token comes from the alias AURORA_OPS_TOKEN", "rename it to OPS_TOKEN")
            )
        if len(ops) < OPS_TOKEN_MIN_PROD:
            problems.append(
                ("fail" if mode == "production" else "warn",
                 f"{ops_var} is shorter than {OPS_TOKEN_MIN_PROD} characters"
                 + ("" if mode == "production" else " (production refuses it)"),
                 _token_hint("OPS_TOKEN", OPS_TOKEN_MIN_PROD))
            )  # fmt: skip
        elif is_placeholder(ops):
            problems.append(
                ("fail" if mode == "production" else "warn", f"{ops_var} looks like a placeholder",
                 _token_hint("OPS_TOKEN", OPS_TOKEN_MIN_PROD))
            )  # fmt: skip

    checks = [Check("tokens", status, detail, hint) for status, detail, hint in problems]
    if not any(c.status == "fail" for c in checks):
        if generated:
            checks.append(
                Check(
                    "tokens",
                    "pass",
                    f"generated ephemeral {' and '.join(generated)} for this offline run "
                    "(never printed; set them to use `auroractl ops` against this gate)",
                )
            )
        else:
            checks.append(Check("tokens", "pass", "AURORA_API_TOKEN and OPS_TOKEN present and long enough"))
    return checks, env, generated


def _token_hint(var: str, minimum: int) -> str:
    return (
        f"export {var}=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') "
        f"(at least {minimum} characters, not a placeholder)"
    )


def check_session_dir(target: Path, explicit: bool) -> Check:
    """Writable (probed with a real file, since root passes every permission test) and not mixing runs."""
    if target.exists() and not target.is_dir():
        return Check(
            "session dir", "fail", f"{target} exists and is not a directory", "pass --session DIR"
        )
    base = target if target.is_dir() else _nearest_existing(target.parent)
    if not base.is_dir():
        return Check(
            "session dir",
            "fail",
            f"cannot create {target}: {base} is not a directory",
            "pass a --session under a writable directory",
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".aurora-probe-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return Check(
            "session dir",
            "fail",
            f"{base} is not writable ({exc.strerror or exc})",
            "pass a --session you can write to, or fix the directory's permissions",
        )
    if explicit and target.is_dir() and any(target.glob("*.jsonl*")):
        return Check(
            "session dir",
            "warn",
            f"{target} already holds logs; this run's events will be mixed with them",
            "use a fresh --session (or omit it for a new logs/YYYYMMDD-hhmmss/)",
        )
    where = str(target) if explicit else f"new session dir under {target}"
    return Check("session dir", "pass", f"{where} (writable)")


def check_disk(base: Path, rotate_max_mb: float) -> Check:
    try:
        free_mb = shutil.disk_usage(_nearest_existing(base)).free / 2**20
    except OSError as exc:
        return Check("disk space", "warn", f"cannot measure free space ({exc.strerror or exc})", "")
    need = max(DISK_FAIL_MB, 2 * rotate_max_mb)
    if free_mb < need:
        return Check(
            "disk space",
            "fail",
            f"{free_mb:,.0f} MB free (need at least {need:,.0f} MB)",
            "free some space or point --session at a larger disk",
        )
    if free_mb < DISK_WARN_MB:
        return Check("disk space", "warn", f"{free_mb:,.0f} MB free", "long runs may fill the disk")
    return Check("disk space", "pass", f"{free_mb / 1024:,.1f} GB free")


def check_rotation(rotate_max_mb: float, retention_days: int, free_base: Path) -> Check:
    detail = f"rotate at {rotate_max_mb:g} MB, keep {retention_days} day(s)"
    if rotate_max_mb < 1:
        return Check(
            "log rotation",
            "warn",
            detail,
            "below 1 MB files rotate constantly; use logging.rotate_max_mb >= 1",
        )
    if rotate_max_mb > 2048:
        return Check(
            "log rotation",
            "warn",
            detail,
            "above 2 GB a rotation stalls on gzip; use a smaller rotate_max_mb",
        )
    if retention_days > 365:
        return Check(
            "log rotation", "warn", detail, "logs are kept over a year; lower logging.retention_days"
        )
    try:
        free_mb = shutil.disk_usage(_nearest_existing(free_base)).free / 2**20
    except OSError:
        free_mb = float("inf")
    if free_mb < 10 * rotate_max_mb:
        return Check(
            "log rotation",
            "warn",
            detail + f"; only {free_mb:,.0f} MB free",
            "lower logging.rotate_max_mb or free space",
        )
    return Check("log rotation", "pass", detail)


def check_exchange_keys(venue: str, values: Mapping[str, str]) -> Check:
    if venue in OFFLINE_VENUES:
        return Check("exchange keys", "skip", f"not needed for the {venue} venue")
    # The variable names are the ccxt venue's own (imported only here: ccxt takes ~0.5 s to import).
    from runner.venues.ccxt_venue import KEY_VARS

    key_var, secret_var = KEY_VARS[venue]
    missing = [v for v in (key_var, secret_var) if not values.get(v)]
    if missing:
        return Check(
            "exchange keys",
            "fail",
            f"{' and '.join(missing)} not set (the {venue} venue signs orders with them)",
            f"create demo/testnet API keys (https://demo.binance.com) and export {key_var} and {secret_var}",
        )
    bad = [v for v in (key_var, secret_var) if is_placeholder(values[v])]
    if bad:
        return Check(
            "exchange keys", "fail", f"{' and '.join(bad)} look like placeholders", f"set real {venue} keys"
        )
    return Check("exchange keys", "pass", f"{key_var} and {secret_var} present")


def _tcp_reachable(url: str, timeout: float) -> str | None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme in ("wss", "https") else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{host}:{port}: {exc.strerror or exc}"


def check_feed(cfg: RunnerConfig, full: bool, timeout: float = NETWORK_TIMEOUT_S) -> Check:
    source = cfg.feed.source
    if source == "synthetic":
        return Check("feed", "pass", "synthetic (offline, seeded)")
    if source.startswith("replay:"):
        path = Path(source[len("replay:") :]).expanduser()
        if not path.is_file():
            return Check("feed", "fail", f"replay file {path} not found", "check feed.source (replay:PATH)")
        return Check("feed", "pass", f"replay of {path}")
    if not full:
        return Check("feed", "skip", "binance: reachability not checked", "run with --preflight to check it")
    b = cfg.feed.binance
    errors = [e for e in (_tcp_reachable(u, timeout) for u in (b.public_url, b.market_url, b.rest_url)) if e]
    if errors:
        return Check(
            "feed",
            "fail",
            "binance unreachable: " + "; ".join(errors),
            "check network/proxy/firewall for fstream.binance.com:443, or use the synthetic feed",
        )
    return Check("feed", "pass", f"binance reachable ({urlsplit(b.public_url).hostname})")


def check_instruments(cfg: RunnerConfig, gate: LoadedAurora) -> Check:
    """Every symbol the runner trades or watches is in the gate's instrument registry, and trading: the gate
    refuses orders in any other (``RISK_UNKNOWN_INSTRUMENT``), so a run with one would only be denied."""
    ic = gate.config.instruments
    try:
        registry = configured_registry(ic.path, ic.venue, gate.root)
    except ConfigError as exc:
        return Check("instruments", "fail", _issues_text(exc.issues),
                     "fix instruments.path (AURORA_INSTRUMENTS_PATH), or `auroractl instruments fetch` a new one")  # fmt: skip
    where = f"{registry.path} ({ic.venue}, fetched {registry.fetched_at})"
    unknown = [s.symbol for s in cfg.symbols if registry.get(s.symbol, ic.venue) is None]
    if unknown:
        return Check(
            "instruments", "fail", f"not in the instrument registry: {', '.join(unknown)} ({where})",
            f"check the symbol names, or `auroractl instruments fetch --venue {ic.venue} --out FILE` and point "
            f"instruments.path (AURORA_INSTRUMENTS_PATH) at it",
        )  # fmt: skip
    halted = [f"{s.symbol} ({registry.get(s.symbol, ic.venue).status})" for s in cfg.symbols  # type: ignore[union-attr]
              if not registry.get(s.symbol, ic.venue).trading]  # type: ignore[union-attr]  # fmt: skip
    if halted:
        return Check("instruments", "fail", f"not trading on {ic.venue}: {', '.join(halted)}",
                     "remove them from the runner config until the venue lists them as TRADING")  # fmt: skip
    differ = []
    for s in cfg.symbols:
        inst = registry.get(s.symbol, ic.venue)
        assert inst is not None
        if (s.tick is not None and s.tick != inst.tick) or (s.lot is not None and s.lot != inst.step):
            differ.append(f"{s.symbol} (profile tick {s.tick}/lot {s.lot}, registry {inst.tick:g}/{inst.step:g})")
    if differ:
        return Check("instruments", "warn", f"profile steps differ from the registry: {', '.join(differ)}",
                     "drop symbols[].tick/lot from the profile: the gate judges orders by the registry")  # fmt: skip
    names = ", ".join(s.symbol for s in cfg.symbols)
    return Check("instruments", "pass", f"{names} in {where}")


def check_exchange(
    cfg: RunnerConfig, full: bool, timeout: float = NETWORK_TIMEOUT_S, *, venue: str | None = None
) -> Check:
    """Testnet/live REST reachable, and the clock close enough for signed requests (recvWindow)."""
    venue = venue or cfg.runner.mode
    if venue in OFFLINE_VENUES:
        return Check("exchange", "skip", f"not needed for the {venue} venue")
    if not full:
        return Check(
            "exchange", "skip", "reachability and clock skew not checked", "run with --preflight to check it"
        )
    import httpx  # only the network check needs it

    base = cfg.venue.exchange.testnet_url if venue == "testnet" else cfg.venue.exchange.live_url
    try:
        t0 = time.time()
        resp = httpx.get(base.rstrip("/") + "/fapi/v1/time", timeout=timeout)
        t1 = time.time()
        resp.raise_for_status()
        server_ms = float(resp.json()["serverTime"])
    except (httpx.HTTPError, KeyError, ValueError, TypeError) as exc:
        return Check(
            "exchange",
            "fail",
            f"{base} unreachable ({type(exc).__name__})",
            "check network, or the venue URL",
        )
    skew_ms = abs(server_ms - (t0 + t1) * 500)
    window = cfg.venue.exchange.recv_window_ms
    detail = f"{base} reachable, clock skew {skew_ms:.0f} ms (recvWindow {window} ms)"
    if skew_ms > window:
        return Check(
            "exchange", "fail", detail, "sync the clock (chrony/ntp); signed requests will be refused"
        )
    if skew_ms > window / 2:
        return Check("exchange", "warn", detail, "sync the clock (chrony/ntp)")
    return Check("exchange", "pass", detail)


# --- the whole preflight ------------------------------------------------------------------------


def run_preflight(
    opts: OneClickOptions, *, port_probe: Callable[[str, int], tuple[bool, str]] = port_is_free
) -> PreflightReport:
    checks: list[Check] = []
    env = Environment.capture(opts.environ)
    root = (opts.root or project_root(env.values)).resolve()

    mode = normalize_mode(opts.mode)
    if mode is None:
        checks.append(Check("mode", "fail", f"unknown mode {opts.mode!r}", "use --mode " + " | ".join(MODES)))
        return PreflightReport(checks, None)

    # Runner first: its venue decides whether tokens may be generated.
    runner: Loaded[RunnerConfig] | None = None
    try:
        runner = load_runner(
            RunnerConfig,
            config=opts.runner_config,
            profile=opts.profile,
            overlays=opts.overlays,
            environ=env,
            root=root,
        )
    except ConfigError as exc:
        checks.append(
            Check(
                "runner config",
                "fail",
                _issues_text(exc.issues),
                "auroractl config validate --runner-config NAME [--profile P] [--overlay O] shows every problem",
            )
        )
    if runner is not None:
        files = [
            layer.path
            for layer in runner.layers
            if layer.kind == "file" and layer.status == "loaded" and layer.path
        ]
        checks.append(Check("runner config", "pass", f"valid, version {runner.version} ({', '.join(files)})"))
        cfg = runner.config
        venue = opts.venue or cfg.runner.mode
        checks.append(check_venue(venue, "--venue" if opts.venue else "runner.mode of the runner config"))
        checks.append(check_groups(cfg))
    else:
        venue = "paper"

    token_checks, token_env, generated = decide_tokens(mode, venue, env.values)
    checks.extend(token_checks)

    gate: LoadedAurora | None = None
    gate_values = {**env.values, **token_env}
    if "AURORA_OPS_TOKEN" in gate_values and "OPS_TOKEN" in token_env:
        gate_values.pop("AURORA_OPS_TOKEN")  # the child gets the canonical name only
    try:
        gate = load_aurora(
            mode, environ=Environment(gate_values, env.dotenv_path, env.from_dotenv), root=root
        )
    except ConfigError as exc:
        checks.append(
            Check(
                "gate config",
                "fail",
                f"invalid for {mode}: {_issues_text(exc.issues)}",
                f"auroractl config validate {mode} shows every problem with file and line",
            )
        )
    if gate is not None:
        if gate.warnings:
            checks.append(
                Check("gate config", "warn", f"valid for {mode}, version {gate.version}; {_issues_text(gate.warnings)}",
                      "auroractl config conflicts shows where they come from")
            )  # fmt: skip
        else:
            checks.append(Check("gate config", "pass", f"valid for {mode}, version {gate.version}"))

    host = gate.config.api.host if gate else "127.0.0.1"
    port = opts.port if opts.port is not None else (gate.config.api.port if gate else 8000)
    if port == 0:
        port = pick_free_port(host)
        checks.append(Check("port", "pass", f"{host}:{port} (picked automatically)"))
    else:
        free, why = port_probe(host, port)
        if free:
            checks.append(Check("port", "pass", f"{host}:{port} free"))
        else:
            checks.append(
                Check(
                    "port",
                    "fail",
                    f"{host}:{port} {why}",
                    "stop whatever listens there, or pass --port auto (a free port) or --port N",
                )
            )

    logging_cfg = gate.config.logging if gate else None
    explicit = opts.session_dir
    if explicit is None and env.values.get("AURORA_SESSION_DIR"):  # relative to where the user is
        explicit = Path(env.values["AURORA_SESSION_DIR"]).expanduser().resolve()
    if explicit is None and logging_cfg is not None and logging_cfg.session_dir:  # relative to the root
        explicit = Path(logging_cfg.session_dir).expanduser()
        explicit = explicit if explicit.is_absolute() else root / explicit
    parent = root / (logging_cfg.dir if logging_cfg else "logs")  # an absolute dir stays as it is
    target = explicit or parent
    checks.append(check_session_dir(target, explicit is not None))
    rotate_mb = logging_cfg.rotate_max_mb if logging_cfg else 50.0
    checks.append(check_disk(target, rotate_mb))
    if logging_cfg is not None:
        checks.append(check_rotation(rotate_mb, logging_cfg.retention_days, target))

    if runner is not None and gate is not None:
        checks.append(check_instruments(runner.config, gate))
    if runner is not None:
        checks.append(check_exchange_keys(venue, env.values))
        checks.append(check_feed(runner.config, opts.full))
        checks.append(check_exchange(runner.config, opts.full, venue=venue))

    if runner is None or gate is None or any(c.status == "fail" for c in checks):
        return PreflightReport(checks, None)

    child_env = dict(gate_values)
    plan = Plan(
        mode=mode,
        root=root,
        gate=gate,
        runner=runner,
        host=host,
        port=int(port),
        session_dir=explicit,
        session_parent=parent,
        groups=runner_groups(runner.config),
        child_env=child_env,
        tokens_generated=generated,
        venue=venue,
        feed=runner.config.feed.source,
        state_dir=opts.state_dir,
    )
    return PreflightReport(checks, plan)
