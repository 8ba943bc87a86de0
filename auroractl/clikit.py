"""The machinery every command shares, applied in one place by the root group (``auroractl.main``):

* commands are imported only when they are run (``auroractl --help`` lists them from a table), so no
  command pays for another's heavy libraries;
* deprecated option names (:data:`DEPRECATED`) keep working, hidden from ``--help``, with a note on stderr;
* ``--json`` switches the output to strict JSON on stdout (:func:`auroractl.output.set_json_mode`);
* an :class:`aurora.errors.AuroraError` a command did not handle becomes its exit code here;
* flags show no ``<bool>`` type in help; durations parse as ``90s``, ``15m``, ``1h30m`` or seconds.
"""

from __future__ import annotations

import difflib
import importlib
import math
import re
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from aurora.errors import AuroraError
from auroractl import output

# --- durations ------------------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|h|m|s)?", re.IGNORECASE)
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, None: 1.0}
DURATION_METAVAR = "DURATION"
DURATION_HELP = "90s, 15m, 1h30m, or plain seconds"


def parse_duration(text: str | float) -> float:
    """``"90s"`` → 90.0, ``"15m"`` → 900.0, ``"1h30m"`` → 5400.0, ``"2.5"`` → 2.5 (seconds).

    Raises :class:`typer.BadParameter` (a usage error naming the option, exit 2) for anything else.
    """
    if isinstance(text, int | float):
        value = float(text)
    else:
        raw = text.strip()
        pos, value, parts = 0, 0.0, 0
        while pos < len(raw):
            m = _DURATION_PART.match(raw, pos)
            if m is None:
                break
            unit = m.group(2).lower() if m.group(2) else None
            if unit is None and parts:  # "1m30": a bare number only on its own
                break
            value += float(m.group(1)) * _UNIT_S[unit]
            parts += 1
            pos = m.end()
            while pos < len(raw) and raw[pos] == " ":
                pos += 1
        if not parts or pos != len(raw):
            raise typer.BadParameter(f"expected a duration like {DURATION_HELP}, got {text!r}")
    if not math.isfinite(value) or value < 0:
        raise typer.BadParameter(f"expected a duration like {DURATION_HELP}, got {text!r}")
    return value


# --- deprecated option names ----------------------------------------------------------------------


@dataclass(frozen=True)
class Alias:
    """``old`` is accepted (hidden) and rewritten to ``new``; ``value`` converts the old unit if needed."""

    new: str
    value: Callable[[str], str] | None = None
    why: str = ""


def _minutes(v: str) -> str:
    return f"{v}m"


def _seconds(v: str) -> str:
    return f"{v}s"


_VENUE_NOT_MODE = "--mode is the gate's config mode everywhere else; here it named the venue"

#: Command path → old option → its replacement (SPEC §2: one name per concept).
DEPRECATED: dict[str, dict[str, Alias]] = {
    "start-api": {"--session-dir": Alias("--session")},
    "run-runner": {
        "--config": Alias("--runner-config"),
        "--mode": Alias("--venue", why=_VENUE_NOT_MODE),
        "--session-dir": Alias("--session"),
    },
    "one-click": {
        "--minutes": Alias("--duration", _minutes),
        "--seconds": Alias("--duration", _seconds),
        "--session-dir": Alias("--session"),
        "--html": Alias("--report"),
        "--no-html": Alias("--no-report"),
    },
    "config validate": {"--runner": Alias("--runner-config")},
    "config trace": {"--runner": Alias("--runner-config")},
    "lifecycle-audit": {"--out": Alias("--out-dir", why="--out is always a file; this one was a directory")},
    "feed record": {"--seconds": Alias("--duration", _seconds), "--config": Alias("--runner-config")},
}


def rewrite_deprecated(path: str, args: Sequence[str], aliases: dict[str, Alias]) -> list[str]:
    """Replace deprecated option names in ``args`` (up to ``--``), with a note on stderr for each."""
    out: list[str] = []
    it = iter(args)
    for token in it:
        if token == "--":
            out.append(token)
            out.extend(it)
            break
        name, eq, inline = token.partition("=")
        alias = aliases.get(name) if name.startswith("--") else None
        if alias is None:
            out.append(token)
            continue
        why = f" ({alias.why})" if alias.why else ""
        sys.stderr.write(f"note: {path} {name} is deprecated; use {alias.new}{why}\n")
        if alias.value is None:
            out.append(alias.new + (eq + inline if eq else ""))
            continue
        value = inline if eq else next(it, None)
        out.append(alias.new)
        if value is not None:
            out.append(alias.value(value))
    return out


