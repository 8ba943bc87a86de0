"""Durable risk state: an append-only journal plus snapshots in the gate's state dir.

Why a journal and not SQLite: every decision changes state (a reservation, a kill-switch sample), so
the write sits on the hot path; one ``os.write`` of an orjson line costs ~2 µs, a SQLite transaction
through ``sqlite3`` ~15-30 µs, which the gate's HTTP budget cannot pay. The file layout is a
database engineer's classic: a snapshot of the whole state plus a journal of the records applied
after it, each record numbered (``n``) so a replay skips what the snapshot already holds.

Files in the state dir:

* ``gate_state.snapshot.json`` — ``{"format", "n", "ts_ns", "state"}``, replaced atomically (written to a
  temp file, fsynced, renamed, the dir fsynced);
* ``gate_state.journal.jsonl`` — one record per line, each written whole with one ``os.write`` on an
  ``O_APPEND`` fd *before* the gate acts on it (answers the request that caused it);
* ``gate_state.lock`` — an exclusive ``flock`` held while a gate runs on the dir (a second gate on the
  same state would corrupt it, so it refuses to start).

What is fsynced when: the snapshot and its directory at every compaction (start, every
``compact_every`` records — then in a background thread, the live journal sealed by a rename and a new
one opened, so the hot path never waits for a snapshot — and clean stop). Journal lines are not fsynced by default: a ``kill -9`` loses
nothing (the kernel already has the bytes), a power cut may lose the last records since the previous
compaction; ``logging.state_fsync: true`` fsyncs each line (survives power loss, costs a disk flush per
decision). A write that fails or is short (disk full) is rolled back with ``ftruncate`` so no partial
line is ever left for the next record to be glued to, and the caller fails closed.

Reading is strict: a snapshot that does not parse, or a journal line that does not parse (including a
torn last line), raises :class:`StateCorrupt` naming the file and line. The gate refuses to start on it
outside development; it never starts fresh silently.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import orjson

SNAPSHOT_FILE = "gate_state.snapshot.json"
JOURNAL_FILE = "gate_state.journal.jsonl"
SEALED_GLOB = "gate_state.journal.upto-*.jsonl"  # zero-padded n: name order is replay order
LOCK_FILE = "gate_state.lock"
FORMAT = 1


class StateError(Exception):
    """The state dir cannot be used (unreadable, corrupt, locked by another gate)."""


class StateCorrupt(StateError):
    def __init__(self, path: Path, line: int | None, why: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(
            f"{where}: {why}. The gate refuses to start on a risk state it cannot read completely (it would "
            f"forget positions, drawdown or halts). Inspect or restore the file, or start empty on purpose "
            f"with `auroractl start-api --fresh-state` (the old files are kept in an archive dir)."
        )
        self.path = path
        self.line = line


class StateWriteError(StateError):
    """A journal record could not be written whole (nothing of it was left in the file)."""


class StateJournal:
    def __init__(self, state_dir: Path | str, *, fsync: bool = False, compact_every: int = 50_000) -> None:
        self.dir = Path(state_dir)
        self.fsync = fsync
        self.compact_every = compact_every
        self.snapshot_path = self.dir / SNAPSHOT_FILE
        self.journal_path = self.dir / JOURNAL_FILE
        self.n = 0  # number of the last record written (or restored)
        self.since_compaction = 0
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._size = 0
        self.last_error: str | None = None
        self._compactor: threading.Thread | None = None

    # -- opening ----------------------------------------------------------------------------------
    def open(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StateError(f"{self.dir}: cannot use the state dir: {exc.strerror or exc}") from None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                holder = os.pread(self._lock_fd, 64, 0).decode(errors="replace").strip() or "?"
                os.close(self._lock_fd)
                self._lock_fd = None
                raise StateError(
                    f"{self.dir}: the state dir is in use by another gate (pid {holder}); two gates on one "
                    f"state would corrupt it. Stop the other gate or give this one its own --state-dir."
                ) from None
            raise
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, f"{os.getpid()}\n".encode(), 0)

    def load(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The snapshot (or None) and the journal records after it, in order. Strict (see module doc)."""
        snapshot = None
        base_n = 0
        if self.snapshot_path.exists():
            try:
                raw = self.snapshot_path.read_bytes()
            except OSError as exc:
                raise StateCorrupt(self.snapshot_path, None, f"cannot be read ({exc.strerror or exc})") from None
            try:
                snapshot = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise StateCorrupt(self.snapshot_path, None, f"is not valid JSON (truncated?): {exc}") from None
            if not isinstance(snapshot, dict) or snapshot.get("format") != FORMAT or "state" not in snapshot:
                raise StateCorrupt(self.snapshot_path, None, f"is not a format-{FORMAT} gate state snapshot")
            base_n = int(snapshot.get("n", 0))
        records: list[dict[str, Any]] = []
        last_n = base_n
        for path in self.segments():
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise StateCorrupt(path, None, f"cannot be read ({exc.strerror or exc})") from None
            if data and not data.endswith(b"\n"):
                line_no = data.count(b"\n") + 1
                raise StateCorrupt(path, line_no, "ends with a torn (unterminated) record")
            for line_no, line in enumerate(data.splitlines(), 1):
                try:
                    rec = orjson.loads(line)
                    n = int(rec["n"])
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    raise StateCorrupt(path, line_no, "holds a record that does not parse") from None
                if n <= base_n:
                    continue  # already in the snapshot (a crash between snapshot and journal reset)
                if n != last_n + 1:
                    raise StateCorrupt(path, line_no, f"record {n} follows {last_n}: records are missing")
                last_n = n
                records.append(rec)
        self.n = last_n
        return snapshot, records

    def segments(self) -> list[Path]:
        """Journal files in replay order: sealed segments (``...journal.upto-<n>.jsonl``, left by a
        compaction that has not finished) by ``n``, then the live journal."""
        sealed = sorted(self.dir.glob(SEALED_GLOB), key=lambda p: p.name)
        return [*sealed, self.journal_path] if self.journal_path.exists() else sealed

    def start_journal(self) -> None:
        """Open the journal for appending (after :meth:`load`, usually after a :meth:`compact`)."""
        if self._fd is None:
            self._fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._size = os.fstat(self._fd).st_size

    # -- writing ----------------------------------------------------------------------------------
    def append(self, record: dict[str, Any]) -> int:
        """Number ``record``, write it whole, return its number. Raises :class:`StateWriteError`."""
        fd = self._fd
        if fd is None:
            raise StateWriteError(f"{self.journal_path}: journal is closed")
        n = self.n + 1
        record["n"] = n
        line = orjson.dumps(record) + b"\n"
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(errno.ENOSPC, "short write")
            if self.fsync:
                os.fsync(fd)
        except OSError as exc:
            self._rollback(fd)
            self.last_error = f"{self.journal_path}: {exc.strerror or exc}"
            raise StateWriteError(self.last_error) from None
        self._size += written
        self.n = n
        self.since_compaction += 1
        self.last_error = None
        return n

    def _rollback(self, fd: int) -> None:
        # the journal has one writer (the flock holder), so its size before this record is known
        try:
            os.ftruncate(fd, self._size)
        except OSError:
            pass  # nothing more can be done; load() reports a torn line if it stayed

    @property
    def due(self) -> bool:
        return self.since_compaction >= self.compact_every

    def compact(self, state: dict[str, Any]) -> None:
        """Write a snapshot holding everything up to record ``n``, then empty the journal (at start and
        stop; while running see :meth:`compact_in_background`)."""
        self.wait_compaction()
        self._write_snapshot(state, self.n)
        # The snapshot is durable: the journal's records are all in it (n <= snapshot n are skipped anyway).
        for sealed in self.dir.glob(SEALED_GLOB):
            sealed.unlink(missing_ok=True)
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            self._size = 0
        elif self.journal_path.exists():
            os.truncate(self.journal_path, 0)
        self.since_compaction = 0

    def compact_in_background(self, state: dict[str, Any]) -> bool:
        """Compaction off the hot path: seal the live journal (a rename) and open a new one here, then
        serialize, write and fsync the snapshot in a thread, and drop the sealed segment once the
        snapshot is durable. ``state`` must already be a copy (the caller's loop keeps changing the
        live one). A crash at any point leaves a snapshot plus segments that replay to the same state.
        Returns False (and does nothing) while the previous compaction is still running."""
        if self._compactor is not None and self._compactor.is_alive():
            return False
        if self._fd is None:
            raise StateWriteError(f"{self.journal_path}: journal is closed")
        n = self.n
        sealed = self.dir / f"gate_state.journal.upto-{n:015d}.jsonl"
        try:
            os.rename(self.journal_path, sealed)
            fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            self.last_error = f"{self.journal_path}: {exc.strerror or exc}"
            raise StateWriteError(self.last_error) from None
        os.close(self._fd)
        self._fd, self._size = fd, 0
        self.since_compaction = 0

        def work() -> None:
            try:
                self._write_snapshot(state, n)
            except StateWriteError:
                return  # the sealed segment stays and is replayed; the next compaction retries
            for old in self.dir.glob(SEALED_GLOB):
                if old.name <= sealed.name:
                    old.unlink(missing_ok=True)

        self._compactor = threading.Thread(target=work, name="gate-state-compaction", daemon=True)
        self._compactor.start()
        return True

    def wait_compaction(self) -> None:
        if self._compactor is not None:
            self._compactor.join()
            self._compactor = None

    def _write_snapshot(self, state: dict[str, Any], n: int) -> None:
        body = orjson.dumps({"format": FORMAT, "n": n, "ts_ns": time.time_ns(), "state": state})
        tmp = self.snapshot_path.with_name("." + SNAPSHOT_FILE + ".tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.snapshot_path)
            dfd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as exc:
            try:
                tmp.unlink()
            except OSError:
                pass
            self.last_error = f"{self.snapshot_path}: {exc.strerror or exc}"
            raise StateWriteError(self.last_error) from None

    def writable(self) -> bool:
        return dir_writable(self.dir)

    def close(self) -> None:
        self.wait_compaction()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def dir_writable(path: Path) -> bool:
    """A real write of real bytes: ``os.access`` says yes to root on a read-only mount, and an empty file
    can still be created on a full disk."""
    probe = path / ".ready-probe"
    try:
        with open(probe, "wb") as f:
            f.write(b"\0" * 512)
        probe.unlink()
    except OSError:
        return False
    return True


def archive_state(state_dir: Path | str) -> Path | None:
    """Move an existing state aside (``archive-<UTC time>/``) for a deliberate fresh start; nothing is deleted."""
    d = Path(state_dir)
    files = [d / name for name in (SNAPSHOT_FILE, JOURNAL_FILE) if (d / name).exists()]
    if not files:
        return None
    target = d / time.strftime("archive-%Y%m%dT%H%M%SZ", time.gmtime())
    k = 1
    while target.exists():
        k += 1
        target = d / f"{target.name.split('.')[0]}.{k}"
    target.mkdir(parents=True)
    for f in files:
        shutil.move(str(f), target / f.name)
    return target
