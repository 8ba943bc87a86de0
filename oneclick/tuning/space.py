"""The tuner's search space: a YAML file (``profiles/spaces/*.yaml``) naming config keys and their ranges.

::

    parameters:
      - key: strategy.tp_bps        # a key of the runner config (runner/config.py)
        low: 4.0
        high: 20.0
        step: 0.5
      - key: strategy.entry
        choices: [cross, join]
      - key: risk.pi_min_bps        # a key of the gate config (aurora/config/models.py)
        target: gate
        low: -5.0
        high: 5.0

A parameter is a real scalar key of its target's config model; its bounds (and every choice) must be
values that model accepts; a numeric range is ``low < high`` with an optional ``step`` or ``log`` (not
both; ``log`` needs ``low > 0``). The file is read by the config reader (:func:`aurora.config.yaml_source.
read_yaml`: size, encoding, duplicate keys, line of every key) and every problem is a
:class:`aurora.config.errors.ConfigIssue` naming file:line, all raised together as a :class:`ConfigError`.

A trial's values become an :class:`Overlay`: a runner layer and a gate layer (nested dicts), written as YAML
files and applied only through the validated loaders (``load_runner(overlays=...)``, ``load_aurora(file=...)``).
:meth:`SearchSpace.check_bounds` refuses an overlay with a value outside the space file's bounds, so a tuned
overlay can never widen a gate limit beyond what the space allowed.
"""

from __future__ import annotations

import difflib
import enum
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from aurora.config.errors import ConfigError, ConfigIssue
from aurora.config.inspect import write_atomic
from aurora.config.loader import _expected
from aurora.config.models import AuroraConfig
from aurora.config.yaml_source import read_yaml
from runner.config import RunnerConfig

Value = bool | int | float | str


def _a_number(v: Any) -> Any:
    """One message for a value that is not a number (the union below would give one per member)."""
    if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
        hint = " (YAML reads an exponent without a dot as text: write 1.0e+5)" if isinstance(v, str) and "e" in v else ""
        raise PydanticCustomError("float_type", "Input should be a number" + hint)
    return v


Number = Annotated[StrictInt | StrictFloat | None, BeforeValidator(_a_number)]


class Target(enum.StrEnum):
    """Which config a parameter belongs to."""

    RUNNER = "runner"  # runner/config.py: RunnerConfig (a runner overlay, ``run-runner --overlay``)
    GATE = "gate"  # aurora/config/models.py: AuroraConfig (a gate layer, AURORA_CONFIG / ``--config``)


MODELS: dict[Target, type[BaseModel]] = {Target.RUNNER: RunnerConfig, Target.GATE: AuroraConfig}


#: Sections a space may tune: the strategy's decisions and the gate's thresholds, never the measurement
#: itself (the feed, the simulated venue's slippage and latency, the gate client) nor secrets or paths.
TUNABLE: dict[Target, tuple[str, ...]] = {
    Target.RUNNER: ("strategy", "parent_gate"),
    Target.GATE: ("risk", "guards", "gates", "slippage", "pretrade", "trap", "sprt", "killswitch", "aurora"),
}
#: Keys of those sections that are fixed: the fees the PnL is net of, the backtest's trade window, files.
FIXED: dict[Target, frozenset[str]] = {
    Target.RUNNER: frozenset({"strategy.fees_bps", "strategy.entries_from_s", "strategy.entries_until_s",
                              "strategy.calibration_path"}),
    Target.GATE: frozenset(),
}


class Kind(enum.StrEnum):
    FLOAT = "float"
    INT = "int"
    CATEGORICAL = "categorical"


class _ParamSpec(BaseModel):
    """One entry of ``parameters`` as written (the per-field checks; the cross-field ones are below)."""

    model_config = ConfigDict(extra="forbid")

    key: StrictStr = Field(min_length=1)
    target: Target = Target.RUNNER
    low: Number = Field(None, allow_inf_nan=False)
    high: Number = Field(None, allow_inf_nan=False)
    step: Number = Field(None, gt=0, allow_inf_nan=False)
    log: StrictBool = False
    choices: list[StrictBool | StrictInt | StrictFloat | StrictStr] | None = Field(None, min_length=1)


class _SpaceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    parameters: list[dict[str, Any]] = Field(min_length=1)


