"""The offline tuner: an Optuna study whose trials backtest a candidate overlay on recordings.

A trial's overlay (:meth:`SearchSpace.suggest`) is written as YAML layers and loaded by the normal validated
loaders (the runner's ``--overlay``, the gate's user layer), then run by :mod:`oneclick.backtest`: the real
runner on the recording against a fresh in-process gate, deterministic. The score is an objective of the
session's metrics summary (:mod:`oneclick.tuning.objectives`).

Train / validation split by time, per recording: the first ``train_fraction`` of its recorded span trains,
the rest validates. Both halves replay the recording from its start (its only depth snapshot is there), so
the book and features are synced in both; a run may only open positions inside its window
(:class:`oneclick.backtest.TradeWindow`). A training run stops reading at its window's end (no later data
is seen); positions still open there are flattened at the last book by the runner's wind-down.

Pruning: the training window is cut into ``segments`` cumulative windows ``[0, end_k)``, each a backtest;
after each, the trial reports its mean score so far (the finished recordings', and this recording's up
to ``end_k``) and Optuna's :class:`MedianPruner` may stop it. The last window is the whole training half,
so the trial's value is its training score. The best trial alone is then run on the validation halves.

Deterministic: TPE seeded with ``seed`` (plus the number of trials already in the storage, so a resumed
study does not draw its first trials again), sequential trials, deterministic backtests: the same seed and
inputs give the same trials and the same best trial. Resumable: ``--storage sqlite:///...`` keeps the
study; a study is resumed only with the inputs it was made with (space, recordings, objective, split).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from aurora.config.inspect import write_atomic
from aurora.config.loader import LoadedAurora, _display_path, load_aurora
from aurora.config.paths import overlays_dir
from aurora.errors import InputError
from oneclick.backtest import TradeWindow, check_recording, gate_environ, replay_config, run_one
from oneclick.tuning.objectives import DEFAULT_OBJECTIVE, Objective, objective
from oneclick.tuning.space import Overlay, SearchSpace
from runner.feeds.replay_feed import iter_numbered

SCHEMA = "aurora.tune/1"
STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class TuneError(InputError):
    """A study cannot run with these inputs (the message names the option)."""


@dataclass(frozen=True)
class Recording:
    """A recording and its recorded span (receive times of its first and last lines)."""

    path: Path
    sha256: str
    first_ns: int
    last_ns: int

    @property
    def duration_s(self) -> float:
        return (self.last_ns - self.first_ns) / 1e9

    @classmethod
    def read(cls, path: Path) -> Recording:
        check_recording(path)
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
        first = last = 0
        for _, ts, _ in iter_numbered(path):
            if ts:
                first = first or ts
                last = ts
        if last <= first:
            raise TuneError(f"--recording: {path} has no recorded time span to split (fewer than two timed lines)")
        return cls(path, digest.hexdigest(), first, last)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256, "duration_s": round(self.duration_s, 3)}


@dataclass(frozen=True)
class Split:
    """The time split of every recording: ``train_fraction`` trains (in ``segments`` pruning steps)."""

    train_fraction: float = 0.5
    segments: int = 2

    def __post_init__(self) -> None:
        if not 0.1 <= self.train_fraction <= 0.9:
            raise TuneError(f"--train-fraction: {self.train_fraction} is outside [0.1, 0.9]: both halves need data")
        if not 1 <= self.segments <= 10:
            raise TuneError(f"--segments: {self.segments} is outside [1, 10]")

    def train_windows(self, rec: Recording) -> list[TradeWindow]:
        end = rec.duration_s * self.train_fraction
        cuts = [end * (k + 1) / self.segments for k in range(self.segments)]
        return [TradeWindow(0.0, cut, cut) for cut in cuts]

    def validation_window(self, rec: Recording) -> TradeWindow:
        return TradeWindow(rec.duration_s * self.train_fraction, None, None)


@dataclass
class TrialRow:
    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    steps: dict[int, float] = field(default_factory=dict)  # pruning step -> reported score
    #: over the training windows run (all of them for a complete trial): how much the trial did, so a
    #: score of 0 that is "never traded" reads differently from a break-even one
    decisions: int = 0
    closed_trades: int = 0

    @classmethod
    def of(cls, t: optuna.trial.FrozenTrial) -> TrialRow:
        figures = t.user_attrs.get("train_figures") or []
        return cls(t.number, t.state.name.lower(), t.value, dict(t.params), dict(t.intermediate_values),
                   sum(f["decisions"] for f in figures), sum(f["closed_trades"] for f in figures))  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "state": self.state, "value": self.value, "params": self.params,
                "steps": {str(k): v for k, v in sorted(self.steps.items())}, "decisions": self.decisions,
                "closed_trades": self.closed_trades}  # fmt: skip


@dataclass
class TuneResult:
    study: str
    storage: str | None
    seed: int
    objective: Objective
    space: SearchSpace
    recordings: list[Recording]
    split: Split
    mode: str
    runner_config: str | None
    trials: list[TrialRow]
    ran: int  # trials run by this call
    elapsed_s: float
    best: TrialRow | None = None
    validation: float | None = None
    validation_figures: list[dict[str, Any]] = field(default_factory=list)
    train_figures: list[dict[str, Any]] = field(default_factory=list)
    importances: dict[str, float] | None = None
    files: dict[str, str] = field(default_factory=dict)

    @property
    def trials_per_min(self) -> float | None:
        return round(self.ran / self.elapsed_s * 60.0, 2) if self.ran and self.elapsed_s > 0 else None

    def top(self, n: int = 10) -> list[TrialRow]:
        done = [t for t in self.trials if t.state == "complete" and t.value is not None]
        return sorted(done, key=lambda t: (-t.value, t.number))[:n]

    def provenance(self) -> dict[str, Any]:
        """Where the best overlay came from: everything needed to make it again."""
        best = self.best
        return {
            "schema": SCHEMA,
            "study": self.study,
            "storage": _redact_storage(self.storage),
            "trial": best.number if best else None,
            "seed": self.seed,
            "objective": {"name": self.objective.name, "description": self.objective.description},
            "space": {"path": str(self.space.path), "sha256": self.space.sha256},
            "recordings": [r.to_dict() for r in self.recordings],
            "split": asdict(self.split),
            "mode": self.mode,
            "runner_config": self.runner_config,
            "params": best.params if best else None,
            "score": {"train": best.value if best else None, "validation": self.validation},
        }

    def to_dict(self) -> dict[str, Any]:
        states: dict[str, int] = {}
        for t in self.trials:
            states[t.state] = states.get(t.state, 0) + 1
        return {
            **self.provenance(),
            "trials": {"total": len(self.trials), "ran": self.ran, "by_state": dict(sorted(states.items())),
                       "elapsed_s": round(self.elapsed_s, 3), "per_min": self.trials_per_min},
            "best": self.best.to_dict() if self.best else None,
            "top": [t.to_dict() for t in self.top()],
            "all": [t.to_dict() for t in self.trials],
            "best_closed_trades": {"train": sum(f["closed_trades"] for f in self.train_figures),
                                   "validation": sum(f["closed_trades"] for f in self.validation_figures)},
            "train_figures": self.train_figures,
            "validation_figures": self.validation_figures,
            "importances": self.importances,
            "files": self.files,
        }  # fmt: skip


def _redact_storage(url: str | None) -> str | None:
    """A storage URL without a password (``postgresql://u:secret@h/db``)."""
    return None if url is None else re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


FIGURES = ("decisions", "allow", "deny", "orders_filled", "closed_trades", "realized_pnl_usd", "max_drawdown_usd")


class Backtester:
    """Scores overlays: each a backtest of one recording's window, in a session directory thrown away after."""

    def __init__(self, *, objective: Objective, runner_config: str | None, mode: str, root: Path,
                 environ: Mapping[str, str], work_dir: Path) -> None:  # fmt: skip
        self.objective = objective
        self.runner_config = runner_config
        self.mode = mode
        self.root = root
        self.env = {**environ, "AURORA_ROOT": environ.get("AURORA_ROOT", str(root))}
        self.gate_env = gate_environ(self.env)
        self.work_dir = work_dir
        self._base_gate: LoadedAurora | None = None
        self._runs = 0

    def layers(self, overlay: Overlay) -> tuple[list[str], str | None]:
        d = self.work_dir / "overlay"
        runner = [str(overlay.write_runner(d / "runner.yaml"))] if overlay.runner else []
        gate = str(overlay.write_gate(d / "gate.yaml")) if overlay.gate else None
        return runner, gate

    def gate(self, gate_file: str | None) -> LoadedAurora:
        if gate_file is not None:
            return load_aurora(self.mode, file=gate_file, environ=self.gate_env, root=self.root)
        if self._base_gate is None:
            self._base_gate = load_aurora(self.mode, environ=self.gate_env, root=self.root)
        return self._base_gate

    def score(self, overlay: Overlay, rec: Recording, window: TradeWindow) -> tuple[float, dict[str, Any]]:
        """The objective of one backtest of ``rec`` in ``window`` with ``overlay``, and its main figures."""
        runner_layers, gate_file = self.layers(overlay)
        cfg = replay_config(rec.path, self.runner_config, self.root, self.env, runner_layers, window)
        loaded = self.gate(gate_file)
        session = self.work_dir / f"run-{self._runs}"
        self._runs += 1
        session.mkdir(parents=True)
        try:
            run = run_one(cfg, loaded, session, "tune")  # one label: the cids of every run are the same
        finally:
            shutil.rmtree(session, ignore_errors=True)
        row = run.row()
        figures = {"recording": rec.path.name, **{k: row[k] for k in FIGURES}}
        return self.objective.score(run.summary), figures


def _fingerprint(space: SearchSpace, recs: Sequence[Recording], obj: Objective, split: Split,
                 runner_config: str | None, mode: str) -> dict[str, Any]:  # fmt: skip
    return {"space_sha256": space.sha256, "recordings": [r.sha256 for r in recs], "objective": obj.name,
            "train_fraction": split.train_fraction, "segments": split.segments, "runner_config": runner_config,
            "mode": mode}  # fmt: skip


def _open_study(name: str, storage: str | None, seed: int, fingerprint: dict[str, Any]) -> optuna.Study:
    existing = 0
    if storage is not None:
        try:
            existing = len(optuna.load_study(study_name=name, storage=storage).trials)
        except KeyError:
            existing = 0  # no such study yet
        except Exception as exc:  # noqa: BLE001 - any storage failure is the option's problem
            raise TuneError(f"--storage: cannot open {_redact_storage(storage)}: {exc}") from None
    # Re-seeded past the trials already made: a resumed study does not draw its first trials again.
    sampler = optuna.samplers.TPESampler(seed=seed + existing)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    try:
        study = optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                                    direction="maximize", load_if_exists=True)  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - a bad URL, a missing directory, a foreign database
        raise TuneError(f"--storage: cannot open {_redact_storage(storage)}: {exc}") from None
    made_with = study.user_attrs.get("inputs")
    if made_with is None:
        study.set_user_attr("inputs", fingerprint)
    elif made_with != fingerprint:
        differ = ", ".join(k for k in fingerprint if made_with.get(k) != fingerprint[k])
        raise TuneError(f"--study: study {name!r} in {_redact_storage(storage)} was made with other inputs "
                        f"({differ} differ); resume it with the same inputs or choose another --study")  # fmt: skip
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(t.number, state=TrialState.FAIL)  # left running by an interrupted run: never finished
    return study


