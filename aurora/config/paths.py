"""Where things live: the project root, the state file, and bare-name resolution (SPEC §2)."""

from __future__ import annotations

import errno
import os
import stat
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


_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def unusable_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a config file (``None`` if it is a regular file).

    Checked before opening: reading a FIFO blocks and a device such as /dev/zero never ends.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            return f"is a broken symlink (to {os.readlink(path)})"
        return "file not found"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symlink loop"
        if exc.errno == errno.ENOTDIR:
            return "file not found (a parent is not a directory)"
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory, expected a YAML file"
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        return f"is {kind}, expected a regular YAML file"
    return None


def looks_like_path(value: str) -> bool:
    return "/" in value or os.sep in value or value.endswith((".yaml", ".yml"))


def resolve_named(value: str, search_dirs: Sequence[Path], *, what: str) -> Path:
    """A path is used as given; a bare name is looked up as ``<dir>/<name>.yaml`` then ``.yml``."""
    if looks_like_path(value):
        path = Path(value).expanduser()
        problem = unusable_file(path)
        if problem is None:
            return path
        if problem == "file not found":
            raise ConfigError([ConfigIssue(f"{what} file not found: {value}", source=what, got=value)])
        raise ConfigError([ConfigIssue(f"{what}: {value} {problem}", source=what, got=value)])
    tried = []
    for directory in search_dirs:
        for ext in (".yaml", ".yml"):
            candidate = directory / f"{value}{ext}"
            tried.append(str(candidate))
            problem = unusable_file(candidate)
            if problem is None:
                return candidate
            if os.path.lexists(candidate):  # there, but not a file we can read: say so, do not look further
                raise ConfigError([ConfigIssue(f"{what} {value!r}: {candidate} {problem}", source=what, got=value)])
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