@dataclass(frozen=True)
class Parameter:
    """One tuned key: its target config, dotted key, kind and range (``low``..``high``) or ``choices``."""

    target: Target
    key: str
    kind: Kind
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    log: bool = False
    choices: tuple[Value, ...] | None = None
    line: int | None = None  # where the space file declares it

    @property
    def name(self) -> str:
        """The trial parameter's name: ``runner.strategy.tp_bps``, ``gate.risk.pi_min_bps``."""
        return f"{self.target.value}.{self.key}"

    def suggest(self, trial: Any) -> Value:
        """The trial's value (optuna's ``suggest_float`` / ``suggest_int`` / ``suggest_categorical``)."""
        if self.kind is Kind.CATEGORICAL:
            return trial.suggest_categorical(self.name, list(self.choices or ()))
        if self.kind is Kind.INT:
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step, log=self.log)

    def contains(self, value: Any) -> bool:
        if self.kind is Kind.CATEGORICAL:
            return any(type(value) is type(c) and value == c for c in self.choices or ())
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        if self.kind is Kind.INT and not isinstance(value, int):
            return False
        return self.low <= value <= self.high

    def bounds_text(self) -> str:
        if self.kind is Kind.CATEGORICAL:
            return "one of " + ", ".join(repr(c) for c in self.choices or ())
        return f"within [{self.low}, {self.high}]"


@dataclass(frozen=True)
class Overlay:
    """A candidate's values: ``runner`` and ``gate`` as nested dicts (YAML layers), ``params`` flat by name."""

    runner: dict[str, Any]
    gate: dict[str, Any]
    params: dict[str, Value]

    def write_runner(self, path: Path, *, header: str = "") -> Path:
        """The runner part as a runner overlay file (``run-runner --overlay``), written atomically."""
        return _write_layer(path, self.runner, header)

    def write_gate(self, path: Path, *, header: str = "") -> Path:
        """The gate part as a gate layer file (``AURORA_CONFIG`` / ``backtest --config``), written atomically."""
        return _write_layer(path, self.gate, header)


def _write_layer(path: Path, data: Mapping[str, Any], header: str) -> Path:
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    body = yaml.safe_dump(dict(data), sort_keys=True, default_flow_style=False) if data else "{}\n"
    write_atomic(path, comments + body)
    return path


