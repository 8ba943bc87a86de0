"""The layered loader: modes, layers, provenance, SPRT derivation, production safety, error collection."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from aurora.config.errors import ConfigError
from aurora.config.loader import load_aurora, load_runner
from runner.config import RunnerConfig

STRONG_OPS = "ops-" + "k3y9" * 8  # 36 chars, not a placeholder
STRONG_API = "api-" + "z7q2" * 4


def test_default_mode_is_development_and_base_is_loaded(project):
    loaded = load_aurora()
    assert loaded.mode == "development" and loaded.mode_source == "default"
    assert [layer.status for layer in loaded.layers[:3]] == ["loaded", "loaded", "loaded"]
    assert loaded.config.guards.spread_bps_limit == 80


def test_mode_precedence_env_over_state_file(project, clean_env):
    (project / ".aurora").mkdir()
    (project / ".aurora" / "active_mode").write_text("testnet\n")
    assert load_aurora().mode == "testnet"
    clean_env.setenv("AURORA_MODE", "prod")
    clean_env.setenv("OPS_TOKEN", STRONG_OPS)
    clean_env.setenv("AURORA_API_TOKEN", STRONG_API)
    loaded = load_aurora()
    assert loaded.mode == "production" and loaded.mode_source == "env:AURORA_MODE"


def test_unknown_mode_names_the_variable(project, clean_env):
    clean_env.setenv("AURORA_MODE", "staging")
    with pytest.raises(ConfigError) as info:
        load_aurora()
    assert info.value.issues[0].source == "env:AURORA_MODE"


def test_env_override_provenance_records_every_overridden_layer(project, clean_env):
    clean_env.setenv("AURORA_SPREAD_BPS_LIMIT", "123")
    loaded = load_aurora("testnet")
    hist = loaded.history["guards.spread_bps_limit"]
    assert loaded.config.guards.spread_bps_limit == 123
    assert [(o.layer, o.source, o.value) for o in hist.writes] == [
        ("defaults", "<defaults>", 80.0),
        ("base", "configs/aurora/base.yaml", 80),
        ("mode:testnet", "configs/aurora/testnet.yaml", 60),
        ("env", "env:AURORA_SPREAD_BPS_LIMIT", 123.0),
    ]
    assert hist.writes[1].line == 15


def test_alias_supplies_value_and_warns(project, clean_env):
    clean_env.setenv("AURORA_SPREAD_MAX_BPS", "33")
    clean_env.setenv("AURORA_OPS_TOKEN", STRONG_OPS)
    loaded = load_aurora()
    assert loaded.config.guards.spread_bps_limit == 33
    codes = {w.code for w in loaded.warnings}
    assert {"CONFIG.ALIAS_USED", "OPS.TOKEN.ALIAS_USED"} <= codes
    assert ("OPS.TOKEN.ALIAS_USED", {"alias": "AURORA_OPS_TOKEN", "canonical": "OPS_TOKEN"}) in loaded.events


def test_user_layer_by_bare_name_and_path(project, clean_env):
    (project / "configs" / "aurora" / "tight.yaml").write_text("guards:\n  spread_bps_limit: 7\n")
    clean_env.setenv("AURORA_CONFIG_NAME", "tight")
    assert load_aurora().config.guards.spread_bps_limit == 7
    other = project / "elsewhere.yaml"
    other.write_text("guards:\n  spread_bps_limit: 9\n")
    clean_env.setenv("AURORA_CONFIG", str(other))  # AURORA_CONFIG wins over AURORA_CONFIG_NAME
    assert load_aurora().config.guards.spread_bps_limit == 9


def test_missing_user_config_is_an_error_naming_the_variable(project, clean_env):
    clean_env.setenv("AURORA_CONFIG", "nope")
    with pytest.raises(ConfigError) as info:
        load_aurora()
    assert "AURORA_CONFIG" in info.value.issues[0].source
    assert "configs/aurora/nope.yaml" in info.value.issues[0].message


def test_dotenv_is_read_and_process_env_wins(project, clean_env):
    (project / ".env").write_text("AURORA_PI_MIN_BPS=1.5\nAURORA_SLIP_ETA=0.5\n")
    clean_env.setenv("AURORA_SLIP_ETA", "0.75")
    loaded = load_aurora()
    assert loaded.config.risk.pi_min_bps == 1.5
    assert loaded.config.slippage.eta_fraction_of_b == 0.75
    assert loaded.history["risk.pi_min_bps"].effective.source.startswith("env:AURORA_PI_MIN_BPS (")


def test_sprt_bounds_derived_from_alpha_beta_and_env_wins(project, clean_env):
    cfg = load_aurora().config.sprt
    assert cfg.A == pytest.approx(math.log((1 - 0.1) / 0.05))
    assert cfg.B == pytest.approx(math.log(0.1 / (1 - 0.05)))
    clean_env.setenv("AURORA_SPRT_ALPHA", "0.01")
    assert load_aurora().config.sprt.A == pytest.approx(math.log(0.9 / 0.01))
    clean_env.setenv("AURORA_SPRT_A", "4.0")
    loaded = load_aurora()
    assert loaded.config.sprt.A == 4.0
    assert loaded.history["sprt.B"].effective.layer == "derived"


def test_every_problem_is_reported_with_file_line_and_key(project):
    path = project / "configs" / "aurora" / "development.yaml"
    path.write_text("guards:\n  spread_bps_limit: wide\n  bogus: 1\nrisk:\n  size_scale: 2\napi:\n  port: 70000\n")
    with pytest.raises(ConfigError) as info:
        load_aurora()
    got = {(i.key, i.source, i.line) for i in info.value.issues}
    assert got == {
        ("guards.spread_bps_limit", "configs/aurora/development.yaml", 2),
        ("guards.bogus", "configs/aurora/development.yaml", 3),
        ("risk.size_scale", "configs/aurora/development.yaml", 5),
        ("api.port", "configs/aurora/development.yaml", 7),
    }


def test_yaml_syntax_error_names_file_and_line(project):
    (project / "configs" / "aurora" / "development.yaml").write_text("guards:\n  spread_bps_limit: [1,\n")
    with pytest.raises(ConfigError) as info:
        load_aurora()
    issue = info.value.issues[0]
    assert issue.source == "configs/aurora/development.yaml" and issue.line == 3
    assert issue.message.startswith("YAML syntax error")


def test_production_refuses_placeholder_and_short_tokens(project, clean_env):
    clean_env.setenv("OPS_TOKEN", "<set-in-.env-or-here>")
    clean_env.setenv("AURORA_API_TOKEN", "short-but-16char")
    with pytest.raises(ConfigError) as info:
        load_aurora("production")
    messages = " ".join(i.message for i in info.value.issues)
    assert "security.ops_token is a placeholder" in messages
    assert "short-but-16char" not in messages and "<set-in" not in messages
    clean_env.setenv("OPS_TOKEN", "q" * 4 + "w" * 4 + "e9r8" * 3)  # 20 chars
    with pytest.raises(ConfigError, match="too short"):
        load_aurora("production")
    clean_env.setenv("OPS_TOKEN", STRONG_OPS)
    clean_env.setenv("AURORA_API_TOKEN", STRONG_API)
    assert load_aurora("production").mode == "production"


def test_checksum_is_stable_and_secret_free(project, clean_env):
    a = load_aurora().checksum
    assert load_aurora().checksum == a
    clean_env.setenv("OPS_TOKEN", STRONG_OPS)
    loaded = load_aurora()
    assert STRONG_OPS not in str(loaded.effective()) and STRONG_OPS not in str(loaded.trace())
    clean_env.setenv("AURORA_PI_MIN_BPS", "6")
    assert load_aurora().checksum != a


def test_runner_layers_merge_profile_and_overlay(project):
    loaded = load_runner(RunnerConfig, config="test_param", profile="sol_soon_base", overlays=["_active_shadow"])
    assert [s.symbol for s in loaded.config.symbols] == ["SOLUSDT", "SOONUSDT"]
    assert [layer.name for layer in loaded.layers] == ["defaults", "runner-base", "config", "profile", "overlay", "env"]
    assert loaded.history["parent_gate.z_threshold"].effective.source == "profiles/overlays/_active_shadow.yaml"


def test_runner_bare_name_resolution_prefers_yaml_then_yml(project):
    (project / "configs" / "runner" / "alt.yml").write_text("strategy:\n  tp_bps: 20\n")
    assert load_runner(RunnerConfig, config="alt").config.strategy.tp_bps == 20
    with pytest.raises(ConfigError, match="configs/runner/missing.yaml"):
        load_runner(RunnerConfig, config="missing")


def test_cancel_stub_env_applies_to_runner_only_in_testnet(project, clean_env):
    clean_env.setenv("AURORA_CANCEL_STUB", "true")
    with pytest.raises(ConfigError, match="cancel_stub"):
        load_runner(RunnerConfig)
    loaded = load_runner(RunnerConfig, profile="aurora_live_canary")
    assert loaded.config.venue.cancel_stub is True


def test_shipped_files_all_validate(project):
    for mode in ("development", "testnet"):
        load_aurora(mode)
    for profile in Path(project / "profiles").glob("*.yaml"):
        load_runner(RunnerConfig, profile=profile.stem, overlays=["_active_shadow"])
