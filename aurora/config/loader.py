"""The layered loader (SPEC §3) for the gate config and, with the same machinery, the runner config.

Gate layers, lowest to highest: built-in defaults, ``configs/aurora/base.yaml``,
``configs/aurora/{mode}.yaml``, ``AURORA_CONFIG``/``AURORA_CONFIG_NAME``, environment (incl. ``.env``).
Runner layers: defaults, ``configs/runner/base.yaml``, ``--config``, ``--profile``, ``--overlay``…, env.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import logging
import os
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson
from dotenv import dotenv_values
from dotenv.parser import parse_stream
from pydantic import BaseModel, SecretStr, ValidationError

from aurora.config import env_table
from aurora.config.errors import ConfigError, ConfigIssue
from aurora.config.merge import KeyHistory, Origin, ProvenanceMerge, flatten
from aurora.config.models import MODE_ALIASES, MODES, AuroraConfig, sprt_bounds
from aurora.config.paths import (
    aurora_configs,
    overlays_dir,
    profiles_dir,
    project_root,
    resolve_named,
    runner_configs,
    state_file,
    unusable_file,
)
from aurora.config.secrets import REDACTED, display, is_placeholder, is_secret_key, redact_tree
from aurora.config.yaml_source import read_yaml

M = TypeVar("M", bound=BaseModel)


@dataclass
class LayerInfo:
    index: int
    name: str
    kind: str  # builtin | file | env
    status: str  # loaded | missing | error | skipped
    path: str | None = None
    sha256: str | None = None
    size: int | None = None
    mtime: float | None = None
    required: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if v not in (None, "")}
        if self.mtime is not None:
            d["mtime"] = datetime.fromtimestamp(self.mtime, UTC).isoformat()
        return d


#: Keys that were documented but never read by anything; set, they are ignored with a warning saying so.
REMOVED_KEYS = {
    "trading.max_latency_ms": "the gate's latency limit is guards.latency_ms_limit",
    "observability.icp_enabled": "nothing implemented it",
    "trap.window_s": "the runner's strategy.trap_window_s sets the window of the volumes each check reports; "
    "the gate judges them against its last trap.history observations",
}


def read_dotenv(path: Path) -> tuple[dict[str, str], list[ConfigIssue]]:
    """``KEY=value`` lines of a ``.env`` file; every line that does not parse is an issue with its line.

    Parsed with python-dotenv's own parser (the values mean what they mean to other tools); its logged
    warnings are not used: a bad line is an error here, not a note on the console.
    """
    shown = str(path)
    problem = unusable_file(path)
    if problem:
        return {}, [ConfigIssue(problem, source=shown)]
    try:
        raw = path.read_bytes()[: 1 << 20]
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {}, [ConfigIssue(f"not UTF-8 text (invalid byte at offset {exc.start})", source=shown)]
    except OSError as exc:
        return {}, [ConfigIssue(f"cannot read file: {exc.strerror or exc}", source=shown)]
    issues = []
    for binding in parse_stream(io.StringIO(text)):
        # a bare word is legal dotenv ("declared, no value") but in an Aurora .env it is a mistake
        if binding.error or (binding.key is not None and binding.value is None):
            first = binding.original.string.strip().splitlines()[0] if binding.original.string.strip() else ""
            # only the name part is echoed: the value may be a secret
            name = first.split("=", 1)[0].strip()[:40]
            unterminated = "=" in first and first.split("=", 1)[1].lstrip()[:1] in ("'", '"')
            issues.append(
                ConfigIssue(
                    f"unterminated quoted value for {name}" if unterminated else "line is not KEY=value",
                    source=shown,
                    line=binding.original.line,
                    expected="KEY=value, export KEY=value, a comment or a blank line",
                    code="CONFIG.DOTENV",
                )
            )
    if issues:
        return {}, issues
    logger = logging.getLogger("dotenv.main")
    previous, logger.disabled = logger.disabled, True
    try:
        values = {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}
    finally:
        logger.disabled = previous
    return values, []


@dataclass
class Environment:
    """The process environment plus ``.env`` (process wins), remembering which came from ``.env``."""

    values: dict[str, str]
    dotenv_path: Path | None = None
    from_dotenv: frozenset[str] = frozenset()
    issues: list[ConfigIssue] = field(default_factory=list)  # lines of .env that do not parse

    @classmethod
    def capture(cls, environ: Mapping[str, str] | None = None, *, cwd: Path | None = None) -> Environment:
        base = dict(os.environ if environ is None else environ)
        path = (cwd or Path.cwd()) / ".env"
        if not os.path.lexists(path):
            return cls(base)
        values, issues = read_dotenv(path)
        extra = {k: v for k, v in values.items() if k not in base}
        return cls({**extra, **base}, path, frozenset(extra), issues)

    def source(self, var: str) -> str:
        return f"env:{var}" + (f" ({self.dotenv_path})" if var in self.from_dotenv else "")


@dataclass
class Loaded(Generic[M]):
    """An effective config, how it was made, and what was wrong with it (warnings)."""

    config: M
    layers: list[LayerInfo]
    history: dict[str, KeyHistory]
    warnings: list[ConfigIssue] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (event code, details)
    env: Environment | None = None

    def effective(self, *, show_secrets: bool = False) -> dict[str, Any]:
        return redact_tree(self.config.model_dump(mode="python"), show=show_secrets)

    @property
    def checksum(self) -> str:
        """sha256 of the effective config, secrets replaced by ``***`` (so it is safe to print)."""
        blob = orjson.dumps(self.effective(), option=orjson.OPT_SORT_KEYS, default=str)
        return hashlib.sha256(blob).hexdigest()

    @property
    def version(self) -> str:
        return self.checksum[:12]

    def trace(self, key: str | None = None, *, show_secrets: bool = False) -> list[dict[str, Any]]:
        """Per effective key: its value, the layer and file/var that set it, and what it overrode."""

        def origin(o: Origin) -> dict[str, Any]:
            d = {"layer": o.layer, "source": o.source, "value": display(k, o.value, show=show_secrets)}
            if o.line:
                d["line"] = o.line
            return d

        out = []
        for k in sorted(self.history):
            if key and not (k == key or k.startswith(key + ".")):
                continue
            h = self.history[k]
            out.append(
                {
                    "key": k,
                    "value": display(k, h.effective.value, show=show_secrets),
                    "set_by": origin(h.effective),
                    "overrode": [origin(o) for o in reversed(h.overridden)],
                }
            )
        return out


@dataclass
class LoadedAurora(Loaded[AuroraConfig]):
    mode: str = "development"
    mode_source: str = "default"
    root: Path = field(default_factory=Path.cwd)


class _Builder:
    """Collects layers, issues and provenance; shared by the gate and runner loaders."""

    def __init__(self, env: Environment, root: Path) -> None:
        self.env = env
        self.root = root
        self.merge = ProvenanceMerge()
        self.layers: list[LayerInfo] = []
        self.errors: list[ConfigIssue] = list(env.issues)
        self.warnings: list[ConfigIssue] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.line_of: dict[tuple[str, str], int] = {}  # (source, key) -> line

    def defaults(self, model: type[BaseModel]) -> None:
        dump = model().model_dump(mode="python")
        for key, value in flatten(dump):
            self.merge.set(key, value, Origin("defaults", "<defaults>", value))
        self.layers.append(LayerInfo(len(self.layers) + 1, "defaults", "builtin", "loaded", note="pydantic models"))

    def file(self, layer: str, path: Path, *, required: bool, note: str = "") -> None:
        shown = _display_path(path, self.root)
        info = LayerInfo(len(self.layers) + 1, layer, "file", "missing", path=shown, required=required, note=note)
        self.layers.append(info)
        problem = unusable_file(path)
        if problem == "file not found":
            if required:
                self.errors.append(ConfigIssue("required config file is missing", source=shown))
            return
        doc, issues = read_yaml(path, shown=shown)
        if doc is None:
            info.status = "error"
            self.errors.extend(issues)
            return
        info.status, info.sha256, info.size, info.mtime = "loaded", doc.sha256, doc.size, doc.mtime
        self._drop_removed(doc.data, shown, doc.lines)
        self.merge.apply(doc.data, layer=layer, source=shown, lines=doc.lines)

    def _drop_removed(self, data: dict[str, Any], shown: str, lines: Mapping[str, int]) -> None:
        for key, why in REMOVED_KEYS.items():
            section, name = key.split(".")
            values = data.get(section)
            if isinstance(values, dict) and name in values:
                del values[name]
                if not values:
                    del data[section]
                self.warnings.append(
                    ConfigIssue(
                        f"{key} was removed (it never had an effect: {why}); the value is ignored, delete it",
                        source=shown,
                        line=lines.get(key),
                        key=key,
                        severity="warning",
                        code="CONFIG.KEY_REMOVED",
                    )
                )

    def environment(self, target: str) -> None:
        applied = []
        for var, key in env_table.REMOVED_VARS.items():
            if target == "aurora" and var in self.env.values:
                self.warnings.append(
                    ConfigIssue(
                        f"{var} sets {key}, which was removed (it never had an effect: {REMOVED_KEYS[key]}); "
                        "it is ignored, unset it",
                        source=self.env.source(var),
                        key=key,
                        severity="warning",
                        code="CONFIG.KEY_REMOVED",
                    )
                )
        for entry in env_table.ENV_OVERRIDES:
            if entry.target != target:
                continue
            picked = env_table.pick(entry, self.env.values)
            if picked is None:
                continue
            source = self.env.source(picked.var)
            try:
                value = env_table.parse_value(entry, picked.var, picked.raw)
            except env_table.EnvValueError as exc:
                self.errors.append(
                    ConfigIssue(
                        "cannot parse the environment variable",
                        source=source,
                        key=entry.key,
                        expected=exc.expected,
                        got=exc.got,
                    )
                )
                continue
            if entry.secret:
                value = SecretStr(value)
            self.merge.set(entry.key, value, Origin("env", source, value))
            applied.append(picked.var)
            if picked.via_alias:
                msg = f"{picked.var} is an alias; use {entry.name}"
                self.warnings.append(
                    ConfigIssue(msg, source=source, key=entry.key, severity="warning", code=entry.alias_event)
                )
                self.events.append((entry.alias_event, {"alias": picked.var, "canonical": entry.name}))
            for alias, raw in picked.shadowed:
                same = raw.strip() == picked.raw.strip()
                self.warnings.append(
                    ConfigIssue(
                        f"{alias} is also set{'' if same else ' to a different value'} and is ignored: "
                        f"{entry.name} wins",
                        source=self.env.source(alias),
                        key=entry.key,
                        severity="warning",
                        code="CONFIG.ALIAS_CONFLICT",
                    )
                )
        self.layers.append(
            LayerInfo(
                len(self.layers) + 1,
                "env",
                "env",
                "loaded" if applied else "skipped",
                path=str(self.env.dotenv_path) if self.env.dotenv_path else None,
                note=", ".join(applied) if applied else "no overrides set",
            )
        )

    def unknown_env(self) -> None:
        for unk in env_table.unknown_vars(self.env.values):
            hint = f"; did you mean {unk.suggestion}?" if unk.suggestion else ""
            self.errors.append(
                ConfigIssue(
                    f"unknown variable {unk.name} (probable typo){hint}",
                    source=self.env.source(unk.name),
                    code=env_table.EventCode.CONFIG_ENV_UNKNOWN.value,
                )
            )

    def validate(self, model: type[M]) -> M | None:
        try:
            return model.model_validate(self.merge.data)
        except ValidationError as exc:
            # A scalar where a section holding secrets belongs (``security: <token>``) is a secret too.
            secret_keys = [k for k, _ in flatten(model().model_dump(mode="python")) if is_secret_key(k)]
            for err in exc.errors(include_url=False):
                key = ".".join(str(p) for p in err["loc"])
                origin = self.merge.origin_of(key)
                got = err.get("input")
                holds_secret = any(s == key or s.startswith(key + ".") for s in secret_keys) if key else False
                if is_secret_key(key) or holds_secret or isinstance(got, SecretStr):
                    got = REDACTED
                elif isinstance(got, dict):
                    got = "a mapping"
                msg = err["msg"]
                if err["type"] == "extra_forbidden":
                    near = _near_miss(model, err["loc"])
                    msg = f"unknown key; did you mean {near}?" if near else "unknown key"
                    got = None
                self.errors.append(
                    ConfigIssue(
                        msg,
                        source=origin.source if origin else None,
                        line=origin.line if origin else None,
                        key=key,
                        expected=_expected(err),
                        got=None if got is None else str(got),
                    )
                )
            return None


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``X``, ``X | None``, ``list[X]`` or ``dict[str, X]``, if there is one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _near_miss(model: type[BaseModel], loc: Sequence[Any]) -> str | None:
    """The closest valid name for the unknown key at ``loc`` (a pydantic error location)."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if current is None:
            return None
        if isinstance(part, int) or part not in current.model_fields:
            continue  # a list index or a dict key: the item's model is the same
        current = _submodel(current.model_fields[part].annotation)
    if current is None:
        return None
    names = list(current.model_fields)
    match = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
    if not match:
        return None
    parent = ".".join(str(p) for p in loc[:-1] if not isinstance(p, int))
    return f"{parent}.{match[0]}" if parent else match[0]


