"""Supervisor and orphan watchdog, with small dummy children (no gate or runner needed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from oneclick import supervisor as supervisor_mod
from oneclick.process_table import group_pids, pid_alive
from oneclick.supervisor import ChildSpec, Supervisor

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")

SLEEPER = "import time; time.sleep(600)"
STUBBORN = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(600)"
)
POLITE = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
    "print('ready', flush=True)\n"
    "time.sleep(600)\n"
)
FORKER = (  # leaves a grandchild in its process group
    "import subprocess, sys, time\n"
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "print(p.pid, flush=True)\n"
    "time.sleep(600)\n"
)


def spec(tmp_path: Path, name: str, code: str, *, role: str = "runner", order: int = 0) -> ChildSpec:
    return ChildSpec(
        name, role, [sys.executable, "-c", code], dict(os.environ), tmp_path / f"{name}.log", None, order
    )


def wait_for(pred, timeout: float = 10.0, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def log_says(path: Path, text: str) -> bool:
    return path.is_file() and text in path.read_text()


def test_stop_sends_sigterm_then_sigkill_after_grace(tmp_path: Path) -> None:
    sup = Supervisor(grace_s=0.5, watchdog=False)
    polite = sup.start(spec(tmp_path, "polite", POLITE))
    stubborn = sup.start(spec(tmp_path, "stubborn", STUBBORN))
    assert wait_for(
        lambda: log_says(polite.spec.log_path, "ready") and log_says(stubborn.spec.log_path, "ready")
    )
    t0 = time.monotonic()
    sup.stop_all(reason="test")
    took = time.monotonic() - t0
    assert polite.exit_code == 0 and not polite.killed and polite.stop_reason == "test"
    assert stubborn.exit_code == -signal.SIGKILL and stubborn.killed
    assert 0.4 <= took < 3.0
    assert not pid_alive(polite.pid) and not pid_alive(stubborn.pid)
    sup.close()


def test_stop_order_runners_before_gate(tmp_path: Path) -> None:
    sup = Supervisor(grace_s=2.0, watchdog=False)
    gate = sup.start(spec(tmp_path, "gate", POLITE, role="gate", order=1))
    runner = sup.start(spec(tmp_path, "runner", POLITE, order=0))
    assert wait_for(lambda: log_says(gate.spec.log_path, "ready") and log_says(runner.spec.log_path, "ready"))
    sup.stop_all(reason="deadline")
    assert runner.ended_at is not None and gate.ended_at is not None
    assert runner.ended_at <= gate.ended_at
    sup.close()


def test_grandchildren_in_the_group_are_stopped(tmp_path: Path) -> None:
    sup = Supervisor(grace_s=1.0, watchdog=False)
    child = sup.start(spec(tmp_path, "forker", FORKER))
    assert wait_for(lambda: child.spec.log_path.read_text().strip().isdigit())
    grandchild = int(child.spec.log_path.read_text().strip())
    assert pid_alive(grandchild) and grandchild in group_pids(child.pgid)
    sup.stop_all(reason="test")
    assert wait_for(lambda: not pid_alive(grandchild), 3.0)
    sup.close()


def test_poll_reports_a_child_that_died_and_restart_starts_a_new_one(tmp_path: Path) -> None:
    sup = Supervisor(grace_s=1.0, watchdog=False)
    child = sup.start(spec(tmp_path, "crasher", "import sys; sys.exit(3)"))
    dead: list = []
    assert wait_for(lambda: bool(dead.extend(sup.poll()) or dead))
    assert dead == [child] and child.exit_code == 3
    again = sup.restart(child)
    assert again.incarnation == 1 and again.pid != child.pid and sup.get("crasher") is again
    assert len(sup.history) == 2
    sup.close()


def test_a_process_it_did_not_start_is_never_touched(tmp_path: Path) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", SLEEPER], start_new_session=True)
    try:
        sup = Supervisor(grace_s=0.5)
        sup.start(spec(tmp_path, "mine", SLEEPER))
        sup.close()
        assert bystander.poll() is None and pid_alive(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()


def test_watchdog_release_kills_nothing(tmp_path: Path) -> None:
    """A released watchdog exits without signalling groups it was told about."""
    victim = subprocess.Popen([sys.executable, "-c", SLEEPER], start_new_session=True)
    try:
        wd = supervisor_mod.WatchdogLink()
        wd.send(f"watch {victim.pid} 0 0.1")
        wd.release()
        time.sleep(0.3)
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


PARENT = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from oneclick import supervisor as s
    tmp, grace, use_pdeathsig, use_watchdog = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "1", sys.argv[4] == "1"
    if not use_pdeathsig:
        s._PRCTL = None
    sup = s.Supervisor(grace_s=grace, watchdog=use_watchdog)
    a = sup.start(s.ChildSpec("stubborn", "runner", [sys.executable, "-c", sys.argv[5]], dict(os.environ), tmp / "a.log"))
    b = sup.start(s.ChildSpec("polite", "gate", [sys.executable, "-c", sys.argv[6]], dict(os.environ), tmp / "b.log", None, 1))
    print(json.dumps({"stubborn": a.pid, "polite": b.pid, "watchdog": sup.watchdog_pid}), flush=True)
    time.sleep(600)
    """
)


