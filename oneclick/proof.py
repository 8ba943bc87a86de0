"""The one-click proof: ``artifacts/full_e2e_proof.json`` (and a copy in the session dir).

It shows that the whole pipeline ran end to end — which processes ran and how they ended, the config
in force (versions/checksums, never secrets), the last XAI events per stage, one order traced through
MODEL → allowed POLICY_DECISION → ORDER.*, counts and SLIs, and where the session's summary and audit
are — and what went wrong on the way (``incidents``: gate outages and hangs, unanswered checks,
restarts, SIGKILLs, positions left open, books not synced; ``failures``: every reason ``ok`` is false).
Its JSON Schema ships beside this module (``proof.schema.json``).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from aurora.config.loader import Loaded
from aurora.session.reader import ReadReport, SessionReadError, iter_records
from oneclick.preflight import Check, Plan
from oneclick.session_tally import XAI_STAGES, SessionTally
from oneclick.tuner_tally import not_enabled

SCHEMA_ID = "aurora.oneclick.proof/1"  # a format name, stable across the package move
SCHEMA_PATH = Path(__file__).with_name("proof.schema.json")
PROOF_NAME = "full_e2e_proof.json"


def load_proof_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_proof(proof: dict[str, Any]) -> list[str]:
    """Schema violations as ``path: message`` lines (empty when valid)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(load_proof_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
        for err in sorted(validator.iter_errors(proof), key=lambda e: list(e.absolute_path))
    ]


def read_session_tally(
    session_dir: Path, *, cvar_alpha: float, tail_n: int = 5
) -> tuple[SessionTally, dict[str, Any]]:
    """A tally of every event of the session, read by the session reader (rotated ``.gz`` parts
    included; torn, corrupt and off-clock lines counted with file:line and skipped)."""
    tally = SessionTally(tail_n=tail_n, cvar_alpha=cvar_alpha)
    report = ReadReport(session=str(session_dir))
    errors: list[str] = []
    try:
        tally.add_many(iter_records(session_dir, report))
    except SessionReadError as exc:
        errors.append(str(exc))
    except OSError as exc:
        errors.append(f"{session_dir}: {exc.strerror or exc}")
    errors += [f"{c['file']}:{c['line']}: {c['error']}" for c in report.corrupt + report.off_clock]
    return tally, {
        "files": len(report.files),
        "records": sum(f.records for f in report.files),
        "torn": report.torn_count,
        "corrupt_lines": report.corrupt_count,
        "off_clock_records": report.off_clock_count,
        "truncated_gzip": report.truncated_gzip,
        "errors": errors,
    }


def _layers(loaded: Loaded[Any]) -> list[dict[str, Any]]:
    return [
        {
            k: v
            for k, v in layer.to_dict().items()
            if k in ("name", "kind", "status", "path", "sha256", "note")
        }
        for layer in loaded.layers
    ]


def overlay_active(plan: Plan) -> dict[str, Any]:
    """The strategy settings in force, in the shape of the seed's ``overlay_active``."""
    cfg = plan.runner.config
    return {
        "symbols": [s.symbol for s in cfg.symbols],
        "parents": {s.symbol: s.parent for s in cfg.symbols if s.parent},
        "groups": plan.groups,
        "venue": cfg.runner.mode,
        "feed": cfg.feed.source,
        "parent_gate": cfg.parent_gate.model_dump(),
        "enr_threshold_bps": cfg.strategy.enr_threshold_bps,
        "score_threshold": cfg.strategy.score_threshold,
        "tp_bps": cfg.strategy.tp_bps,
        "sl_bps": cfg.strategy.sl_bps,
        "profile_files": [
            layer.path
            for layer in plan.runner.layers
            if layer.name in ("profile", "overlay") and layer.status == "loaded"
        ],
    }


def config_section(plan: Plan, gate_reported: str | None) -> dict[str, Any]:
    return {
        "gate": {
            "mode": plan.mode,
            "version": plan.gate.version,
            "checksum": plan.gate.checksum,
            "layers": _layers(plan.gate),
            "reported_by_gate": gate_reported,
            "version_match": None if gate_reported is None else gate_reported == plan.gate.version,
            "effective": plan.gate.effective(),
        },
        "runner": {
            "version": plan.runner.version,
            "checksum": plan.runner.checksum,
            "layers": _layers(plan.runner),
            "overlay_active": overlay_active(plan),
            "effective": plan.runner.effective(),
        },
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))


