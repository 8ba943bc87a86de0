"""The gate's stateful core, independent of HTTP: pipeline + durable state + events + order logs + metrics.

``GateService.check`` wraps ``Pipeline.decide`` with everything a decision owes: its state change made
durable first (:mod:`aurora.gate.gate_state`), then the ``POLICY_DECISION`` and ``GOVERNANCE.*`` events
and, for a deny, the ``orders_denied``/``orders`` records, each written whole — and only then the
answer. A write that fails turns the answer into a ``GUARD_ERROR`` deny and the gate not ready: it
never allows what it could not record. ``posttrade`` is the system of record for the order lifecycle
(SPEC §4, §9). Every method is called from the server's event loop, so state changes (including a
config reload) are atomic with respect to requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aurora import native
from aurora.calibration import CalibrationMap
from aurora.config.errors import ConfigError
from aurora.config.loader import LoadedAurora
from aurora.config.provenance import provenance_map, sources_of
from aurora.events.codes import EventCode
from aurora.events.logger import EventLogger
from aurora.gate.clock import ClockMode, GateClock
from aurora.gate.decision_record import (
    GATE_NS,
    decision_state_record,
    judged_with,
    order_state_record,
    posttrade_key,
    req_of,
)
from aurora.gate.gate_state import GateState, token_hash
from aurora.gate.guard import CheckRequest, Decision, Reason
from aurora.gate.health_guard import HEALTH_LEVEL
from aurora.gate.pipeline import Pipeline
from aurora.gate.risk_book import DEFAULT_ACCOUNT
from aurora.gate.state_store import (
    StateCorrupt,
    StateError,
    StateJournal,
    StateWriteError,
    archive_state,
    dir_writable,
)
from aurora.gate.thresholds import observed
from aurora.gate.trading_state import TRADING_STATE_LEVEL
from aurora.instruments import InstrumentRegistry, configured_registry
from aurora.metrics import GateMetrics
from aurora.orders.fsm import short_name
from aurora.orders.order_log import STREAM_OF_EVENT, OrderLogs

_MB = 1024 * 1024
_perf = time.perf_counter
_POLICY_DECISION = EventCode.POLICY_DECISION.value
_GOV_ALLOW = EventCode.GOVERNANCE_ALLOW.value
_GOV_DENY = EventCode.GOVERNANCE_DENY.value
_GUARD_ERROR = Reason.GUARD_ERROR


class GateStartRefused(Exception):
    """The gate must not start with this configuration or state (message says why and what to do)."""


def default_state_dir(loaded: LoadedAurora) -> Path:
    configured = loaded.config.logging.state_dir
    if configured:
        p = Path(configured)
        return p if p.is_absolute() else loaded.root / p
    return loaded.root / ".aurora" / "state" / loaded.mode


def load_calibration(loaded: LoadedAurora) -> CalibrationMap:
    path = loaded.config.calibration.path
    if path is None:
        cmap = CalibrationMap.load()
    else:
        p = Path(path)
        cmap = CalibrationMap.load(p if p.is_absolute() else loaded.root / p)
    for m in (cmap, *cmap.per_symbol.values()):  # a symbol's own map (per_symbol) follows the same rule
        m.min_points = loaded.config.calibration.min_points
    return cmap


def load_instruments(loaded: LoadedAurora) -> InstrumentRegistry:
    """The registry of ``instruments.path``/``.venue`` (raises ``ConfigError`` naming the file or key)."""
    cfg = loaded.config.instruments
    return configured_registry(cfg.path, cfg.venue, loaded.root)


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


class TokenStore:
    """The live API/OPS/metrics tokens, held as SHA-256 digests (a rotated token is durable, and the state
    dir must never hold it in clear). Rotation replaces a digest; the old token fails at once.

    Hashing every request's token costs ~1 µs on the hot path, so the last token that matched a digest
    is remembered (in memory only) and compared in constant time first.
    """

    def __init__(self, api: str | None, ops: str | None, metrics: str | None = None) -> None:
        self.api = token_hash(api)
        self.ops = token_hash(ops)
        self.metrics = token_hash(metrics)
        self._accepted: dict[str, bytes] = {}  # digest -> the last token that matched it

    def matches(self, expected: str | None, given: str | None) -> bool:
        if expected is None or given is None:
            return False
        raw = given.encode()
        last = self._accepted.get(expected)
        if last is not None and hmac.compare_digest(last, raw):
            return True
        if hmac.compare_digest(expected, hashlib.sha256(raw).hexdigest()):
            self._accepted[expected] = raw
            return True
        return False


class GateService:
    def __init__(
        self,
        loaded: LoadedAurora,
        session_dir: Path | str,
        *,
        run_id: str | None = None,
        metrics: GateMetrics | None = None,
        state_dir: Path | str | None = None,
        fresh_state: bool = False,
        clock: ClockMode = "system",
        clock_mono_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.loaded = loaded
        self.cfg = loaded.config
        self._set_provenance(loaded)
        if loaded.mode != "development" and self.cfg.security.api_token is None \
                and not self.cfg.security.allow_anonymous_trading:  # fmt: skip
            raise GateStartRefused(
                f"security.api_token: not set in {loaded.mode} mode; without it anyone who reaches the port can "
                f"trade. Set AURORA_API_TOKEN (>= 16 chars), or security.allow_anonymous_trading: true to accept that."
            )
        self.session_dir = Path(session_dir)
        self.metrics = metrics or GateMetrics()
        self.mono = clock_mono_ns
        self.started_mono = clock_mono_ns()
        self.clock = GateClock(clock)
        log = self.cfg.logging
        max_bytes = int(log.rotate_max_mb * _MB)
        self.events = EventLogger(
            self.session_dir, run_id, max_bytes=max_bytes, retention_days=log.retention_days,
            listener=self.metrics.events_emitted.inc,  # the counter itself: one call per event, not two
        )  # fmt: skip
        self.run_id = self.events.run_id
        self.orders = OrderLogs(self.session_dir, self.run_id, max_bytes=max_bytes, retention_days=log.retention_days)
        self.calibration = load_calibration(loaded)
        try:
            self.instruments = load_instruments(loaded)
        except ConfigError as exc:
            raise GateStartRefused(f"{exc}. The gate judges every order against the instrument registry and "
                                   f"does not start without one it can read.") from None
        # Production starts disarmed: live trading needs an explicit arm (SPEC §3). A restored state wins.
        self.pipeline = Pipeline(self.cfg, self.calibration, emit=self.emit, armed=loaded.mode != "production",
                                 instruments=self.instruments)  # fmt: skip
        self.pipeline.on_guard_error = self._on_guard_error
        self.ack_ttl_ns = int(self.cfg.observability.ack.ttl_s * 1e9)
        sec = self.cfg.security
        self.tokens = TokenStore(_secret(sec.api_token), _secret(sec.ops_token), _secret(sec.metrics_token))
        self._config_tokens = (self.tokens.api, self.tokens.ops)
        self.order_info: OrderedDict[str, dict[str, Any]] = OrderedDict()  # cid -> SUBMIT facts (bounded)
        self._logged: dict[str, str] = {}  # posts written to the logs whose state commit failed: retry skips the log
        self.reload_error: str | None = None
        self.write_error: str | None = None  # the last failed record/state write, until a probe succeeds
        self.closed = False
        self._pending: list[dict[str, Any]] | None = None  # events raised inside the current decision
        self._startup: list[tuple[str, dict[str, Any]]] = []
        #: changes whenever the trading state may have changed: the journal number of the record that
        #: changed it, so it survives a restart and never repeats (a runner compares it for inequality)
        self.state_seq = 0
        self.state_changed = asyncio.Event()  # set (and replaced) on every state change: wakes long-polls
        #: wall time of the last move of ``state_seq`` in this process (None: none since start); runners
        #: measure their kill latency from it
        self.state_changed_ns: int | None = None
        self._open_state(Path(state_dir) if state_dir is not None else default_state_dir(loaded), fresh_state)
        self.pipeline.health.on_change = self._on_health_change
        self.state_seq = self.state.journal.n
        self.refresh_gauges()

    def _set_provenance(self, loaded: LoadedAurora) -> None:
        """Once per config load or reload: every key's value and where it was set (what a denial names), and
        the config version (a checksum of the effective config: computed here, not per decision)."""
        self.provenance = provenance_map(loaded.effective(), loaded.history)
        self._version = loaded.version

    def config_in_force(self) -> dict[str, Any]:
        """``CONFIG.EFFECTIVE``: the whole effective config (secrets redacted) and the source of every key not
        at its default, so the session itself says what judged its decisions (``auroractl whatif`` rebuilds it)."""
        return {"config_version": self.version, "mode": self.mode, "config": self.loaded.effective(),
                "sources": sources_of(self.loaded.history), **judged_with(self.calibration, self.instruments),
                # the config keys of the risk manager's thresholds, named once per version (an allowed
                # decision's ``details.risk`` carries the values it was judged on, not their keys)
                "risk_threshold_keys": self.pipeline.risk.threshold_keys()}  # fmt: skip

    def deny_threshold(self, key: str | None, why: dict[str, Any]) -> dict[str, Any] | None:
        """For a denial's deciding ``key``: its value, where it was set and the value compared with it."""
        if key is None:
            return None
        p = self.provenance.get(key)
        if p is None:  # not a config key (a request's own deadline)
            return None
        return {"key": key, "value": p["value"], "source": p["source"], "observed": observed(key, why)}

    # -- durable state ----------------------------------------------------------------------------
    def _open_state(self, state_dir: Path, fresh: bool) -> None:
        journal = StateJournal(state_dir, fsync=self.cfg.logging.state_fsync)
        try:
            journal.open()
        except StateError as exc:
            raise GateStartRefused(str(exc)) from None
        self.state = GateState(self.pipeline, journal)
        if fresh:
            archived = archive_state(state_dir)
            self._startup.append((EventCode.AURORA_STATE_FRESH, {"state_dir": str(state_dir), "reason": "--fresh-state",
                                  "archived_to": str(archived) if archived else None}))  # fmt: skip
        try:
            restored = self.state.restore(self.clock.now_ns())
        except StateCorrupt as exc:
            if self.mode != "development":
                journal.close()
                raise GateStartRefused(str(exc)) from None
            archived = archive_state(state_dir)
            self.state = GateState(self.pipeline, journal)
            restored = None
            self._startup.append((EventCode.AURORA_STATE_FRESH, {
                "state_dir": str(state_dir), "reason": f"unreadable state (development mode): {exc.path}",
                "line": exc.line, "archived_to": str(archived) if archived else None}))  # fmt: skip
        if restored is not None:
            self.clock.set_floor(restored["last_record_ts_ns"])
            # a rotated token stays in force unless the config's own token changed since
            for target, (digest, cfg_digest) in self.state.tokens.items():
                if cfg_digest == getattr(self.tokens, target):
                    setattr(self.tokens, target, digest)
            now = self.clock.now_ns()
            st, trig = self.pipeline.trading_state()
            details = {**restored, "trading_state": st.value, "trigger": trig.name if trig else None,
                       "armed": self.pipeline.armed, "ops_halt": self.pipeline.ops_halt,
                       "health": self.pipeline.health.durable(), "kill_switch": self.pipeline.kill_switch.tripped_scopes(),
                       "tokens_rotated": sorted(self.state.tokens), **self.pipeline.risk.book.summary(now)}  # fmt: skip
            self._startup.append((EventCode.AURORA_STATE_RESTORED, details))
        try:
            journal.compact(self.state.snapshot())  # start from one fresh snapshot and an empty journal
            journal.start_journal()
        except (StateWriteError, OSError) as exc:
            journal.close()
            raise GateStartRefused(f"{state_dir}: cannot write the risk state: {exc}") from None

    def _on_health_change(self, state: Any) -> None:
        self.refresh_gauges()
        try:
            self.state.record({"k": "health", "t": self.clock.now_ns(), **self.pipeline.health.durable()})
        except StateWriteError as exc:
            self.write_error = str(exc)
        self._state_moved()

    def _state_moved(self) -> None:
        """The trading state may have changed: a new sequence number, and wake the long-polls."""
        self.state_seq = max(self.state_seq + 1, self.state.journal.n)
        self.state_changed_ns = time.time_ns()
        self.state_changed.set()
        self.state_changed = asyncio.Event()

    def trading_state_view(self, account: str | None) -> dict[str, Any]:
        """What a runner needs to act on a state change (``GET /trading_state``, and every answer)."""
        p = self.pipeline
        st, trig = p.trading_state(account)
        halt = p.ops_halt
        return {"trading_state": st.value, "trigger": trig.name if trig else None, "state_seq": self.state_seq,
                "cancel_all": bool(halt and halt.get("cancel_all")), "changed_ns": self.state_changed_ns}  # fmt: skip

    async def await_trading_state(self, account: str | None, since: int | None, wait_ms: float) -> dict[str, Any]:
        """:meth:`trading_state_view`, held (a long-poll) while ``state_seq`` is still ``since``, up to ``wait_ms``."""
        if since is not None and since == self.state_seq and wait_ms > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.state_changed.wait(), wait_ms / 1000.0)
        return self.trading_state_view(account)

    def response_for(self, r: CheckRequest, dec: Decision) -> dict[str, Any]:
        """The HTTP answer of a check: the decision, and the trading state its account is in now."""
        # Decision.response()'s fields, as one literal with the two more (this runs once per request)
        return {"allow": dec.allow, "max_qty": dec.max_qty, "risk_scale": dec.risk_scale, "cooldown_ms": dec.cooldown_ms,
                "reason": dec.reason, "observability": dec.observability,
                "trading_state": self.pipeline.state_for(r.account_id), "state_seq": self.state_seq}  # fmt: skip

    def _commit_ops(self, record: dict[str, Any]) -> int:
        """An operator's change: durable before it is answered (a failure answers 503, nothing changed).
        Returns the gate clock it was applied at (its event carries it as ``gate_ns``)."""
        record["t"] = now = self.clock.now_ns()
        try:
            self.state.commit(record)
        except StateWriteError as exc:
            self.write_error = str(exc)
            raise
        self._state_moved()
        return now

    # -- plumbing ---------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.loaded.mode

    @property
    def version(self) -> str:
        return self._version

    def emit(self, code: str, details: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        pending = self._pending
        if pending is not None:  # raised during a decision: written with its POLICY_DECISION, one os.write
            rec = self.events.record(code, details, **fields)
            pending.append(rec)
            return rec
        return self.events.emit(code, details, **fields)

    def _emit_quietly(self, code: str, details: dict[str, Any]) -> None:
        """An alert about a write failure: best effort (the disk that failed may refuse this too)."""
        try:
            self.events.emit(code, details)
        except OSError:
            pass

    def refresh_gauges(self) -> None:
        p = self.pipeline
        m = self.metrics
        m.armed.set(1 if p.armed else 0)
        m.halted.set(1 if p.halted else 0)
        m.health_state.set(HEALTH_LEVEL[p.health.state])
        m.kill_switch.set(1 if p.kill_switch.active else 0)
        m.trading_state.set(TRADING_STATE_LEVEL[p.trading_state()[0]])

    def report_error(self, where: str, exc: BaseException) -> None:
        """Count and log an error that made the gate deny (``GUARD_ERROR``)."""
        self._on_guard_error(where, exc)

    def _on_guard_error(self, guard: str, exc: BaseException) -> None:
        self.metrics.guard_errors.labels(guard).inc()
        self.emit(EventCode.AURORA_GUARD_ERROR, {"guard": guard, "error": type(exc).__name__, "message": str(exc)[:200]})

    def startup_events(self) -> None:
        """Emit what the loader and the state restore asked for, and the arm state."""
        self.emit(
            EventCode.AURORA_START,
            {"mode": self.mode, "config_version": self.version, "pid": os.getpid(), "session_dir": str(self.session_dir),
             "state_dir": str(self.state.state_dir), "clock": self.clock.mode,
             # compiled (mypyc) or interpreted, and why: the same answers, not the same speed
             "decision_path": native.status["decision_path"], "decision_path_reason": native.status["reason"]},
        )  # fmt: skip
        self.emit(EventCode.CONFIG_EFFECTIVE, self.config_in_force())
        for code, details in self.loaded.events:
            self.emit(code, dict(details))
        for code, details in self._startup:
            self.emit(code, details)
        if self.mode != "development" and self.cfg.security.api_token is None:
            self.emit(EventCode.AURORA_ANONYMOUS_TRADING, {"level": "WARN", "key": "security.allow_anonymous_trading",
                                                           "message": "trading endpoints accept requests without a token"})
        self.emit(
            EventCode.AURORA_ARM_STATE,
            {"armed": self.pipeline.armed, "mode": self.mode, "config_version": self.version, "source": "startup"},
        )

    # -- decisions --------------------------------------------------------------------------------
    def check(self, r: CheckRequest) -> Decision:
        t0 = _perf()
        now = self.clock.observe(r.ts_ns)
        self._pending = pending = []
        try:
            dec = self.pipeline.decide(r, now)
        except Exception as exc:  # noqa: BLE001 - fail closed: never a 500
            self._on_guard_error("pipeline", exc)
            dec = Decision(False, _GUARD_ERROR, 0.0, 0.0, 0.0, {"pipeline": {"error": type(exc).__name__}},
                           (_perf() - t0) * 1e6, False, "pipeline")  # fmt: skip
        finally:
            self._pending = None
        # 1. the state change, durable before anything is answered
        rec = self._decision_record(r, dec, now)
        if rec is not None:
            try:
                trip = self.state.commit(rec)
            except StateWriteError as exc:
                dec = self._fail_closed(dec, "state", exc)
            else:
                if trip is not None:
                    pending.append(self.events.record(EventCode.GOVERNANCE_KILL_SWITCH, dict(trip)))
                    self.refresh_gauges()
                    self._state_moved()
        # 2. the records: an allow is answered only once its POLICY_DECISION is written whole
        try:
            self.record_decision(r, dec, pending, now)
        except OSError as exc:
            dec = self._fail_closed(dec, "log", exc)
        self.metrics.decision(dec.allow, dec.reason, _perf() - t0)
        if self.state.journal.due:
            self._compact()
        if self.clock.request_driven:
            self.expire_unacked()
        return dec

    def _decision_record(self, r: CheckRequest, dec: Decision, now: int) -> dict[str, Any] | None:
        p = self.pipeline
        return decision_state_record(r, dec.allow, dec.reason, dec.max_qty, dec.risk_reducing, now, p.risk.reservation_ns,
                                     not dec.allow and p.kill_switch.counts(dec.reason))  # fmt: skip

    def _fail_closed(self, dec: Decision, where: str, exc: BaseException) -> Decision:
        """A record could not be written: deny, count, alert, and be not ready until writes work again."""
        self.write_error = f"{where}: {exc}"
        self.metrics.guard_errors.labels(f"{where}_write").inc()
        self.pipeline.guard_errors += 1
        code = EventCode.AURORA_STATE_WRITE_FAILED if where == "state" else EventCode.AURORA_LOG_WRITE_FAILED
        self._emit_quietly(code, {"error": str(exc)[:300], "decided": dec.reason})
        obs = dict(dec.observability)
        obs["gate"] = {"error": f"{where} write failed", "decided": dec.reason, "pass": False}
        return Decision(False, _GUARD_ERROR, 0.0, 0.0, 0.0, obs, dec.decision_us, dec.risk_reducing, "gate")

    def _compact(self) -> None:
        try:
            self.state.compact_if_due()
        except StateWriteError as exc:
            self.write_error = str(exc)
            self._emit_quietly(EventCode.AURORA_STATE_WRITE_FAILED, {"error": str(exc)[:300], "during": "compaction"})

    def record_decision(self, r: CheckRequest, dec: Decision, pending: list[dict[str, Any]] | None = None,
                        now: int | None = None) -> None:  # fmt: skip
        """Write what a decision owes, before the response: its events (the ones guards raised while it
        ran, ``POLICY_DECISION``, ``GOVERNANCE.*``) in one ``os.write``, and for a deny its order-log record.

        An allow carries the risk inputs it was judged on (``details.risk``); every decision carries what
        recomputes it (:mod:`aurora.gate.decision_record`: the rest of the request in ``details.req``, the
        gate clock ``now`` as ``gate_ns``, ``details.config_version``). The records are built as literals in
        the logger's canonical shape (no generic field loop): this runs once per request.
        """
        allow = dec.allow
        reason = dec.reason
        obs = dec.observability
        details: dict[str, Any] = {
            "allow": allow, "reason": reason, "max_qty": dec.max_qty, "risk_scale": dec.risk_scale,
            "decision_us": dec.decision_us, "reduce_only": r.reduce_only, "risk_reducing": dec.risk_reducing,
            # the market inputs the session summary judges its gates on (p95 of spread, vol, latency)
            "spread_bps": r.spread_bps, "vol_std_bps": r.vol_std_bps, "latency_ms": r.latency_ms, "score": r.score,
            "mid": (r.best_bid + r.best_ask) * 0.5, "account": r.account_id, "req": req_of(r),
            "config_version": self._version,
        }  # fmt: skip
        if r.ts_ns is not None:
            details["request_ts_ns"] = r.ts_ns
        er = obs.get("expected_return")
        if er is not None:
            p_win = er.get("p_win")
            if p_win is not None:  # computed unless skipped (exit) or not reached
                details["p_win"] = p_win
                details["e_pi_bps"] = er["e_pi_bps"]
        ts_obs = obs.get("trading_state")
        if ts_obs is not None:
            details["trading_state"] = ts_obs.get("state")
        why = threshold = None
        if allow:
            risk = obs.get("risk")
            if risk is not None and "keys" in risk:
                # the inputs it was judged on, without what the config version already says (the keys of
                # its thresholds: CONFIG.EFFECTIVE's ``risk_threshold_keys``) or a timing: ~210 B less
                risk = risk.copy()
                del risk["keys"]
                risk.pop("us", None)
            details["risk"] = risk
        else:
            why = obs.get(dec.guard or "", {})
            details["guard"] = dec.guard
            details["why"] = why
            threshold = self.deny_threshold(why.get("key"), why)
            if threshold is not None:
                details["threshold"] = threshold
        ts = time.time_ns()
        run_id = self.run_id
        cid = r.cid
        symbol = r.symbol
        decision = {"ts_ns": ts, "run_id": run_id, "event_code": _POLICY_DECISION, "details": details,
                    "symbol": symbol, "side": r.side, "qty": r.qty}  # fmt: skip
        if now is not None:
            decision[GATE_NS] = now
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
                details={"guard": dec.guard, "why": why, "threshold": threshold},
            )

    # -- post-trade -------------------------------------------------------------------------------
    def posttrade(self, ev: dict[str, Any]) -> dict[str, Any]:
        """Apply one lifecycle event (already validated): log it, then make its effect on risk durable.

        Raises ``OSError``/``StateWriteError`` when it could not be recorded (the API answers 503 and
        the runner re-posts); it is marked seen only once both are written.
        """
        code: str = ev["event_code"]
        short = short_name(code)
        cid: str = ev["cid"]
        details: dict[str, Any] = ev.get("details") or {}
        key = posttrade_key(ev)
        book = self.pipeline.risk.book
        if key in book.seen_posts:
            return {"ok": True, "duplicate": True}
        now = self.clock.observe(ev["ts_ns"])
        fields = {k: ev.get(k) for k in ("cid", "oid", "symbol", "side", "qty")}
        known = book.orders.get(cid)
        info = self.order_info.get(cid, {})
        stage = self._logged.get(key)
        if stage is None:
            self.emit(code, details, ts_ns=ev["ts_ns"], **fields, account=ev.get("account"), gate_ns=now)
            self._logged[key] = stage = "events"
        stream = STREAM_OF_EVENT.get(code)
        if stream is not None and stage == "events":
            self.orders.write(
                stream,
                ts_ns=ev["ts_ns"],
                cid=cid,
                oid=ev.get("oid") or info.get("oid"),
                symbol=ev.get("symbol") or info.get("symbol") or (known.symbol if known else None),
                side=ev.get("side") or info.get("side") or (known.side if known else None),
                qty=ev.get("qty") or info.get("qty"),
                price=details.get("price", info.get("price")),
                event_code=code,
                reason=details.get("reason"),
                fill_qty=details.get("fill_qty"),
                fill_price=details.get("fill_price"),
                details=details or None,
            )
            self._logged[key] = "orders"
        account = known.account if known is not None else ev.get("account") or DEFAULT_ACCOUNT
        rec = order_state_record(ev, short, now, self.pipeline.risk.equity(account)[0])
        try:
            out = self.state.commit(rec)
        except StateWriteError as exc:
            self.write_error = str(exc)
            raise
        self._logged.pop(key, None)
        if short == "SUBMIT":
            sub = {k: v for k, v in fields.items() if v is not None and k != "cid"}
            if details.get("price") is not None:
                sub["price"] = details["price"]
            self.order_info[cid] = sub
            if len(self.order_info) > 100_000:
                self.order_info.popitem(last=False)
        elif short in ("FILL", "REJECT", "CANCEL.ACK", "EXPIRE"):
            self.order_info.pop(cid, None)
        first = out.get("first_response")
        if first is not None and short == "ACK":
            self.metrics.submit_ack_seconds.observe(max(0.0, (now - first) / 1e9))
        for a in out.get("anomalies", ()):
            self.metrics.lifecycle_anomalies.inc(a.cls.value)
            self.emit(EventCode.ORDER_ANOMALY, a.details(), cid=cid, oid=ev.get("oid") or info.get("oid"),
                      symbol=a.symbol, account=account)  # fmt: skip
        if out.get("ks_trip") is not None:
            self.emit(EventCode.GOVERNANCE_KILL_SWITCH, dict(out["ks_trip"]))
            self.refresh_gauges()
            self._state_moved()
        if "realized" in out:
            self.emit(EventCode.RISK_UPDATE, {"account": out["account"], **self._risk_update(out["account"], now)})
        if stream == "success":
            self.metrics.orders_success.inc()
        elif code == EventCode.ORDER_REJECT:
            self.metrics.orders_rejected.inc()
        elif stream is not None:
            self.metrics.orders_expired.inc()
        if self.state.journal.due:
            self._compact()
        return {"ok": True, "event_code": code, "trading_state": self.pipeline.state_for(account),
                "state_seq": self.state_seq}

    def _risk_update(self, account: str, now: int) -> dict[str, Any]:
        risk = self.pipeline.risk
        day = risk.book.account_day(account, now)
        equity, _ = risk.equity(account)
        return {"pnl_usd_today": day.pnl_usd, "dd_pct": (day.peak_usd - day.pnl_usd) / equity * 100.0,
                "cvar_pct": risk.cvar_pct(account, day.returns_pct), "trades_today": len(day.returns_pct),
                "open_positions": len(risk.book.open_symbols(account))}  # fmt: skip

    def expire_unacked(self) -> list[str]:
        """AckTracker scan: every order without a venue response past the TTL becomes ``ORDER.EXPIRE``."""
        out = []
        now = self.clock.now_ns()
        ttl_s = self.ack_ttl_ns / 1e9
        for o in self.pipeline.risk.book.unacked():
            if o.submitted_ns is None or now - o.submitted_ns < self.ack_ttl_ns:
                continue
            details = {"reason": "ACK_TIMEOUT", "ttl_s": ttl_s, "latency_ms": (now - o.submitted_ns) / 1e6,
                       "source": "gate.ack_tracker"}  # fmt: skip
            ev = {"event_code": EventCode.ORDER_EXPIRE.value, "ts_ns": now if self.clock.request_driven else time.time_ns(),
                  "cid": o.cid, "details": details, "symbol": o.symbol, "side": o.side, "account": o.account,
                  "oid": self.order_info.get(o.cid, {}).get("oid")}  # fmt: skip
            try:
                self.posttrade(ev)
            except (OSError, StateWriteError):
                break  # not recorded: the next scan tries again
            out.append(o.cid)
        return out

    def pending_acks(self) -> int:
        return len(self.pipeline.risk.book.unacked())

    # -- operator actions -------------------------------------------------------------------------
    def ops_cooloff(self, seconds: float) -> dict[str, Any]:
        now = self.clock.now_ns()
        self.pipeline.health.start_cooloff(seconds, now, source="ops")
        if self.write_error is not None and not self.state.journal.writable():
            raise StateWriteError(self.write_error)
        self.emit(EventCode.OPS_COOLOFF, {"seconds": seconds}, gate_ns=now)
        self.refresh_gauges()
        return self.state_view()

    def ops_reset(self) -> dict[str, Any]:
        p = self.pipeline
        before = {"health": p.health.state.value, "kill_switch": p.kill_switch.tripped_scopes()}
        now = self._commit_ops({"k": "reset"})
        self.emit(EventCode.OPS_RESET, {"before": before}, gate_ns=now)
        self.refresh_gauges()
        return self.state_view()

    def set_armed(self, armed: bool) -> dict[str, Any]:
        now = self._commit_ops({"k": "arm", "v": armed})
        self.emit(EventCode.AURORA_ARM_STATE, {"armed": armed, "source": "ops"}, gate_ns=now)
        self.refresh_gauges()
        return self.state_view()

    def ops_halt(self, reason: str | None = None, *, cancel_all: bool = False) -> dict[str, Any]:
        """HALTED; with ``cancel_all`` runners cancel every resting order, exits included."""
        info = {"ts_ns": time.time_ns(), "reason": reason or "ops halt", "source": "ops", "cancel_all": cancel_all}
        now = self._commit_ops({"k": "halt", "v": info})
        self.emit(EventCode.OPS_HALT, info, gate_ns=now)
        self.refresh_gauges()
        return self.state_view()

    def ops_kill(self, reason: str | None = None) -> dict[str, Any]:
        """Kill functionality: HALTED with cancel-all, and disarmed (a later ``ops resume`` still leaves the
        gate REDUCING until an explicit ``ops arm``)."""
        info = {"ts_ns": time.time_ns(), "reason": reason or "ops kill", "source": "ops", "cancel_all": True}
        self._commit_ops({"k": "halt", "v": info})
        now = self._commit_ops({"k": "arm", "v": False})
        self.emit(EventCode.OPS_KILL, info, gate_ns=now)
        self.refresh_gauges()
        return self.state_view()

    def ops_resume(self) -> dict[str, Any]:
        before = self.pipeline.ops_halt
        now = self._commit_ops({"k": "halt", "v": None})
        self.emit(EventCode.OPS_RESUME, {"halt": before}, gate_ns=now)
        self.refresh_gauges()
        return self.state_view()

    def report_balance(self, account: str, equity_usd: float) -> dict[str, Any]:
        """A venue-reported balance: it can only lower the equity the limits use (see RiskManager.equity)."""
        now = self._commit_ops({"k": "eq", "a": account, "v": equity_usd})
        equity, source = self.pipeline.risk.equity(account)
        self.emit(EventCode.RISK_BALANCE, {"account": account, "reported_usd": equity_usd, "equity_usd": equity,
                                           "equity_source": source}, gate_ns=now)  # fmt: skip
        return {"ok": True, "account": account, "equity_usd": equity, "equity_source": source}

    def rotate_token(self, new_token: str, target: str = "ops") -> None:
        digest = token_hash(new_token)
        config_digest = self._config_tokens[0 if target == "api" else 1]
        self._commit_ops({"k": "tok", "target": target, "h": digest, "cfg": config_digest})
        setattr(self.tokens, target, digest)
        self.metrics.token_rotations.inc()
        self.emit(EventCode.OPS_TOKEN_ROTATE, {"target": target})  # never the token itself
    def reload(self, loader: Callable[[], LoadedAurora]) -> dict[str, Any]:
        """Validate the config from disk first; on success swap it in atomically; else keep the old."""
        return self.apply_reload(self.prepare_reload(loader))

    async def reload_async(self, loader: Callable[[], LoadedAurora]) -> dict[str, Any]:
        """:meth:`reload` with the reading and validation in a worker thread, so decisions never wait
        for a (possibly large or hostile) config file; only the swap runs on the loop."""
        return self.apply_reload(await asyncio.to_thread(self.prepare_reload, loader))

    @staticmethod
    def prepare_reload(
        loader: Callable[[], LoadedAurora],
    ) -> tuple[LoadedAurora, CalibrationMap, InstrumentRegistry] | Exception:
        """Load and validate (touches no gate state: safe in any thread)."""
        try:
            new = loader()
            # the registry is read here too: off the event loop, and a broken one keeps the running config
            return new, load_calibration(new), load_instruments(new)
        except (ConfigError, OSError, ValueError) as exc:
            return exc

    def apply_reload(self, prepared: tuple[LoadedAurora, CalibrationMap, InstrumentRegistry] | Exception) -> dict[str, Any]:
        try:
            if isinstance(prepared, Exception):
                raise prepared
            new, calibration, instruments = prepared
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
        self.loaded, self.cfg, self.calibration, self.instruments = new, new.config, calibration, instruments
        self._set_provenance(new)
        self.pipeline.configure(new.config, instruments)
        self.pipeline.set_calibration(calibration)
        self.ack_ttl_ns = int(new.config.observability.ack.ttl_s * 1e9)
        api, ops = token_hash(_secret(new.config.security.api_token)), token_hash(_secret(new.config.security.ops_token))
        # A token changed in the config wins; an unchanged one keeps any runtime rotation.
        if api != self._config_tokens[0]:
            self.tokens.api = api
        if ops != self._config_tokens[1]:
            self.tokens.ops = ops
        self._config_tokens = (api, ops)
        self.tokens.metrics = token_hash(_secret(new.config.security.metrics_token))
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
        self.emit(EventCode.CONFIG_EFFECTIVE, self.config_in_force())
        self.emit(EventCode.OPS_RELOAD, {"config_version": new.version})
        return {"ok": True, **details}

    # -- status -----------------------------------------------------------------------------------
    def state_view(self) -> dict[str, Any]:
        p = self.pipeline
        h = p.health
        now = self.clock.now_ns()
        st, trig = p.trading_state()
        return {
            "trading_state": st.value,
            "trading_state_trigger": trig.name if trig else None,
            "triggers": [t.name for t in p.triggers(None)],
            "armed": p.armed,
            "halted": p.halted,
            "ops_halt": p.ops_halt,
            "health_state": h.state.value,
            "p95_ms": h.p95_ms,
            "cooloffs": h.cooloffs,
            "cooloff_remaining_s": max(0.0, (h.cooloff_until_ns - now) / 1e9) if h.state == "COOL_OFF" else 0.0,
            "kill_switch": p.kill_switch.status(),
        }

    def resting_orders(self) -> dict[str, dict[str, int]]:
        """Per account: orders submitted and not terminal (``entries`` / ``exits``), and reservations."""
        out: dict[str, dict[str, int]] = {}
        for o in self.pipeline.risk.book.orders.values():
            row = out.setdefault(o.account, {"entries": 0, "exits": 0, "reservations": 0})
            if o.submitted_ns is None:
                row["reservations"] += 1
            else:
                row["exits" if o.reducing else "entries"] += 1
        return out

    def health(self) -> dict[str, Any]:
        st = self.state_view()
        status = "halted" if st["halted"] else ("degraded" if st["trading_state"] != "ACTIVE" or
                                               st["health_state"] != "OK" else "ok")  # fmt: skip
        return {
            "status": status,
            "config_version": self.version,
            "mode": self.mode,
            "trading_state": st["trading_state"],
            "trading_state_trigger": st["trading_state_trigger"],
            "armed": st["armed"],
            "halted": st["halted"],
            "health_state": st["health_state"],
            "kill_switch": st["kill_switch"]["active"],
            "uptime_s": round((self.mono() - self.started_mono) / 1e9, 3),
            "run_id": self.run_id,
            # which clock the windows run on, so a replaying runner can refuse a gate on wall time
            "clock": self.clock.mode,
            **({"clock_ns": self.clock.now_ns()} if self.clock.request_driven else {}),
        }

    def readiness(self) -> tuple[bool, list[str]]:
        reasons = []
        if self.pipeline.halted:
            reasons.append("halted")
        if self.reload_error is not None:
            reasons.append("config invalid (last reload failed)")
        log_ok = dir_writable(self.session_dir)
        state_ok = self.state.journal.writable()
        if not log_ok:
            reasons.append("log dir unwritable")
        if not state_ok:
            reasons.append("state dir unwritable")
        if self.write_error is not None:
            if log_ok and state_ok:
                self.write_error = None  # space is back: the next record can be written whole
            else:
                reasons.append(f"last write failed: {self.write_error}")
        if self.closed:
            reasons.append("shutting down")
        return not reasons, reasons

    def status(self) -> dict[str, Any]:
        return {
            **self.health(),
            **self.state_view(),
            "risk": self.pipeline.risk.snapshot(self.clock.now_ns()),
            "pending_acks": self.pending_acks(),
            "resting_orders": self.resting_orders(),
            "state_seq": self.state_seq,
            "session_dir": str(self.session_dir),
            "state_dir": str(self.state.state_dir),
            "state_restored_from": self.state.restored_from,
            "clock": self.clock.mode,
            "guard_errors": self.pipeline.guard_errors,
            "order_profile": self.cfg.pretrade.order_profile,
            "calibration": {"kind": self.calibration.kind, "knots": len(self.calibration.x)},
            "instruments": {**self.instruments.describe(), "venue": self.cfg.instruments.venue},
            "lifecycle_anomalies": {c.value: n for c, n in self.state.lifecycle.counts.items()},
        }

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.state.journal.compact(self.state.snapshot())
        except StateWriteError as exc:  # the journal still holds everything: the next start replays it
            self._emit_quietly(EventCode.AURORA_STATE_WRITE_FAILED, {"error": str(exc)[:300], "during": "stop"})
        self.state.journal.close()
        self._emit_quietly(EventCode.AURORA_STOP, {"pending_acks": self.pending_acks(),
                                                   "guard_errors": self.pipeline.guard_errors})  # fmt: skip
        self.events.close()
        self.orders.close()
