"""``auroractl start-api``: run the pre-trade gate (uvicorn) in the foreground.

SIGINT/SIGTERM stop it gracefully (in-flight requests finish, the AckTracker stops, logs are closed);
SIGHUP reloads the config (validated first; the running one is kept if the new one is invalid).
"""

from __future__ import annotations

import errno
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from aurora.calibration import CalibrationError
from aurora.config.errors import ConfigError
from aurora.config.loader import load_aurora
from aurora.session import create_session_dir
from auroractl.output import EXIT_USAGE, Output

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _announcing_server(base: type) -> type:
    """A uvicorn server that announces its URL only once the lifespan has started and the socket is
    listening, so whoever reads the line can connect at once (scripts and one-click wait for it)."""

    class AnnouncingServer(base):  # type: ignore[misc, valid-type]
        def __init__(self, config: object, announce: Callable[[], None]) -> None:
            super().__init__(config)
            self._announce = announce

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and not self.should_exit:
                self._announce()

    return AnnouncingServer


def start_api(
    host: Annotated[str | None, typer.Option("--host", help="Interface to listen on. Default: api.host.")] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, help="TCP port; 0 picks a free one. Default: api.port.")
    ] = None,
    mode: Annotated[
        str | None, typer.Option("--mode", help="development | testnet | production (prod). Default: the active mode.")
    ] = None,
    session_dir: Annotated[
        Path | None,
        typer.Option("--session", help="Session log dir. Default: AURORA_SESSION_DIR, else a new logs/YYYYMMDD-hhmmss/."),
    ] = None,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every HTTP request (costs throughput).")] = False,
    state_dir: Annotated[
        Path | None,
        typer.Option("--state-dir", help="Durable risk state. Default: AURORA_STATE_DIR / logging.state_dir, "
                     "else .aurora/state/<mode>/."),
    ] = None,
    fresh_state: Annotated[
        bool,
        typer.Option("--fresh-state", help="Start with an empty risk state on purpose (the old one is archived "
                     "in the state dir, AURORA.STATE_FRESH is logged)."),
    ] = False,
    clock: Annotated[
        str,
        typer.Option("--clock", help="system (wall time) | request (every window runs on the requests' ts_ns: "
                     "for replays)."),
    ] = "system",
) -> None:
    """Run the pre-trade gate in the foreground (Ctrl-C or SIGTERM stops it; SIGHUP reloads the config).

    Examples: [bold]auroractl start-api[/] · [bold]auroractl start-api --mode testnet --port 8001[/] ·
    [bold]AURORA_SESSION_DIR=$(auroractl init-run) auroractl start-api[/] ·
    [bold]auroractl start-api --fresh-state[/] (forget positions, PnL and halts on purpose)
    """
    import uvicorn  # heavy: imported only when the gate really starts

    from aurora.api import create_app
    from aurora.api.app import freeze_startup_heap
    from aurora.gate.gate_service import GateStartRefused

    out = Output()
    try:
        loaded = load_aurora(mode)
    except ConfigError as exc:
        out.config_error(exc)
    for w in loaded.warnings:
        out.warning(f"{w.location()}: {w.message}")
    cfg = loaded.config
    host = host or cfg.api.host
    port = cfg.api.port if port is None else port
    try:
        if session_dir is not None:
            session_dir.mkdir(parents=True, exist_ok=True)
            session = session_dir
        elif cfg.logging.session_dir:
            session = Path(cfg.logging.session_dir)
            session.mkdir(parents=True, exist_ok=True)
        else:
            parent = Path(cfg.logging.dir)
            session = create_session_dir(parent if parent.is_absolute() else loaded.root / parent)
    except OSError as exc:
        out.fail(f"cannot create the session dir: {exc.strerror or exc} ({exc.filename or ''})", EXIT_USAGE)
    try:
        sock = _bind(host, port)
    except OSError as exc:
        why = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
        out.fail(f"--port: {host}:{port} {why}; pick another port (--port) or stop the other process", EXIT_USAGE)
    if clock not in ("system", "request"):
        out.fail(f"--clock: {clock!r} is not one of system, request", EXIT_USAGE)
    try:
        app = create_app(loaded, session, state_dir=state_dir, fresh_state=fresh_state, clock=clock)  # type: ignore[arg-type]
    except GateStartRefused as exc:
        sock.close()
        out.fail(str(exc), EXIT_USAGE)
    except CalibrationError as exc:
        sock.close()
        out.fail(f"calibration.path: {exc}", EXIT_USAGE)
    except OSError as exc:
        sock.close()
        out.fail(f"cannot write logs in {session}: {exc.strerror or exc}", EXIT_USAGE)
    freeze_startup_heap()
    actual = sock.getsockname()[1]
    gate = app.state.gate

    def announce() -> None:
        out.info(
            f"gate listening on http://{host}:{actual} · mode {loaded.mode} · config {loaded.version} · "
            f"{'armed' if gate.pipeline.armed else 'DISARMED (POST /aurora/arm)'} · "
            f"trading {gate.pipeline.trading_state()[0].value} · session {session} · state {gate.state.state_dir}"
            + (" (restored)" if gate.state.restored_from else "")
        )

    config = uvicorn.Config(app, log_level="warning", access_log=access_log, lifespan="on", timeout_graceful_shutdown=10)
    server = _announcing_server(uvicorn.Server)(config, announce)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal through the handler it
    # found installed; ours only notes it, so a requested stop ends with exit code 0, not a kill.
    received: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in _STOP_SIGNALS}
    if hasattr(signal, "SIGHUP"):  # until the app installs its reload handler, a SIGHUP must not kill the gate
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        server.run(sockets=[sock])
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    why = f" on {signal.Signals(received[0]).name}" if received else ""
    out.success(f"gate stopped{why}; logs closed in {session}")


def register(app: typer.Typer) -> None:
    app.command("start-api")(start_api)
