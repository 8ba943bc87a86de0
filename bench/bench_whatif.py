"""``whatif`` re-decide throughput (target ≥ 50k recorded checks/s on one core) and bytes per decision.

A session is recorded by a real gate (``GateService`` on the request clock, as a replay runs it): 50k
checks of ``bench_gate_decide``'s realistic requests 50 ms apart (a busy runner: four symbols, 5 checks
a second each; prices on the tick, L2 volumes, 20 SPRT samples), every 10th allowed order placed and
filled (SUBMIT, ACK, FILL), so the replay carries positions, reservations and the kill-switch windows as
the gate did. Then, side by side in this process, interleaved, best of three rounds each:

* **reference** — the plain in-process ``Pipeline.decide`` of the same requests at the same gate clock
  (no state: the issue's reference, what deciding them costs at all);
* **gate core** — the gate's own in-memory path for the same session: ``decide`` and the state records
  it journals (:class:`GateState` over an in-memory journal: reservations, throttles, kill-switch
  samples, the lifecycle events), no I/O — what any replay that carries the state has to do;
* **whatif, own config** — ``aurora.whatif.replay`` of the recorded items under an empty candidate (it
  must flip nothing: checked), state records applied and every decision compared;
* **whatif, candidate** — the same under ``guards.spread_bps_limit: 2`` (many flips, attributed).

Parsing the log (``load_session``: JSON → items and requests) is reported apart, per record. Bytes per
decision: the mean ``POLICY_DECISION`` line, and how much of it is the replay input (``details.req``,
``gate_ns``, ``details.config_version``), measured by writing each record again without those fields.
"""

from __future__ import annotations

import gc
import tempfile
import time
from pathlib import Path

import orjson

from aurora.config.loader import LoadedAurora
from aurora.config.models import AuroraConfig
from aurora.gate.decision_record import decision_state_record, order_state_record
from aurora.gate.gate_service import GateService
from aurora.gate.gate_state import GateState
from aurora.gate.pipeline import Pipeline
from aurora.orders.fsm import short_name
from aurora.whatif.replay import DEC, ORD, MemoryJournal, load_session, replay
from bench.bench_gate_decide import BENCH_CALIBRATION, make_requests

N = 50_000
START_NS = 1_795_251_600_000_000_000
STEP_NS = 50_000_000
TARGET = 50_000.0


def bench_config() -> AuroraConfig:
    data = AuroraConfig().model_dump()
    data["sprt"].update(enabled=True)
    data["risk"].update(max_orders_per_sec=1e9, max_orders_per_sec_per_symbol=1e9, max_concurrent=100)
    data["killswitch"].update(max_denied_rate_pct=100.0)
    cal = Path(tempfile.gettempdir()) / "aurora-bench-whatif-calibration.json"
    BENCH_CALIBRATION.save(cal)
    data["calibration"].update(path=str(cal))
    return AuroraConfig.model_validate(data)


def record(session: Path, cfg: AuroraConfig) -> dict[str, int]:
    svc = GateService(LoadedAurora(config=cfg, layers=[], history={}, mode="development"), session, run_id="bench",
                      state_dir=session / ".state", fresh_state=True, clock="request")  # fmt: skip
    svc.startup_events()
    allowed = fills = 0
    for i, r in enumerate(make_requests(N, seed=3)):
        t = START_NS + i * STEP_NS
        r.ts_ns = t
        dec = svc.check(r)
        if dec.allow:
            allowed += 1
            if allowed % 10 == 0:
                fills += 1
                base = {"cid": r.cid, "symbol": r.symbol, "side": r.side, "account": r.account_id}
                svc.posttrade({"event_code": "ORDER.SUBMIT", "ts_ns": t + 1_000_000, **base, "qty": dec.max_qty,
                               "details": {"price": r.price}})  # fmt: skip
                svc.posttrade({"event_code": "ORDER.ACK", "ts_ns": t + 2_000_000, "cid": r.cid, "details": {}})
                svc.posttrade({"event_code": "ORDER.FILL", "ts_ns": t + 3_000_000, "cid": r.cid,
                               "details": {"fill_qty": dec.max_qty, "cum_qty": dec.max_qty, "fill_price": r.price,
                                           "trade_id": f"t{i}"}})  # fmt: skip
    svc.close()
    return {"checks": N, "allowed": allowed, "filled_orders": fills}


def bytes_per_decision(session: Path) -> dict[str, float]:
    total = replay_part = n = 0
    for line in (session / "aurora_events.jsonl").read_bytes().splitlines():
        if b'"POLICY_DECISION"' not in line:
            continue
        rec = orjson.loads(line)
        if rec["event_code"] != "POLICY_DECISION":
            continue
        n += 1
        total += len(line) + 1
        for k in ("req", "config_version"):
            rec["details"].pop(k, None)
        rec.pop("gate_ns", None)
        replay_part += len(line) + 1 - len(orjson.dumps(rec)) - 1
    return {"policy_decision_bytes": round(total / n, 1), "of_which_replay_input_bytes": round(replay_part / n, 1)}


