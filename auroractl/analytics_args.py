"""Options and argument handling shared by ``metrics summary``, ``lifecycle-audit`` and ``report``.

Domain errors become exit codes here, at the CLI edge: a missing session, unreadable logs or a bad
config are bad input (exit 2) with a one-paragraph message naming the path or key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from aurora.session.reader import SessionReadError, latest_session
from aurora.config.errors import ConfigError
from aurora.config.loader import LoadedAurora, load_aurora
from auroractl.output import EXIT_USAGE, Output

SessionOpt = Annotated[
    Path | None,
    typer.Option(
        "--session",
        help="Session dir to read (default: the newest dir under logging.dir, i.e. logs/).",
        show_default=False,
    ),
]
ModeOpt = Annotated[
    str | None,
    typer.Option("--mode", help="Config mode whose thresholds apply (development | testnet | production)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
HtmlOpt = Annotated[
    Path | None,
    typer.Option("--html", help="Also write the session's self-contained HTML report (plots embedded) here."),
]


def load_config(out: Output, mode: str | None, *, as_json: bool = False) -> LoadedAurora:
    try:
        return load_aurora(mode)
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)


def resolve_session(out: Output, session: Path | None, loaded: LoadedAurora) -> Path:
    if session is not None:
        if not session.exists():
            bad_input(out, f"--session: session directory not found: {session}")
        if not session.is_dir():
            bad_input(out, f"--session: not a directory: {session}")
        return session
    logs = Path(loaded.config.logging.dir)
    if not logs.is_absolute():
        logs = loaded.root / logs
    try:
        return latest_session(logs)
    except SessionReadError as exc:
        bad_input(out, str(exc))


def bad_input(out: Output, message: str) -> NoReturn:
    out.fail(message, EXIT_USAGE)


def writable_file(out: Output, path: Path, what: str) -> Path:
    """Create the parent of ``path``; a path that cannot be written is bad input naming the option."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        bad_input(out, f"{what}: cannot create {path.parent}: {exc.strerror or exc}")
    if path.is_dir():
        bad_input(out, f"{what}: {path} is a directory, expected a file path")
    return path


def write_text(out: Output, path: Path, text: str, what: str) -> None:
    writable_file(out, path, what)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        bad_input(out, f"{what}: cannot write {path}: {exc.strerror or exc}")


def fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"
