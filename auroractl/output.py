"""One output object for every command: success, warning, error, data (hatch-style).

Domain exceptions become exit codes only here, at the CLI edge (:func:`exit_code_for`).

``--json`` contract: exactly one JSON document on stdout (``null`` where a number is NaN/±inf), every
other line (progress, tables, warnings, errors) on stderr. The CLI switches this on per invocation with
:func:`set_json_mode` as soon as a command's ``--json`` flag is parsed, so no command can forget it.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from aurora.errors import AuroraError, ConfigurationError, InputError, UnavailableError

if TYPE_CHECKING:
    from aurora.config.errors import ConfigError, ConfigIssue

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

#: Exit code per kind of domain error; the most specific class wins (NotFoundError is an InputError).
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (ConfigurationError, EXIT_USAGE),
    (InputError, EXIT_USAGE),
    (UnavailableError, EXIT_FAILURE),
    (AuroraError, EXIT_FAILURE),
)


def exit_code_for(exc: BaseException) -> int:
    for cls, code in EXIT_CODES:
        if isinstance(exc, cls):
            return code
    return EXIT_FAILURE


class _Invocation:
    """Per-invocation state (CliRunner runs many invocations in one process)."""

    json_mode = False
    documents = 0


def set_json_mode(on: bool) -> None:
    _Invocation.json_mode = on
    _Invocation.documents = 0


def json_mode() -> bool:
    return _Invocation.json_mode


def finite(value: Any) -> Any:
    """``value`` with NaN/±inf replaced by ``None`` everywhere (strict JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return finite(tolist())
    return str(value)


def strict_json(data: Any, *, indent: int | None = 2) -> str:
    return json.dumps(finite(data), indent=indent, allow_nan=False, default=_json_default, ensure_ascii=False)


def yes_no(value: Any) -> str:
    """Booleans as operators read them; anything else unchanged (None as an em dash)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _console(stderr: bool = False) -> Console:
    no_color = bool(os.environ.get("NO_COLOR"))
    return Console(stderr=stderr, no_color=no_color, highlight=False, soft_wrap=True, width=200 if no_color else None)


class Output:
    def __init__(self) -> None:
        # with --json, stdout belongs to the one document: people's output goes to stderr
        self.out = _console(stderr=json_mode())
        self.err = _console(stderr=True)

    def print(self, *objects: Any) -> None:
        self.out.print(*objects)

    def success(self, message: str) -> None:
        self.out.print(f"[green]✓[/] {escape(message)}")

    def info(self, message: str) -> None:
        self.out.print(escape(message))

    def warning(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {escape(message)}")

    def note(self, message: str) -> None:
        self.err.print(f"[cyan]note:[/] {escape(message)}")

    def error(self, message: str) -> None:
        self.err.print(f"[red]error:[/] {escape(message)}")

    def json(self, data: Any) -> None:
        if _Invocation.documents:
            raise RuntimeError("a command tried to print a second JSON document on stdout")
        _Invocation.documents += 1
        sys.stdout.write(strict_json(data) + "\n")
        sys.stdout.flush()

    def issues(self, issues: Iterable[ConfigIssue]) -> None:
        for issue in issues:
            colour = "red" if issue.severity == "error" else "yellow"
            extra = []
            if issue.expected:
                extra.append(f"expected {issue.expected}")
            if issue.got is not None:
                extra.append(f"got {issue.got}")
            tail = f" ({'; '.join(extra)})" if extra else ""
            self.err.print(f"[{colour}]•[/] {escape(issue.location())}: {escape(issue.message)}{escape(tail)}")

    def fail(self, message: str, code: int = EXIT_FAILURE) -> NoReturn:
        self.error(message)
        if json_mode() and not _Invocation.documents:
            self.json({"ok": False, "error": message, "exit_code": code})
        raise typer.Exit(code)

    def config_error(self, exc: ConfigError, *, as_json: bool = False) -> NoReturn:
        n = len(exc.issues)
        self.error(f"invalid configuration: {n} problem{'s' if n != 1 else ''}")
        self.issues(exc.issues)
        self.issues(exc.warnings)
        if (as_json or json_mode()) and not _Invocation.documents:
            self.json(
                {
                    "ok": False,
                    "errors": [i.to_dict() for i in exc.issues],
                    "warnings": [i.to_dict() for i in exc.warnings],
                }
            )
        raise typer.Exit(EXIT_USAGE) from None

    def domain_error(self, exc: AuroraError) -> NoReturn:
        """The CLI edge for an :class:`AuroraError` a command did not handle itself."""
        from aurora.config.errors import ConfigError

        if isinstance(exc, ConfigError):
            self.config_error(exc)
        self.fail(str(exc) or type(exc).__name__, exit_code_for(exc))
