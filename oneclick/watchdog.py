"""Orphan watchdog: ``python -m oneclick.watchdog``, started by the supervisor in its own session.

It learns the process groups of the supervisor's children from its stdin and, when stdin reaches EOF
without a ``release`` line — the supervisor died, however it died, even by SIGKILL, since the kernel
closes the pipe — it stops those groups: runners first, then the gate, SIGTERM (and SIGCONT, for a
stopped one) and then SIGKILL after the grace period. This backs up ``PR_SET_PDEATHSIG`` (Linux only, one signal, no escalation) and covers
grandchildren, which PDEATHSIG does not reach.

Protocol, one command per line: ``watch PGID ORDER GRACE_S`` · ``forget PGID`` · ``release``.
Groups with a lower ORDER are stopped first. Only groups it was told about are ever signalled.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass

from oneclick.process_table import group_pids, signal_group

POLL_S = 0.05


@dataclass
class Watched:
    pgid: int
    order: int
    grace_s: float


def stop_groups(groups: list[Watched]) -> None:
    """Stop groups level by level (ascending ``order``): SIGTERM, wait up to the grace, SIGKILL."""
    for order in sorted({g.order for g in groups}):
        level = [g for g in groups if g.order == order]
        live = [g for g in level if signal_group(g.pgid, signal.SIGTERM)]
        for g in live:  # a stopped (SIGSTOP) process acts on SIGTERM only once continued
            signal_group(g.pgid, signal.SIGCONT)
        deadline = time.monotonic() + max((g.grace_s for g in live), default=0.0)
        while live and time.monotonic() < deadline:
            live = [g for g in live if group_pids(g.pgid)]
            time.sleep(POLL_S)
        for g in live:
            signal_group(g.pgid, signal.SIGKILL)


def serve(stream=None) -> int:  # noqa: ANN001 - a text stream
    stream = stream or sys.stdin
    watched: dict[int, Watched] = {}
    for line in stream:
        parts = line.split()
        if not parts:
            continue
        cmd = parts[0]
        try:
            if cmd == "watch" and len(parts) == 4:
                pgid = int(parts[1])
                watched[pgid] = Watched(pgid, int(parts[2]), float(parts[3]))
            elif cmd == "forget" and len(parts) == 2:
                watched.pop(int(parts[1]), None)
            elif cmd == "release":
                return 0
        except ValueError:
            continue  # a malformed line is ignored rather than killing anything by mistake
    stop_groups(list(watched.values()))
    return 0


def main() -> int:
    # Ctrl-C in the terminal must not take the watchdog down before it has done its job.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return serve()


if __name__ == "__main__":
    raise SystemExit(main())
