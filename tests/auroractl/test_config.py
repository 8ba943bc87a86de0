"""``auroractl config …`` through Typer's CliRunner, against an isolated copy of the shipped configs.

Every test runs in the ``project`` fixture (a temp copy of configs/ and profiles/ as cwd and
AURORA_ROOT, with no AURORA_*/OPS_TOKEN/TRAP_GUARD/TRADING_* variables inherited).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

from aurora.config.inspect import json_schema
from auroractl.main import app

REPO = Path(__file__).resolve().parents[2]

# Distinctive token strings: if any of them shows up in any output, a secret leaked.
OPS = "opsTokenAlpha-7Q2pX9vK4mZt8LwN3rB6yH1c"  # 38 chars: valid for production
OPS_ALIAS = "opsTokenBravo-5Jd8Fs2Gk7Lq4Wp9Xe3Rn6Tb"
API = "apiTokenCharlie-4Hs9Kd2Lp"  # 25 chars: valid for production
TOKENS = (OPS, OPS_ALIAS, API)


def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``auroractl ARGS``; a Python exception escaping the command is a test failure (no traceback ever)."""
    result = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"auroractl {' '.join(args)} raised {result.exception!r}\n{result.output}")
    return result


def text(result: Result) -> str:
    return result.stdout + result.stderr


def as_json(result: Result) -> dict:
    return json.loads(result.stdout)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def line_of(path: Path, key: str) -> int:
    """1-based line of the first ``key:`` in a YAML file (so tests follow edits of the shipped files)."""
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip().startswith(f"{key}:"):
            return n
    raise AssertionError(f"{key} not in {path}")