def _timed(fn) -> float:  # noqa: ANN001
    gc.collect()
    gc.freeze()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.unfreeze()


def run() -> dict:
    cfg = bench_config()
    with tempfile.TemporaryDirectory(prefix="aurora-bench-whatif-") as tmp:
        root = Path(tmp)
        session = root / "session"
        t0 = time.perf_counter()
        recorded = record(session, cfg)
        record_s = time.perf_counter() - t0
        size = bytes_per_decision(session)
        t0 = time.perf_counter()
        items, report = load_session(session)
        parse_s = time.perf_counter() - t0
        decisions = [(it[2], it[1]["gate_ns"]) for it in items if it[0] == DEC]
        same, tighter = root / "same.yaml", root / "tighter.yaml"
        same.write_text("")
        tighter.write_text("guards:\n  spread_bps_limit: 2\n")

        def reference() -> None:
            p = Pipeline(cfg, BENCH_CALIBRATION)
            for r, now in decisions:
                p.decide(r, now)

        def gate_core() -> None:
            p = Pipeline(cfg, BENCH_CALIBRATION)
            st = GateState(p, MemoryJournal())  # type: ignore[arg-type]
            for it in items:
                if it[0] == DEC:
                    r, now = it[2], it[1]["gate_ns"]
                    dec = p.decide(r, now)
                    rec = decision_state_record(r, dec.allow, dec.reason, dec.max_qty, dec.risk_reducing, now,
                                                p.risk.reservation_ns, not dec.allow and p.kill_switch.counts(dec.reason))
                    if rec is not None:
                        st.commit(rec)
                elif it[0] == ORD:
                    ev = it[1]
                    st.commit(order_state_record(ev, short_name(ev["event_code"]), ev["gate_ns"], p.risk.equity_default))

        results: dict[str, object] = {}

        def whatif(path: Path, name: str):  # noqa: ANN202
            def go() -> None:
                results[name] = replay(items, [path], root=root).to_dict()
            return go

        ref_s, core_s, own_s, cand_s = [], [], [], []
        for _ in range(3):  # interleaved rounds: the same load on the machine for each
            ref_s.append(_timed(reference))
            core_s.append(_timed(gate_core))
            own_s.append(_timed(whatif(same, "own")))
            cand_s.append(_timed(whatif(tighter, "candidate")))
    n = len(decisions)
    own, cand = results["own"], results["candidate"]
    assert isinstance(own, dict) and isinstance(cand, dict)
    ref_rate, core_rate, own_rate, cand_rate = n / min(ref_s), n / min(core_s), n / min(own_s), n / min(cand_s)
    return {
        "recorded": {**recorded, "record_s": round(record_s, 2), "records": report.to_dict()["records"]},
        "decisions": n,
        "parse": {"s": round(parse_s, 3), "records_per_s": round(report.to_dict()["records"] / parse_s)},
        "reference_decide_per_s": round(ref_rate),
        "gate_core_per_s": round(core_rate),
        "whatif_own_config_per_s": round(own_rate),
        "whatif_candidate_per_s": round(cand_rate),
        "ratio_own_to_reference": round(own_rate / ref_rate, 3),
        "ratio_candidate_to_reference": round(cand_rate / ref_rate, 3),
        "ratio_own_to_gate_core": round(own_rate / core_rate, 3),
        "own_config_flips": own["flips"]["total"],
        "candidate_flips": cand["flips"]["total"],
        **size,
        "target_checks_per_s": TARGET,
        "meets_target": own_rate >= TARGET and cand_rate >= TARGET,
        "table": [
            {"what": "Pipeline.decide of the recorded requests (reference)", "checks_per_s": round(ref_rate),
             "ratio": 1.0},
            {"what": "gate core: decide + its state records, in memory", "checks_per_s": round(core_rate),
             "ratio": round(core_rate / ref_rate, 3)},
            {"what": "whatif replay, own config (state applied, compared)", "checks_per_s": round(own_rate),
             "ratio": round(own_rate / ref_rate, 3), "flips": own["flips"]["total"]},
            {"what": "whatif replay, guards.spread_bps_limit 2", "checks_per_s": round(cand_rate),
             "ratio": round(cand_rate / ref_rate, 3), "flips": cand["flips"]["total"]},
            {"what": "load_session (parse JSON into items)", "records_per_s": round(report.to_dict()["records"] / parse_s)},
            {"what": "POLICY_DECISION bytes (mean)", **size},
        ],
    }
