"""``auroractl ops ...``: operator actions against a running gate.

The OPS token comes from the environment (``OPS_TOKEN``, alias ``AURORA_OPS_TOKEN``) or the config;
it is sent as ``X-OPS-TOKEN`` and never printed. The gate URL: ``--url``, else ``AURORA_GATE_URL``, else
``http://{api.host}:{api.port}`` of the active config.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from aurora.config.errors import ConfigError
from aurora.config.loader import load_aurora
from auroractl.output import EXIT_FAILURE, EXIT_USAGE, Output, yes_no

app = typer.Typer(
    help="Operator actions against a running gate: status, halt, kill, resume, cooloff, reset, arm, disarm, rotate-token, reload.",
    no_args_is_help=True,
)

UrlOpt = Annotated[str | None, typer.Option("--url", help="Gate base URL. Default: AURORA_GATE_URL or api.host/port.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=0.1, help="HTTP timeout in seconds.")]


def _target(url: str | None) -> tuple[str, str | None]:
    """(base URL, ops token). The config is consulted only for what the environment does not give."""
    token = os.environ.get("OPS_TOKEN") or os.environ.get("AURORA_OPS_TOKEN")
    url = url or os.environ.get("AURORA_GATE_URL")
    if token is None or url is None:
        try:
            cfg = load_aurora().config
        except ConfigError:
            cfg = None
        if cfg is not None:
            if url is None:
                url = f"http://{cfg.api.host}:{cfg.api.port}"
            if token is None and cfg.security.ops_token is not None:
                token = cfg.security.ops_token.get_secret_value()
    return (url or "http://127.0.0.1:8000").rstrip("/"), token


def _call(method: str, path: str, url: str | None, timeout: float, body: Any = None) -> dict[str, Any]:
    out = Output()
    base, token = _target(url)
    if not token:
        out.fail("no ops token: set OPS_TOKEN (or security.ops_token in the config)", EXIT_USAGE)
    try:
        with httpx.Client(base_url=base, timeout=timeout) as client:
            r = client.request(method, path, json=body, headers={"X-OPS-TOKEN": token})
    except httpx.HTTPError as exc:
        out.fail(f"cannot reach the gate at {base}: {type(exc).__name__}", EXIT_FAILURE)
    if r.status_code == 401:
        out.fail(f"the gate at {base} refused the ops token (401); check OPS_TOKEN", EXIT_FAILURE)
    try:
        data = r.json()
    except ValueError:
        data = {"detail": r.text[:200]}
    if r.status_code == 422:
        out.fail(f"the gate rejected the request: {data.get('error', data)}", EXIT_USAGE)
    if r.status_code >= 400 and r.status_code != 409:
        out.fail(f"{method} {path} failed with HTTP {r.status_code}: {data.get('detail', data)}", EXIT_FAILURE)
    data["_status"] = r.status_code
    return data


def _render_state(data: dict[str, Any], as_json: bool, title: str) -> None:
    out = Output()
    data.pop("_status", None)
    if as_json:
        out.json(data)
        return
    table = Table(title=title, show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    ks = data.get("kill_switch")
    tripped = ks.get("tripped") if isinstance(ks, dict) else None
    rows = [
        ("trading state", data.get("trading_state")),
        ("trigger", data.get("trading_state_trigger") or "-"),
        ("armed", data.get("armed")),
        ("halted", data.get("halted")),
        ("health", data.get("health_state")),
        ("cool-off left (s)", round(data.get("cooloff_remaining_s") or 0.0, 1)),
        ("kill-switch", ks.get("active") if isinstance(ks, dict) else ks),
    ]
    if tripped:
        rows.append(("kill-switch tripped for", ", ".join(f"{k} ({v.get('trigger')})" for k, v in tripped.items())))
    if data.get("ops_halt"):
        rows.append(("ops halt", data["ops_halt"].get("reason")))
    for key in ("mode", "config_version", "pending_acks", "guard_errors", "order_profile", "session_dir", "state_dir"):
        if key in data:
            rows.append((key.replace("_", " "), data[key]))
    if isinstance(data.get("risk"), dict):
        r = data["risk"]
        for account, day in sorted(r.get("pnl_today", {}).items()):
            rows.append((f"{account}: pnl today (USD)", round(day.get("pnl_usd", 0.0), 2)))
            rows.append((f"{account}: drawdown (%)", round(day.get("dd_pct", 0.0), 3)))
        for account, pos in sorted(r.get("positions", {}).items()):
            rows.append((f"{account}: positions", ", ".join(f"{s} {q:g}" for s, q in sorted(pos.items()))))
        rows.append(("open orders / reservations", f"{r.get('open_orders', 0)} / {r.get('reservations', 0)}"))
    for account, n in sorted((data.get("resting_orders") or {}).items()):
        rows.append((f"{account}: resting entries / exits", f"{n.get('entries', 0)} / {n.get('exits', 0)}"))
    for k, v in rows:
        table.add_row(k, yes_no(v))
    out.print(table)


@app.command()
def status(url: UrlOpt = None, as_json: JsonOpt = False, timeout: TimeoutOpt = 5.0) -> None:
    """Armed/halted/health/kill-switch/risk state of the gate.

    Example: [bold]OPS_TOKEN=… auroractl ops status --url http://127.0.0.1:8000[/]
    """
    _render_state(_call("GET", "/ops/status", url, timeout), as_json, "gate status")


@app.command()
def cooloff(
    seconds: Annotated[int, typer.Argument(metavar="SEC", min=1, max=86_400, help="Cool-off length in seconds.")],
    url: UrlOpt = None,
    as_json: JsonOpt = False,
    timeout: TimeoutOpt = 5.0,
) -> None:
    """Deny new orders for SEC seconds (HEALTH_COOL_OFF). Example: [bold]auroractl ops cooloff 120[/]"""
    data = _call("POST", f"/ops/cooloff/{seconds}", url, timeout)
    if not as_json:
        Output().success(f"cool-off for {seconds}s started")
    _render_state(data, as_json, "gate status")


@app.command()
def reset(url: UrlOpt = None, as_json: JsonOpt = False, timeout: TimeoutOpt = 5.0) -> None:
    """Clear the health HALT/cool-off and the kill-switch (not an ops halt, not disarm). Example: [bold]auroractl ops reset[/]"""
    data = _call("POST", "/ops/reset", url, timeout)
    if not as_json:
        Output().success("gate reset")
    _render_state(data, as_json, "gate status")


@app.command()
def halt(
    reason: Annotated[str | None, typer.Option("--reason", help="Why (shown in events and ops status).")] = None,
    cancel_all: Annotated[
        bool, typer.Option("--cancel-all", help="Runners also cancel every resting order, exits included.")
    ] = False,
    url: UrlOpt = None,
    as_json: JsonOpt = False,
    timeout: TimeoutOpt = 5.0,
) -> None:
    """Trading state HALTED: nothing passes, exits included, until [bold]ops resume[/]. It survives a restart.

    Examples: [bold]auroractl ops halt --reason "exchange incident"[/] · [bold]auroractl ops halt --cancel-all[/]
    """
    data = _call("POST", "/ops/halt", url, timeout, body={"reason": reason, "cancel_all": cancel_all})
    if not as_json:
        Output().success("gate HALTED" + (", runners cancel every resting order" if cancel_all else "")
                         + " (auroractl ops resume lifts it)")
    _render_state(data, as_json, "gate status")


@app.command()
def kill(
    reason: Annotated[str | None, typer.Option("--reason", help="Why (shown in events and ops status).")] = None,
    url: UrlOpt = None,
    as_json: JsonOpt = False,
    timeout: TimeoutOpt = 5.0,
) -> None:
    """Kill functionality: HALTED with cancel-all (every resting order cancelled) and disarmed.

    Afterwards [bold]ops resume[/] lifts the halt but the gate stays REDUCING until [bold]ops arm[/].
    Example: [bold]auroractl ops kill --reason "runaway strategy"[/]
    """
    data = _call("POST", "/ops/kill", url, timeout, body={"reason": reason})
    if not as_json:
        Output().success("gate KILLED: HALTED, cancel-all, disarmed (ops resume, then ops arm, to trade again)")
    _render_state(data, as_json, "gate status")


@app.command()
def resume(url: UrlOpt = None, as_json: JsonOpt = False, timeout: TimeoutOpt = 5.0) -> None:
    """Lift an ops halt (other triggers — kill-switch, cool-off, disarm — stay as they are).

    Example: [bold]auroractl ops resume[/]
    """
    data = _call("POST", "/ops/resume", url, timeout)
    if not as_json:
        Output().success("ops halt lifted")
    _render_state(data, as_json, "gate status")


@app.command()
def arm(url: UrlOpt = None, as_json: JsonOpt = False, timeout: TimeoutOpt = 5.0) -> None:
    """Arm the gate (new risk allowed). Example: [bold]auroractl ops arm[/]"""
    data = _call("POST", "/aurora/arm", url, timeout)
    if not as_json:
        Output().success("gate armed")
    _render_state(data, as_json, "gate status")


@app.command()
def disarm(url: UrlOpt = None, as_json: JsonOpt = False, timeout: TimeoutOpt = 5.0) -> None:
    """Disarm: trading state REDUCING (new risk denied DISARMED; position-reducing orders pass). Example: [bold]auroractl ops disarm[/]"""
    data = _call("POST", "/aurora/disarm", url, timeout)
    if not as_json:
        Output().success("gate disarmed")
    _render_state(data, as_json, "gate status")


@app.command()
def reload(url: UrlOpt = None, as_json: JsonOpt = False, timeout: TimeoutOpt = 10.0) -> None:
    """Reload the gate's config: validated first; an invalid one is refused and the running one kept.

    Example: [bold]auroractl ops reload[/]
    """
    out = Output()
    data = _call("POST", "/ops/reload", url, timeout)
    status_code = data.pop("_status")
    if as_json:
        out.json(data)
    elif data.get("ok"):
        out.success(f"config reloaded: {data.get('name')} · version {data.get('config_version')} · {data.get('path')}")
    else:
        out.error(f"the gate refused the new config (kept version {data.get('config_version')}): {data.get('error')}")
    if status_code == 409 or not data.get("ok"):
        raise typer.Exit(EXIT_FAILURE)


@app.command("rotate-token")
def rotate_token(
    from_env: Annotated[
        str, typer.Option("--from-env", metavar="VAR", help="Read the new token from this environment variable.")
    ] = "NEW_OPS_TOKEN",
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the new token from standard input.")] = False,
    generate_to: Annotated[
        Path | None,
        typer.Option("--generate-to", metavar="FILE", help="Generate a random token and write it to FILE (mode 0600)."),
    ] = None,
    target: Annotated[str, typer.Option("--target", help="ops | api")] = "ops",
    url: UrlOpt = None,
    as_json: JsonOpt = False,
    timeout: TimeoutOpt = 5.0,
) -> None:
    """Replace the gate's OPS (or API) token; the old one stops working at once. The token is never printed.

    Examples: [bold]NEW_OPS_TOKEN=… auroractl ops rotate-token[/] ·
    [bold]auroractl ops rotate-token --generate-to ~/.aurora/ops_token[/]
    """
    out = Output()
    if target not in ("ops", "api"):
        out.fail(f"--target: expected ops or api, got {target!r}", EXIT_USAGE)
    if generate_to is not None:
        new = secrets.token_urlsafe(36)
    elif stdin:
        new = sys.stdin.readline().strip()
    else:
        new = os.environ.get(from_env, "").strip()
        if not new:
            out.fail(f"--from-env: {from_env} is not set (or use --stdin / --generate-to FILE)", EXIT_USAGE)
    if len(new) < 32:
        out.fail(f"the new token is too short ({len(new)} < 32 characters)", EXIT_USAGE)
    if generate_to is not None:
        try:
            generate_to.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(generate_to, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(new + "\n")
        except OSError as exc:
            out.fail(f"--generate-to: cannot write {generate_to}: {exc.strerror or exc}", EXIT_USAGE)
    data = _call("POST", "/ops/rotate_token", url, timeout, body={"new_token": new, "target": target})
    data.pop("_status", None)
    if as_json:
        out.json({**data, **({"written_to": str(generate_to)} if generate_to else {})})
        return
    where = f"; the new token is in {generate_to}" if generate_to else ""
    out.success(f"{target} token rotated; the old one no longer works{where}")
