"""One output object for every command: success, warning, error, data (hatch-style).

Domain exceptions become exit codes only here, at the CLI edge.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from aurora.config.errors import ConfigError, ConfigIssue

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _console(stderr: bool = False) -> Console:
    no_color = bool(os.environ.get("NO_COLOR"))
    return Console(stderr=stderr, no_color=no_color, highlight=False, soft_wrap=True, width=200 if no_color else None)


class Output:
    def __init__(self) -> None:
        self.out = _console()
        self.err = _console(stderr=True)

    def print(self, *objects: Any) -> None:
        self.out.print(*objects)

    def success(self, message: str) -> None:
        self.out.print(f"[green]✓[/] {escape(message)}")

    def info(self, message: str) -> None:
        self.out.print(escape(message))

    def warning(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {escape(message)}")

    def error(self, message: str) -> None:
        self.err.print(f"[red]error:[/] {escape(message)}")

    def json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
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
        raise typer.Exit(code)

    def config_error(self, exc: ConfigError, *, as_json: bool = False) -> NoReturn:
        if as_json:
            self.json(
                {
                    "ok": False,
                    "errors": [i.to_dict() for i in exc.issues],
                    "warnings": [i.to_dict() for i in exc.warnings],
                }
            )
        else:
            n = len(exc.issues)
            self.error(f"invalid configuration: {n} problem{'s' if n != 1 else ''}")
            self.issues(exc.issues)
            self.issues(exc.warnings)
        raise typer.Exit(EXIT_USAGE) from None
