"""Which processes are really alive: zombies count as dead, process groups are listed from ``/proc``.

``os.kill(pid, 0)`` succeeds on a zombie (exited but not yet reaped), which is exactly what an orphan
left to a non-reaping init looks like; these helpers read the process state instead.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/PID/stat`` fields after the command name (which may contain spaces and parentheses)."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        return None
    return raw[raw.rfind(")") + 2 :].split()


def pid_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    if pid <= 0:
        return False
    if _PROC.is_dir():
        fields = _stat_fields(pid)
        return fields is not None and fields[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stopped(pid: int) -> bool:
    """True when ``pid`` is stopped (SIGSTOP, or traced): it cannot act on SIGTERM until continued."""
    fields = _stat_fields(pid) if _PROC.is_dir() else None
    return fields is not None and fields[0] in ("T", "t")


def group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) members of process group ``pgid``."""
    if pgid <= 0:
        return []
    if not _PROC.is_dir():  # no /proc (macOS): a signal-0 probe, zombies included
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        # fields: state, ppid, pgrp, ...
        if fields and len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True
