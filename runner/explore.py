"""Live tuning, the runner's side: an *explore arm* decides a seeded fraction of the entries with the live
tuner's latest validated overlay; the rest (the *base arm*) keep the configured parameters.

Why an arm inside the runner and not a shadow runner: a shadow runner would need its own feed, its own
venue and its own checks at the gate (a second account's risk state in the one gate, or a gate of its
own), and what it realized would be fills on a venue nobody trades. The explore arm's entries go to the
same gate, venue and risk limits as the base arm's, so its realized results are real and comparable, and
the gate's limits bound both arms at once (the tuner never changes them: see :data:`LIVE_KEYS`).

* **Proposals.** The tuner announces each candidate as an ``OPTUNA.PARAMETER_UPDATE`` record in the
  session's ``tuner_events.jsonl`` (its trial, the overlay file and its sha256). The runner follows that
  log (:class:`~aurora.session.tail.JsonlTail`) between market messages.
* **Validated config path only.** A proposal is applied by loading the runner's own config again with
  the overlay last (``load``: ``aurora.config.loader.load_runner(..., overlays=[..., overlay])``, given by
  the caller), never by writing into live state. It is refused — ``RUNNER.OVERLAY_REFUSED``, the previous
  explore parameters kept — when the file is not the one announced (sha256), does not validate, or
  changes any key outside :data:`LIVE_KEYS` (feature windows, sizes, venue, feed and the gate client are
  shared by both arms: they cannot apply to a fraction of the decisions). ``RUNNER.OVERLAY_APPLIED`` says
  when the arm switched.
* **Which decisions.** The k-th decision (a candidate the strategy scored) of a symbol goes to the explore
  arm when ``H(seed, symbol, k) < ratio`` (blake2b, uniform on [0, 1)): deterministic for a seed and the
  same market, whatever the timing, and independent of which trial is live. Both arms' signal states
  follow every message (the arm that does not decide is fed with ``can_open=False``), a decision's
  cooldown holds both arms back (the decision rate stays the configured one); a new trial's
  strategy takes over the previous explore strategy's signal state (a changed z-window or weights
  converge within ``z_window_s``).
* **Tags.** With tuning on, every decision record (``MODEL``, ``ENR_GATE``, ``PARENT_GATE``) carries
  ``details.arm`` (base | explore) and, on the explore arm, ``details.trial``; so does every lifecycle
  event of the position the decision opened (entry, take-profit, closes), which is how the tuner finds
  the arm's realized P&L in the gate's log. A position's exits use the parameters of the arm that opened
  it (take-profit distance, stop-loss, time stop, TTL).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aurora.events.codes import EventCode
from aurora.session.fields import Field
from aurora.session.files import TUNER_EVENTS_FILE
from aurora.session.tail import JsonlTail
from runner.config import ParentGateSection, RunnerConfig, StrategySection
from runner.features import SymbolFeatures
from runner.parent_gate import ParentGate
from runner.strategy import Candidate, Strategy

BASE, EXPLORE = "base", "explore"

#: The runner keys an explore arm can apply to its own decisions and positions (dotted, as in the config).
LIVE_KEYS: frozenset[str] = frozenset(
    [f"strategy.{k}" for k in ("tp_bps", "sl_bps", "enr_threshold_bps", "score_threshold", "cooldown_ms",
                               "order_type", "order_ttl_s", "entry", "max_hold_s", "z_window_s", "warmup_s")]
    + [f"strategy.weights.{k}" for k in ("obi", "micro", "tfi")]
    + ["parent_gate.enabled", "parent_gate.z_threshold"]
)  # fmt: skip


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def changed_keys(base: RunnerConfig, new: RunnerConfig) -> dict[str, Any]:
    """The dotted keys whose values differ between two configs, with the new value."""
    a, b = _flat(base.model_dump(mode="json")), _flat(new.model_dump(mode="json"))
    return {k: b.get(k) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def explore_share(seed: int, symbol: str, k: int) -> float:
    """Uniform on [0, 1) for (seed, symbol, decision number): the arm choice's coin."""
    digest = hashlib.blake2b(f"{seed}:{symbol}:{k}".encode(), digest_size=8).digest()
    return struct.unpack(">Q", digest)[0] / 2.0**64


@dataclass(frozen=True)
class ExploreSettings:
    ratio: float  # the share of decisions on the explore arm, in (0, 1)
    seed: int
    #: the validated config path: the runner's own config loaded again with this overlay last
    load: Callable[[Path], RunnerConfig]
    #: what ``load`` gives without a proposal (command-line overrides such as --feed are not in either):
    #: a proposal may differ from it in :data:`LIVE_KEYS` only. None: the runner's config.
    baseline: RunnerConfig | None = None
    proposals: Path | None = None  # the tuner's event log (default: the session's tuner_events.jsonl)
    poll_s: float = 0.5  # how often the log is looked at (market time between polls does not matter)


