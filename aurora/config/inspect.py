"""Operator views of the config system: hierarchy, conflicts, audit, switch, schema.

Pure functions returning plain data; ``auroractl config …`` only renders them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aurora.config import env_table
from aurora.config.errors import ConfigError, ConfigIssue
from aurora.config.loader import Environment, LoadedAurora, load_aurora, normalize_mode
from aurora.config.models import MODES, AuroraConfig
from aurora.config.paths import (
    aurora_configs,
    overlays_dir,
    profiles_dir,
    project_root,
    runner_configs,
    state_file,
)
from aurora.config.secrets import display
from aurora.events.codes import EventCode

#: Files of the pre-2026 layouts; their presence is reported by ``config conflicts``.
LEGACY_FILES = (
    "configs/master_config_v1.yaml",
    "configs/master_config_v2.yaml",
    "configs/production_ssot.yaml",
    "configs/aurora_config.template.yaml",
    "configs/v4_min.yaml",
    "configs/aurora/prod.yaml",
    "skalp_bot/configs/default.yaml",
)


def _file_facts(path: Path, root: Path) -> dict[str, Any]:
    rel = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    if not path.is_file():
        return {"path": rel, "exists": False}
    raw = path.read_bytes()
    st = path.stat()
    return {
        "path": rel,
        "exists": True,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "size": st.st_size,
        "mtime": datetime.fromtimestamp(st.st_mtime, UTC).isoformat(),
    }


def hierarchy(root: Path | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The file tree and precedence of both config domains (gate and runner)."""
    env = Environment.capture(environ)
    root = root or project_root(env.values)
    try:
        from aurora.config.loader import resolve_mode

        mode, mode_source = resolve_mode(env, root)
    except ConfigError as exc:
        mode, mode_source = None, exc.issues[0].message
    cfg = aurora_configs(root)
    gate = [
        {"priority": 1, "layer": "defaults", "path": "<pydantic models>", "active": True},
        {"priority": 2, "layer": "base", **_file_facts(cfg / "base.yaml", root), "active": True},
    ]
    for m in MODES:
        gate.append({"priority": 3, "layer": f"mode:{m}", **_file_facts(cfg / f"{m}.yaml", root), "active": m == mode})
    user = env.values.get("AURORA_CONFIG") or env.values.get("AURORA_CONFIG_NAME")
    gate.append({"priority": 4, "layer": "user", "path": user or "AURORA_CONFIG / AURORA_CONFIG_NAME", "active": bool(user)})
    set_vars = sorted(n for n in env_table.BY_NAME if n in env.values and env_table.BY_NAME[n].target == "aurora")
    gate.append({"priority": 5, "layer": "env", "path": ", ".join(set_vars) or "(none set)", "active": bool(set_vars)})
    runner = [{"priority": 1, "layer": "defaults", "path": "<pydantic models>"}]
    runner.append({"priority": 2, "layer": "runner-base", **_file_facts(runner_configs(root) / "base.yaml", root)})
    runner += [
        {"priority": 3, "layer": "config (--config)", **_file_facts(p, root)}
        for p in sorted(runner_configs(root).glob("*.y*ml"))
        if p.name not in ("base.yaml",)
    ]
    runner += [{"priority": 4, "layer": "profile (--profile)", **_file_facts(p, root)} for p in sorted(profiles_dir(root).glob("*.y*ml"))]
    runner += [{"priority": 5, "layer": "overlay (--overlay)", **_file_facts(p, root)} for p in sorted(overlays_dir(root).glob("*.y*ml"))]
    runner.append({"priority": 6, "layer": "env", "path": "AURORA_CANCEL_STUB, AURORA_CANCEL_STUB_EVERY_TICKS"})
    return {"root": str(root), "mode": mode, "mode_source": mode_source, "gate": gate, "runner": runner}


@dataclass
class Conflict:
    kind: str  # layers | alias | env_shadows_yaml | legacy_file | unknown_env
    message: str
    key: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}


