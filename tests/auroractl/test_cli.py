"""The CLI as a whole: lazy start, --version, help without <bool>, one vocabulary with deprecated
aliases, durations, and domain errors mapped to exit codes at the edge."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from aurora.errors import AuroraError, ConfigurationError, InputError, NotFoundError, UnavailableError
from auroractl.clikit import DEPRECATED, parse_duration
from auroractl.main import COMMANDS, app
from auroractl.output import exit_code_for

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "matplotlib", "networkx", "pyarrow", "httpx", "uvicorn", "fastapi", "ccxt", "numpy", "duckdb")


def cli(*args: str, **env: str):
    return CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", **env})


def all_commands() -> dict[str, object]:
    """Every command path (``config validate``) → its click command, every module imported."""
    root = typer.main.get_command(app)
    found: dict[str, object] = {}

    def walk(cmd, path):
        found[path] = cmd
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, f"{path} {name}")

    for spec in COMMANDS:
        walk(root.load(spec), spec.name)
    return found


def _heavy_modules_after(*argv: str) -> list[str]:
    code = (
        "import atexit, sys\n"
        f"heavy = {HEAVY!r}\n"
        "atexit.register(lambda: sys.stderr.write('HEAVY=' + ','.join(m for m in heavy if m in sys.modules) + '\\n'))\n"
        f"sys.argv = ['auroractl', *{list(argv)!r}]\n"
        "from auroractl.main import main\n"
        "main()\n"
    )
    env = {**os.environ, "NO_COLOR": "1", "AURORA_ROOT": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    (line,) = [x for x in r.stderr.splitlines() if x.startswith("HEAVY=")]
    return [m for m in line[len("HEAVY=") :].split(",") if m]


@pytest.mark.parametrize("argv", [("--help",), ("config", "validate"), ("config", "--help"), ("--version",)])
def test_start_imports_no_heavy_library(argv) -> None:
    assert _heavy_modules_after(*argv) == []


def test_the_lazy_help_table_matches_each_command() -> None:
    commands = all_commands()
    for spec in COMMANDS:
        real = commands[spec.name].help or ""
        first = inspect.cleandoc(real).split("\n\n")[0]
        assert inspect.cleandoc(spec.short_help) == first, (
            f"auroractl.main.COMMANDS[{spec.name!r}].short_help differs from the command's own help; "
            f"copy its first paragraph: {first!r}"
        )
    r = cli("--help")
    assert r.exit_code == 0
    for spec in COMMANDS:
        assert f"│ {spec.name} " in r.stdout


def test_version() -> None:
    r = cli("--version")
    assert r.exit_code == 0 and r.stdout.startswith("auroractl ") and r.stdout.strip() != "auroractl"


def test_no_help_shows_a_bool_metavar() -> None:
    for path in ["", *all_commands()]:
        r = cli(*path.split(), "--help")
        assert r.exit_code == 0, (path, r.output)
        assert "<bool>" not in r.stdout, path
        assert "True" not in r.stdout and "False" not in r.stdout, path


def test_typo_in_a_command_gets_a_suggestion() -> None:
    r = cli("confg")
    assert r.exit_code == 2 and "Did you mean 'config'?" in r.output


# --- one vocabulary ------------------------------------------------------------------------------


def _options(cmd) -> set[str]:
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}


def test_every_deprecated_name_maps_to_a_real_option_and_is_hidden() -> None:
    commands = all_commands()
    for path, aliases in DEPRECATED.items():
        opts = _options(commands[path])
        for old, alias in aliases.items():
            assert alias.new in opts, (path, alias.new)
            assert old not in opts, (path, old)
            assert old not in cli(*path.split(), "--help").stdout.replace(alias.new, ""), (path, old)


def test_one_name_per_concept_everywhere() -> None:
    """--session, --runner-config, --venue, --duration, --out (a file) / --out-dir (a directory)."""
    retired = {"--session-dir", "--config", "--runner", "--minutes", "--seconds", "--html/--no-html"}
    #: --config retired as the runner's config (now --runner-config); the commands that compare gate configs
    #: take candidate gate config files under that name, as issue 15 specifies them (never a runner config)
    gate_config_candidates = {"whatif", "backtest"}
    for path, cmd in all_commands().items():
        opts = _options(cmd) - ({"--config"} if path in gate_config_candidates else set())
        assert not (opts & retired), (path, opts & retired)
        if "--mode" in opts:  # always the gate's config mode
            help_text = next(p.help for p in cmd.params if "--mode" in p.opts)
            assert "development" in help_text and "shadow" not in help_text, path


def test_old_names_still_work_with_a_deprecation_note(project: Path) -> None:
    r = cli("config", "validate", "--runner", "test_param")
    assert r.exit_code == 0, r.output
    assert "note: config validate --runner is deprecated; use --runner-config" in r.stderr
    assert "runner config valid" in r.stdout and "note:" not in r.stdout
    r = cli("config", "validate", "--runner=test_param", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["runner"] is True and "deprecated" in r.stderr


def test_deprecated_one_click_durations_convert_units(project: Path, monkeypatch) -> None:
    import auroractl.oneclick_cmd as oneclick

    seen = []

    def fake_preflight(opts):  # stop right after the options are parsed
        seen.append(opts.duration_s)
        raise typer.Exit(0)

    monkeypatch.setattr(oneclick, "run_preflight", fake_preflight)
    for argv, want in ((("--minutes", "1.5"), 90.0), (("--seconds=45",), 45.0), (("--duration", "1h30m"), 5400.0)):
        r = cli("one-click", "--mode", "testnet", *argv)
        assert r.exit_code == 0, r.output
        assert seen.pop() == want
        assert ("deprecated; use --duration" in r.stderr) == (argv[0] != "--duration")


def test_run_runner_mode_is_the_venue_only_as_a_deprecated_alias(project: Path) -> None:
    r = cli("run-runner", "--mode", "live", "--session", str(project / "s"))
    assert r.exit_code == 2
    assert "run-runner --mode is deprecated; use --venue (--mode is the gate's config mode" in r.stderr
    assert "--venue live needs --i-understand-live" in r.stderr


def test_lifecycle_audit_out_dir_alias(project: Path, tmp_path: Path) -> None:
    from tests.aurora.analytics.test_metrics_summary import _session

    session = tmp_path / "s"
    _session(session)
    r = cli("lifecycle-audit", "--session", str(session), "--out", str(tmp_path / "old"))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "old" / "lifecycle_audit.json").is_file() and "use --out-dir" in r.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90.0), ("15m", 900.0), ("1h30m", 5400.0), ("2.5", 2.5), ("1m 30s", 90.0), ("250ms", 0.25), ("0", 0.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "m", "5 minutes", "1m30", "-5s", "nan", "inf", "10x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(typer.BadParameter, match="expected a duration like 90s, 15m"):
        parse_duration(text)


# --- errors at the edge --------------------------------------------------------------------------


def test_error_kinds_map_to_exit_codes() -> None:
    from aurora.config.errors import ConfigError

    assert exit_code_for(ConfigError([])) == 2 and isinstance(ConfigError([]), ConfigurationError)
    assert exit_code_for(InputError("x")) == 2 and exit_code_for(NotFoundError("x")) == 2
    assert exit_code_for(UnavailableError("x")) == 1 and exit_code_for(AuroraError("x")) == 1
    assert exit_code_for(RuntimeError("x")) == 1


def test_an_unhandled_domain_error_becomes_a_message_and_an_exit_code(project: Path, monkeypatch) -> None:
    import auroractl.session_cmd as session_cmd

    def boom(parent):
        raise NotFoundError(f"{parent}: no such place")

    monkeypatch.setattr(session_cmd, "create_session_dir", boom)
    r = cli("init-run", "--logs-dir", "/nowhere")
    assert r.exit_code == 2 and (r.exception is None or isinstance(r.exception, SystemExit))
    assert r.stderr == "error: /nowhere: no such place\n"