def build_proof(
    *,
    plan: Plan,
    run_id: str,
    session_dir: Path,
    preflight: list[Check],
    processes: dict[str, Any],
    tally: SessionTally,
    log_read: dict[str, Any],
    reports: dict[str, Any],
    slis: dict[str, Any] | None,
    sli_source: str,
    counts: dict[str, Any] | None = None,
    gate_reported_version: str | None,
    timing: dict[str, Any],
    ended_at: float,
    interrupted: bool,
    interrupt_signal: str | None,
    failures: list[str],
    incidents: dict[str, Any],
    runners: list[dict[str, Any]],
    optuna: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``ok`` when the chain completed and nothing in ``failures``; ``failure`` is the first of them."""
    chain = tally.chain()
    without_allow = tally.orders_without_allow()
    # one source for every SLI: the summary's when there is one, else (and then said so) one-click's tally
    sli = dict(slis) if slis else dict(tally.slis())
    sli["source"] = sli_source
    # the counts likewise: the summary's and the audit's (one walk of the orders), else the tally's
    if counts:
        counted = {**counts, "records": tally.records, "xai_events": tally.counts()["xai_events"],
                   "source": "aurora.analytics summary and lifecycle audit (records, xai_events: one-click)"}
    else:
        counted = {**tally.counts(), "source": "one-click (full read of the session logs)"}
    ok = chain is not None and not without_allow and not failures
    proof = {
        "schema": SCHEMA_ID,
        "who": "auroractl one-click",
        "ts": _iso(ended_at),
        "run_id": run_id,
        "ok": ok,
        "exit_code": 0,  # set by the caller once known
        "interrupted": interrupted,
        "interrupt_signal": interrupt_signal,
        "failure": failures[0] if failures else None,
        "failures": list(failures),
        "mode": plan.mode,
        "venue": plan.venue,
        "feed": plan.feed,
        "session_dir": str(session_dir),
        "timing": timing,
        "incidents": incidents,
        "runners": runners,
        "processes": processes,
        "config": config_section(plan, gate_reported_version),
        "tokens": {"generated": list(plan.tokens_generated)},
        "xai_tail": {stage: list(tally.xai_tail[stage]) for stage in XAI_STAGES},
        "chain": {
            "complete": chain is not None,
            "evidence": chain.to_dict() if chain else None,
            "orders_without_allow": len(without_allow),
            "orders_without_allow_sample": without_allow[:10],
        },
        "counts": counted,
        "sli": sli,
        "reports": reports,
        "preflight": [c.to_dict() for c in preflight],
        "log_read": log_read,
        # the live tuner (one-click --tune): heartbeats, the parameter tail; "not enabled" without it
        "optuna": optuna if optuna is not None else not_enabled(),
    }
    return _jsonable(proof)


def fallback_proof(
    *, run_id: str, plan: Plan, session_dir: Path, started_at: float, ended_at: float, interrupted: bool,
    failures: list[str],
) -> dict[str, Any]:  # fmt: skip
    """The proof when building the real one failed (a bug): what is known for sure, ``ok`` false."""
    return _jsonable({
        "schema": SCHEMA_ID, "who": "auroractl one-click", "ts": _iso(ended_at), "run_id": run_id,
        "ok": False, "exit_code": 1, "interrupted": interrupted, "interrupt_signal": None,
        "failure": failures[0], "failures": failures, "mode": plan.mode, "venue": plan.venue, "feed": plan.feed,
        "session_dir": str(session_dir),
        "timing": {"started_at": _iso(started_at), "ended_at": _iso(ended_at), "planned_s": 0.0,
                   "elapsed_s": round(max(0.0, ended_at - started_at), 3)},
        "incidents": {}, "runners": [],
        "processes": {"gate": None, "runners": [], "oneclick_pid": os.getpid()},
        "optuna": {**not_enabled(), "note": "unknown: the proof could not be built"},
        "config": {"gate": {}, "runner": {}}, "tokens": {"generated": list(plan.tokens_generated)},
        "xai_tail": {stage: [] for stage in XAI_STAGES},
        "chain": {"complete": False, "evidence": None, "orders_without_allow": 0},
        "counts": {}, "sli": {"source": "none: the proof could not be built"},
        "reports": {"summary": None, "audit": None}, "preflight": [],
    })  # fmt: skip


def write_proof(proof: dict[str, Any], paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Write the proof atomically (temp file + rename) to each path; a path that fails (disk full, not a
    directory) is reported as ``path: error`` and the others are still written. No partial file is left."""
    blob = orjson.dumps(proof, option=orjson.OPT_INDENT_2) + b"\n"
    written: list[Path] = []
    errors: list[str] = []
    for path in paths:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(blob)
            os.replace(tmp, path)
            written.append(path)
        except OSError as exc:
            errors.append(f"{path}: {exc.strerror or exc}")
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
    return written, errors