def conflicts(
    mode: str | None = None, *, environ: Mapping[str, str] | None = None, root: Path | None = None
) -> tuple[list[Conflict], list[ConfigIssue]]:
    """Keys set by several layers with different values, aliases set twice, env shadowing YAML,
    legacy files present and probable typos. Works on an invalid config too (its errors are returned)."""
    env = Environment.capture(environ)
    root = root or project_root(env.values)
    found: list[Conflict] = []
    errors: list[ConfigIssue] = []
    history = {}
    try:
        loaded = load_aurora(mode, environ=env, root=root, check_unknown_env=False)
        history = loaded.history
    except ConfigError as exc:
        errors = exc.issues
    for key, h in sorted(history.items()):
        # A YAML null means "not set here", so it is not a competing value.
        writes = [w for w in h.writes if w.layer != "defaults" and w.value is not None]
        values = {json.dumps(display(key, w.value), default=str, sort_keys=True) for w in writes}
        if len(writes) >= 2 and len(values) >= 2:
            srcs = [{"layer": w.layer, "source": w.source, "line": w.line, "value": display(key, w.value)} for w in writes]
            found.append(Conflict("layers", f"{key} is set by {len(writes)} layers with different values", key, srcs))
        yaml_writes = [w for w in h.overridden if w.layer not in ("defaults", "env", "derived") and w.value is not None]
        if h.effective.layer == "env" and yaml_writes:
            yaml_w = yaml_writes[-1]
            found.append(
                Conflict(
                    "env_shadows_yaml",
                    f"{h.effective.source} shadows {yaml_w.source}" + (f":{yaml_w.line}" if yaml_w.line else ""),
                    key,
                )
            )
    for entry in env_table.ENV_OVERRIDES:
        present = [n for n in entry.all_names if n in env.values]
        if len(present) > 1:
            same = len({env.values[n].strip() for n in present}) == 1
            found.append(
                Conflict(
                    "alias",
                    f"{' and '.join(present)} are both set{'' if same else ' with different values'}; "
                    f"{entry.name} wins",
                    entry.key,
                    [{"var": n, "value": "***" if entry.secret else env.values[n]} for n in present],
                )
            )
    for rel in LEGACY_FILES:
        if (root / rel).exists():
            found.append(Conflict("legacy_file", f"legacy config file present and ignored: {rel}"))
    for unk in env_table.unknown_vars(env.values):
        hint = f"; did you mean {unk.suggestion}?" if unk.suggestion else ""
        found.append(Conflict("unknown_env", f"unknown variable {unk.name} (probable typo){hint}", unk.suggestion))
    return found, errors


def audit(loaded: LoadedAurora) -> dict[str, Any]:
    """Checksums, mtimes and sizes of every config file, and the effective-config hash."""
    root = loaded.root
    files = sorted(
        {
            *aurora_configs(root).glob("*.y*ml"),
            *runner_configs(root).glob("*.y*ml"),
            *profiles_dir(root).glob("*.y*ml"),
            *overlays_dir(root).glob("*.y*ml"),
        }
    )
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "mode": loaded.mode,
        "mode_source": loaded.mode_source,
        "effective_config_sha256": loaded.checksum,
        "config_version": loaded.version,
        "layers": [layer.to_dict() for layer in loaded.layers],
        "files": [_file_facts(p, root) for p in files],
        "warnings": [w.to_dict() for w in loaded.warnings],
    }


def save_audit(report: Mapping[str, Any], root: Path) -> Path:
    out_dir = root / "reports"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    path = out_dir / f"config_audit_{stamp}.json"
    write_atomic(path, json.dumps(report, indent=2, default=str) + "\n")
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write via a temp file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def switch(target: str, *, environ: Mapping[str, str] | None = None, root: Path | None = None) -> tuple[LoadedAurora, Path]:
    """Validate ``target`` first; only a valid mode is persisted. Emits ``CONFIG.SWITCHED``."""
    mode = normalize_mode(target)
    if mode is None:
        raise ConfigError([ConfigIssue("unknown mode", source="ENV", expected=" | ".join(MODES) + " (prod)", got=target)])
    env = Environment.capture(environ)
    root = root or project_root(env.values)
    loaded = load_aurora(mode, environ=env, root=root)
    path = state_file(root)
    write_atomic(path, mode + "\n")
    from aurora.events.logger import EventLogger

    log_dir = Path(loaded.config.logging.session_dir or (root / loaded.config.logging.dir))
    logger = EventLogger(log_dir if log_dir.is_absolute() else root / log_dir)
    try:
        logger.emit(
            EventCode.CONFIG_SWITCHED,
            {"name": mode, "path": str(aurora_configs(root) / f"{mode}.yaml"), "checksum": loaded.checksum},
        )
    finally:
        logger.close()
    return loaded, path


def json_schema() -> dict[str, Any]:
    schema = AuroraConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Aurora gate configuration (configs/aurora/*.yaml)"
    return schema


def write_schema(path: Path) -> Path:
    write_atomic(path, json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    return path
