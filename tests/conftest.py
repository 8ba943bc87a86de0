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


#: Secrets used by tests (fixtures add theirs); at the end of the run every log, event and report file
#: written during the suite is grepped for them (``pytest_sessionfinish`` below, with the scanner of
#: tests/test_zz_no_secret_leak.py). Tokens named ``apitok-…``/``opstok-…`` are found by pattern.
_SUITE_STARTED = time.time()
#: Registered secrets reach the process that scans through this file in the run's base temp dir (under
#: pytest-xdist the tests run in worker processes; the controller scans once they are all done).
_SECRETS_FILE = ".registered-secrets"


class _Secrets(set):
    def __init__(self, spool: Path | None) -> None:
        super().__init__()
        self.spool = spool

    def add(self, secret: str) -> None:
        super().add(secret)
        if self.spool is not None:
            with open(self.spool, "a", encoding="utf-8") as f:
                f.write(secret + "\n")


_TEST_SECRETS = _Secrets(None)


def _run_root(config: pytest.Config) -> Path:
    """The whole run's base temp dir: a worker's own is one level below the controller's."""
    base = Path(config._tmp_path_factory.getbasetemp())  # noqa: SLF001 - the documented factory, no public accessor
    return base.parent if hasattr(config, "workerinput") else base


@pytest.fixture(scope="session")
def test_secrets(pytestconfig: pytest.Config) -> set[str]:
    _TEST_SECRETS.spool = _run_root(pytestconfig) / _SECRETS_FILE
    return _TEST_SECRETS


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No test token in any log, event or report file the whole suite wrote (run once, after every test)."""
    config = session.config
    if hasattr(config, "workerinput") or not hasattr(config, "_tmp_path_factory"):
        return  # a worker: the controller scans once all workers are done
    from tests.test_zz_no_secret_leak import REPO as ROOT
    from tests.test_zz_no_secret_leak import leaks

    root = _run_root(config)
    spool = root / _SECRETS_FILE
    secrets = set(_TEST_SECRETS)
    if spool.exists():
        secrets |= set(spool.read_text(encoding="utf-8").split())
    found = leaks([ROOT / "logs", ROOT / "reports", ROOT / "artifacts", root], secrets, _SUITE_STARTED)
    if found:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(f"SECRET LEAK: a test token was written to {len(found)} file(s): {found[:10]}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def suite_started() -> float:
    return _SUITE_STARTED


@pytest.fixture(scope="session")
def btc40(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 40 s of the shared BTC recording in the replay format (made once per test process)."""
    from tests.support.recordings import btc_slice

    path = btc_slice(tmp_path_factory.mktemp("btc") / "btc40.jsonl.gz", 40)
    if path is None:
        pytest.skip("the shared real recording is absent; see ../shared/data/README.md")
    return path
