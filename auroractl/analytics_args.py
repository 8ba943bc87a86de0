"""Options and argument handling shared by ``metrics summary``, ``lifecycle-audit`` and ``report``.

Domain errors become exit codes here, at the CLI edge: a missing session, unreadable logs or a bad
config are bad input (exit 2) with a one-paragraph message naming the path or key.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from aurora.session.reader import SessionReadError, latest_session, read_warnings, start_record
from auroractl.output import EXIT_USAGE, Output

if TYPE_CHECKING:  # the config system (pydantic) is imported when it is loaded, see read_early()
    from aurora.config.loader import LoadedAurora

T = TypeVar("T")

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
    from aurora.config.errors import ConfigError
    from aurora.config.loader import load_aurora

    try:
        return load_aurora(mode)
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)


def read_early(session: Path | None, read: Callable[[Path], T]) -> Future[T] | None:
    """Start reading an explicitly given session on a thread while the command loads its config.

    Reading is mostly DuckDB parsing with the GIL released, loading the config is Python (pydantic,
    YAML): side by side they take the longer of the two instead of the sum. ``None`` when the session
    dir is not given (it then comes from the config) or is not a directory (reported as usual)."""
    if session is None or not session.is_dir():
        return None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aurora-read-early")
    fut = pool.submit(read, session)
    pool.shutdown(wait=False)
    return fut


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


def session_config(
    out: Output, session_dir: Path, loaded: LoadedAurora, mode: str | None, *, as_json: bool = False
) -> tuple[LoadedAurora, list[str]]:
    """The config whose thresholds judge ``session_dir``: ``--mode`` when given, else the mode the
    session's gate ran in (its ``AURORA.START`` record), else the active mode; with notes on what was used."""
    notes: list[str] = []
    start = start_record(session_dir)
    details = start.get("details") if isinstance(start, dict) and isinstance(start.get("details"), dict) else {}
    ran_mode, ran_version = details.get("mode"), details.get("config_version")
    if mode is None and isinstance(ran_mode, str) and ran_mode != loaded.mode:
        loaded = load_config(out, ran_mode, as_json=as_json)
        notes.append(f"thresholds of mode {ran_mode!r}, the mode this session's gate ran in (AURORA.START)")
    elif mode is not None and isinstance(ran_mode, str) and ran_mode != mode:
        notes.append(f"the session's gate ran in mode {ran_mode!r}; thresholds of --mode {mode!r} are applied")
    if start is None:
        notes.append(f"no AURORA.START record in the session: thresholds of mode {loaded.mode!r}")
    elif isinstance(ran_version, str) and ran_version != loaded.version and (mode is None or mode == ran_mode):
        notes.append(
            f"the session ran config {ran_version}; the current files of mode {loaded.mode!r} are {loaded.version}"
        )
    return loaded, notes


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


def render_read(out: Output, rd: dict[str, Any]) -> None:
    """What was read and what was skipped over: the same lines in every analytics command."""
    out.print(
        f"[bold]read[/] {len(rd['files'])} files, {rd['records']} records,"
        f" torn last lines {rd['torn_lines']}, corrupt lines {rd['corrupt_lines']},"
        f" off-clock records {rd.get('off_clock_records', 0)}"
    )
    for line in read_warnings(rd):
        out.warning(line)