class ArmedStrategy:
    """The market loop's strategy with an explore arm: the base :class:`Strategy` and, once the tuner
    proposed one, a second with the trial's parameters (see the module docstring)."""

    def __init__(self, base: Strategy, base_cfg: RunnerConfig, settings: ExploreSettings, *,
                 make: Callable[[StrategySection, ParentGateSection], Strategy],
                 emit: Callable[..., None]) -> None:  # fmt: skip
        if not 0.0 < settings.ratio < 1.0:
            raise ValueError(f"explore ratio must be in (0, 1), got {settings.ratio}")
        self.base = base
        self.base_cfg = base_cfg
        self.settings = settings
        self.make = make
        self.emit = emit
        # fed from the start with the base parameters, so a trial's strategy starts warm
        self.explore: Strategy = make(base_cfg.strategy, base_cfg.parent_gate)
        self.trial: int | None = None  # the live trial (None: no proposal applied yet, all decisions base)
        self.decisions: dict[str, int] = {}  # symbol -> decisions so far (the coin's k)
        #: symbol -> (arm, trial) of the position its last passed decision opened (tags and exit params)
        self.episode: dict[str, tuple[str, int | None]] = {}
        self.sections: dict[str, StrategySection] = {}  # symbol -> the strategy section its exits use
        self.counters = {"base_decisions": 0, "explore_decisions": 0, "applied": 0, "refused": 0}
        self._tail: JsonlTail | None = None

    # -- the loop's interface ----------------------------------------------------------------------
    @property
    def cfg(self) -> StrategySection:
        """The run's strategy section (what both arms share, e.g. the entry window, is the base's)."""
        return self.base.cfg

    def z(self, symbol: str) -> float | None:
        return self.base.z(symbol)

    def on_tick(self, symbol: str, feats: SymbolFeatures, now_ms: int, *, can_open: bool) -> Candidate | None:
        if self.trial is None:
            cand = self.base.on_tick(symbol, feats, now_ms, can_open=can_open)
            self.explore.on_tick(symbol, feats, now_ms, can_open=False)
            if cand is not None:
                self._decided(cand, BASE, None)
            return cand
        k = self.decisions.get(symbol, 0)
        if explore_share(self.settings.seed, symbol, k) < self.settings.ratio:
            self.base.on_tick(symbol, feats, now_ms, can_open=False)
            cand = self.explore.on_tick(symbol, feats, now_ms, can_open=can_open)
            arm = EXPLORE
        else:
            cand = self.base.on_tick(symbol, feats, now_ms, can_open=can_open)
            self.explore.on_tick(symbol, feats, now_ms, can_open=False)
            arm = BASE
        if cand is not None:
            self._decided(cand, arm, self.trial if arm == EXPLORE else None)
        return cand

    def _decided(self, cand: Candidate, arm: str, trial: int | None) -> None:
        symbol = cand.symbol
        # One cooldown per symbol across both arms: the decision just made holds the other arm back too
        # (else the next decision, on the other arm, could follow at once and double the decision rate).
        decider, other = (self.explore, self.base) if arm == EXPLORE else (self.base, self.explore)
        held = other.state(symbol)
        held.next_decision_ms = max(held.next_decision_ms, decider.state(symbol).next_decision_ms)
        self.decisions[symbol] = self.decisions.get(symbol, 0) + 1
        self.counters[f"{arm}_decisions"] += 1
        tag: dict[str, Any] = {Field.ARM.value: arm}
        if trial is not None:
            tag[Field.TRIAL.value] = trial
        for _, details in cand.events:
            details.update(tag)
        if cand.passed:  # the symbol is flat with nothing working (may_open): a new episode starts
            self.episode[symbol] = (arm, trial)
            if arm == EXPLORE:
                self.sections[symbol] = self.explore.cfg
            else:
                self.sections.pop(symbol, None)

    # -- lifecycle tags (a sink ahead of the gate's queue) -------------------------------------------
    def tag_lifecycle(self, event: dict[str, Any]) -> None:
        """Every lifecycle event of a position carries its opening decision's arm (and trial)."""
        symbol = event.get("symbol")
        found = self.episode.get(symbol) if isinstance(symbol, str) else None
        if found is None:
            return
        details = event.setdefault("details", {})
        details[Field.ARM.value] = found[0]
        if found[1] is not None:
            details[Field.TRIAL.value] = found[1]

    # -- proposals ---------------------------------------------------------------------------------
    def newest_proposal(self, session_dir: Path) -> dict[str, Any] | None:
        """The newest ``OPTUNA.PARAMETER_UPDATE`` written since the last look (older ones it replaces are
        never worth loading)."""
        if self._tail is None:
            self._tail = JsonlTail(self.settings.proposals or session_dir / TUNER_EVENTS_FILE)
        updates = [r for r in self._tail.poll() if r.get("event_code") == EventCode.OPTUNA_PARAMETER_UPDATE]
        return updates[-1] if updates else None

    async def follow(self, session_dir: Path, stop: asyncio.Event) -> None:
        """Every ``poll_s`` until ``stop``: the newest proposal, validated in a worker thread (loading YAML
        and the config models must not hold up the market loop), then switched to on the loop."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.poll_s)
            record = self.newest_proposal(session_dir)
            if record is not None and not stop.is_set():
                self.take(await asyncio.to_thread(self.check, record))

    def apply(self, record: dict[str, Any]) -> bool:
        """Take one ``OPTUNA.PARAMETER_UPDATE`` record at once: validate its overlay, switch or refuse."""
        return self.take(self.check(record))

    def check(self, record: dict[str, Any]) -> tuple[RunnerConfig | None, dict[str, Any], str | None]:
        """(the config to switch to or None, what to report, why it is refused). Changes nothing."""
        details = record.get("details") or {}
        trial = details.get(Field.TRIAL.value)
        path = details.get(Field.OVERLAY.value)
        sha = details.get(Field.OVERLAY_SHA256.value)
        info: dict[str, Any] = {Field.TRIAL.value: trial, Field.OVERLAY.value: path, Field.OVERLAY_SHA256.value: sha}
        why = self._refusal(trial, path, sha)
        if why is not None:
            return None, info, why
        try:
            cfg = self.settings.load(Path(path))
        except Exception as exc:  # ConfigError above all; any failure to load it is a refusal
            return None, info, f"the overlay does not validate: {_one_line(exc)}"
        changed = changed_keys(self.settings.baseline or self.base_cfg, cfg)
        outside = sorted(k for k in changed if k not in LIVE_KEYS)
        if outside:
            return None, info, ("it changes keys an explore arm cannot apply to a share of the decisions "
                                "(shared by both arms): " + ", ".join(outside))
        return cfg, {**info, "changed": changed}, None

    def take(self, verdict: tuple[RunnerConfig | None, dict[str, Any], str | None]) -> bool:
        cfg, info, why = verdict
        trial = info.get(Field.TRIAL.value)
        if cfg is None or not isinstance(trial, int) or (self.trial is not None and trial <= self.trial):
            self.counters["refused"] += 1
            self.emit(EventCode.RUNNER_OVERLAY_REFUSED.value,
                      {**info, Field.REASON.value: why or "superseded", "kept_trial": self.trial})  # fmt: skip
            return False
        new = self.make(cfg.strategy, cfg.parent_gate)
        new.states = self.explore.states  # warm: the signal's history so far
        self.explore = new
        self.trial = trial
        self.counters["applied"] += 1
        self.emit(EventCode.RUNNER_OVERLAY_APPLIED.value,
                  {**info, Field.EXPLORE_RATIO.value: self.settings.ratio, "seed": self.settings.seed})  # fmt: skip
        return True

    def _refusal(self, trial: Any, path: Any, sha: Any) -> str | None:
        if not isinstance(trial, int) or isinstance(trial, bool) or trial < 0:
            return f"details.trial must be a trial number, got {trial!r}"
        if self.trial is not None and trial <= self.trial:
            return f"trial {trial} is not newer than the live trial {self.trial}"
        if not isinstance(path, str) or not path:
            return "details.overlay names no file"
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            return f"the overlay {path} cannot be read: {exc.strerror or exc}"
        if not isinstance(sha, str) or hashlib.sha256(data).hexdigest() != sha:
            return f"the overlay {path} is not the one announced (sha256 differs)"
        return None

    def summary(self) -> dict[str, Any]:
        return {
            **self.counters,
            "ratio": self.settings.ratio,
            "seed": self.settings.seed,
            "trial": self.trial,
            "explore_strategy": dict(self.explore.counters),
        }

    def close(self) -> None:
        if self._tail is not None:
            self._tail.close()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:600] or type(exc).__name__


def make_strategy(base: Strategy) -> Callable[[StrategySection, ParentGateSection], Strategy]:
    """A strategy like ``base`` (same calibration, parents, symbols, cid sequence) with other parameters."""

    def make(sc: StrategySection, pg: ParentGateSection) -> Strategy:
        return Strategy(sc, predict=base.predict, parent_gate=ParentGate(enabled=pg.enabled, z_threshold=pg.z_threshold),
                        parents=base.parents, tradable=base.tradable, new_cid=base.new_cid,
                        predict_by_symbol=base.predict_by_symbol)  # fmt: skip

    return make
