"""Hostile and broken config input: each is refused with a precise message naming the file (and line),
exit 2 through the CLI, never a traceback, a hang or a silently dropped value."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aurora.config.errors import ConfigError
from aurora.config.loader import load_aurora, load_aurora_async, load_runner
from aurora.config.merge import flatten
from aurora.config.models import AuroraConfig
from aurora.config.yaml_source import MAX_CONFIG_BYTES, MAX_NODES, read_yaml
from auroractl.main import app
from runner.config import RunnerConfig

REPO = Path(__file__).resolve().parents[3]

#: 342 bytes standing for 9**9 (387 million) strings.
BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def validate(*args: str, **env: str):
    return CliRunner().invoke(app, ["config", "validate", *args], env={"NO_COLOR": "1", **env})


def issues_of(**kw) -> list:
    with pytest.raises(ConfigError) as info:
        load_aurora(**kw)
    return info.value.issues


def only_issue(**kw):
    (issue,) = issues_of(**kw)
    return issue


# --- YAML --------------------------------------------------------------------------------------------


def test_a_section_given_twice_is_an_error_with_both_lines(project: Path) -> None:
    path = project / "configs/aurora/development.yaml"
    path.write_text("guards:\n  spread_bps_limit: 10\nrisk:\n  pi_min_bps: 2\nguards:\n  latency_ms_limit: 100\n")
    issue = only_issue()
    assert (issue.source, issue.line, issue.key) == ("configs/aurora/development.yaml", 5, "guards")
    assert issue.message == "duplicate key 'guards' (first at line 1); YAML would keep only the last one"
    r = validate()
    assert r.exit_code == 2 and "• configs/aurora/development.yaml:5 guards: duplicate key 'guards'" in r.stderr


def test_a_nested_key_given_twice_is_an_error(project: Path) -> None:
    (project / "configs/aurora/development.yaml").write_text("risk:\n  pi_min_bps: 2\n  pi_min_bps: 3\n")
    issue = only_issue()
    assert (issue.line, issue.key) == (3, "risk.pi_min_bps")


def test_an_alias_bomb_is_refused_before_it_expands(project: Path, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    doc, issues = read_yaml(bomb)
    assert doc is None
    (issue,) = issues
    assert f"alias expansion too large (more than {MAX_NODES} nodes)" in issue.message and issue.line
    r = validate("--file", str(bomb))
    assert r.exit_code == 2 and "alias expansion too large" in r.stderr and "Traceback" not in r.output


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("guards: &g\n  self: *g\n")
    doc, issues = read_yaml(path)
    assert doc is None and "recursive alias" in issues[0].message


def test_moderate_anchors_still_work(project: Path) -> None:
    (project / "configs/aurora/development.yaml").write_text(
        "guards: &g\n  spread_bps_limit: 12\nrisk:\n  pi_min_bps: 2\n"
    )
    assert load_aurora().config.guards.spread_bps_limit == 12


def test_an_oversized_file_is_refused_without_parsing(project: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    assert only_issue(file=str(big)).message.startswith("file is larger than 1024 KiB")


def test_a_binary_file_is_named_as_such(project: Path, tmp_path: Path) -> None:
    blob = tmp_path / "blob.yaml"
    blob.write_bytes(b"guards:\n\x00\x01\x02")
    issue = only_issue(file=str(blob))
    assert issue.message == "binary file (NUL byte at offset 8), expected YAML text"
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"guards: {note: caf\xe9}\n")
    assert only_issue(file=str(latin)).message == "file is not UTF-8 text (invalid byte at offset 18)"


# --- AURORA_CONFIG pointing at things that are not config files ------------------------------------------


def _aurora_config_error(clean_env, value: str) -> str:
    clean_env.setenv("AURORA_CONFIG", value)
    issue = only_issue()
    r = validate()
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert issue.message in r.stderr
    return issue.message


def test_aurora_config_a_directory(project: Path, tmp_path: Path, clean_env) -> None:
    msg = _aurora_config_error(clean_env, str(tmp_path))
    assert msg == f"env:AURORA_CONFIG: {tmp_path} is a directory, expected a YAML file"


def test_aurora_config_a_symlink_loop(project: Path, tmp_path: Path, clean_env) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.symlink_to(b)
    b.symlink_to(a)
    assert _aurora_config_error(clean_env, str(a)) == f"env:AURORA_CONFIG: {a} is a symlink loop"


def test_aurora_config_a_broken_symlink(project: Path, tmp_path: Path, clean_env) -> None:
    link = tmp_path / "gone.yaml"
    link.symlink_to(tmp_path / "nowhere.yaml")
    msg = _aurora_config_error(clean_env, str(link))
    assert msg == f"env:AURORA_CONFIG: {link} is a broken symlink (to {tmp_path / 'nowhere.yaml'})"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_aurora_config_dev_zero_is_a_device_not_read(project: Path, clean_env) -> None:
    msg = _aurora_config_error(clean_env, "/dev/zero")
    assert msg == "env:AURORA_CONFIG: /dev/zero is a character device, expected a regular YAML file"


def test_aurora_config_a_fifo_and_a_socket(project: Path, tmp_path: Path, clean_env) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # reading it would block forever
    assert _aurora_config_error(clean_env, str(fifo)).endswith("is a named pipe (FIFO), expected a regular YAML file")
    sock_path = tmp_path / "s.yaml"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock_path))
        assert _aurora_config_error(clean_env, str(sock_path)).endswith("is a socket, expected a regular YAML file")


def test_aurora_config_name_that_is_a_directory(project: Path, clean_env) -> None:
    (project / "configs/aurora/odd.yaml").mkdir()
    clean_env.setenv("AURORA_CONFIG_NAME", "odd")
    issue = only_issue()
    assert "configs/aurora/odd.yaml is a directory" in issue.message


def test_a_missing_file_is_still_not_found(project: Path, tmp_path: Path, clean_env) -> None:
    msg = _aurora_config_error(clean_env, str(tmp_path / "none.yaml"))
    assert msg == f"env:AURORA_CONFIG file not found: {tmp_path / 'none.yaml'}"


# --- .env ----------------------------------------------------------------------------------------------


def test_dotenv_lines_that_do_not_parse_are_errors_with_their_line(project: Path, caplog) -> None:
    (project / ".env").write_text(
        "AURORA_PI_MIN_BPS=1.5\nthis is not an assignment\n# a comment\n\nexport AURORA_SLIP_ETA=0.5\ngarbage\n"
        'OPS_TOKEN="opstok-never-shown-Zx9Cv8Bn7Mq6\n'
    )
    caplog.set_level(logging.DEBUG)
    issues = issues_of()
    where = [(i.source, i.line, i.message) for i in issues]
    env = str(project / ".env")
    assert where == [
        (env, 2, "line is not KEY=value"),
        (env, 6, "line is not KEY=value"),
        (env, 7, "unterminated quoted value for OPS_TOKEN"),
    ]
    assert not [r for r in caplog.records if r.name.startswith("dotenv")]
    r = validate()
    assert r.exit_code == 2 and f"• {env}:2: line is not KEY=value" in r.stderr
    assert "opstok-never-shown" not in r.output and "python-dotenv" not in r.output


def test_a_clean_dotenv_still_works_with_quotes_export_and_comments(project: Path) -> None:
    (project / ".env").write_text("export AURORA_PI_MIN_BPS='1.5'\nAURORA_SLIP_ETA=0.5 # inline comment\n")
    cfg = load_aurora().config
    assert cfg.risk.pi_min_bps == 1.5 and cfg.slippage.eta_fraction_of_b == 0.5


# --- keys ------------------------------------------------------------------------------------------------


def test_near_miss_yaml_keys_get_a_suggestion(project: Path) -> None:
    (project / "configs/aurora/development.yaml").write_text("guards:\n  spread_bps_limt: 10\nrsk:\n  x: 1\n")
    messages = {i.key: i.message for i in issues_of()}
    assert messages["guards.spread_bps_limt"] == "unknown key; did you mean guards.spread_bps_limit?"
    assert messages["rsk"] == "unknown key; did you mean risk?"


def test_near_miss_inside_a_list_of_runner_symbols(project: Path) -> None:
    bad = project / "configs/runner/bad.yaml"
    bad.write_text("symbols:\n  - symbol: SOLUSDT\n    qtty: 2\n")
    with pytest.raises(ConfigError) as info:
        load_runner(RunnerConfig, config="bad")
    (issue,) = info.value.issues
    assert issue.key == "symbols.0.qtty" and issue.message == "unknown key; did you mean symbols.qty?"


def test_removed_keys_are_ignored_with_a_warning(project: Path, clean_env) -> None:
    (project / "configs/aurora/development.yaml").write_text(
        "trading:\n  max_latency_ms: 250\nobservability:\n  icp_enabled: true\n"
    )
    clean_env.setenv("AURORA_ICP_OBS", "1")
    loaded = load_aurora()
    warned = {(w.key, w.code) for w in loaded.warnings}
    assert warned == {
        ("trading.max_latency_ms", "CONFIG.KEY_REMOVED"),
        ("observability.icp_enabled", "CONFIG.KEY_REMOVED"),
    }
    assert len(loaded.warnings) == 3  # two YAML keys and the variable
    r = validate()
    assert r.exit_code == 0 and "trading.max_latency_ms was removed (it never had an effect" in r.stderr


def test_every_config_key_is_read_by_the_gate_or_the_runner() -> None:
    """A key nothing reads is documentation that lies; this catches one being added again."""
    source = "\n".join(
        p.read_text()
        for d in ("aurora", "runner", "oneclick", "auroractl")  # start-api and one-click read api.host/port
        for p in (REPO / d).rglob("*.py")
        if "aurora/config" not in p.as_posix()
    )
    unread = []
    for key, _ in flatten(AuroraConfig().model_dump(mode="python")):
        leaf = re.escape(key.rsplit(".", 1)[-1])
        if not re.search(rf"\.{leaf}\b|[\"']{leaf}[\"']", source):
            unread.append(key)
    assert unread == []


# --- reload off the event loop ---------------------------------------------------------------------------


def test_the_async_loader_runs_in_a_worker_thread(project: Path, monkeypatch) -> None:
    import threading

    import aurora.config.loader as loader

    threads = []
    real = loader.load_aurora

    def spy(*a, **kw):
        threads.append(threading.current_thread())
        return real(*a, **kw)

    monkeypatch.setattr(loader, "load_aurora", spy)

    async def main():
        loop_thread = threading.current_thread()
        loaded = await load_aurora_async("testnet")
        return loop_thread, loaded

    loop_thread, loaded = asyncio.run(main())
    assert loaded.mode == "testnet" and threads and threads[0] is not loop_thread
