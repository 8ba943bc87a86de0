"""``auroractl init-run``: isolated session dirs ``logs/YYYYMMDD-hhmmss/``."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import aurora.session
from auroractl.main import app


def init_run(*args: str):
    result = CliRunner().invoke(app, ["init-run", *args], env={"NO_COLOR": "1"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"init-run raised {result.exception!r}\n{result.output}")
    return result


def test_init_run_creates_session_dir_under_project_logs(project: Path) -> None:
    result = init_run()
    assert result.exit_code == 0, result.output
    printed = result.stdout.strip()
    assert result.stdout == printed + "\n"  # only the path, so `$(auroractl init-run)` works
    path = Path(printed)
    assert path.parent == project / "logs"
    assert re.fullmatch(r"\d{8}-\d{6}", path.name)
    assert path.is_dir() and list(path.iterdir()) == []
    # the stamp is the local time of creation
    assert abs(time.mktime(time.strptime(path.name, "%Y%m%d-%H%M%S")) - time.time()) < 5


def test_two_calls_in_the_same_second_give_distinct_dirs(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = time.localtime()
    monkeypatch.setattr(aurora.session.time, "localtime", lambda *_: frozen)
    first, second, third = (Path(init_run().stdout.strip()) for _ in range(3))
    stamp = time.strftime("%Y%m%d-%H%M%S", frozen)
    assert [first.name, second.name, third.name] == [stamp, f"{stamp}-2", f"{stamp}-3"]
    assert all(p.is_dir() for p in (first, second, third))


def test_init_run_logs_dir_option(project: Path, tmp_path: Path) -> None:
    parent = tmp_path / "elsewhere" / "sessions"
    result = init_run("--logs-dir", str(parent))
    assert result.exit_code == 0
    assert Path(result.stdout.strip()).parent == parent
    assert not (project / "logs").exists()


def test_init_run_unusable_parent_is_a_clear_usage_error(project: Path) -> None:
    blocker = project / "not_a_dir"
    blocker.write_text("x")
    result = init_run("--logs-dir", str(blocker))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: cannot create a session dir under {blocker}:")
    assert "Traceback" not in result.output


def test_init_run_help_has_an_example(project: Path) -> None:
    result = init_run("--help")
    assert result.exit_code == 0
    assert "auroractl init-run" in result.stdout
