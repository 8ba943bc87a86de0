"""Follow a live JSONL log incrementally: each poll reads only the bytes written since the last one.

A line is handed out only once its newline has arrived (a writer's record is one ``write``, but a poll
may land between two of them). When the writer rotates the file (renames it away and opens a fresh
one), the old handle is read to its end before the new file is followed, so no record is skipped.
Used by one-click's dashboard (every live log of a session) and by a runner following the live tuner's
proposals (``tuner_events.jsonl``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from aurora.session.reader import decode_line

MAX_BYTES_PER_POLL = 8 << 20  # bounds one poll's work so a refresh never stalls its caller


class JsonlTail:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fh: BinaryIO | None = None
        self._ino: int | None = None
        self._partial = b""
        self.corrupt = 0  # complete lines that were not JSON objects
        self.torn = 0  # fragments abandoned at a rotation

    def _open(self) -> bool:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - kept open across polls on purpose
        except OSError:  # not there yet, or its dir is gone / not a dir any more
            return False
        self._fh, self._ino, self._partial = fh, os.fstat(fh.fileno()).st_ino, b""
        return True

    def _rotated(self) -> bool:
        try:
            return os.stat(self.path).st_ino != self._ino
        except OSError:
            return False  # renamed away and not yet recreated: keep reading the old handle

    def poll(self, max_bytes: int = MAX_BYTES_PER_POLL) -> list[dict[str, Any]]:
        if self._fh is None and not self._open():
            return []
        assert self._fh is not None
        out: list[dict[str, Any]] = []
        chunk = self._fh.read(max_bytes)
        if chunk:
            out.extend(self._lines(chunk))
        if len(chunk) < max_bytes and self._rotated():
            out.extend(self._lines(self._fh.read()))  # whatever landed before the rename
            if self._partial.strip():
                self.torn += 1
            self._fh.close()
            self._fh = None
            if self._open():
                out.extend(self.poll(max_bytes))
        return out

    def _lines(self, chunk: bytes) -> Iterable[dict[str, Any]]:
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if not line.strip():
                continue
            rec = decode_line(line)  # the session reader's damage policy: a bad line is counted, skipped
            if isinstance(rec, dict):
                yield rec
            else:
                self.corrupt += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