def _sigkill_parent(tmp_path: Path, *, pdeathsig: bool, watchdog: bool, grace: float = 0.5) -> dict[str, int]:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PARENT,
            str(tmp_path),
            str(grace),
            str(int(pdeathsig)),
            str(int(watchdog)),
            STUBBORN,
            POLITE,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    pids = json.loads(parent.stdout.readline())
    assert wait_for(lambda: log_says(tmp_path / "a.log", "ready") and log_says(tmp_path / "b.log", "ready"))
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    return pids


def test_sigkill_of_the_parent_leaves_no_child_alive(tmp_path: Path) -> None:
    pids = _sigkill_parent(tmp_path, pdeathsig=True, watchdog=True)
    # polite dies from PR_SET_PDEATHSIG at once; stubborn ignores SIGTERM and is SIGKILLed by the watchdog
    assert wait_for(lambda: not pid_alive(pids["polite"]), 2.0)
    assert wait_for(lambda: not pid_alive(pids["stubborn"]), 4.0)
    assert wait_for(lambda: not pid_alive(pids["watchdog"]), 3.0)


def test_watchdog_alone_stops_orphans(tmp_path: Path) -> None:
    pids = _sigkill_parent(tmp_path, pdeathsig=False, watchdog=True)
    assert wait_for(lambda: not pid_alive(pids["polite"]) and not pid_alive(pids["stubborn"]), 4.0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_pdeathsig_alone_stops_a_polite_orphan(tmp_path: Path) -> None:
    pids = _sigkill_parent(tmp_path, pdeathsig=True, watchdog=False)
    assert wait_for(lambda: not pid_alive(pids["polite"]), 2.0)
    os.kill(pids["stubborn"], signal.SIGKILL)  # ignores SIGTERM: that is what the watchdog is for


def test_hurry_cuts_the_grace_period_short(tmp_path: Path) -> None:
    """A second Ctrl-C: SIGKILL now instead of waiting out the grace period."""
    sup = Supervisor(grace_s=30.0, watchdog=False)
    stubborn = sup.start(spec(tmp_path, "stubborn", STUBBORN))
    assert wait_for(lambda: log_says(stubborn.spec.log_path, "ready"))
    asked = time.monotonic() + 0.3
    t0 = time.monotonic()
    sup.stop([stubborn], reason="interrupt", hurry=lambda: time.monotonic() > asked)
    assert time.monotonic() - t0 < 2.0 and stubborn.killed and not pid_alive(stubborn.pid)
    sup.close()
