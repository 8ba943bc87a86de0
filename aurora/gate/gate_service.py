"""The gate's stateful core, independent of HTTP: pipeline + events + order logs + metrics + ops.

``GateService.check`` wraps ``Pipeline.decide`` with everything a decision owes the operator: the
``POLICY_DECISION`` and ``GOVERNANCE.ALLOW|DENY`` events, the ``orders_denied``/``orders`` records for
a deny, and the metrics — each record written whole before it returns. ``posttrade`` is the system of
record for the order lifecycle (SPEC §4, §9). Every method is called from the server's event loop,
so state changes (including a config reload) are atomic with respect to requests.
"""

from __future__ import annotations

import hmac
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aurora.calibration import CalibrationMap
from aurora.config.errors import ConfigError
from aurora.config.loader import LoadedAurora
from aurora.events.codes import EventCode
from aurora.events.logger import EventLogger
from aurora.gate.ack_tracker import AckTracker
from aurora.gate.guard import CheckRequest, Decision, Reason
from aurora.gate.health_guard import HEALTH_LEVEL
from aurora.gate.pipeline import Pipeline
from aurora.metrics import GateMetrics
from aurora.orders.fsm import short_name
from aurora.orders.order_log import STREAM_OF_EVENT, OrderLogs

_MB = 1024 * 1024
_perf = time.perf_counter
_POLICY_DECISION = EventCode.POLICY_DECISION.value
_GOV_ALLOW = EventCode.GOVERNANCE_ALLOW.value
_GOV_DENY = EventCode.GOVERNANCE_DENY.value
#: Venue responses that end the AckTracker's wait for an order (a CANCEL.REQUEST is the runner's own
#: action, not an answer from the venue, so it does not).
_ACK_CLEARING = frozenset({"ACK", "REJECT", "PARTIAL", "FILL", "CANCEL.ACK", "EXPIRE"})


def load_calibration(loaded: LoadedAurora) -> CalibrationMap:
    path = loaded.config.calibration.path
    if path is None:
        cmap = CalibrationMap.load()
    else:
        p = Path(path)
        cmap = CalibrationMap.load(p if p.is_absolute() else loaded.root / p)
    cmap.min_points = loaded.config.calibration.min_points
    return cmap


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


class TokenStore:
    """The live API/OPS tokens (rotation replaces them in memory; the old one fails at once)."""

    def __init__(self, api: str | None, ops: str | None) -> None:
        self.api = api
        self.ops = ops

    @staticmethod
    def matches(expected: str | None, given: str | None) -> bool:
        if expected is None or given is None:
            return False
        return hmac.compare_digest(expected.encode(), given.encode())


