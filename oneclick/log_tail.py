"""Follow the live JSONL logs of a session: one :class:`~aurora.session.tail.JsonlTail` per live event log."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aurora.session.files import parse_name
from aurora.session.tail import MAX_BYTES_PER_POLL, JsonlTail

__all__ = ["MAX_BYTES_PER_POLL", "JsonlTail", "SessionTails", "is_live_event_log"]


def is_live_event_log(name: str) -> bool:
    """A live (not rotated) event log of a session: the gate's or a runner's."""
    parsed = parse_name(name)
    return parsed is not None and parsed.kind == "events" and parsed.live


class SessionTails:
    """Tails of every live event log in a session dir; new runner logs are picked up as they appear."""

    def __init__(self, session_dir: Path | str) -> None:
        self.session_dir = Path(session_dir)
        self.tails: dict[str, JsonlTail] = {}

    def poll(self) -> list[dict[str, Any]]:
        try:
            names = [e.name for e in os.scandir(self.session_dir) if is_live_event_log(e.name)]
        except OSError:  # the session dir is gone or unreadable: keep following the files already open
            names = []
        for name in names:
            if name not in self.tails:
                self.tails[name] = JsonlTail(self.session_dir / name)
        out: list[dict[str, Any]] = []
        for tail in self.tails.values():
            out.extend(tail.poll())
        return out

    @property
    def corrupt(self) -> int:
        return sum(t.corrupt for t in self.tails.values())

    def close(self) -> None:
        for tail in self.tails.values():
            tail.close()
