"""The HTTP benchmark's no-op route: mounted from bench/ onto a product app, right after the gate's route,
refusing and accepting exactly the bodies the gate's route does (so the ratio is like for like)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import yaml

from aurora.api import create_app
from aurora.config.loader import load_aurora
from bench.noop_endpoint import GATE_PATH, NOOP_PATH, _paths, mount_noop
from tests.aurora.api.conftest import API_TOKEN, OPS_TOKEN, TEST_CALIBRATION_PATH, LiveGate, check_body


@pytest.fixture
def both(project: Path, tmp_path: Path) -> Iterator[LiveGate]:
    overlay = tmp_path / "gate_test.yaml"
    overlay.write_text(yaml.safe_dump({"calibration": {"path": str(TEST_CALIBRATION_PATH)}}))
    environ = {"AURORA_API_TOKEN": API_TOKEN, "OPS_TOKEN": OPS_TOKEN, "AURORA_ROOT": str(project),
               "AURORA_CONFIG": str(overlay)}  # fmt: skip
    loaded = load_aurora("development", environ=environ, root=project)
    app = mount_noop(create_app(loaded, tmp_path / "session", run_id="noop-test", state_dir=tmp_path / "state",
                                handle_sighup=False))  # fmt: skip
    paths = [_paths(r) for r in app.router.routes]
    gate = next(i for i, p in enumerate(paths) if GATE_PATH in p)
    assert paths[gate + 1] == {NOOP_PATH}  # the same routing cost as the gate's route
    live = LiveGate(app, tmp_path / "session").start()
    yield live
    live.stop()


@pytest.mark.parametrize(
    "body",
    [
        orjson.dumps(check_body()),
        b"{not json",
        orjson.dumps({"order": {}}),
        orjson.dumps(check_body(qty="lots")),
        orjson.dumps(check_body(qty=-1.0)),
        orjson.dumps(check_body()).replace(b'"qty":1.0', b'"qty":1e999'),
        orjson.dumps({**check_body(), "extra": 1}),
    ],
)
def test_the_noop_route_accepts_and_refuses_what_the_gate_route_does(both: LiveGate, body: bytes) -> None:
    headers = {"X-API-TOKEN": API_TOKEN, "content-type": "application/json"}
    gate = both.client.post(GATE_PATH, content=body, headers=headers)
    noop = both.client.post(NOOP_PATH, content=body, headers=headers)
    assert noop.status_code == gate.status_code, (gate.text, noop.text)
    if gate.status_code == 200:
        assert noop.json()["allow"] is True
    else:
        assert noop.json() == gate.json()
