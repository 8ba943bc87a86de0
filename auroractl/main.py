"""``auroractl``: the operator's CLI. Thin commands: parse, call ``aurora``/``runner``, render."""

from __future__ import annotations

import os
import sys

import typer

from auroractl import (
    audit_cmd,
    calibrate_cmd,
    config_cmd,
    feed_cmd,
    instruments_cmd,
    metrics_cmd,
    oneclick_cmd,
    ops_cmd,
    report_cmd,
    runner_cmd,
    session_cmd,
    start_api_cmd,
)

app = typer.Typer(
    name="auroractl",
    help="Aurora operator CLI: config, pre-trade gate, WiseScalp runner, one-click, analytics.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.add_typer(config_cmd.app, name="config")
session_cmd.register(app)
oneclick_cmd.register(app)
start_api_cmd.register(app)
app.add_typer(ops_cmd.app, name="ops")
calibrate_cmd.register(app)
runner_cmd.register(app)
app.add_typer(feed_cmd.app, name="feed")
app.add_typer(instruments_cmd.app, name="instruments")
app.add_typer(metrics_cmd.app, name="metrics")
audit_cmd.register(app)
report_cmd.register(app)


def main() -> None:
    """Console-script entry point. Unexpected errors show one line unless AURORA_DEBUG=1."""
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    except Exception as exc:  # the CLI edge: never a traceback unless asked for
        if os.environ.get("AURORA_DEBUG") == "1":
            raise
        sys.stderr.write(f"error: {type(exc).__name__}: {exc} (set AURORA_DEBUG=1 for a traceback)\n")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
