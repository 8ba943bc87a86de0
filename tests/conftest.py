"""Shared fixtures: an isolated project root and a clean environment for every config-sensitive test."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Variables that change Aurora's behaviour; tests start without any of them.
_ENV_PREFIXES = ("AURORA_", "OPS_TOKEN", "TRAP_GUARD", "TRADING_")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return monkeypatch


@pytest.fixture
def project(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped configs and profiles in a temp dir, used as cwd and AURORA_ROOT."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(REPO / "configs", root / "configs")
    shutil.copytree(REPO / "profiles", root / "profiles")
    (root / "reports").mkdir()
    clean_env.chdir(root)
    clean_env.setenv("AURORA_ROOT", str(root))
    return root


#: Secrets used by tests (fixtures add theirs); tests/test_zz_no_secret_leak.py greps every log, event and
#: report file written during the suite for them. Tokens named ``apitok-…``/``opstok-…`` are found by pattern.
_SUITE_STARTED = time.time()
_TEST_SECRETS: set[str] = set()


@pytest.fixture(scope="session")
def test_secrets() -> set[str]:
    return _TEST_SECRETS


@pytest.fixture(scope="session")
def suite_started() -> float:
    return _SUITE_STARTED
