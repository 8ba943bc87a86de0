from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aurora.config import env_table
from aurora.config.env_table import (
    BY_NAME,
    EnvValueError,
    parse_bool,
    parse_value,
    pick,
    suggest,
    unknown_vars,
)


@pytest.mark.parametrize("raw", ["1", "true", "YES", " on ", "True\n"])
def test_bool_true(raw):
    assert parse_bool("X", raw) is True


@pytest.mark.parametrize("raw", ["0", "false", "No", " OFF "])
def test_bool_false(raw):
    assert parse_bool("X", raw) is False


@given(st.text().filter(lambda s: s.strip().lower() not in {"1", "true", "yes", "on", "0", "false", "no", "off"}))
def test_bool_anything_else_is_an_error_naming_the_variable(raw):
    with pytest.raises(EnvValueError) as info:
        parse_bool("TRAP_GUARD", raw)
    assert "TRAP_GUARD" in str(info.value)


def test_typed_parsing_and_errors():
    assert parse_value(BY_NAME["AURORA_API_PORT"], "AURORA_API_PORT", " 8080 ") == 8080
    assert parse_value(BY_NAME["AURORA_SPREAD_BPS_LIMIT"], "AURORA_SPREAD_BPS_LIMIT", "12.5") == 12.5
    with pytest.raises(EnvValueError, match="AURORA_API_PORT: expected an integer"):
        parse_value(BY_NAME["AURORA_API_PORT"], "AURORA_API_PORT", "80a")
    with pytest.raises(EnvValueError, match="finite"):
        parse_value(BY_NAME["AURORA_SLIP_ETA"], "AURORA_SLIP_ETA", "nan")
    with pytest.raises(EnvValueError, match=r"\[0, 1\]"):
        parse_value(BY_NAME["AURORA_SIZE_SCALE"], "AURORA_SIZE_SCALE", "1.5")


def test_secret_parse_error_does_not_echo_the_value():
    entry = env_table.EnvOverride("X_TOKEN", "security.x", "secret")
    err = EnvValueError("X_TOKEN", "a string", "hunter2hunter2", secret=entry.secret)
    assert "hunter2" not in str(err)


def test_canonical_name_wins_over_alias_and_alias_is_recorded():
    entry = BY_NAME["OPS_TOKEN"]
    picked = pick(entry, {"OPS_TOKEN": "a" * 32, "AURORA_OPS_TOKEN": "b" * 32})
    assert picked.var == "OPS_TOKEN" and not picked.via_alias
    assert picked.shadowed == [("AURORA_OPS_TOKEN", "b" * 32)]
    only_alias = pick(entry, {"AURORA_OPS_TOKEN": "b" * 32})
    assert only_alias.via_alias and only_alias.entry.alias_event == "OPS.TOKEN.ALIAS_USED"


def test_typo_suggestion():
    assert suggest("AURORA_SPREAD_BPS_LIMT") == "AURORA_SPREAD_BPS_LIMIT"
    found = unknown_vars({"AURORA_SPREAD_BPS_LIMT": "5", "AURORA_MODE": "testnet", "HOME": "/"})
    assert [(u.name, u.suggestion) for u in found] == [("AURORA_SPREAD_BPS_LIMT", "AURORA_SPREAD_BPS_LIMIT")]


def test_every_override_key_exists_in_its_model():
    from aurora.config.models import AuroraConfig
    from runner.config import RunnerConfig

    for entry in env_table.ENV_OVERRIDES:
        model = AuroraConfig if entry.target == "aurora" else RunnerConfig
        node = model.model_fields
        *parents, leaf = entry.key.split(".")
        for part in parents:
            node = node[part].annotation.model_fields
        assert leaf in node, entry.key


def test_readme_table_is_generated_from_the_table():
    table = env_table.markdown_table()
    for entry in env_table.ENV_OVERRIDES:
        assert f"`{entry.name}`" in table and f"`{entry.key}`" in table
