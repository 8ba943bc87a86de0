"""``POST /bench/noop`` for the HTTP benchmark (bench/bench_gate_http.py): it parses and validates the body
exactly as ``/pretrade/check`` does (same model, same ``parse_body``) and returns a fixed answer, so the
gate's route and this one differ only by the gate's own work. It lives here, not in the product: the
benchmark adds it to an app built by ``create_app`` (``start-api`` never has it)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.routing import BaseRoute

from aurora.api.request_body import parse_body
from aurora.api.schemas import PretradeCheck

NOOP_PATH = "/bench/noop"
GATE_PATH = "/pretrade/check"

router = APIRouter(tags=["bench"], include_in_schema=False)

_FIXED = b'{"allow":true,"max_qty":0.0,"risk_scale":1.0,"cooldown_ms":0.0,"reason":"OK","observability":{}}'


@router.post(NOOP_PATH)
async def noop(request: Request) -> Response:
    await parse_body(request, PretradeCheck)  # exactly the gate's parsing and validation
    return Response(_FIXED, media_type="application/json")


def _paths(route: BaseRoute) -> set[str]:
    """The paths a top-level route serves: its own, or (FastAPI >= 0.16x includes routers as one entry
    each) those of the router it includes."""
    if isinstance(getattr(route, "path", None), str):
        return {route.path}  # type: ignore[attr-defined]
    included = getattr(route, "original_router", None)
    return {p for r in getattr(included, "routes", []) for p in _paths(r)}


def mount_noop(app: FastAPI) -> FastAPI:
    """Add ``POST /bench/noop`` right after the gate's route: the app matches its routes in order, so both
    pay the same routing cost (appended at the end, the no-op would try every other route first)."""
    app.include_router(router)
    routes: list[BaseRoute] = app.router.routes
    added = routes.pop()
    assert _paths(added) == {NOOP_PATH}, _paths(added)
    gate = next(i for i, r in enumerate(routes) if GATE_PATH in _paths(r))
    routes.insert(gate + 1, added)
    return app