def assert_usage_error(result: Result) -> None:
    assert result.exit_code == 2, text(result)
    assert "Traceback" not in text(result)


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize(
    "command", ["validate", "trace", "status", "switch", "hierarchy", "conflicts", "audit", "schema"]
)
def test_every_config_command_has_help_with_an_example(project: Path, command: str) -> None:
    result = cli("config", command, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.stdout
    assert f"auroractl config {command}" in result.stdout


# --------------------------------------------------------------------------- validate


def test_validate_shipped_development_config(project: Path) -> None:
    result = cli("config", "validate")
    assert result.exit_code == 0, text(result)
    assert re.fullmatch(
        r"✓ gate config valid for development \(version [0-9a-f]{12}, mode from default\)\n", result.stdout
    )
    assert result.stderr == ""


def test_validate_explicit_mode_and_prod_alias(project: Path) -> None:
    testnet = cli("config", "validate", "testnet")
    assert testnet.exit_code == 0
    assert testnet.stdout.startswith("✓ gate config valid for testnet (version ")
    assert "mode from argument" in testnet.stdout

    prod = cli("config", "validate", "prod", "--json", env={"OPS_TOKEN": OPS, "AURORA_API_TOKEN": API})
    assert prod.exit_code == 0, text(prod)
    data = as_json(prod)
    assert data["ok"] is True and data["mode"] == "production" and data["runner"] is False
    assert re.fullmatch(r"[0-9a-f]{12}", data["config_version"])
    assert data["warnings"] == []


def test_validate_unknown_mode_is_a_usage_error(project: Path) -> None:
    result = cli("config", "validate", "staging")
    assert_usage_error(result)
    assert "unknown mode" in result.stderr and "got staging" in result.stderr
    assert "development | testnet | production" in result.stderr


def test_validate_production_without_tokens_names_both_keys(project: Path) -> None:
    result = cli("config", "validate", "production")
    assert_usage_error(result)
    assert "error: invalid configuration: 2 problems" in result.stderr
    assert "security.api_token is not set; production needs it (set AURORA_API_TOKEN)" in result.stderr
    assert "security.ops_token is not set; production needs it (set OPS_TOKEN)" in result.stderr


BAD_TESTNET = """\
guards:
  spread_bps_limit: wide
  spred_limit: 3
risk:
  size_scale: 1.5
api:
  port: 70000
"""


def test_validate_reports_every_yaml_error_with_file_line_and_key(project: Path) -> None:
    (project / "configs/aurora/testnet.yaml").write_text(BAD_TESTNET)
    result = cli("config", "validate", env={"AURORA_MODE": "testnet"})
    assert_usage_error(result)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "error: invalid configuration: 4 problems"
    f = "configs/aurora/testnet.yaml"
    assert sorted(lines[1:]) == sorted(
        [
            f"• {f}:2 guards.spread_bps_limit: Input should be a valid number, unable to parse string as a number"
            " (expected a number; got wide)",
            f"• {f}:3 guards.spred_limit: unknown key; did you mean guards.spread_bps_limit?",
            f"• {f}:5 risk.size_scale: Input should be less than or equal to 1 (expected <= 1.0; got 1.5)",
            f"• {f}:7 api.port: Input should be less than or equal to 65535 (expected <= 65535; got 70000)",
        ]
    )


def test_validate_json_errors_are_structured(project: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"  # outside the project: named by its full path
    bad.write_text(BAD_TESTNET)
    result = cli("config", "validate", "--file", str(bad), "--json")
    assert result.exit_code == 2
    data = as_json(result)
    assert data["ok"] is False
    by_key = {e["key"]: e for e in data["errors"]}
    assert set(by_key) == {"guards.spread_bps_limit", "guards.spred_limit", "risk.size_scale", "api.port"}
    assert {e["source"] for e in data["errors"]} == {str(bad)}
    assert {k: e["line"] for k, e in by_key.items()} == {
        "guards.spread_bps_limit": 2,
        "guards.spred_limit": 3,
        "risk.size_scale": 5,
        "api.port": 7,
    }
    assert by_key["risk.size_scale"]["expected"] == "<= 1.0" and by_key["risk.size_scale"]["got"] == "1.5"
    assert by_key["guards.spred_limit"]["message"] == "unknown key; did you mean guards.spread_bps_limit?"


def test_validate_broken_yaml_syntax_names_file_and_line(project: Path) -> None:
    broken = project / "broken.yaml"
    broken.write_text(
        "guards:\n  spread_bps_limit: 60\n  latency_ms_limit: [1, 2\nrisk:\n  size_scale: 0.5\n"
    )
    result = cli("config", "validate", "--file", str(broken))
    assert_usage_error(result)
    # under the project root a file is named relative to it
    assert result.stderr.splitlines()[1:] == [
        "• broken.yaml:4: YAML syntax error: expected ',' or ']', but got ':' (while parsing a flow sequence)"
    ]


def test_validate_broken_mode_file_and_typo_reported_together(project: Path) -> None:
    (project / "configs/aurora/testnet.yaml").write_text("guards:\n\tspread_bps_limit: 60\n")
    result = cli("config", "validate", "testnet", env={"AURORA_SPREAD_BPS_LIMT": "5"})
    assert_usage_error(result)
    assert "error: invalid configuration: 2 problems" in result.stderr
    assert "• configs/aurora/testnet.yaml:2: YAML syntax error:" in result.stderr
    assert "AURORA_SPREAD_BPS_LIMT (probable typo); did you mean AURORA_SPREAD_BPS_LIMIT?" in result.stderr


def test_validate_reports_env_typo_with_suggestion(project: Path) -> None:
    result = cli("config", "validate", env={"AURORA_SPREAD_BPS_LIMT": "5"})
    assert_usage_error(result)
    assert result.stderr.splitlines() == [
        "error: invalid configuration: 1 problem",
        "• env:AURORA_SPREAD_BPS_LIMT: unknown variable AURORA_SPREAD_BPS_LIMT (probable typo); "
        "did you mean AURORA_SPREAD_BPS_LIMIT?",
    ]


def test_validate_env_value_of_wrong_type_names_the_variable(project: Path) -> None:
    result = cli("config", "validate", env={"AURORA_API_PORT": "eighty"})
    assert_usage_error(result)
    assert "• env:AURORA_API_PORT api.port: cannot parse the environment variable (expected" in result.stderr
    assert "got eighty" in result.stderr


def test_validate_runtime_vars_are_not_typos(project: Path) -> None:
    result = cli(
        "config", "validate", env={"AURORA_DEBUG": "0", "AURORA_RUN_ID": "r1", "AURORA_CONFIG_NAME": ""}
    )
    assert result.exit_code == 0, text(result)


def test_validate_extra_layer_by_name_and_missing_name(project: Path) -> None:
    (project / "configs/aurora/local.yaml").write_text("guards:\n  spread_bps_limit: 33\n")
    ok = cli(
        "config", "trace", "--key", "guards.spread_bps_limit", "--json", env={"AURORA_CONFIG_NAME": "local"}
    )
    assert ok.exit_code == 0, text(ok)
    data = as_json(ok)
    user = [la for la in data["layers"] if la["name"] == "user"][0]
    assert user["status"] == "loaded" and user["path"] == "configs/aurora/local.yaml"
    assert data["keys"][0]["value"] == 33
    assert data["keys"][0]["set_by"] == {
        "layer": "user",
        "source": "configs/aurora/local.yaml",
        "value": 33,
        "line": 2,
    }

    missing = cli("config", "validate", "--name", "nope")
    assert_usage_error(missing)
    assert "--name 'nope' not found (looked for " in missing.stderr
    assert str(project / "configs/aurora/nope.yaml") in missing.stderr


# --------------------------------------------------------------------------- env parsing, .env


@pytest.mark.parametrize(
    ("raw", "expected"), [(" Yes ", True), ("ON", True), ("1", True), ("off ", False), ("No", False)]
)
def test_bool_env_accepts_words_case_and_space_insensitive(project: Path, raw: str, expected: bool) -> None:
    result = cli("config", "trace", "--key", "guards.trap_guard_enabled", "--json", env={"TRAP_GUARD": raw})
    assert result.exit_code == 0, text(result)
    [row] = as_json(result)["keys"]
    assert row["value"] is expected
    assert row["set_by"] == {"layer": "env", "source": "env:TRAP_GUARD", "value": expected}


def test_bool_env_rejects_other_words_naming_the_variable(project: Path) -> None:
    result = cli("config", "validate", env={"TRAP_GUARD": "maybe"})
    assert_usage_error(result)
    assert "• env:TRAP_GUARD guards.trap_guard_enabled: cannot parse the environment variable (expected" in result.stderr
    assert "got maybe" in result.stderr


def test_dotenv_in_working_dir_is_read_and_process_env_wins(project: Path) -> None:
    (project / ".env").write_text("AURORA_SPREAD_BPS_LIMIT=42\nAURORA_MODE=testnet\n")
    from_file = cli("config", "trace", "--key", "guards.spread_bps_limit", "--json")
    assert from_file.exit_code == 0, text(from_file)
    data = as_json(from_file)
    assert data["mode"] == "testnet"
    assert data["mode_source"] == f"env:AURORA_MODE ({project / '.env'})"
    [row] = data["keys"]
    assert row["value"] == 42.0
    assert row["set_by"]["source"] == f"env:AURORA_SPREAD_BPS_LIMIT ({project / '.env'})"
    assert row["overrode"][0]["source"] == "configs/aurora/testnet.yaml"

    process = cli(
        "config", "trace", "--key", "guards.spread_bps_limit", "--json", env={"AURORA_SPREAD_BPS_LIMIT": "43"}
    )
    [row] = as_json(process)["keys"]
    assert row["value"] == 43.0
    assert row["set_by"]["source"] == "env:AURORA_SPREAD_BPS_LIMIT"


def test_dotenv_typo_is_reported_with_its_file(project: Path) -> None:
    (project / ".env").write_text("AURORA_LATENCY_GUARD_M=10\n")
    result = cli("config", "validate")
    assert_usage_error(result)
    assert (
        f"• env:AURORA_LATENCY_GUARD_M ({project / '.env'}): unknown variable AURORA_LATENCY_GUARD_M"
        in result.stderr
    )
    assert "did you mean AURORA_LATENCY_GUARD_MS?" in result.stderr


# --------------------------------------------------------------------------- trace


def test_trace_key_shows_env_value_and_what_it_overrode(project: Path) -> None:
    env = {"AURORA_MODE": "testnet", "AURORA_SPREAD_BPS_LIMIT": "123"}
    result = cli("config", "trace", "--key", "guards.spread_bps_limit", env=env)
    assert result.exit_code == 0, text(result)
    out = result.stdout
    assert out.startswith("Loading sequence (mode testnet from env:AURORA_MODE)\n")
    base_line = line_of(project / "configs/aurora/base.yaml", "spread_bps_limit")
    testnet_line = line_of(project / "configs/aurora/testnet.yaml", "spread_bps_limit")
    row = (
        f"guards.spread_bps_limit │ 123.0 │ env:AURORA_SPREAD_BPS_LIMIT [env] │ "
        f"60 from configs/aurora/testnet.yaml:{testnet_line} [mode:testnet] ← "
        f"80 from configs/aurora/base.yaml:{base_line} [base] ← "
    )
    assert row in out
    # The layer table names every file and its checksum prefix.
    for name in ("base", "testnet"):
        path = f"configs/aurora/{name}.yaml"
        assert re.search(rf"│ loaded\s+│ {path}\s+│ {sha256(project / path)[:12]} │", out), out
    assert re.search(r"│ 4 │ user\s+│ skipped │ AURORA_CONFIG / AURORA_CONFIG_NAME not set", out)
    assert re.search(r"│ 5 │ env\s+│ loaded\s+│ AURORA_SPREAD_BPS_LIMIT\s", out)


def test_trace_json_gives_layers_checksums_and_provenance(project: Path) -> None:
    env = {"AURORA_MODE": "testnet", "AURORA_SPREAD_BPS_LIMIT": "123"}
    result = cli("config", "trace", "--json", env=env)
    assert result.exit_code == 0, text(result)
    data = as_json(result)
    assert (data["domain"], data["mode"], data["mode_source"]) == ("gate", "testnet", "env:AURORA_MODE")
    assert [(la["index"], la["name"], la["kind"], la["status"]) for la in data["layers"]] == [
        (1, "defaults", "builtin", "loaded"),
        (2, "base", "file", "loaded"),
        (3, "mode:testnet", "file", "loaded"),
        (4, "user", "file", "skipped"),
        (5, "env", "env", "loaded"),
    ]
    for la in data["layers"][1:3]:
        path = project / la["path"]
        assert la["sha256"] == sha256(path)
        assert la["size"] == path.stat().st_size
    assert data["layers"][4]["note"] == "AURORA_SPREAD_BPS_LIMIT"

    keys = {row["key"]: row for row in data["keys"]}
    spread = keys["guards.spread_bps_limit"]
    assert spread["value"] == 123.0
    assert spread["set_by"] == {"layer": "env", "source": "env:AURORA_SPREAD_BPS_LIMIT", "value": 123.0}
    assert spread["overrode"] == [
        {
            "layer": "mode:testnet",
            "source": "configs/aurora/testnet.yaml",
            "value": 60,
            "line": line_of(project / "configs/aurora/testnet.yaml", "spread_bps_limit"),
        },
        {
            "layer": "base",
            "source": "configs/aurora/base.yaml",
            "value": 80,
            "line": line_of(project / "configs/aurora/base.yaml", "spread_bps_limit"),
        },
        {"layer": "defaults", "source": "<defaults>", "value": 80.0},
    ]
    # Untouched keys keep the base/default provenance; derived SPRT bounds say where they come from.
    assert keys["api.port"]["set_by"]["source"] == "configs/aurora/base.yaml"
    assert keys["risk.size_scale"]["set_by"]["layer"] == "mode:testnet"
    assert keys["sprt.A"]["set_by"]["layer"] == "derived"
    # Every effective leaf of the config has a provenance row.
    status = as_json(cli("config", "status", "--json", env=env))
    assert status["config_version"] == data["config_version"]
    assert keys["risk.max_concurrent"]["value"] == status["effective"]["risk"]["max_concurrent"]


def test_trace_json_marks_a_missing_mode_file(project: Path) -> None:
    (project / "configs/aurora/testnet.yaml").unlink()
    result = cli("config", "trace", "testnet", "--json")
    assert result.exit_code == 0, text(result)
    layer = as_json(result)["layers"][2]
    assert layer["name"] == "mode:testnet" and layer["status"] == "missing" and "sha256" not in layer


def test_trace_missing_base_is_an_error(project: Path) -> None:
    (project / "configs/aurora/base.yaml").unlink()
    result = cli("config", "trace")
    assert_usage_error(result)
    assert "• configs/aurora/base.yaml: required config file is missing" in result.stderr


def test_trace_section_prefix_and_unknown_key(project: Path) -> None:
    section = as_json(cli("config", "trace", "--key", "trap", "--json"))
    assert [r["key"] for r in section["keys"]] == [
        "trap.cancel_pctl",
        "trap.history",
        "trap.levels",
        "trap.min_history",
        "trap.z_threshold",
    ]

    unknown = cli("config", "trace", "--key", "guards.nope")
    assert_usage_error(unknown)
    assert "error: unknown key 'guards.nope'" in unknown.stderr


# --------------------------------------------------------------------------- status and switch


def test_status_human_and_json(project: Path) -> None:
    data = as_json(cli("config", "status", "--json"))
    assert (data["mode"], data["mode_source"]) == ("development", "default")
    assert data["files"] == ["configs/aurora/base.yaml", "configs/aurora/development.yaml"]
    assert data["config_version"] == data["checksum"][:12]
    assert data["effective"]["aurora"]["latency_guard_ms"] == 50.0  # development.yaml over base.yaml
    assert data["effective"]["security"] == {"api_token": None, "ops_token": None, "allow_anonymous_trading": False,
                                                  "metrics_token": None}

    human = cli("config", "status")
    assert human.exit_code == 0
    assert human.stdout.splitlines()[:3] == [
        "mode: development (from default)",
        f"config version: {data['config_version']}  checksum: {data['checksum']}",
        "files in force: configs/aurora/base.yaml, configs/aurora/development.yaml",
    ]
    assert "│   ├── spread_bps_limit: 80.0" in human.stdout


def test_switch_to_production_with_placeholder_token_is_refused(project: Path) -> None:
    env = {"OPS_TOKEN": "<set-in-.env-or-here>", "AURORA_API_TOKEN": API}
    result = cli("config", "switch", "production", env=env)
    assert_usage_error(result)
    assert "error: refusing to switch to 'production': its config is not valid" in result.stderr
    assert "security.ops_token is a placeholder; production needs a real token" in result.stderr
    assert not (project / ".aurora").exists()
    assert not (project / "logs").exists()
    assert as_json(cli("config", "status", "--json"))["mode"] == "development"


def test_switch_to_production_with_short_token_is_refused(project: Path) -> None:
    result = cli("config", "switch", "production", env={"OPS_TOKEN": "Kq8vP2xL9wR4", "AURORA_API_TOKEN": API})
    assert_usage_error(result)
    assert "security.ops_token is too short for production (12 < 32 characters)" in result.stderr
    assert not (project / ".aurora/active_mode").exists()


def test_switch_unknown_mode_is_refused(project: Path) -> None:
    result = cli("config", "switch", "staging")
    assert_usage_error(result)
    assert "refusing to switch to 'staging'" in result.stderr
    assert not (project / ".aurora").exists()


def test_switch_to_a_broken_mode_file_is_refused(project: Path) -> None:
    (project / "configs/aurora/testnet.yaml").write_text("risk:\n  size_scale: 2\n")
    result = cli("config", "switch", "testnet")
    assert_usage_error(result)
    assert "• configs/aurora/testnet.yaml:2 risk.size_scale:" in result.stderr
    assert not (project / ".aurora").exists()


def test_switch_persists_emits_event_and_env_still_wins(project: Path) -> None:
    result = cli("config", "switch", "testnet")
    assert result.exit_code == 0, text(result)
    state = project / ".aurora/active_mode"
    assert state.read_text() == "testnet\n"
    assert re.fullmatch(
        rf"✓ active mode is now testnet \(version [0-9a-f]{{12}}\); saved to {re.escape(str(state))}\n",
        result.stdout,
    )
    assert result.stderr == ""

    status = as_json(cli("config", "status", "--json"))
    assert (status["mode"], status["mode_source"]) == ("testnet", str(state))
    assert status["files"] == ["configs/aurora/base.yaml", "configs/aurora/testnet.yaml"]
    assert cli("config", "status").stdout.startswith(f"mode: testnet (from {state})\n")

    [line] = (project / "logs/aurora_events.jsonl").read_text().splitlines()
    event = json.loads(line)
    assert event["event_code"] == "CONFIG.SWITCHED"
    assert event["details"] == {
        "name": "testnet",
        "path": str(project / "configs/aurora/testnet.yaml"),
        "checksum": status["checksum"],
    }
    assert isinstance(event["ts_ns"], int) and event["run_id"]

    # AURORA_MODE beats the switched state, for every command.
    env = {"AURORA_MODE": "development"}
    status = as_json(cli("config", "status", "--json", env=env))
    assert (status["mode"], status["mode_source"]) == ("development", "env:AURORA_MODE")
    again = cli("config", "switch", "prod", env={**env, "OPS_TOKEN": OPS, "AURORA_API_TOKEN": API})
    assert again.exit_code == 0, text(again)
    assert state.read_text() == "production\n"
    assert "warning: AURORA_MODE=development is set and still wins over the switched mode" in again.stderr
    assert as_json(cli("config", "status", "--json", env=env))["mode"] == "development"
    assert len((project / "logs/aurora_events.jsonl").read_text().splitlines()) == 2


def test_corrupt_state_file_is_reported(project: Path) -> None:
    (project / ".aurora").mkdir()
    (project / ".aurora/active_mode").write_text("staging\n")
    result = cli("config", "status")
    assert_usage_error(result)
    assert f"• {project / '.aurora/active_mode'}: unknown mode in state file" in result.stderr


# --------------------------------------------------------------------------- hierarchy


def test_hierarchy_marks_the_active_mode_file(project: Path) -> None:
    result = cli("config", "hierarchy", env={"AURORA_MODE": "testnet"})
    assert result.exit_code == 0, text(result)
    out = result.stdout
    assert out.splitlines()[0] == f"root: {project}   active mode: testnet (from env:AURORA_MODE)"
    assert re.search(r"│ 2\s+│ base\s+│ configs/aurora/base.yaml\s+│ in force │", out)
    assert re.search(r"│ 3\s+│ mode:testnet\s+│ configs/aurora/testnet.yaml\s+│ in force │", out)
    assert re.search(r"│ 3\s+│ mode:development\s+│ configs/aurora/development.yaml\s+│ inactive │", out)
    assert re.search(r"│ 3\s+│ mode:production\s+│ configs/aurora/production.yaml\s+│ inactive │", out)
    assert "profiles/overlays/_active_shadow.yaml" in out
    assert out.index("gate layers (later wins)") < out.index("runner layers (later wins)")


def test_hierarchy_json_follows_switch_and_missing_files(project: Path) -> None:
    (project / "configs/aurora/production.yaml").unlink()
    assert cli("config", "switch", "testnet").exit_code == 0
    data = as_json(cli("config", "hierarchy", "--json"))
    assert (data["root"], data["mode"]) == (str(project), "testnet")
    assert data["mode_source"] == str(project / ".aurora/active_mode")
    modes = {row["layer"]: row for row in data["gate"] if row["layer"].startswith("mode:")}
    assert {k: v["active"] for k, v in modes.items()} == {
        "mode:development": False,
        "mode:testnet": True,
        "mode:production": False,
    }
    assert modes["mode:testnet"]["sha256"] == sha256(project / "configs/aurora/testnet.yaml")
    assert modes["mode:production"]["exists"] is False
    assert [row["priority"] for row in data["gate"]] == [1, 2, 3, 3, 3, 4, 5]
    runner_paths = [row["path"] for row in data["runner"]]
    assert "configs/runner/test_param.yaml" in runner_paths and "profiles/sol_soon_base.yaml" in runner_paths
    human = cli("config", "hierarchy").stdout
    assert re.search(r"│ mode:production\s+│ configs/aurora/production.yaml\s+│ missing\s+│", human)


# --------------------------------------------------------------------------- conflicts


def test_conflicts_reports_env_typo_with_suggestion(project: Path) -> None:
    env = {"AURORA_SPREAD_BPS_LIMT": "5"}
    result = cli("config", "conflicts", env=env)
    assert result.exit_code == 0, text(result)
    assert re.search(
        r"│ unknown_env │ AURORA_SPREAD_BPS_LIMIT │ unknown variable AURORA_SPREAD_BPS_LIMT \(probable typo\); "
        r"did you mean AURORA_SPREAD_BPS_LIMIT\?",
        result.stdout,
    ), result.stdout
    data = as_json(cli("config", "conflicts", "--json", env=env))
    [typo] = [c for c in data["conflicts"] if c["kind"] == "unknown_env"]
    assert typo["key"] == "AURORA_SPREAD_BPS_LIMIT"
    assert "AURORA_SPREAD_BPS_LIMT" in typo["message"]


def test_conflicts_ops_token_alias_set_twice(project: Path) -> None:
    env = {"OPS_TOKEN": OPS, "AURORA_OPS_TOKEN": OPS_ALIAS}
    result = cli("config", "conflicts", env=env)
    assert result.exit_code == 0, text(result)
    assert re.search(
        r"│ alias\s+│ security.ops_token\s+│ OPS_TOKEN and AURORA_OPS_TOKEN are both set with different values; "
        r"OPS_TOKEN wins",
        result.stdout,
    ), result.stdout
    data = as_json(cli("config", "conflicts", "--json", env=env))
    [alias] = [c for c in data["conflicts"] if c["kind"] == "alias"]
    assert alias["sources"] == [
        {"var": "OPS_TOKEN", "value": "***"},
        {"var": "AURORA_OPS_TOKEN", "value": "***"},
    ]

    same = as_json(cli("config", "conflicts", "--json", env={"OPS_TOKEN": OPS, "AURORA_OPS_TOKEN": OPS}))
    [alias] = [c for c in same["conflicts"] if c["kind"] == "alias"]
    assert alias["message"] == "OPS_TOKEN and AURORA_OPS_TOKEN are both set; OPS_TOKEN wins"


def test_conflicts_layers_env_shadowing_alias_and_legacy_files(project: Path) -> None:
    (project / "configs/master_config_v1.yaml").write_text("a: 1\n")
    env = {"AURORA_MODE": "testnet", "AURORA_SPREAD_BPS_LIMIT": "123", "AURORA_SPREAD_MAX_BPS": "99"}
    data = as_json(cli("config", "conflicts", "--json", env=env))
    assert data["errors"] == []
    by_kind: dict[str, list[dict]] = {}
    for c in data["conflicts"]:
        by_kind.setdefault(c["kind"], []).append(c)
    testnet_line = line_of(project / "configs/aurora/testnet.yaml", "spread_bps_limit")
    base_line = line_of(project / "configs/aurora/base.yaml", "spread_bps_limit")
    spread = [c for c in by_kind["layers"] if c["key"] == "guards.spread_bps_limit"][0]
    assert spread["message"] == "guards.spread_bps_limit is set by 3 layers with different values"
    assert [(s["layer"], s["value"]) for s in spread["sources"]] == [
        ("base", 80),
        ("mode:testnet", 60),
        ("env", 123.0),
    ]
    shadow = [c for c in by_kind["env_shadows_yaml"] if c["key"] == "guards.spread_bps_limit"][0]
    assert (
        shadow["message"] == f"env:AURORA_SPREAD_BPS_LIMIT shadows configs/aurora/testnet.yaml:{testnet_line}"
    )
    [alias] = by_kind["alias"]
    assert alias["message"] == (
        "AURORA_SPREAD_BPS_LIMIT and AURORA_SPREAD_MAX_BPS are both set with different values; "
        "AURORA_SPREAD_BPS_LIMIT wins"
    )
    assert alias["sources"] == [
        {"var": "AURORA_SPREAD_BPS_LIMIT", "value": "123"},
        {"var": "AURORA_SPREAD_MAX_BPS", "value": "99"},
    ]
    [legacy] = by_kind["legacy_file"]
    assert legacy["message"] == "legacy config file present and ignored: configs/master_config_v1.yaml"

    human = cli("config", "conflicts", env=env).stdout
    # newest first; the table may fold the cell, so the base file is checked on its own
    assert (
        f"123.0 (env:AURORA_SPREAD_BPS_LIMIT) ← 60 (configs/aurora/testnet.yaml:{testnet_line}) ← 80" in human
    )
    assert f"(configs/aurora/base.yaml:{base_line})" in human


def test_conflicts_none_on_a_clean_testnet_without_overrides(project: Path) -> None:
    for name in ("testnet", "development"):
        (project / f"configs/aurora/{name}.yaml").write_text("# nothing overridden\n")
    result = cli("config", "conflicts", "testnet")
    assert result.exit_code == 0
    assert result.stdout == "✓ no conflicts\n"


def test_conflicts_on_an_invalid_config_also_lists_its_errors(project: Path) -> None:
    (project / "configs/aurora/development.yaml").write_text("guards:\n  spread_bps_limit: -1\n")
    data = as_json(cli("config", "conflicts", "--json"))
    [err] = data["errors"]
    assert (err["source"], err["line"], err["key"]) == (
        "configs/aurora/development.yaml",
        2,
        "guards.spread_bps_limit",
    )
    human = cli("config", "conflicts")
    assert "warning: the config is also invalid:" in human.stderr
    assert "• configs/aurora/development.yaml:2 guards.spread_bps_limit:" in human.stderr


# --------------------------------------------------------------------------- audit


def test_audit_save_writes_report_and_hash_is_stable(project: Path) -> None:
    first = cli("config", "audit", "--save")
    assert first.exit_code == 0, text(first)
    reports = sorted((project / "reports").glob("config_audit_*.json"))
    assert len(reports) == 1
    assert f"✓ audit saved to {reports[0]}" in first.stdout
    report = json.loads(reports[0].read_text())
    status = as_json(cli("config", "status", "--json"))
    assert report["effective_config_sha256"] == status["checksum"]
    assert report["config_version"] == status["config_version"]
    assert report["mode"] == "development"
    files = {f["path"]: f for f in report["files"]}
    for rel in (
        "configs/aurora/base.yaml",
        "configs/aurora/testnet.yaml",
        "configs/runner/test_param.yaml",
        "profiles/sol_soon_base.yaml",
        "profiles/overlays/_active_shadow.yaml",
    ):
        assert files[rel]["sha256"] == sha256(project / rel)
        assert files[rel]["size"] == (project / rel).stat().st_size
        assert files[rel]["mtime"].endswith("+00:00")
    assert f"effective config sha256: {status['checksum']}" in first.stdout

    second = as_json(cli("config", "audit", "--save", "--json"))
    assert second["effective_config_sha256"] == report["effective_config_sha256"]
    assert Path(second["saved_to"]).parent == project / "reports"
    assert len(list((project / "reports").glob("config_audit_*.json"))) == 2

    dev = project / "configs/aurora/development.yaml"
    dev.write_text(dev.read_text().replace("cooloff_base_sec: 30", "cooloff_base_sec: 31"))
    changed = as_json(cli("config", "audit", "--json"))
    assert changed["effective_config_sha256"] != report["effective_config_sha256"]
    assert changed["saved_to"] is None
    assert {f["path"]: f["sha256"] for f in changed["files"]}["configs/aurora/development.yaml"] == sha256(
        dev
    )
    by_env = as_json(cli("config", "audit", "--json", env={"AURORA_MAX_CONCURRENT": "7"}))
    assert by_env["effective_config_sha256"] not in (
        report["effective_config_sha256"],
        changed["effective_config_sha256"],
    )


def test_audit_without_save_writes_nothing(project: Path) -> None:
    result = cli("config", "audit")
    assert result.exit_code == 0
    assert list((project / "reports").iterdir()) == []
    assert "audit saved" not in result.stdout


# --------------------------------------------------------------------------- schema


def test_schema_out_is_a_valid_json_schema_for_the_shipped_files(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "schema.json"
    result = cli("config", "schema", "--out", str(out))
    assert result.exit_code == 0, text(result)
    assert result.stdout == f"✓ schema written to {out}\n"
    schema = json.loads(out.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name in ("base", "development", "testnet", "production"):
        data = yaml.safe_load((project / f"configs/aurora/{name}.yaml").read_text())
        assert list(validator.iter_errors(data)) == [], name
    # and it is not vacuous: a wrong type and an unknown key are caught
    errors = list(validator.iter_errors({"guards": {"spread_bps_limit": "wide", "bogus": 1}}))
    assert len(errors) == 2


def test_schema_default_path_is_configs_schema_json(project: Path) -> None:
    target = project / "configs/schema.json"
    target.unlink()
    result = cli("config", "schema")
    assert result.exit_code == 0
    assert json.loads(target.read_text()) == json.loads(json.dumps(json_schema()))


def test_committed_schema_is_up_to_date_with_the_models() -> None:
    committed = json.loads((REPO / "configs/schema.json").read_text())
    assert committed == json.loads(json.dumps(json_schema())), "run `auroractl config schema` and commit it"


# --------------------------------------------------------------------------- runner config


def test_validate_runner_with_profile_and_overlay(project: Path) -> None:
    result = cli(
        "config",
        "validate",
        "--runner-config",
        "test_param",
        "--profile",
        "sol_soon_base",
        "--overlay",
        "_active_shadow",
    )
    assert result.exit_code == 0, text(result)
    assert result.stdout.splitlines()[1] == (
        "✓ runner config valid (configs/runner/base.yaml, configs/runner/test_param.yaml, "
        "profiles/sol_soon_base.yaml, profiles/overlays/_active_shadow.yaml)"
    )
    as_path = cli("config", "validate", "--overlay", "profiles/overlays/_active_shadow.yaml", "--json")
    assert as_path.exit_code == 0, text(as_path)
    assert as_json(as_path)["runner"] is True


@pytest.mark.parametrize("key", ["tp_bps", "sl_bps"])
def test_an_absurd_take_profit_or_stop_is_refused_with_file_line_and_key(project: Path, key: str) -> None:
    runner_config = project / "absurd.yaml"
    runner_config.write_text(f"strategy:\n  {key}: 1.0e+308\n")
    result = cli("config", "validate", "--runner-config", str(runner_config))
    assert result.exit_code == 2, text(result)
    assert f"absurd.yaml:2 strategy.{key}: Input should be less than or equal to 10000" in text(result)
    assert "Traceback" not in text(result)


@pytest.mark.parametrize(
    ("option", "dirs"),
    [
        ("--runner-config", ["configs/runner"]),
        ("--profile", ["profiles"]),
        ("--overlay", ["profiles/overlays", "profiles"]),
    ],
)
def test_runner_bad_bare_name_names_what_it_looked_for(project: Path, option: str, dirs: list[str]) -> None:
    result = cli("config", "validate", option, "no_such_thing")
    assert_usage_error(result)
    looked = ", ".join(str(project / d / f"no_such_thing{ext}") for d in dirs for ext in (".yaml", ".yml"))
    assert f"'no_such_thing' not found (looked for {looked})" in result.stderr


def test_runner_bad_path_and_bad_profile_content(project: Path) -> None:
    missing = cli("config", "validate", "--profile", "profiles/nope.yaml")
    assert_usage_error(missing)
    assert "--profile file not found: profiles/nope.yaml" in missing.stderr

    (project / "profiles/broken.yaml").write_text("strategy:\n  tp_bps: -3\n  tp_pbs: 1\n")
    bad = cli("config", "validate", "--profile", "broken")
    assert_usage_error(bad)
    assert "• profiles/broken.yaml:2 strategy.tp_bps: Input should be greater than 0" in bad.stderr
    assert "• profiles/broken.yaml:3 strategy.tp_pbs: unknown key; did you mean strategy.tp_bps?" in bad.stderr


def test_trace_runner_json_gives_runner_layers_and_provenance(project: Path) -> None:
    result = cli("config", "trace", "--runner-config", "test_param", "--json")
    assert result.exit_code == 0, text(result)
    data = as_json(result)
    assert (data["domain"], data["mode"]) == ("runner", None)
    assert [(la["name"], la["status"], la.get("path")) for la in data["layers"]] == [
        ("defaults", "loaded", None),
        ("runner-base", "loaded", "configs/runner/base.yaml"),
        ("config", "loaded", "configs/runner/test_param.yaml"),
        ("env", "skipped", None),
    ]
    for la in data["layers"][1:3]:
        assert la["sha256"] == sha256(project / la["path"])
    keys = {row["key"]: row for row in data["keys"]}
    cooldown = keys["strategy.cooldown_ms"]
    assert cooldown["value"] == 250
    assert cooldown["set_by"] == {
        "layer": "config",
        "source": "configs/runner/test_param.yaml",
        "value": 250,
        "line": line_of(project / "configs/runner/test_param.yaml", "cooldown_ms"),
    }
    assert cooldown["overrode"] == [{"layer": "defaults", "source": "<defaults>", "value": 500.0}]
    assert keys["symbols"]["set_by"]["source"] == "configs/runner/test_param.yaml"
    assert [s["symbol"] for s in keys["symbols"]["value"]] == ["SOLUSDT", "SOONUSDT"]


def test_trace_runner_profile_overlay_and_env_chain(project: Path) -> None:
    args = [
        "config",
        "trace",
        "--runner-config",
        "test_param",
        "--profile",
        "sol_soon_base",
        "--overlay",
        "_active_shadow",
    ]
    env = {"AURORA_CANCEL_STUB_EVERY_TICKS": "7"}
    data = as_json(cli(*args, "--key", "parent_gate.z_threshold", "--json", env=env))
    [row] = data["keys"]
    assert row["set_by"]["source"] == "profiles/overlays/_active_shadow.yaml"
    assert [(o["layer"], o["source"], o["value"]) for o in row["overrode"]] == [
        ("profile", "profiles/sol_soon_base.yaml", 0.75),
        ("config", "configs/runner/test_param.yaml", 0.5),
        ("defaults", "<defaults>", 0.75),
    ]
    ticks = as_json(cli(*args, "--key", "venue.cancel_stub_every_ticks", "--json", env=env))["keys"][0]
    assert ticks["value"] == 7
    assert ticks["set_by"] == {"layer": "env", "source": "env:AURORA_CANCEL_STUB_EVERY_TICKS", "value": 7}
    human = cli(*args, "--key", "parent_gate.z_threshold", env=env)
    assert human.stdout.startswith("Loading sequence (runner)\n")
    assert "0.75 from profiles/sol_soon_base.yaml:" in human.stdout


# --------------------------------------------------------------------------- secrets


SECRET_ENV = {"OPS_TOKEN": OPS, "AURORA_OPS_TOKEN": OPS_ALIAS, "AURORA_API_TOKEN": API}


@pytest.mark.parametrize(
    "args",
    [
        ["validate"],
        ["validate", "--json"],
        ["validate", "production"],
        ["trace"],
        ["trace", "--json"],
        ["trace", "--key", "security"],
        ["status"],
        ["status", "--json"],
        ["conflicts"],
        ["conflicts", "--json"],
        ["audit", "--json"],
        ["hierarchy", "--json"],
    ],
    ids=lambda a: " ".join(a),
)
def test_tokens_never_appear_in_output(project: Path, args: list[str]) -> None:
    result = cli("config", *args, env=SECRET_ENV)
    assert result.exit_code == 0, text(result)
    for token in TOKENS:
        assert token not in text(result)
    if "--json" not in args and args[0] in ("validate", "trace", "status"):
        assert (
            "AURORA_OPS_TOKEN is an alias" in result.stderr
            or "also set to a different value" in result.stderr
        )


def test_tokens_never_appear_in_errors_reports_or_events(project: Path) -> None:
    short = {"OPS_TOKEN": "shortOpsTok3n", "AURORA_API_TOKEN": "apiTok3nShort"}
    for args in (["validate", "production"], ["validate", "production", "--json"], ["switch", "production"]):
        result = cli("config", *args, env=short)
        assert result.exit_code == 2
        for token in short.values():
            assert token not in text(result)
        assert "***" in text(result) or "too short" in text(result)

    (project / "tok.yaml").write_text(f"security: {OPS}\n")
    wrong_shape = cli("config", "validate", "--file", "tok.yaml")
    assert_usage_error(wrong_shape)
    assert OPS not in text(wrong_shape)
    assert "• tok.yaml:1 security: Input should be a valid dictionary" in wrong_shape.stderr

    assert cli("config", "audit", "--save", env=SECRET_ENV).exit_code == 0
    assert cli("config", "switch", "production", env=SECRET_ENV).exit_code == 0
    for path in [*(project / "reports").glob("*.json"), project / "logs/aurora_events.jsonl"]:
        content = path.read_text()
        for token in TOKENS:
            assert token not in content, path


def test_show_secrets_reveals_only_on_request(project: Path) -> None:
    hidden = cli("config", "status", env=SECRET_ENV)
    assert "│   ├── api_token: ***" in hidden.stdout
    assert "│   ├── ops_token: ***" in hidden.stdout
    shown = cli("config", "status", "--show-secrets", env=SECRET_ENV)
    assert f"│   ├── api_token: {API}" in shown.stdout
    assert f"│   ├── ops_token: {OPS}" in shown.stdout  # the canonical name wins over the alias
    assert OPS_ALIAS not in text(shown)
    data = as_json(cli("config", "status", "--json", "--show-secrets", env=SECRET_ENV))
    assert data["effective"]["security"] == {"api_token": API, "ops_token": OPS, "allow_anonymous_trading": False,
                                                  "metrics_token": None}
    # the checksum never depends on whether secrets are shown
    assert data["checksum"] == as_json(cli("config", "status", "--json", env=SECRET_ENV))["checksum"]


def test_alias_only_warns_ops_token_alias_used(project: Path) -> None:
    result = cli("config", "validate", env={"AURORA_OPS_TOKEN": OPS_ALIAS})
    assert result.exit_code == 0, text(result)
    assert (
        "• env:AURORA_OPS_TOKEN security.ops_token: AURORA_OPS_TOKEN is an alias; use OPS_TOKEN"
        in result.stderr
    )
    data = as_json(cli("config", "validate", "--json", env={"AURORA_OPS_TOKEN": OPS_ALIAS}))
    assert [w["code"] for w in data["warnings"]] == ["OPS.TOKEN.ALIAS_USED"]
    assert OPS_ALIAS not in result.output + json.dumps(data)
