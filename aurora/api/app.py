"""The gate's FastAPI app factory and lifespan (SPEC §4).

``create_app(loaded, session_dir)`` builds everything in-process (tests run it under uvicorn on a
loopback port). The lifespan emits the start-up events, runs the AckTracker scan as a background task,
installs a SIGHUP → reload handler when it can, and on shutdown stops the task and closes the logs
(every record is already written whole: closing only releases the files and finishes compression).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from aurora.api.auth import document_security
from aurora.api.routers import health, metrics, ops, posttrade, pretrade, state
from aurora.config.loader import LoadedAurora, load_aurora
from aurora.gate.clock import ClockMode
from aurora.gate.gate_service import GateService
from aurora.gate.state_store import StateWriteError

log = logging.getLogger("aurora.api")

DESCRIPTION = """Aurora pre-trade risk gate: every order must pass `POST /pretrade/check`.

Trading endpoints take `X-API-TOKEN` (or `Authorization: Bearer`) when `security.api_token` is set;
ops endpoints, `/liveness` and `/readiness` take `X-OPS-TOKEN` (and `/metrics` outside development).
Reason codes are stable (the `Reason` schema lists them all): OK, MARKET_DATA_INVALID, STALE_MARKET_DATA,
REQUEST_EXPIRED, SPREAD_GUARD, LATENCY_GUARD, HEALTH_COOL_OFF, HALTED, TRAP_GUARD, ER_BELOW_MIN,
SLIPPAGE_GUARD, RISK_* (the instrument rules RISK_UNKNOWN_INSTRUMENT, RISK_PRICE_TICK, RISK_QTY_STEP,
RISK_MIN_QTY, RISK_MAX_QTY, RISK_MIN_NOTIONAL among them), SPRT_REJECT, KILL_SWITCH, DISARMED, GUARD_ERROR.
Request bodies: JSON only (415 otherwise), at most `api.max_body_bytes` (413), no key twice in one object (422).
"""


def field_path(loc: tuple | list) -> str:
    """``("body", "order", "qty")`` -> ``order.qty``; path/query params keep their name."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "path", "query", "header"):
        parts = parts[1:] or parts
    return ".".join(parts)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # The offending input is never echoed back: it may be a token (rotate_token).
    errors = [{"field": field_path(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    summary = "; ".join(f"{e['field']}: {e['msg']}" for e in errors[:5])
    return JSONResponse({"error": f"invalid request: {summary}", "detail": errors}, status_code=422)


def default_loader(loaded: LoadedAurora) -> Callable[[], LoadedAurora]:
    """Reload reads the same mode's files again from the same root (the mode itself never changes)."""
    return lambda: load_aurora(loaded.mode, root=loaded.root)


def _ack_period(gate: GateService) -> float:
    return gate.cfg.observability.ack.scan_period_s


async def _state_write_error(request: Request, exc: StateWriteError) -> JSONResponse:
    return JSONResponse({"ok": False, "detail": f"not done: the state could not be made durable ({exc})"}, status_code=503)


async def _log_write_error(request: Request, exc: OSError) -> JSONResponse:
    """An event that could not be written after an operator's change was made durable (disk full): never a
    500; the gate turns not ready until it can write again."""
    gate: GateService = request.app.gate
    gate.write_error = f"log: {exc.strerror or exc}"
    return JSONResponse({"ok": False, "detail": f"the event log could not be written ({exc.strerror or exc}); a state "
                         "change already recorded in the state journal stays in force"}, status_code=503)  # fmt: skip


async def _ack_scanner(gate: GateService) -> None:
    if gate.clock.request_driven:
        return  # on the request clock the gate scans after each request instead
    while True:
        await asyncio.sleep(_ack_period(gate))
        try:
            gate.expire_unacked()
        except Exception:  # noqa: BLE001 - the scanner must survive one bad scan
            log.exception("ack scan failed")


def freeze_startup_heap() -> None:
    """Move everything allocated at start-up (modules, config, calibration, app) out of the collector's
    generations: a dedicated gate process then pays for garbage collection only on what requests
    allocate, which keeps collector pauses off the decision latency tail. Call once, in the process
    that owns the server (``start-api``), never from library code that shares a process.
    """
    gc.collect()
    gc.freeze()


class GateApp(FastAPI):
    """The gate's app: ``app.gate`` is its :class:`GateService` (also in ``app.state.gate``).

    Handlers read ``request.app.gate``: ``app.state`` is a Starlette ``State``, on which every attribute
    read first fails inside Python (building an ``AttributeError``) before its ``__getattr__`` answers.
    """

    gate: GateService


def create_app(
    loaded: LoadedAurora,
    session_dir: Path | str,
    *,
    run_id: str | None = None,
    config_loader: Callable[[], LoadedAurora] | None = None,
    handle_sighup: bool = True,
    state_dir: Path | str | None = None,
    fresh_state: bool = False,
    clock: ClockMode = "system",
) -> GateApp:
    """Raises ``GateStartRefused`` when the gate must not start (no API token outside development, a
    corrupt or locked state dir)."""
    gate = GateService(loaded, session_dir, run_id=run_id, state_dir=state_dir, fresh_state=fresh_state, clock=clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gate.startup_events()
        task = asyncio.create_task(_ack_scanner(gate), name="ack-tracker")
        loop = asyncio.get_running_loop()
        reloads: set[asyncio.Task] = set()  # strong references: a SIGHUP reload task must not be collected

        def on_hup() -> None:
            task = loop.create_task(gate.reload_async(app.state.config_loader))
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        hup = False
        if handle_sighup and hasattr(signal, "SIGHUP"):
            try:
                loop.add_signal_handler(signal.SIGHUP, on_hup)
                hup = True
            except (RuntimeError, ValueError):  # not the main thread (tests run uvicorn in a thread)
                pass
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)
            gate.close()

    app = GateApp(
        title="Aurora pre-trade gate",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.gate = gate
    app.state.gate = gate
    app.state.config_loader = config_loader or default_loader(loaded)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StateWriteError, _state_write_error)  # type: ignore[arg-type]
    app.add_exception_handler(OSError, _log_write_error)  # type: ignore[arg-type]
    # the hot routes first: routes are matched in order
    app.include_router(pretrade.router)
    for r in (posttrade.router, state.router, health.router, metrics.router, ops.router):
        app.include_router(r)

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = document_security(FastAPI.openapi(app), gate)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
