"""Every ``--json`` command prints exactly one strict JSON document on stdout (no NaN/Infinity, no
extra line), success or failure, and everything meant for people goes to stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from auroractl.main import COMMANDS, app
from auroractl.output import strict_json
from tests.aurora.analytics.test_metrics_summary import _session
from tests.auroractl.test_ops import OPS, gate  # noqa: F401 (the module's running gate)
from tests.support.gate_session import START_NS, RecordingGate, load, request

REPO = Path(__file__).resolve().parents[2]


def strict_loads(text: str):
    """One JSON document, nothing before or after it, and no NaN/Infinity literals."""

    def refuse(constant: str):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def json_commands() -> set[str]:
    root = typer.main.get_command(app)

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, f"{path} {name}")
        elif any(p.name == "as_json" for p in cmd.params):
            yield path

    return {p for spec in COMMANDS for p in walk(root.load(spec), spec.name)}


def _cases(project: Path, gate_url: str) -> dict[str, list[list[str]]]:
    """Per command, invocations (argv after ``auroractl``) that exercise success and failure."""
    session = project / "logs" / "20261121-090000"
    _session(session)
    pairs = project / "pairs.jsonl"
    pairs.write_bytes(b"".join(orjson.dumps({"score": i / 50 - 1, "outcome": i % 3 == 0}) + b"\n" for i in range(100)))
    rec = project / "rec.jsonl"
    foreign = project / "hftbacktest.txt"
    foreign.write_text(
        '1723075200000000000 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":1,"s":"BTCUSDT",'
        '"b":"60000.0","B":"1.0","a":"60000.1","A":"1.0","T":1723075200000,"E":1723075200000}}\n'
    )
    url = ["--url", gate_url]
    recorded = project / "logs" / "recorded"
    with RecordingGate(load(project), recorded) as g:
        for i in range(3):
            g.check(request(START_NS + i * 1_000_000_000, cid=f"w{i}", mid_shift_ticks=i))
    (project / "candidate.yaml").write_text("guards:\n  spread_bps_limit: 0.5\n")
    return {
        "config validate": [["config", "validate"], ["config", "validate", "staging"]],
        "config trace": [["config", "trace", "--key", "guards"], ["config", "trace", "--key", "no.such"]],
        "config status": [["config", "status"]],
        "config hierarchy": [["config", "hierarchy"]],
        "config conflicts": [["config", "conflicts"]],
        "config audit": [["config", "audit"]],
        "metrics summary": [
            ["metrics", "summary", "--session", str(session), "--window-sec", "0", "--out", str(project / "s.json")],
            ["metrics", "summary", "--session", str(project / "nope"), "--out", str(project / "s.json")],
        ],
        "export parquet": [
            ["export", "parquet", "--session", str(session), "--out-dir", str(project / "ds")],
            ["export", "parquet", "--session", str(project / "nope"), "--out-dir", str(project / "ds")],
        ],
        "lifecycle-audit": [
            ["lifecycle-audit", "--session", str(session), "--out-dir", str(project / "audit")],
            ["lifecycle-audit", "--session", str(session), "--order", "a1"],
        ],
        "calibrate": [
            ["calibrate", "--from", str(pairs), "--out", str(project / "cal.json")],
            ["calibrate", "--from", str(project / "missing.jsonl"), "--out", str(project / "cal.json")],
        ],
        "feed record": [
            ["feed", "record", "--source", "synthetic", "--out", str(rec), "--duration", "2s"],
            ["feed", "record", "--source", "kraken", "--out", str(rec)],
        ],
        "feed replay": [["feed", "replay", str(rec), "--fast"], ["feed", "replay", str(project / "none.jsonl")]],
        "whatif": [
            ["whatif", "--session", str(recorded), "--config", str(project / "candidate.yaml")],
            ["whatif", "--session", str(session), "--config", str(project / "candidate.yaml")],  # no recorded inputs
        ],
        "backtest": [  # after "feed record": its recording
            ["backtest", "--recording", str(rec), "--config", str(project / "candidate.yaml"),
             "--out-dir", str(project / "bt")],
            ["backtest", "--recording", str(project / "none.jsonl"), "--config", str(project / "candidate.yaml")],
        ],
        "tune": [  # after "feed record": its recording (too short to trade: the study still finishes)
            ["tune", "--recording", str(rec), "--space", "profiles/spaces/btc_small.yaml", "--trials", "1",
             "--segments", "1"],
            ["tune", "--recording", str(rec), "--space", str(project / "no_space.yaml"), "--trials", "1"],
        ],
        "feed import": [
            ["feed", "import", "--format", "hftbacktest", str(foreign), "--out", str(project / "imported.jsonl")],
            ["feed", "import", "--format", "nope", str(foreign), "--out", str(project / "imported.jsonl")],
        ],
        "one-click": [
            ["one-click", "--mode", "testnet", "--dry-run", "--port", "0"],
            ["one-click", "--mode", "staging", "--dry-run"],
        ],
        "run-runner": [["run-runner", "--gate-url", gate_url, "--duration", "1s", "--session", str(project / "r1")]],
        "ops status": [["ops", "status", *url]],
        "ops halt": [["ops", "halt", "--reason", "json test", *url]],
        "ops kill": [["ops", "kill", "--reason", "json test", *url]],
        "ops resume": [["ops", "resume", *url]],
        "ops cooloff": [["ops", "cooloff", "5", *url]],
        "ops reset": [["ops", "reset", *url]],
        "ops disarm": [["ops", "disarm", *url]],
        "ops arm": [["ops", "arm", *url]],
        "ops reload": [["ops", "reload", *url]],
        "ops rotate-token": [["ops", "rotate-token", "--from-env", "UNSET_VAR", *url]],
        "instruments show": [["instruments", "show", "BTCUSDT"], ["instruments", "show", "NOSUCHUSDT"]],
        "instruments fetch": [["instruments", "fetch", "--venue", "kraken"],
                              ["instruments", "fetch", "--url", "http://127.0.0.1:9", "--timeout-ms", "300",
                               "--out", str(project / "instruments.json")]],
    }


def test_every_json_command_prints_one_strict_document(project: Path, gate, clean_env) -> None:  # noqa: F811
    clean_env.setenv("OPS_TOKEN", OPS)
    cases = _cases(project, gate[0])
    assert set(cases) == json_commands(), "add the new --json command to _cases"
    for invocations in cases.values():
        for argv in invocations:
            r = CliRunner().invoke(app, [*argv, "--json"], env={"NO_COLOR": "1"})
            assert r.exception is None or isinstance(r.exception, SystemExit), (argv, r.exception)
            try:
                doc = strict_loads(r.stdout)
            except ValueError as exc:
                pytest.fail(f"{' '.join(argv)} --json (exit {r.exit_code}): {exc}\nstdout:\n{r.stdout}")
            assert isinstance(doc, dict), argv
            if r.exit_code != 0:
                assert doc.get("ok") is False, (argv, doc)
            assert "✓" not in r.stdout, argv


def test_one_click_json_run_keeps_stdout_to_the_proof(project: Path, tmp_path: Path) -> None:
    """The run itself (not only the dry run): progress and the closing ✓ line go to stderr."""
    env = {**os.environ, "NO_COLOR": "1", "AURORA_ROOT": str(project)}
    r = subprocess.run(
        [sys.executable, "-m", "auroractl", "one-click", "--mode", "testnet", "--duration", "3s", "--port", "0",
         "--session", str(tmp_path / "s"), "--no-report", "--json"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    proof = strict_loads(r.stdout)
    assert proof["exit_code"] == r.returncode and "session_dir" in json.dumps(proof)
    assert "✓" not in r.stdout and "decisions" in r.stderr


def test_nan_and_infinity_become_null() -> None:
    text = strict_json({"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": (2, None)})
    assert strict_loads(text) == {"a": None, "b": [None, None, 1.5], "c": [2, None]}


def test_numpy_scalars_are_plain_numbers() -> None:
    np = pytest.importorskip("numpy")
    assert strict_loads(strict_json({"x": np.float64("nan"), "n": np.int64(3), "v": np.array([1.0, np.inf])})) == {
        "x": None,
        "n": 3,
        "v": [1.0, None],
    }