# --- the command classes --------------------------------------------------------------------------


def _parse_args(cmd: Any, ctx: typer.Context, args: list[str]) -> list[str]:
    if cmd.aurora_aliases:
        args = rewrite_deprecated(cmd.aurora_path, args, cmd.aurora_aliases)
    rest = type(cmd).parse_args(cmd, ctx, args)
    if ctx.params.get("as_json"):
        output.set_json_mode(True)
    return rest


def _get_params(cmd: Any, ctx: typer.Context) -> list[Any]:
    params = type(cmd).get_params(cmd, ctx)
    for p in params:
        # a flag takes no value: show no "<bool>" type in help
        if getattr(p, "is_flag", False) and getattr(p, "metavar", None) is None:
            p.metavar = ""
    return params


def adopt(cmd: Any, path: str) -> Any:
    """Give ``cmd`` and its subcommands deprecated names, the ``--json`` switch and flag display.

    Instance attributes shadow the class's methods (the command objects are typer's own, built from
    modules this package does not own; ``__class__`` cannot be switched on them).
    """
    cmd.aurora_path = path
    cmd.aurora_aliases = DEPRECATED.get(path, {})
    cmd.parse_args = types.MethodType(_parse_args, cmd)
    cmd.get_params = types.MethodType(_get_params, cmd)
    for name, sub in (getattr(cmd, "commands", None) or {}).items():
        adopt(sub, f"{path} {name}")
    return cmd


@dataclass(frozen=True)
class LazyCommand:
    """A top-level command or group, imported on first use. ``target`` is ``module:app`` for a group
    (a :class:`typer.Typer`) or ``module:register`` for commands added by ``register(app)``."""

    name: str
    target: str
    short_help: str  # what ``auroractl --help`` lists; tests/auroractl/test_cli.py keeps it in sync


class AuroraGroup(TyperGroup):
    """The root group: lazy subcommands, per-invocation output state, domain errors → exit codes."""

    lazy: Sequence[LazyCommand] = ()
    rich_markup: str = "rich"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, Any] = {}
        self._listing = False
        adopt(self, "")

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [c.name for c in self.lazy] + [n for n in super().list_commands(ctx) if n not in self._names()]

    def _names(self) -> set[str]:
        return {c.name for c in self.lazy}

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        spec = next((c for c in self.lazy if c.name == cmd_name), None)
        if spec is None:
            return super().get_command(ctx, cmd_name)
        if self._listing and cmd_name not in self._loaded:
            return TyperCommand(name=cmd_name, help=spec.short_help, rich_markup_mode=self.rich_markup)
        return self.load(spec)

    def load(self, spec: LazyCommand) -> Any:
        if spec.name not in self._loaded:
            module_name, _, attr = spec.target.partition(":")
            module = importlib.import_module(module_name)
            obj = getattr(module, attr)
            if isinstance(obj, typer.Typer):
                cmd = typer.main.get_group(obj)
            else:  # register(app): collect what it registers under this name
                holder = typer.Typer(rich_markup_mode=self.rich_markup)  # type: ignore[arg-type]
                obj(holder)
                cmd = typer.main.get_group(holder).commands[spec.name]
            cmd.name = spec.name
            self._loaded[spec.name] = adopt(cmd, spec.name)
        return self._loaded[spec.name]

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        self._listing = True  # list commands from the table instead of importing every one of them
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def main(self, args: Sequence[str] | None = None, *a: Any, **kw: Any) -> Any:
        output.set_json_mode(False)
        return super().main(args, *a, **kw)

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except Exception as exc:  # a UsageError; typer only suggests among already-imported commands
            message = getattr(exc, "message", None)
            if isinstance(message, str) and args and "Did you mean" not in message:
                matches = difflib.get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    exc.message = f"{message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
            raise

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AuroraError as exc:
            output.Output().domain_error(exc)
