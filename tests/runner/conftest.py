from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runner.gate_stub import GateStub

#: The real Binance USD-M recording shared by the projects (see its README); tests skip without it.
SHARED_BTC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "usdm_btcusdt_20240808.gz"


@pytest.fixture
def gate_stub() -> Iterator[GateStub]:
    stub = GateStub().start()
    yield stub
    stub.stop()


@pytest.fixture(scope="session")
def btc_source() -> Path:
    """The shared hftbacktest-format BTCUSDT recording."""
    if not SHARED_BTC.is_file():
        pytest.skip(f"the shared real recording is absent ({SHARED_BTC}); see ../shared/data/README.md")
    return SHARED_BTC


@pytest.fixture(scope="session")
def btc_replay(btc_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared recording converted to the replay format (once per test session)."""
    from runner.feeds.importers import import_recordings

    out = tmp_path_factory.mktemp("btc") / "btcusdt.jsonl.gz"
    import_recordings("hftbacktest", [btc_source], out)
    return out


@pytest.fixture(scope="session")
def btc_replay_head(btc_replay: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first three minutes of the BTC replay (the snapshot included): for tests that pace it in real time."""
    import gzip

    import orjson

    out = tmp_path_factory.mktemp("btc-head") / "btcusdt-head.jsonl.gz"
    with gzip.open(btc_replay, "rb") as src, gzip.open(out, "wb") as dst:
        first = None
        for line in src:
            t = orjson.loads(line)["recv_ts_ns"]
            first = t if first is None else first
            if t - first > 180 * 10**9:
                break
            dst.write(line)
    return out
