import json

import numpy as np
import orjson
from typer.testing import CliRunner

from aurora.calibration import CalibrationMap
from auroractl.main import app


def simulate_trades(n, seed):
    """Scores ~ N(0, 1), outcomes drawn from a known sigmoid of the score."""
    rng = np.random.default_rng(seed)
    s = rng.normal(size=n)
    return s, (rng.random(n) < 1 / (1 + np.exp(-(1.2 * s - 0.3)))).astype(int)


def invoke(*args):
    return CliRunner().invoke(app, ["calibrate", *args], env={"NO_COLOR": "1"})


def test_fit_from_pairs(tmp_path):
    s, y = simulate_trades(3000, seed=5)
    src = tmp_path / "pairs.jsonl"
    src.write_bytes(b"".join(orjson.dumps({"score": float(a), "outcome": int(b)}) + b"\n" for a, b in zip(s, y, strict=False)) +
                    b'{"score": 1.0, "outc')  # a torn last line is skipped and counted  # fmt: skip
    out = tmp_path / "maps" / "cal.json"
    r = invoke("--from", str(src), "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["pairs"] == 3000 and res["format"] == "pairs" and res["kind"] == "isotonic"
    assert res["torn_lines_skipped"] == 1 and res["ece_in_sample"] < 0.05
    cmap = CalibrationMap.load(out)
    assert cmap.predict(-3) < cmap.predict(0) < cmap.predict(3)


def test_fit_from_a_session_dir(tmp_path):
    s, y = simulate_trades(400, seed=6)
    t0 = 1_790_000_000 * 10**9  # 2026-09: on the session's clock (before its file was written)
    lines = []
    for i, (a, b) in enumerate(zip(s, y, strict=False)):
        lines.append({"ts_ns": t0 + i, "run_id": "r", "event_code": "ORDER.FILL", "cid": f"c{i}",
                      "details": {"fill_qty": 1.0, "entry_score": float(a), "realized_pnl_bps": 12.0 if b else -8.0}})
        lines.append({"ts_ns": t0 + i, "run_id": "r", "event_code": "POLICY_DECISION", "details": {}})  # fmt: skip
    body = [orjson.dumps(x) + b"\n" for x in lines]
    body.insert(7, b'{"ts_ns": 1, "event_code": "ORDER.FILL", "details": {"reason": "SPREAD\xff\xfe"}}\n')
    (tmp_path / "aurora_events.jsonl").write_bytes(b"".join(body))
    r = invoke("--from", str(tmp_path), "--out", str(tmp_path / "cal.json"), "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    # the session reader's damage policy: a non-UTF-8 line is counted with file:line and skipped
    assert res["format"] == "session" and res["pairs"] == 400 and res["corrupt_lines_skipped"] == 1
    assert "1 corrupt line(s) skipped: aurora_events.jsonl:8 (not valid UTF-8" in r.stderr


def test_errors_are_clear_exit_2(tmp_path):
    r = invoke("--from", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o.json"))
    assert r.exit_code == 2 and "no such file" in r.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"score": 1.0, "outcome": 3}\n')
    r = invoke("--from", str(bad), "--out", str(tmp_path / "o.json"))
    assert r.exit_code == 2 and "bad.jsonl:1: outcome must be 0/1" in r.output
    few = tmp_path / "few.jsonl"
    few.write_text('{"score": 1.0, "outcome": 1}\n')
    r = invoke("--from", str(few), "--out", str(tmp_path / "o.json"))
    assert r.exit_code == 2 and "at least 50 are needed" in r.output
    assert "Traceback" not in r.output
