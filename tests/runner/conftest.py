from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.runner.gate_stub import GateStub


@pytest.fixture
def gate_stub() -> Iterator[GateStub]:
    stub = GateStub().start()
    yield stub
    stub.stop()
