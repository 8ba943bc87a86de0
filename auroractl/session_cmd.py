"""``auroractl init-run``: create an isolated session dir."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aurora.config.paths import project_root
from aurora.session import create_session_dir
from auroractl.output import EXIT_USAGE, Output


def init_run(
    parent: Annotated[Path | None, typer.Option("--logs-dir", help="Parent directory (default: logs/).")] = None,
) -> None:
    """Create an isolated session dir logs/YYYYMMDD-hhmmss/ and print its path.

    Example: [bold]export AURORA_SESSION_DIR=$(auroractl init-run)[/]
    """
    out = Output()
    try:
        path = create_session_dir(parent or project_root() / "logs")
    except OSError as exc:
        out.fail(f"cannot create a session dir under {parent or 'logs/'}: {exc.strerror or exc}", EXIT_USAGE)
    out.info(str(path))


def register(app: typer.Typer) -> None:
    app.command("init-run")(init_run)