def tune(
    recordings: Sequence[Path],
    space: SearchSpace,
    *,
    trials: int,
    study: str | None = None,
    storage: str | None = None,
    seed: int = 0,
    objective_name: str = DEFAULT_OBJECTIVE,
    split: Split | None = None,
    runner_config: str | None = None,
    mode: str = "testnet",
    root: Path | None = None,
    environ: Mapping[str, str] | None = None,
    write: bool = True,
    on_trial: Callable[[TrialRow], None] | None = None,
) -> TuneResult:
    """Run the study up to ``trials`` finished trials, validate the best, write its overlay (see the module doc).

    Raises :class:`aurora.config.errors.ConfigError` for a config that does not validate, :class:`TuneError`
    (or :class:`oneclick.backtest.BacktestError`) for unusable options."""
    root = root or Path.cwd()
    split = split or Split()
    obj = objective(objective_name)
    name = study or f"tune-{space.path.stem}"
    if not STUDY_NAME.match(name):
        raise TuneError(f"--study: {name!r} is not a usable name (letters, digits, '_', '.', '-'; at most 64)")
    if trials < 1:
        raise TuneError(f"--trials: {trials} must be at least 1")
    if not recordings:
        raise TuneError("--recording: give at least one recording to tune on")
    recs = [Recording.read(p) for p in recordings]
    env = dict(environ or {})
    started = time.monotonic()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the CLI reports trials (and a failed one's error) itself
    with tempfile.TemporaryDirectory(prefix="aurora-tune-") as tmp:
        bt = Backtester(objective=obj, runner_config=runner_config, mode=mode, root=root, environ=env,
                        work_dir=Path(tmp))  # fmt: skip
        # Every input is checked before the first trial: the space's bounds through the loaders.
        for corner in ("low", "high"):
            probe = space.overlay({p.name: (p.choices[0] if p.choices else getattr(p, corner))
                                   for p in space.parameters})  # fmt: skip
            runner_layers, gate_file = bt.layers(probe)
            replay_config(recs[0].path, runner_config, root, bt.env, runner_layers, None)
            bt.gate(gate_file)
        st = _open_study(name, storage, seed, _fingerprint(space, recs, obj, split, runner_config, mode))

        def run_trial(trial: optuna.Trial) -> float:
            overlay = space.suggest(trial)
            space.check_bounds(overlay)
            done, step, figures = 0.0, 0, []
            for i, rec in enumerate(recs):
                for window in split.train_windows(rec):
                    score, fig = bt.score(overlay, rec, window)  # windows are cumulative: the last is whole
                    trial.report((done + score) / (i + 1), step)
                    step += 1
                    if trial.should_prune():
                        trial.set_user_attr("train_figures", [*figures, fig])  # what it did before it stopped
                        raise optuna.TrialPruned()
                done += score
                figures.append(fig)
            trial.set_user_attr("train_figures", figures)
            return done / len(recs)

        finished = [t for t in st.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        todo = max(0, trials - len(finished))
        callbacks = [lambda _s, t: on_trial(TrialRow.of(t))] if on_trial else []
        if todo:
            st.optimize(run_trial, n_trials=todo, callbacks=callbacks)
        rows = [TrialRow.of(t) for t in st.trials]
        result = TuneResult(name, storage, seed, obj, space, recs, split, mode, runner_config, rows, todo,
                            time.monotonic() - started)  # fmt: skip
        complete = [t for t in st.trials if t.state is TrialState.COMPLETE]
        if complete:
            best = max(complete, key=lambda t: (t.value, -t.number))
            result.best = TrialRow.of(best)
            result.train_figures = list(best.user_attrs.get("train_figures", []))
            overlay = space.overlay(best.params)
            scores = []
            for rec in recs:
                score, fig = bt.score(overlay, rec, split.validation_window(rec))
                scores.append(score)
                result.validation_figures.append(fig)
            result.validation = sum(scores) / len(scores)
            result.importances = _importances(st)
            if write:
                result.files = write_overlay(result, overlay, overlays_dir(root), root)
    return result


def _importances(st: optuna.Study) -> dict[str, float] | None:
    """PED-ANOVA importances (optuna's, no extra dependency) of the finished trials; None with too few."""
    if len([t for t in st.trials if t.state is TrialState.COMPLETE]) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental-API warnings
        try:
            imp = optuna.importance.get_param_importances(st, evaluator=optuna.importance.PedAnovaImportanceEvaluator())
        except (RuntimeError, ValueError):
            return None
    return {k: round(float(v), 6) for k, v in imp.items()}


def write_overlay(result: TuneResult, overlay: Overlay, directory: Path, root: Path) -> dict[str, str]:
    """The best overlay: ``<study>.yaml`` (runner overlay), ``<study>.gate.yaml`` (gate layer, when the space
    tunes the gate) and ``<study>.provenance.json``; the YAML files carry the provenance as comments."""
    prov = result.provenance()
    score = prov["score"]
    header = "\n".join([
        f"Tuned by `auroractl tune`: study {result.study}, trial {prov['trial']}, seed {result.seed}, "
        f"objective {result.objective.name}",
        f"score: train {score['train']}, validation {score['validation']} (split {result.split.train_fraction})",
        f"space: {result.space.path} sha256 {result.space.sha256}",
        *(f"recording: {r.path} sha256 {r.sha256}" for r in result.recordings),
        f"provenance: {result.study}.provenance.json",
    ])  # fmt: skip
    files = {"runner": _display_path(directory / f"{result.study}.yaml", root)}
    gate = _display_path(directory / f"{result.study}.gate.yaml", root)
    if overlay.gate:
        files["gate"] = gate
    files["provenance"] = _display_path(directory / f"{result.study}.provenance.json", root)
    overlay.write_runner(directory / f"{result.study}.yaml", header=header + f"\napply: run-runner --overlay {result.study}")
    if overlay.gate:
        overlay.write_gate(directory / f"{result.study}.gate.yaml", header=header + f"\napply: AURORA_CONFIG={gate}")
    write_atomic(directory / f"{result.study}.provenance.json",
                 json.dumps({**prov, "files": files}, indent=2, sort_keys=True) + "\n")  # fmt: skip
    return files