def _nest(items: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in items:
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


@dataclass(frozen=True)
class SearchSpace:
    """A validated space file: its parameters, in file order."""

    path: Path
    sha256: str
    parameters: tuple[Parameter, ...]
    description: str | None = None
    _by_name: dict[str, Parameter] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({p.name: p for p in self.parameters})

    def parameter(self, name: str) -> Parameter:
        return self._by_name[name]

    @property
    def tunes_gate(self) -> bool:
        return any(p.target is Target.GATE for p in self.parameters)

    def suggest(self, trial: Any) -> Overlay:
        """The trial's overlay: one suggestion per parameter, in file order (what TPE's seeding relies on)."""
        return self.overlay({p.name: p.suggest(trial) for p in self.parameters})

    def overlay(self, params: Mapping[str, Any]) -> Overlay:
        """The overlay of given values (a finished trial's ``params``); checked against the bounds."""
        unknown = sorted(set(params) - set(self._by_name))
        missing = [p.name for p in self.parameters if p.name not in params]
        if unknown or missing:
            raise ConfigError([ConfigIssue(
                f"the values do not match the space: unknown {', '.join(unknown) or '-'}, "
                f"missing {', '.join(missing) or '-'}", source=str(self.path))])  # fmt: skip
        values = {p.name: params[p.name] for p in self.parameters}
        ov = Overlay(
            runner=_nest([(p.key, values[p.name]) for p in self.parameters if p.target is Target.RUNNER]),
            gate=_nest([(p.key, values[p.name]) for p in self.parameters if p.target is Target.GATE]),
            params=values,
        )
        self.check_bounds(ov)
        return ov

    def check_bounds(self, overlay: Overlay) -> None:
        """Refuse (:class:`ConfigError`, naming the space file's line) an overlay that sets a key the space does
        not tune or a value outside its bounds: a tuned overlay never goes beyond what the space allowed."""
        issues = []
        set_keys = [(Target.RUNNER, k, v) for k, v in _flat(overlay.runner)]
        set_keys += [(Target.GATE, k, v) for k, v in _flat(overlay.gate)]
        for target, key, value in set_keys:
            p = self._by_name.get(f"{target.value}.{key}")
            if p is None:
                issues.append(ConfigIssue(f"the overlay sets {target.value} key {key}, which the space does not tune",
                                          source=str(self.path), key=key, code="TUNE.OUT_OF_BOUNDS"))  # fmt: skip
            elif not p.contains(value):
                issues.append(ConfigIssue(f"{p.name} = {value!r} is outside the space's bounds", source=str(self.path),
                                          line=p.line, key=key, expected=p.bounds_text(), got=repr(value),
                                          code="TUNE.OUT_OF_BOUNDS"))  # fmt: skip
        for name, value in overlay.params.items():
            p = self._by_name.get(name)
            if p is None or not p.contains(value):
                issues.append(ConfigIssue(f"parameter {name} = {value!r} is not in the space", source=str(self.path),
                                          line=p.line if p else None, code="TUNE.OUT_OF_BOUNDS"))  # fmt: skip
        if issues:
            raise ConfigError(issues)


def _flat(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for k, v in data.items():
        dotted = f"{prefix}.{k}" if prefix else str(k)
        out += _flat(v, dotted) if isinstance(v, Mapping) else [(dotted, v)]
    return out


def _field_of(model: type[BaseModel], key: str) -> tuple[Any, str | None]:
    """The annotation of the scalar field ``key`` of ``model``, or (None, why not)."""
    current: type[BaseModel] = model
    parts = key.split(".")
    for i, part in enumerate(parts):
        fields = current.model_fields
        if part not in fields:
            near = difflib.get_close_matches(part, list(fields), n=1, cutoff=0.6)
            where = ".".join(parts[:i])
            hint = f"; did you mean {where + '.' if where else ''}{near[0]}?" if near else ""
            return None, f"unknown key of the {model.__name__} config{hint}"
        ann = fields[part].annotation
        sub = _model_in(ann)
        if i == len(parts) - 1:
            if sub is not None or _origin_in(ann, (list, dict, tuple, set)):
                return None, "not a scalar key (a section, a list or a mapping cannot be tuned)"
            return ann, None
        if sub is None or _origin_in(ann, (list, dict, tuple, set)):
            return None, f"unknown key of the {model.__name__} config ({'.'.join(parts[: i + 1])} is not a section)"
        current = sub
    return None, "empty key"


def _model_in(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in typing.get_args(ann):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _origin_in(ann: Any, kinds: tuple[type, ...]) -> bool:
    return typing.get_origin(ann) in kinds or any(_origin_in(a, kinds) for a in typing.get_args(ann))


def _numeric_kind(ann: Any) -> Kind | None:
    """INT / FLOAT for an int or float field (optional or constrained), None for anything else."""
    if typing.get_origin(ann) is typing.Annotated:
        return _numeric_kind(typing.get_args(ann)[0])
    if ann is bool:
        return None
    if ann is int:
        return Kind.INT
    if ann is float:
        return Kind.FLOAT
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    if typing.get_origin(ann) is Literal or len(args) != 1:
        return None
    return _numeric_kind(args[0])


def _model_problem(model: type[BaseModel], key: str, value: Any) -> ValidationError | None:
    """Whether ``model`` accepts ``value`` at ``key`` (everything else at its default)."""
    try:
        model.model_validate(_nest([(key, value)]))
    except ValidationError as exc:
        return exc
    return None


class _Issues:
    def __init__(self, shown: str, lines: Mapping[str, int]) -> None:
        self.shown, self.lines, self.items = shown, lines, []

    def add(self, where: str, message: str, *, key: str | None = None, expected: str | None = None,
            got: Any = None) -> None:  # fmt: skip
        probe = where
        while probe and probe not in self.lines:  # the field's own line, else its entry's
            probe = probe.rpartition(".")[0]
        self.items.append(ConfigIssue(message, source=self.shown, line=self.lines.get(probe), key=key or where,
                                      expected=expected, got=None if got is None else repr(got)))  # fmt: skip


def load_space(path: Path, *, shown: str | None = None) -> SearchSpace:
    """Read and validate a space file. Raises :class:`ConfigError` with every problem (file:line, key)."""
    shown = shown or str(path)
    doc, issues = read_yaml(path, shown=shown)
    if doc is None:
        raise ConfigError(issues)
    out = _Issues(shown, doc.lines)
    try:
        top = _SpaceFile.model_validate(doc.data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            where = _where(err["loc"])
            msg = "unknown field (a space file has description and parameters)" if err["type"] == "extra_forbidden" \
                else err["msg"]  # fmt: skip
            out.add(where, msg, expected=_expected(err))
        raise ConfigError(out.items) from None
    params: list[Parameter] = []
    seen: dict[str, int | None] = {}
    for i, raw in enumerate(top.parameters):
        p = _parameter(raw, f"parameters[{i}]", out)
        if p is None:
            continue
        if p.name in seen:
            out.add(f"parameters[{i}].key", f"{p.key} is tuned twice (first at line {seen[p.name]})", key=p.key)
            continue
        seen[p.name] = p.line
        params.append(p)
    if out.items:
        raise ConfigError(out.items)
    return SearchSpace(path=path, sha256=doc.sha256, parameters=tuple(params), description=top.description)


def _where(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _parameter(raw: Mapping[str, Any], where: str, out: _Issues) -> Parameter | None:
    before = len(out.items)
    try:
        spec = _ParamSpec.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            sub = _where(err["loc"])
            at = f"{where}.{sub}" if sub else where
            msg = ("unknown field (a parameter has key, target, low, high, step, log, choices)"
                   if err["type"] == "extra_forbidden" else err["msg"])  # fmt: skip
            out.add(at, f"{sub}: {msg}" if sub else msg, key=raw.get("key") if isinstance(raw.get("key"), str) else at,
                    expected=_expected(err), got=err.get("input") if err["type"] != "extra_forbidden" else None)
        return None
    model = MODELS[spec.target]
    ann, why = _field_of(model, spec.key)
    if why is None and (spec.key.split(".")[0] not in TUNABLE[spec.target] or spec.key in FIXED[spec.target]):
        why = (f"not tunable (a {spec.target.value} space tunes keys of {', '.join(TUNABLE[spec.target])}, "
               f"except {', '.join(sorted(FIXED[spec.target])) or 'none'})")  # fmt: skip
    if why:
        out.add(f"{where}.key", f"{spec.key}: {why}", key=spec.key)
        return None
    kind = Kind.CATEGORICAL if spec.choices is not None else _numeric_kind(ann)

    def bad(fld: str, message: str, **kw: Any) -> None:
        out.add(f"{where}.{fld}", message, key=spec.key, **kw)

    if spec.choices is not None:
        for fld in ("low", "high", "step"):
            if getattr(spec, fld) is not None:
                bad(fld, "give a range (low/high) or choices, not both")
        if spec.log:
            bad("log", "log applies to a numeric range, not to choices")
        if len(set(map(repr, spec.choices))) != len(spec.choices):
            bad("choices", "a choice is listed twice")
    elif kind is None:
        bad("key", f"{spec.key} is not a number: give its choices", expected="choices: [...]")
    elif spec.low is None or spec.high is None:
        bad("low" if spec.low is None else "high", "a numeric parameter needs low and high (or choices)")
    else:
        if kind is Kind.INT:
            for fld in ("low", "high", "step"):
                v = getattr(spec, fld)
                if v is not None and not isinstance(v, int):
                    bad(fld, f"{spec.key} is an integer key", expected="an integer", got=v)
        if spec.low >= spec.high:
            bad("high", "empty range: high must be greater than low" if spec.low == spec.high
                else "inverted range: high is below low", expected=f"> {spec.low}", got=spec.high)  # fmt: skip
        if spec.log and spec.low <= 0:
            bad("low", "a log range needs low > 0", expected="> 0", got=spec.low)
        if spec.log and spec.step is not None:
            bad("step", "step and log cannot be combined (optuna samples one or the other)")
        if spec.step is not None and spec.low < spec.high and spec.step > spec.high - spec.low:
            bad("step", "step is larger than the range", expected=f"<= {spec.high - spec.low}", got=spec.step)
    if len(out.items) > before:
        return None
    values = list(spec.choices) if spec.choices is not None else [spec.low, spec.high]
    for fld, v in zip(["choices"] * len(values) if spec.choices is not None else ["low", "high"], values, strict=True):
        exc = _model_problem(model, spec.key, v)
        if exc is not None:
            err = exc.errors(include_url=False)[0]
            bad(fld, f"{model.__name__} does not accept {v!r} for {spec.key}: {err['msg']}",
                expected=_expected(err), got=v)  # fmt: skip
    if len(out.items) > before:
        return None
    low, high, step = spec.low, spec.high, spec.step
    if kind is Kind.FLOAT:
        low, high = float(low), float(high)
        step = None if step is None else float(step)
    line = out.lines.get(where)
    return Parameter(target=spec.target, key=spec.key, kind=kind, low=low, high=high, step=step, log=spec.log,
                     choices=tuple(spec.choices) if spec.choices is not None else None, line=line)  # fmt: skip
