"""``auroractl feed record|replay``: reproducible recordings, gzip, torn lines, clear errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
from typer.testing import CliRunner

from auroractl.main import app


def invoke(*args: str):  # noqa: ANN201
    return CliRunner().invoke(app, ["feed", *args], env={"NO_COLOR": "1"})


def test_synthetic_recordings_are_reproducible_and_replay_through_the_book(project: Path) -> None:
    a, b = project / "a.jsonl", project / "b.jsonl.gz"
    r = invoke("record", "--source", "synthetic", "--out", str(a), "--duration", "3s", "--symbols", "SOLUSDT,SOONUSDT")
    assert r.exit_code == 0, r.output
    assert "recorded" in r.output and "SOONUSDT" in r.output
    r = invoke("record", "--source", "synthetic", "--out", str(b), "--duration", "3s", "--symbols", "SOLUSDT,SOONUSDT",
               "--json")
    assert r.exit_code == 0, r.output
    stats = json.loads(r.output)
    assert stats["records"] > 300 and 2.9 <= stats["market_seconds"] <= 3.0
    assert a.read_bytes() == gzip.decompress(b.read_bytes())  # same seed, same bytes (gzip too)
    first = orjson.loads(a.read_bytes().splitlines()[0])
    assert list(first) == ["recv_ts_ns", "stream", "data"]
    assert any(b"@depthSnapshot" in line for line in a.read_bytes().splitlines())  # snapshots in-band

    r = invoke("replay", str(b), "--fast", "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["messages"] == stats["records"] and rep["torn"] == 0
    assert set(rep["symbols"]) == {"SOLUSDT", "SOONUSDT"}
    for sym, s in rep["symbols"].items():
        assert rep["sync"][sym]["synced"] == 1 and rep["sync"][sym]["gaps"] == 0
        assert s["bid"] < s["ask"] and s["levels"] >= 20 and s["trades"] > 0
    r = invoke("replay", str(a), "--fast")
    assert r.exit_code == 0 and "Book and features" in r.output and "replayed" in r.output


def test_torn_lines_are_counted_and_a_broken_chain_is_detected(project: Path) -> None:
    path = project / "rec.jsonl"
    assert invoke("record", "--source", "synthetic", "--out", str(path), "--duration", "3s").exit_code == 0
    lines = path.read_bytes().splitlines()
    diffs = [i for i, x in enumerate(lines) if b"@depth@100ms" in x]
    lines[diffs[10]] = lines[diffs[10]][:40]  # torn in the middle of the file
    del lines[diffs[20]]  # and a diff lost
    path.write_bytes(b"\n".join(lines) + b"\n" + lines[-1][:25])  # plus a torn last line
    r = invoke("replay", str(path), "--fast", "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["torn"] == 2
    # The torn diff breaks the chain; a recording has no REST side, so the book waits (unsynced, its
    # diffs buffered) for an in-band snapshot that never comes, and the later loss is not a new gap.
    sync = rep["sync"]["SOLUSDT"]
    assert sync["gaps"] == 1 and sync["synced"] == 0 and sync["buffered"] > 10


def test_bad_inputs_exit_2_with_a_clear_message(project: Path) -> None:
    r = invoke("replay", str(project / "missing.jsonl"))
    assert r.exit_code == 2 and "recording not found" in r.output
    r = invoke("record", "--source", "kraken", "--out", str(project / "x.jsonl"))
    assert r.exit_code == 2 and "--source" in r.output and "kraken" in r.output
    r = invoke("record", "--source", f"replay:{project / 'nope.jsonl'}", "--out", str(project / "x.jsonl"))
    assert r.exit_code == 2 and "nope.jsonl" in r.output
    r = invoke("record", "--symbols", "sol usdt!", "--out", str(project / "x.jsonl"))
    assert r.exit_code == 2 and "--symbols" in r.output
    (project / "junk.jsonl").write_text("hello\nworld\n")
    r = invoke("replay", str(project / "junk.jsonl"), "--fast")
    assert r.exit_code == 2 and "no market data" in r.output
    assert "Traceback" not in r.output


# -- foreign recordings: feed import -------------------------------------------------------------

SHARED_BTC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "usdm_btcusdt_20240808.gz"


def strict_json(text: str) -> dict:
    def no_constant(name: str) -> None:
        raise AssertionError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=no_constant)


def test_the_shared_hftbacktest_recording_imports_and_syncs_with_no_gap(project: Path) -> None:
    if not SHARED_BTC.is_file():
        import pytest

        pytest.skip(f"the shared real recording is absent ({SHARED_BTC})")
    raw = invoke("replay", str(SHARED_BTC), "--fast", "--json")  # the raw file is refused, with the way out
    assert raw.exit_code == 2 and "feed import --format hftbacktest" in raw.output and ":1:" in raw.output
    out = project / "btc.jsonl.gz"
    r = invoke("import", "--format", "hftbacktest", str(SHARED_BTC), "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    rep = strict_json(r.output)
    assert rep["records"] == 93_954 and rep["snapshots"] == 1 and rep["symbols"] == ["BTCUSDT"]
    assert rep["warnings"] == []
    r = invoke("replay", str(out), "--fast", "--json")
    assert r.exit_code == 0, r.output
    stats = strict_json(r.output)
    sync = stats["sync"]["BTCUSDT"]
    assert sync["synced"] == 1 and sync["gaps"] == 0 and sync["resyncs"] == 0 and sync["snapshots"] == 1
    assert stats["by_kind"]["trade"] == 21_313 and stats["symbols"]["BTCUSDT"]["trades"] == 21_313
    assert stats["torn"] == 0 and stats["malformed"] == 0 and stats["unknown"] == 0


def _diff(sym: str, E: int, U: int, u: int, pu: int, b=(), a=()) -> dict:  # noqa: N803
    return {"e": "depthUpdate", "E": E, "T": E, "s": sym, "U": U, "u": u, "pu": pu, "b": [list(x) for x in b],
            "a": [list(x) for x in a]}


def test_cryptofeed_websocket_and_rest_files_merge_into_a_replay_whose_books_all_sync(project: Path) -> None:
    t0 = 1_723_161_255.0
    ws = [
        "configuration: {'exchange': 'BINANCE_FUTURES', 'channels': ['l2_book', 'trades', 'ticker']}",
        f"wss://fstream.binance.com/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms <-> {t0}",
        f'wss://fstream.binance.com/stream <- {t0:.6f}: {{"method": "SUBSCRIBE", "params": [], "id": 1}}',
        '%.6f: {"result":null,"id":1}' % (t0 + 0.001),
    ]
    rest = []
    msgs: list[tuple[float, str]] = []  # (receive time, line): the capture is written in receive order
    chains = {"BTCUSDT": (1000, 61800.0), "ETHUSDT": (5000, 2600.0)}
    for k, (sym, (base, px)) in enumerate(chains.items()):
        # ids jump between events (real USD-M ids are not contiguous); the snapshot lands inside event 2
        events = [(base, base + 7, base - 3), (base + 12, base + 20, base + 7), (base + 31, base + 40, base + 20)]
        for i, (U, u, pu) in enumerate(events):
            d = _diff(sym, 1_723_161_256_000 + 100 * i, U, u, pu, b=[(f"{px - 0.1 * i:.1f}", "1.5")],
                      a=[(f"{px + 0.1 + 0.1 * i:.1f}", "2")])
            ts = t0 + 0.1 * i + 0.01 * k
            msgs.append((ts, "{:.6f}: {}".format(ts, json.dumps({"stream": f"{sym.lower()}@depth@100ms", "data": d}))))
        ts = t0 + 0.35 + 0.01 * k
        msgs.append((ts, "{:.6f}: {}".format(ts, json.dumps({"stream": f"{sym.lower()}@trade", "data": {
            "e": "trade", "E": 1_723_161_256_350, "T": 1_723_161_256_350, "s": sym, "t": 1, "p": f"{px:.1f}",
            "q": "0.010", "X": "MARKET", "m": False}}))))
        snap = {"lastUpdateId": base + 15, "E": 1_723_161_256_120, "T": 1_723_161_256_119,
                "bids": [[f"{px:.1f}", "3"], [f"{px - 1:.1f}", "4"]], "asks": [[f"{px + 0.1:.1f}", "5"]]}
        rest.append(f"https://fapi.binance.com/fapi/v1/depth?symbol={sym}&limit=1000 -> {t0 + 0.15 + 0.01 * k:.6f}: "
                    + json.dumps(snap))
    ws += [line for _, line in sorted(msgs)]
    rest.append(f"https://fapi.binance.com/fapi/v1/exchangeInfo -> {t0:.6f}: " + json.dumps({"symbols": []}))
    (project / "ws.0").write_text("\n".join(ws) + "\n")
    (project / "rest.0").write_text("\n".join(rest) + "\n")
    out = project / "cf.jsonl"
    r = invoke("import", "--format", "cryptofeed", str(project / "ws.0"), str(project / "rest.0"), "--out", str(out),
               "--json")
    assert r.exit_code == 0, r.output
    rep = strict_json(r.output)
    assert rep["warnings"] == [] and rep["skipped"] == {"not market data (e.g. a subscription answer)": 1,
                                                        "REST /fapi/v1/exchangeInfo": 1}
    assert rep["records"] == 10 and rep["snapshots"] == 2 and sorted(rep["symbols"]) == ["BTCUSDT", "ETHUSDT"]
    times = [orjson.loads(x)["recv_ts_ns"] for x in out.read_bytes().splitlines()]
    assert times == sorted(times) and times[0] == 1_723_161_255_000_000_000  # exact ns, merged in order
    r = invoke("replay", str(out), "--fast", "--json")
    assert r.exit_code == 0, r.output
    stats = strict_json(r.output)
    for sym in chains:
        s = stats["sync"][sym]
        assert s["synced"] == 1 and s["gaps"] == 0 and s["applied"] == 2 and s["dropped"] == 1, (sym, s)
        assert stats["symbols"][sym]["trades"] == 1
        assert stats["symbols"][sym]["bid"] is None  # no bookTicker in this file: null, never NaN


def test_import_errors_name_file_and_line_and_implausible_times_warn(project: Path) -> None:
    src = project / "h.txt"
    src.write_text('1723161255030314667 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":1,"s":"BTCUSDT",'
                   '"b":"1","B":"1","a":"2","A":"1","T":1,"E":1}}\nthis is not a record\n')
    r = invoke("import", "--format", "hftbacktest", str(src), "--out", str(project / "o.jsonl"))
    assert r.exit_code == 2 and f"{src}:2" in r.output and "Traceback" not in r.output
    assert not (project / "o.jsonl").exists()  # nothing half-written
    src.write_text('1723161255030 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":1,"s":"BTCUSDT",'
                   '"b":"1","B":"1","a":"2","A":"1","T":1,"E":1}}\n1723161255031 {"torn\n')
    r = invoke("import", "--format", "hftbacktest", str(src), "--out", str(project / "o.jsonl"))
    assert r.exit_code == 2 and f"{src}:2" in r.output and "not JSON" in r.output
    src.write_text('1723161255030 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":1,"s":"BTCUSDT",'
                   '"b":"1","B":"1","a":"2","A":"1","T":1,"E":1}}\n')
    r = invoke("import", "--format", "hftbacktest", str(src), "--out", str(project / "o.jsonl"), "--json")
    assert r.exit_code == 0, r.output
    assert "milliseconds" in strict_json(r.output)["warnings"][0]
    r = invoke("replay", str(project / "o.jsonl"), "--fast")
    assert r.exit_code == 0 and "not in nanoseconds" in r.output
    r = invoke("import", "--format", "kraken", str(src), "--out", str(project / "x.jsonl"))
    assert r.exit_code == 2 and "--format" in r.output
    r = invoke("import", "--format", "cryptofeed", str(project / "missing.0"), "--out", str(project / "x.jsonl"))
    assert r.exit_code == 2 and "missing.0" in r.output


def test_the_five_line_chain_replays_synced(project: Path) -> None:
    lines = [{"lastUpdateId": 100, "E": 1000, "T": 1000, "bids": [["10.0", "1"]], "asks": [["10.2", "1"]]}]
    for i, (U, u, pu) in enumerate([(90, 100, 85), (105, 110, 100), (113, 118, 110), (125, 131, 118)]):
        lines.append({"stream": "solusdt@depth@100ms", "data": _diff("SOLUSDT", 1001 + i, U, u, pu,
                                                                       b=[(f"10.{i}", "2")])})
    path = project / "five.jsonl"
    path.write_text("".join(json.dumps({"recv_ts_ns": 1_723_161_255_000_000_000 + i, **x}) + "\n"
                            for i, x in enumerate(lines)))
    r = invoke("replay", str(path), "--fast", "--json")
    assert r.exit_code == 0, r.output
    sync = strict_json(r.output)["sync"]["SOLUSDT"]
    assert sync["synced"] == 1 and sync["applied"] == 4 and sync["gaps"] == 0
