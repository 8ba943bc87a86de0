"""``auroractl``: the operator's CLI. Thin commands: parse, call ``aurora``/``runner``, render."""

from __future__ import annotations

import os
import sys

import typer

from auroractl import config_cmd, session_cmd

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
# --- command groups registered by later modules (keep one line each) ---
__import__("auroractl.oneclick_cmd", fromlist=["register"]).register(app)
__import__("auroractl.start_api_cmd", fromlist=["register"]).register(app)
app.add_typer(__import__("auroractl.ops_cmd", fromlist=["app"]).app, name="ops")
__import__("auroractl.calibrate_cmd", fromlist=["register"]).register(app)
__import__("auroractl.runner_cmd", fromlist=["register"]).register(app)
app.add_typer(__import__("auroractl.feed_cmd", fromlist=["app"]).app, name="feed")
app.add_typer(__import__("auroractl.metrics_cmd", fromlist=["app"]).app, name="metrics")
__import__("auroractl.audit_cmd", fromlist=["register"]).register(app)
__import__("auroractl.report_cmd", fromlist=["register"]).register(app)
# (end of registrations)


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
