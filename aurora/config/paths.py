"""Where things live: the project root, the state file, and bare-name resolution (SPEC §2)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from aurora.config.errors import ConfigError, ConfigIssue

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def project_root(environ: Mapping[str, str] | None = None) -> Path:
    """``AURORA_ROOT``, else the working dir if it holds ``configs/aurora``, else the source checkout."""
    env = os.environ if environ is None else environ
    if env.get("AURORA_ROOT"):
        return Path(env["AURORA_ROOT"]).resolve()
    cwd = Path.cwd()
    if (cwd / "configs" / "aurora").is_dir():
        return cwd
    return _PACKAGE_ROOT


def aurora_configs(root: Path) -> Path:
    return root / "configs" / "aurora"


def runner_configs(root: Path) -> Path:
    return root / "configs" / "runner"


def profiles_dir(root: Path) -> Path:
    return root / "profiles"


def overlays_dir(root: Path) -> Path:
    return root / "profiles" / "overlays"


def state_file(root: Path) -> Path:
    return root / ".aurora" / "active_mode"


def looks_like_path(value: str) -> bool:
    return "/" in value or os.sep in value or value.endswith((".yaml", ".yml"))


def resolve_named(value: str, search_dirs: Sequence[Path], *, what: str) -> Path:
    """A path is used as given; a bare name is looked up as ``<dir>/<name>.yaml`` then ``.yml``."""
    if looks_like_path(value):
        path = Path(value).expanduser()
        if path.is_file():
            return path
        raise ConfigError([ConfigIssue(f"{what} file not found: {value}", source=what, got=value)])
    tried = []
    for directory in search_dirs:
        for ext in (".yaml", ".yml"):
            candidate = directory / f"{value}{ext}"
            tried.append(str(candidate))
            if candidate.is_file():
                return candidate
    raise ConfigError(
        [
            ConfigIssue(
                f"{what} {value!r} not found (looked for {', '.join(tried)})",
                source=what,
                got=value,
                expected="a path to a YAML file or a bare name",
            )
        ]
    )