class GateService:
    def __init__(
        self,
        loaded: LoadedAurora,
        session_dir: Path | str,
        *,
        run_id: str | None = None,
        metrics: GateMetrics | None = None,
        clock_mono_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.loaded = loaded
        self.cfg = loaded.config
        self.session_dir = Path(session_dir)
        self.metrics = metrics or GateMetrics()
        self.mono = clock_mono_ns
        self.started_mono = clock_mono_ns()
        log = self.cfg.logging
        max_bytes = int(log.rotate_max_mb * _MB)
        self.events = EventLogger(
            self.session_dir, run_id, max_bytes=max_bytes, retention_days=log.retention_days,
            listener=self.metrics.events_emitted.inc,  # the counter itself: one call per event, not two
        )  # fmt: skip
        self.run_id = self.events.run_id
        self.orders = OrderLogs(self.session_dir, self.run_id, max_bytes=max_bytes, retention_days=log.retention_days)
        self.calibration = load_calibration(loaded)
        # Production starts disarmed: live trading needs an explicit arm (SPEC §3).
        self.pipeline = Pipeline(self.cfg, self.calibration, emit=self.emit, armed=loaded.mode != "production")
        self.pipeline.on_guard_error = self._on_guard_error
        self.pipeline.health.on_change = lambda s: self.refresh_gauges()
        self.pipeline.kill_switch.on_change = lambda a: self.refresh_gauges()
        self.ack = AckTracker(self.cfg.observability.ack.ttl_s)
        self.tokens = TokenStore(_secret(self.cfg.security.api_token), _secret(self.cfg.security.ops_token))
        self._config_tokens = (self.tokens.api, self.tokens.ops)
        self.order_info: OrderedDict[str, dict[str, Any]] = OrderedDict()  # cid -> SUBMIT facts (bounded)
        self._seen_posts: OrderedDict[tuple, None] = OrderedDict()  # exact re-posts are idempotent
        self.reload_error: str | None = None
        self.closed = False
        self._pending: list[dict[str, Any]] | None = None  # events raised inside the current decision
        self.refresh_gauges()

    # -- plumbing ---------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.loaded.mode

    @property
    def version(self) -> str:
        return self.loaded.version

    def emit(self, code: str, details: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        pending = self._pending
        if pending is not None:  # raised during a decision: written with its POLICY_DECISION, one os.write
            rec = self.events.record(code, details, **fields)
            pending.append(rec)
            return rec
        return self.events.emit(code, details, **fields)

    def refresh_gauges(self) -> None:
        p = self.pipeline
        m = self.metrics
        m.armed.set(1 if p.armed else 0)
        m.halted.set(1 if p.halted else 0)
        m.health_state.set(HEALTH_LEVEL[p.health.state])
        m.kill_switch.set(1 if p.kill_switch.active else 0)

    def report_error(self, where: str, exc: BaseException) -> None:
        """Count and log an error that made the gate deny (``GUARD_ERROR``)."""
        self._on_guard_error(where, exc)

    def _on_guard_error(self, guard: str, exc: BaseException) -> None:
        self.metrics.guard_errors.labels(guard).inc()
        self.emit(EventCode.AURORA_GUARD_ERROR, {"guard": guard, "error": type(exc).__name__, "message": str(exc)[:200]})

    def startup_events(self) -> None:
        """Emit what the loader asked for (e.g. ``OPS.TOKEN.ALIAS_USED``) and the arm state."""
        self.emit(
            EventCode.AURORA_START,
            {"mode": self.mode, "config_version": self.version, "pid": os.getpid(), "session_dir": str(self.session_dir)},
        )
        for code, details in self.loaded.events:
            self.emit(code, dict(details))
        self.emit(
            EventCode.AURORA_ARM_STATE,
            {"armed": self.pipeline.armed, "mode": self.mode, "config_version": self.version, "source": "startup"},
        )

    # -- decisions --------------------------------------------------------------------------------
    def check(self, r: CheckRequest) -> Decision:
        t0 = _perf()
        self._pending = pending = []
        try:
            dec = self.pipeline.decide(r, self.mono())
        except Exception as exc:  # noqa: BLE001 - fail closed: never a 500
            self._on_guard_error("pipeline", exc)
            dec = Decision(False, Reason.GUARD_ERROR, 0.0, 0.0, 0.0, {"pipeline": {"error": type(exc).__name__}},
                           (_perf() - t0) * 1e6, False, "pipeline")  # fmt: skip
        finally:
            self._pending = None
        self.record_decision(r, dec, pending)
        self.metrics.decision(dec.allow, dec.reason, _perf() - t0)
        return dec

    def record_decision(self, r: CheckRequest, dec: Decision, pending: list[dict[str, Any]] | None = None) -> None:
        """Write what a decision owes, before the response: its events (the ones guards raised while it
        ran, ``POLICY_DECISION``, ``GOVERNANCE.*``) in one ``os.write``, and for a deny its order-log record.

        The records are built as literals in the logger's canonical shape (no generic field loop): this
        runs once per request on the gate's hot path.
        """
        allow = dec.allow
        reason = dec.reason
        obs = dec.observability
        details: dict[str, Any] = {
            "allow": allow, "reason": reason, "max_qty": dec.max_qty, "risk_scale": dec.risk_scale,
            "decision_us": dec.decision_us, "reduce_only": r.reduce_only,
            # the market inputs the session summary judges its gates on (p95 of spread, vol, latency)
            "spread_bps": r.spread_bps, "vol_std_bps": r.vol_std_bps, "latency_ms": r.latency_ms, "score": r.score,
        }  # fmt: skip
        er = obs.get("expected_return")
        if er is not None:
            p_win = er.get("p_win")
            if p_win is not None:  # computed unless skipped (exit) or not reached
                details["p_win"] = p_win
                details["e_pi_bps"] = er["e_pi_bps"]
        why = None
        if not allow:
            why = obs.get(dec.guard or "", {})
            details["guard"] = dec.guard
            details["why"] = why
        ts = time.time_ns()
        run_id = self.run_id
        cid = r.cid
        symbol = r.symbol
        decision = {"ts_ns": ts, "run_id": run_id, "event_code": _POLICY_DECISION, "details": details,
                    "symbol": symbol, "side": r.side, "qty": r.qty}  # fmt: skip
        governance = {"ts_ns": ts, "run_id": run_id, "event_code": _GOV_ALLOW if allow else _GOV_DENY,
                      "details": {"reason": reason}, "symbol": symbol}  # fmt: skip
        if cid is not None:
            decision["cid"] = cid
            governance["cid"] = cid
        if pending:
            pending.append(decision)
            pending.append(governance)
            self.events.write_records(pending)
        else:
            self.events.write_records([decision, governance])
        if not allow:
            self.orders.write(
                "denied",
                ts_ns=ts,
                cid=cid,
                symbol=symbol,
                side=r.side,
                qty=r.qty,
                price=r.price,
                event_code=_POLICY_DECISION,
                reason=reason,
                details={"guard": dec.guard, "why": why},
            )

    # -- post-trade -------------------------------------------------------------------------------
    def posttrade(self, ev: dict[str, Any]) -> dict[str, Any]:
        """Apply one lifecycle event (already validated): log it, feed risk, kill-switch and AckTracker."""
        code: str = ev["event_code"]
        short = short_name(code)
        cid: str = ev["cid"]
        details: dict[str, Any] = ev.get("details") or {}
        key = (cid, code, ev["ts_ns"], details.get("trade_id"), details.get("cum_qty"))
        if key in self._seen_posts:
            return {"ok": True, "duplicate": True}
        self._seen_posts[key] = None
        if len(self._seen_posts) > 200_000:
            self._seen_posts.popitem(last=False)

        fields = {k: ev.get(k) for k in ("cid", "oid", "symbol", "side", "qty")}
        self.emit(code, details, ts_ns=ev["ts_ns"], **fields)
        if short == "SUBMIT":
            info = {k: v for k, v in fields.items() if v is not None and k != "cid"}
            if details.get("price") is not None:
                info["price"] = details["price"]
            self.order_info[cid] = info
            if len(self.order_info) > 100_000:
                self.order_info.popitem(last=False)
            self.ack.submit(cid, self.mono(), ev["ts_ns"], info)
        elif short in _ACK_CLEARING:
            pending = self.ack.clear(cid)
            if pending is not None:
                if short == "ACK":
                    self.metrics.submit_ack_seconds.observe(max(0.0, (ev["ts_ns"] - pending.submit_ts_ns) / 1e9))
                self.pipeline.kill_switch.record_outcome(short == "REJECT")
            elif short == "REJECT":
                self.pipeline.kill_switch.record_outcome(True)

        update = self.pipeline.risk.on_order_event(short, cid, ev)
        if update is not None:
            self.emit(EventCode.RISK_UPDATE, update)

        stream = STREAM_OF_EVENT.get(code)
        if stream is not None:
            info = self.order_info.get(cid, {})
            self.orders.write(
                stream,
                ts_ns=ev["ts_ns"],
                cid=cid,
                oid=ev.get("oid") or info.get("oid"),
                symbol=ev.get("symbol") or info.get("symbol"),
                side=ev.get("side") or info.get("side"),
                qty=ev.get("qty") or info.get("qty"),
                price=details.get("price", info.get("price")),
                event_code=code,
                reason=details.get("reason"),
                fill_qty=details.get("fill_qty"),
                fill_price=details.get("fill_price"),
                details=details or None,
            )
            if stream == "success":
                self.metrics.orders_success.inc()
            elif code == EventCode.ORDER_REJECT:
                self.metrics.orders_rejected.inc()
            else:
                self.metrics.orders_expired.inc()
        if short in ("FILL", "REJECT", "CANCEL.ACK", "EXPIRE"):
            self.order_info.pop(cid, None)
        return {"ok": True, "event_code": code}

    def expire_unacked(self) -> list[str]:
        """AckTracker scan: every order without a venue response past the TTL becomes ``ORDER.EXPIRE``."""
        out = []
        ttl_s = self.ack.ttl_ns / 1e9
        for po in self.ack.expired(self.mono()):
            latency_ms = (time.time_ns() - po.submit_ts_ns) / 1e6
            details = {"reason": "ACK_TIMEOUT", "ttl_s": ttl_s, "latency_ms": latency_ms, "source": "gate.ack_tracker"}
            ev = {"event_code": EventCode.ORDER_EXPIRE.value, "ts_ns": time.time_ns(), "cid": po.cid, "details": details}
            ev.update({k: po.info.get(k) for k in ("oid", "symbol", "side", "qty")})
            self.posttrade(ev)
            out.append(po.cid)
        return out

    # -- operator actions -------------------------------------------------------------------------
    def ops_cooloff(self, seconds: float) -> dict[str, Any]:
        self.pipeline.health.start_cooloff(seconds, self.mono(), source="ops")
        self.emit(EventCode.OPS_COOLOFF, {"seconds": seconds})
        self.refresh_gauges()
        return self.state()

    def ops_reset(self) -> dict[str, Any]:
        before = {"health": self.pipeline.health.state.value, "kill_switch": self.pipeline.kill_switch.active}
        self.pipeline.reset(self.mono())
        self.emit(EventCode.OPS_RESET, {"before": before})
        self.refresh_gauges()
        return self.state()

    def set_armed(self, armed: bool) -> dict[str, Any]:
        self.pipeline.armed = armed
        self.emit(EventCode.AURORA_ARM_STATE, {"armed": armed, "source": "ops"})
        self.refresh_gauges()
        return self.state()

    def rotate_token(self, new_token: str, target: str = "ops") -> None:
        if target == "api":
            self.tokens.api = new_token
        else:
            self.tokens.ops = new_token
        self.metrics.token_rotations.inc()
        self.emit(EventCode.OPS_TOKEN_ROTATE, {"target": target})  # never the token itself

    def reload(self, loader: Callable[[], LoadedAurora]) -> dict[str, Any]:
        """Validate the config from disk first; on success swap it in atomically; else keep the old."""
        try:
            new = loader()
            calibration = load_calibration(new)
        except ConfigError as exc:
            self.reload_error = str(exc)
            issues = [i.to_dict() for i in exc.issues]
            self.emit(EventCode.CONFIG_RELOAD_FAILED, {"error": str(exc), "issues": issues})
            return {"ok": False, "error": str(exc), "issues": issues, "config_version": self.version}
        except (OSError, ValueError) as exc:
            self.reload_error = str(exc)
            self.emit(EventCode.CONFIG_RELOAD_FAILED, {"error": str(exc)})
            return {"ok": False, "error": str(exc), "config_version": self.version}
        old_version = self.version
        self.loaded, self.cfg, self.calibration = new, new.config, calibration
        self.pipeline.configure(new.config)
        self.pipeline.set_calibration(calibration)
        self.ack.ttl_ns = int(new.config.observability.ack.ttl_s * 1e9)
        api, ops = _secret(new.config.security.api_token), _secret(new.config.security.ops_token)
        # A token changed in the config wins; an unchanged one keeps any runtime rotation.
        if api != self._config_tokens[0]:
            self.tokens.api = api
        if ops != self._config_tokens[1]:
            self.tokens.ops = ops
        self._config_tokens = (api, ops)
        self.reload_error = None
        files = [layer.path for layer in new.layers if layer.kind == "file" and layer.status == "loaded"]
        details = {
            "name": new.mode,
            "path": files[-1] if files else None,
            "files": files,
            "checksum": new.checksum,
            "config_version": new.version,
            "previous_version": old_version,
            "source": "ops.reload",
        }
        self.emit(EventCode.CONFIG_SWITCHED, details)
        self.emit(EventCode.OPS_RELOAD, {"config_version": new.version})
        return {"ok": True, **details}

    # -- status -----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        p = self.pipeline
        h = p.health
        return {
            "armed": p.armed,
            "halted": p.halted,
            "health_state": h.state.value,
            "p95_ms": h.p95_ms,
            "cooloffs": h.cooloffs,
            "cooloff_remaining_s": max(0.0, (h.cooloff_until_ns - self.mono()) / 1e9) if h.state == "COOL_OFF" else 0.0,
            "kill_switch": p.kill_switch.snapshot(),
        }

    def health(self) -> dict[str, Any]:
        st = self.state()
        status = "halted" if st["halted"] else ("degraded" if st["health_state"] != "OK" else "ok")
        return {
            "status": status,
            "config_version": self.version,
            "mode": self.mode,
            "armed": st["armed"],
            "halted": st["halted"],
            "health_state": st["health_state"],
            "kill_switch": st["kill_switch"]["active"],
            "uptime_s": round((self.mono() - self.started_mono) / 1e9, 3),
            "run_id": self.run_id,
        }

    def readiness(self) -> tuple[bool, list[str]]:
        reasons = []
        if self.pipeline.halted:
            reasons.append("halted")
        if self.reload_error is not None:
            reasons.append("config invalid (last reload failed)")
        if not self._log_dir_writable():
            reasons.append("log dir unwritable")
        if self.closed:
            reasons.append("shutting down")
        return not reasons, reasons

    def _log_dir_writable(self) -> bool:
        """A real write (``os.access`` says yes to root even on a read-only mount)."""
        probe = self.session_dir / ".ready-probe"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError:
            return False
        return True

    def status(self) -> dict[str, Any]:
        return {
            **self.health(),
            **self.state(),
            "risk": self.pipeline.risk.snapshot(),
            "pending_acks": len(self.ack),
            "session_dir": str(self.session_dir),
            "guard_errors": self.pipeline.guard_errors,
            "order_profile": self.cfg.pretrade.order_profile,
            "calibration": {"kind": self.calibration.kind, "knots": len(self.calibration.x)},
        }

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.emit(EventCode.AURORA_STOP, {"pending_acks": len(self.ack), "guard_errors": self.pipeline.guard_errors})
        self.events.close()
        self.orders.close()
