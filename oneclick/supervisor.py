"""Start, watch and stop the one-click children (the gate, the runners and, with ``--tune``, the live tuner)
without ever leaving orphans.

Each child runs in its own session/process group (``start_new_session``), so a Ctrl-C in the terminal
reaches only ``one-click``, which then stops the children in order (the tuner, the runners, then the gate), and
a stop signal reaches the child's whole group. If ``one-click`` itself dies:

* on Linux the kernel sends each child SIGTERM (``prctl(PR_SET_PDEATHSIG)``, set in the child between
  fork and exec; it fires when the *forking thread* exits, so children are always started from the
  main thread);
* the orphan watchdog (:mod:`oneclick.watchdog`, its own session) sees its stdin pipe close and
  stops the registered groups with SIGTERM and then SIGKILL after the grace period.

Only processes this supervisor started are ever signalled: it tracks their pids/process groups and
never looks processes up by name.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from oneclick.process_table import group_pids, is_stopped, pid_alive, signal_group

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
DEFAULT_GRACE_S = 10.0


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _child_preexec(parent_pid: int) -> Callable[[], None]:
    prctl = _PRCTL

    def preexec() -> None:  # runs in the child, after fork and setsid, before exec
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        # The parent may have died between fork and prctl; then no signal will ever come.
        if os.getppid() != parent_pid:
            os._exit(70)

    return preexec


@dataclass
class ChildSpec:
    name: str  # e.g. "gate", "runner-main"
    role: str  # "gate" | "runner" | "tuner"
    argv: list[str]
    env: Mapping[str, str]  # the child's whole environment (may hold tokens: never serialized)
    log_path: Path  # stdout and stderr of the child
    cwd: Path | None = None
    stop_order: int = 0  # lower is stopped first (tuner -1, runners 0, gate 1)


@dataclass
class Child:
    spec: ChildSpec
    popen: subprocess.Popen[bytes]
    started_at: float
    incarnation: int = 0  # 0 for the first start, +1 per restart
    ended_at: float | None = None
    exit_code: int | None = None
    stopping: bool = False
    stop_reason: str | None = None
    killed: bool = False  # needed SIGKILL
    continued: bool = False  # was stopped (SIGSTOP) when asked to stop: sent SIGCONT to let it act on SIGTERM
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. health probes, filled by the orchestrator

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def pgid(self) -> int:
        return self.popen.pid  # session leader: its pid is its process group id

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def running(self) -> bool:
        return self.exit_code is None and self.popen.poll() is None

    def reap(self) -> int | None:
        code = self.popen.poll()
        if code is not None and self.exit_code is None:
            self.exit_code = code
            self.ended_at = time.time()
        return code

    def to_dict(self) -> dict[str, Any]:
        """What the proof shows: no environment (it holds tokens)."""
        return {
            "name": self.spec.name,
            "role": self.spec.role,
            "pid": self.pid,
            "argv": list(self.spec.argv),
            "log": str(self.spec.log_path),
            "incarnation": self.incarnation,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "exit_code": self.exit_code,
            "stop_reason": self.stop_reason,
            "killed": self.killed,
            "continued": self.continued,
            **self.extra,
        }


class WatchdogLink:
    """The pipe to the orphan watchdog process. Failures only weaken the safety net; they are reported."""

    def __init__(self, log_path: Path | None = None) -> None:
        self.error: str | None = None
        log: TextIO | int = subprocess.DEVNULL
        if log_path is not None:
            try:
                log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - handed to the child, closed below
            except OSError:  # an unwritable session dir costs the watchdog's log, not the watchdog
                log = subprocess.DEVNULL
        try:
            self.proc: subprocess.Popen[str] | None = subprocess.Popen(
                [sys.executable, "-m", "oneclick.watchdog"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
                text=True,
                bufsize=1,
                close_fds=True,
            )
        except OSError as exc:
            self.proc = None
            self.error = f"orphan watchdog not started: {exc}"
        finally:
            if not isinstance(log, int):
                log.close()
        self.pid: int | None = self.proc.pid if self.proc else None  # kept after release, for the proof

    def send(self, line: str) -> None:
        if self.proc is None or self.proc.stdin is None:
            return
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            self.error = f"orphan watchdog unreachable: {exc}"

    def release(self) -> None:
        """Normal end: the watchdog exits without touching anything."""
        if self.proc is None:
            return
        self.send("release")
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class Supervisor:
    """Owns the child processes of one run."""

    def __init__(
        self, *, grace_s: float = DEFAULT_GRACE_S, watchdog: bool = True, watchdog_log: Path | None = None
    ) -> None:
        self.grace_s = grace_s
        self.children: list[Child] = []  # current incarnation per name, in start order
        self.history: list[Child] = []  # every incarnation, for the proof
        self._watchdog = WatchdogLink(watchdog_log) if watchdog else None
        self._closed = False

    @property
    def watchdog_pid(self) -> int | None:
        return self._watchdog.pid if self._watchdog else None

    @property
    def watchdog_error(self) -> str | None:
        return self._watchdog.error if self._watchdog else None

    def get(self, name: str) -> Child | None:
        return next((c for c in self.children if c.name == name), None)

    def start(self, spec: ChildSpec, *, incarnation: int = 0) -> Child:
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(spec.log_path, "ab") as log:
            popen = subprocess.Popen(
                spec.argv,
                env=dict(spec.env),
                cwd=spec.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_child_preexec(os.getpid()),
                close_fds=True,
            )
        child = Child(spec=spec, popen=popen, started_at=time.time(), incarnation=incarnation)
        if self._watchdog:
            self._watchdog.send(f"watch {child.pgid} {spec.stop_order} {self.grace_s}")
        self.children = [c for c in self.children if c.name != spec.name] + [child]
        self.history.append(child)
        return child

    def restart(self, child: Child) -> Child:
        self._forget(child)
        return self.start(child.spec, incarnation=child.incarnation + 1)

    def poll(self) -> list[Child]:
        """Children that exited on their own since the last poll (not ones being stopped)."""
        dead = []
        for child in self.children:
            if child.exit_code is None and child.reap() is not None and not child.stopping:
                self._sweep(child)
                dead.append(child)
        return dead

    def stop(
        self,
        children: Iterable[Child],
        *,
        reason: str,
        grace_s: float | None = None,
        hurry: Callable[[], bool] | None = None,
    ) -> None:
        """SIGTERM each child's group, wait up to the grace period for all, SIGKILL what is left.

        A stopped child (SIGSTOP: a hung gate in a test, a debugger) cannot act on SIGTERM, so its group
        is continued right after: it gets the same chance to stop cleanly as the others.
        ``hurry()`` turning true (a second Ctrl-C) cuts the grace period short.
        """
        grace = self.grace_s if grace_s is None else grace_s
        group = list(children)
        for child in group:
            child.stopping = True
            if child.exit_code is None and child.popen.poll() is None:
                child.stop_reason = child.stop_reason or reason
                stopped = is_stopped(child.pid)
                signal_group(child.pgid, signal.SIGTERM)
                if stopped:
                    child.continued = True
                    signal_group(child.pgid, signal.SIGCONT)
        deadline = time.monotonic() + grace
        pending = [c for c in group if c.popen.poll() is None]
        while pending and time.monotonic() < deadline and not (hurry and hurry()):
            time.sleep(0.02)
            pending = [c for c in pending if c.popen.poll() is None]
        for child in pending:
            child.killed = True
            signal_group(child.pgid, signal.SIGKILL)
        for child in group:
            child.popen.wait()
            child.reap()
            self._sweep(child)
            self._forget(child)

    def stop_all(self, *, reason: str, grace_s: float | None = None) -> None:
        """Stop every child, lowest ``stop_order`` first (runners before the gate)."""
        for order in sorted({c.spec.stop_order for c in self.children}):
            self.stop(
                [c for c in self.children if c.spec.stop_order == order], reason=reason, grace_s=grace_s
            )

    def close(self) -> None:
        """Stop anything still running and release the watchdog. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if any(c.exit_code is None for c in self.children):
            self.stop_all(reason="shutdown")
        if self._watchdog:
            self._watchdog.release()

    def alive_pids(self) -> list[int]:
        return [c.pid for c in self.history if pid_alive(c.pid)]

    def _sweep(self, child: Child) -> None:
        """The leader is gone; kill any member of its group it left behind (e.g. a grandchild).

        The group id cannot be reused while the group still has members, so this signals only
        processes that descend from our child.
        """
        if group_pids(child.pgid):
            signal_group(child.pgid, signal.SIGKILL)

    def _forget(self, child: Child) -> None:
        if self._watchdog:
            self._watchdog.send(f"forget {child.pgid}")
