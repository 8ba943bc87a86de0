"""A real gate over real HTTP: the app built in-process, served by uvicorn on a free loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from aurora.api import create_app
from aurora.config.loader import load_aurora
from tests.support.instruments import registry_with as instruments_with  # noqa: F401 (for the API tests)
from tests.support.logs import read_records

# Distinctive tokens: tests/test_zz_no_secret_leak.py greps every written file for them.
API_TOKEN = "apitok-Qz7Kw2Lm9Xc4Vb8N"
OPS_TOKEN = "opstok-Hr5Tj8Pq3Wz6Yx1Cv4Bn7Mk2Ld9Fs0G"
NEW_OPS_TOKEN = "opstok-rotated-Ae4Rt7Yu1Io3Pl6Kj9Hg2Fd5Sa8Zx"

#: The gate tests' fixed score -> p_win curve (see tests/aurora/gate/conftest.py), not the shipped map.
TEST_CALIBRATION_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "gate_calibration.json"

#: A permissive base for tests that exercise one thing at a time (no throttle or kill-switch noise).
QUIET = {"risk": {"max_orders_per_sec": 10_000, "max_orders_per_sec_per_symbol": 10_000},
         "killswitch": {"min_outcomes": 10_000}}


class LiveGate:
    def __init__(self, app: Any, session_dir: Path) -> None:
        self.app = app
        self.gate = app.state.gate
        self.session_dir = session_dir
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveGate:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.url, timeout=5)
        return self

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)

    # conveniences
    def post(self, path: str, json: Any = None, token: str | None = API_TOKEN, ops: bool = False, **kw: Any):
        headers = kw.pop("headers", {})
        if token is not None:
            headers["X-OPS-TOKEN" if ops else "X-API-TOKEN"] = token
        return self.client.post(path, json=json, headers=headers, **kw)

    def ops(self, path: str, method: str = "POST", token: str = OPS_TOKEN, **kw: Any):
        return self.client.request(method, path, headers={"X-OPS-TOKEN": token}, **kw)

    def events(self, code: str | None = None) -> list[dict]:
        recs, _ = read_records(self.session_dir, "aurora_events")
        return [r for r in recs if code is None or r["event_code"] == code]

    def orders(self, stream: str = "") -> list[dict]:
        recs, _ = read_records(self.session_dir, f"orders_{stream}" if stream else "orders")
        return recs


def check_body(**over: Any) -> dict:
    order = {"cid": over.pop("cid", "c-1"), "symbol": "SOLUSDT", "side": "buy", "qty": 1.0, "price": 100.0,
             "order_type": "limit", "reduce_only": False}  # fmt: skip
    market = {"best_bid": 100.0, "best_ask": 100.01, "bid_size": 50.0, "ask_size": 50.0, "spread_bps": 1.0,
              "latency_ms": 5.0, "vol_std_bps": 10.0, "score": 2.5, "tp_bps": 20.0, "sl_bps": 10.0,
              "l2_add_volumes": [5.0] * 5, "l2_cancel_volumes": [4.0] * 5}  # fmt: skip
    account = {"id": over.pop("account_id", "acc-1")}
    if "spread_bps" in over and not {"best_bid", "best_ask"} & set(over) and over["spread_bps"] < 2e4:
        # a consistent book for the spread asked for (the gate checks spread_bps against bid/ask)
        market["best_ask"] = market["best_bid"] * (2e4 + over["spread_bps"]) / (2e4 - over["spread_bps"])
    for k, v in over.items():
        target = order if k in order else market if k in market or k in ("sprt_samples", "ts_ns", "deadline_ms") else account
        target[k] = v
    return {"account": account, "order": order, "market": market}


@pytest.fixture
def gate_factory(project: Path, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator:
    started: list[LiveGate] = []

    def make(
        extra: dict | None = None,
        env: dict[str, str] | None = None,
        mode: str = "development",
        tokens: bool = True,
        session_dir_override: Path | None = None,
        **app_kw: Any,
    ) -> LiveGate:
        environ = {"AURORA_ROOT": str(project)}
        if tokens:
            environ.update(AURORA_API_TOKEN=API_TOKEN, OPS_TOKEN=OPS_TOKEN)
        environ.update(env or {})
        extra = dict(extra or {})
        extra["calibration"] = {"path": str(TEST_CALIBRATION_PATH), **extra.get("calibration", {})}
        path = project / "configs" / "aurora" / "gate_test.yaml"
        path.write_text(yaml.safe_dump(extra))
        environ["AURORA_CONFIG"] = str(path)
        for k, v in environ.items():
            clean_env.setenv(k, v)
        loaded = load_aurora(mode, environ=environ, root=project)
        session = session_dir_override or tmp_path / f"session{len(started)}"
        app_kw.setdefault("state_dir", tmp_path / f"state{len(started)}")
        app = create_app(loaded, session, run_id=f"test-{len(started)}", **app_kw)
        live = LiveGate(app, session).start()
        started.append(live)
        return live

    yield make
    for live in started:
        live.stop()


@pytest.fixture
def live(gate_factory) -> LiveGate:
    return gate_factory(QUIET)


def module_gate(tmp_path_factory: pytest.TempPathFactory, name: str, **app_kw: Any) -> LiveGate:
    """A started gate on the shipped configs (development, test tokens and calibration) for a whole module."""
    root = Path(__file__).resolve().parents[3]
    overlay = tmp_path_factory.mktemp(f"{name}-config") / "gate_test.yaml"
    overlay.write_text(yaml.safe_dump({"calibration": {"path": str(TEST_CALIBRATION_PATH)}}))
    environ = {"AURORA_API_TOKEN": API_TOKEN, "OPS_TOKEN": OPS_TOKEN, "AURORA_ROOT": str(root),
               "AURORA_CONFIG": str(overlay)}  # fmt: skip
    loaded = load_aurora("development", environ=environ, root=root)
    session = tmp_path_factory.mktemp(f"{name}-session")
    state = tmp_path_factory.mktemp(f"{name}-state")
    if app_kw.pop("reload_same", False):
        app_kw["config_loader"] = lambda: loaded
    return LiveGate(create_app(loaded, session, run_id=f"test-{name}", state_dir=state, **app_kw), session).start()


@pytest.fixture(scope="module")
def shared_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGate]:
    """One gate for tests that do not depend on (or change) its state: validation, OpenAPI."""
    live = module_gate(tmp_path_factory, "shared")
    yield live
    live.stop()