def _display_path(path: Path, root: Path) -> str:
    """Paths under the project root are shown relative to it (shorter, and stable across checkouts)."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _expected(err: Mapping[str, Any]) -> str | None:
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        return str(ctx["expected"])
    for bound, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if bound in ctx:
            return f"{word} {ctx[bound]}"
    kind = err.get("type", "")
    for prefix, text in (("int", "an integer"), ("float", "a number"), ("bool", "a boolean"), ("string", "a string")):
        if kind.startswith(prefix):
            return text
    return None


def normalize_mode(value: str) -> str | None:
    mode = MODE_ALIASES.get(value.strip().lower(), value.strip().lower())
    return mode if mode in MODES else None


def resolve_mode(env: Environment, root: Path) -> tuple[str, str]:
    """``AURORA_MODE`` > the switched state file > ``development``. Returns (mode, where it came from)."""
    raw = env.values.get("AURORA_MODE")
    if raw:
        mode = normalize_mode(raw)
        if mode is None:
            raise ConfigError(
                [
                    ConfigIssue(
                        "unknown mode",
                        source=env.source("AURORA_MODE"),
                        expected=" | ".join(MODES) + " (prod)",
                        got=raw,
                    )
                ]
            )
        return mode, env.source("AURORA_MODE")
    path = state_file(root)
    if path.is_file():
        raw = path.read_text(encoding="utf-8").strip()
        mode = normalize_mode(raw)
        if mode is None:
            raise ConfigError(
                [ConfigIssue("unknown mode in state file", source=str(path), expected=" | ".join(MODES), got=raw)]
            )
        return mode, str(path)
    return "development", "default"


def _derive_sprt(b: _Builder) -> None:
    """A/B from alpha/beta when both are set, unless A/B came from the environment (which always wins)."""
    sprt = b.merge.data.get("sprt")
    if not isinstance(sprt, dict):
        return
    alpha, beta = sprt.get("alpha"), sprt.get("beta")
    if not all(isinstance(v, int | float) and 0 < v < 1 for v in (alpha, beta)):
        return
    upper, lower = sprt_bounds(float(alpha), float(beta))
    for key, value in (("sprt.A", upper), ("sprt.B", lower)):
        hist = b.merge.history.get(key)
        if hist and hist.effective.layer == "env":
            continue
        b.merge.set(key, round(value, 12), Origin("derived", "from sprt.alpha, sprt.beta", round(value, 12)))


def production_issues(cfg: AuroraConfig, history: Mapping[str, KeyHistory]) -> list[ConfigIssue]:
    """In production the gate refuses placeholder or short tokens (api >= 16, ops >= 32 chars)."""
    issues = []
    for key, minimum, var in (
        ("security.api_token", 16, "AURORA_API_TOKEN"),
        ("security.ops_token", 32, "OPS_TOKEN"),
    ):
        section, name = key.split(".")
        secret = getattr(getattr(cfg, section), name)
        hist = history.get(key)
        src = hist.effective.source if hist and hist.effective.layer != "defaults" else None
        line = hist.effective.line if hist else None
        if secret is None:
            problem = f"is not set; production needs it (set {var})"
        else:
            value = secret.get_secret_value()
            if is_placeholder(value):
                problem = "is a placeholder; production needs a real token"
            elif len(value) < minimum:
                problem = f"is too short for production ({len(value)} < {minimum} characters)"
            else:
                continue
        issues.append(
            ConfigIssue(
                f"{key} {problem}",
                source=src,
                line=line,
                key=key,
                expected=f">= {minimum} characters, not a placeholder",
                code="CONFIG.PRODUCTION_SAFETY",
            )
        )
    return issues


def load_aurora(
    mode: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    root: Path | None = None,
    name: str | None = None,
    file: str | None = None,
    check_unknown_env: bool = True,
) -> LoadedAurora:
    """Load and validate the effective gate config. Raises :class:`ConfigError` with every problem."""
    env = environ if isinstance(environ, Environment) else Environment.capture(environ)
    root = root or project_root(env.values)
    if mode is not None:
        resolved = normalize_mode(mode)
        if resolved is None:
            raise ConfigError([ConfigIssue("unknown mode", source="ENV", expected=" | ".join(MODES), got=mode)])
        mode, mode_source = resolved, "argument"
    else:
        mode, mode_source = resolve_mode(env, root)

    b = _Builder(env, root)
    b.defaults(AuroraConfig)
    cfg_dir = aurora_configs(root)
    b.file("base", cfg_dir / "base.yaml", required=True)
    b.file(f"mode:{mode}", cfg_dir / f"{mode}.yaml", required=False)

    user_value, user_source = file or name, "--file" if file else "--name"
    if user_value is None:
        for var in ("AURORA_CONFIG", "AURORA_CONFIG_NAME"):
            if env.values.get(var):
                user_value, user_source = env.values[var], env.source(var)
                break
    if user_value:
        try:
            path = resolve_named(user_value, [cfg_dir, root / "configs"], what=user_source)
        except ConfigError as exc:
            b.errors.extend(exc.issues)
            b.layers.append(LayerInfo(len(b.layers) + 1, "user", "file", "missing", path=user_value, note=user_source))
        else:
            b.file("user", path, required=True, note=user_source)
    else:
        b.layers.append(
            LayerInfo(len(b.layers) + 1, "user", "file", "skipped", note="AURORA_CONFIG / AURORA_CONFIG_NAME not set")
        )
    b.environment("aurora")
    if check_unknown_env:
        b.unknown_env()
    _derive_sprt(b)
    cfg = b.validate(AuroraConfig)
    if cfg is not None and mode == "production":
        b.errors.extend(production_issues(cfg, b.merge.history))
    if b.errors or cfg is None:
        raise ConfigError(b.errors, warnings=b.warnings)
    return LoadedAurora(
        config=cfg,
        layers=b.layers,
        history=b.merge.history,
        warnings=b.warnings,
        events=b.events,
        env=env,
        mode=mode,
        mode_source=mode_source,
        root=root,
    )


def load_over(
    effective: Mapping[str, Any],
    sources: Mapping[str, str],
    files: Sequence[Path],
    *,
    mode: str,
    root: Path | None = None,
    layer: str = "session",
    note: str = "",
) -> LoadedAurora:
    """A recorded effective config (``CONFIG.EFFECTIVE``: values and where each was set) as the lowest layer,
    with ``files`` (a candidate's YAML layers, in order) applied over it like any config layer.

    The recorded layer keeps its provenance: a key shows the file:line or variable that set it in the
    recording (``sources``), or ``defaults``. Secrets were recorded redacted and are left unset (a decision
    never reads them); the environment is not applied. Raises :class:`ConfigError` with file, line and key
    for an unknown key or an invalid value, as ``config validate`` reports them.
    """
    root = root or Path.cwd()
    b = _Builder(Environment({}), root)
    b.defaults(AuroraConfig)
    for key, value in flatten(effective):
        if is_secret_key(key) or value == REDACTED:
            continue
        src = sources.get(key)
        b.merge.set(key, value, Origin(layer, src, value) if src else Origin("defaults", "<defaults>", value))
    b.layers.append(LayerInfo(len(b.layers) + 1, layer, "recorded", "loaded", note=note))
    for path in files:
        b.file("candidate", path, required=True, note="--config")
    _derive_sprt(b)
    cfg = b.validate(AuroraConfig)
    if b.errors or cfg is None:
        raise ConfigError(b.errors, warnings=b.warnings)
    return LoadedAurora(config=cfg, layers=b.layers, history=b.merge.history, warnings=b.warnings, events=b.events,
                        env=b.env, mode=mode, mode_source=layer, root=root)  # fmt: skip


def load_runner(
    model: type[M],
    *,
    config: str | None = None,
    profile: str | None = None,
    overlays: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    root: Path | None = None,
) -> Loaded[M]:
    """Load a runner config: defaults, runner base, ``config``, ``profile``, ``overlays``, env."""
    env = environ if isinstance(environ, Environment) else Environment.capture(environ)
    root = root or project_root(env.values)
    b = _Builder(env, root)
    b.defaults(model)
    b.file("runner-base", runner_configs(root) / "base.yaml", required=True)
    named = [("config", config, [runner_configs(root)], "--config")]
    named.append(("profile", profile, [profiles_dir(root)], "--profile"))
    named += [("overlay", o, [overlays_dir(root), profiles_dir(root)], "--overlay") for o in overlays]
    for layer, value, dirs, what in named:
        if not value:
            continue
        try:
            path = resolve_named(value, dirs, what=what)
        except ConfigError as exc:
            b.errors.extend(exc.issues)
            continue
        if layer == "config" and path.resolve() == (runner_configs(root) / "base.yaml").resolve():
            continue
        b.file(layer, path, required=True, note=what)
    b.environment("runner")
    cfg = b.validate(model)
    if b.errors or cfg is None:
        raise ConfigError(b.errors, warnings=b.warnings)
    return Loaded(config=cfg, layers=b.layers, history=b.merge.history, warnings=b.warnings, events=b.events, env=env)


async def load_aurora_async(mode: str | None = None, **kwargs: Any) -> LoadedAurora:
    """:func:`load_aurora` in a worker thread, for a caller on an event loop (the gate's reload):
    reading and validating files never blocks the decisions being served meanwhile.

    ``load_aurora`` keeps no shared state (it reads the environment, the files and the models), so it
    is safe to run in any thread; the caller swaps the result in on its own loop.
    """
    import asyncio  # here, not at the top: every CLI command loads the config, few run an event loop

    return await asyncio.to_thread(load_aurora, mode, **kwargs)
