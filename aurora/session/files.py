"""The files of a session dir, named once (SPEC §9).

A session dir ``logs/YYYYMMDD-hhmmss[-n]/`` holds, each live as ``<stem>.jsonl`` and rotated as
``<stem>.<YYYYMMDD>-<seq:03d>.jsonl.gz`` (briefly also plain while compression runs):

* ``aurora_events`` — the gate's event log, the system of record for decisions and ``ORDER.*``;
* ``runner_events`` / ``runner_events-<group>`` — each runner's XAI events;
* ``orders`` (consolidated) and ``orders_<stream>`` for ``success`` / ``failed`` / ``denied``;
* ``posttrade_pending`` / ``posttrade_pending-<group>`` — a runner's spool of lifecycle events the gate
  could not take (undelivered: they are not in the gate's log);
* ``runner_summary[-<group>].json`` — a runner's end-of-run summary (written by ``runner.app`` last,
  after its RUNNER.STOP event: no summary means the runner did not finish its stop);
* ``tuner_events`` — the live tuner's ``OPTUNA.*`` events (one-click ``--tune``); it is read with the
  runners' files (a side writer's log: never the gate's record of decisions or orders);
* ``tuning/`` — the tuner's candidate overlays, ``trial-<n:04d>.yaml`` (announced by
  ``OPTUNA.PARAMETER_UPDATE`` with their sha256), and its study's storage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["events", "orders", "spool"]

GATE_EVENTS = "aurora_events"
RUNNER_EVENTS = "runner_events"
TUNER_EVENTS = "tuner_events"
TUNING_DIR = "tuning"
ORDERS = "orders"
ORDER_STREAMS: tuple[str, ...] = ("success", "failed", "denied")
SPOOL = "posttrade_pending"
SUFFIX = ".jsonl"

#: ``<stem>[.<day>-<seq>].jsonl[.gz]``; the stem is a known one (see :func:`kind_of`).
LOG_NAME_RE = re.compile(r"^(?P<stem>[A-Za-z0-9_\-]+?)(?:\.(?P<day>\d{8})-(?P<seq>\d{3,}))?\.jsonl(?P<gz>\.gz)?$")
#: Session dir names as :func:`aurora.session.create_session_dir` makes them.
SESSION_DIR_FORMAT = "%Y%m%d-%H%M%S"
SESSION_DIR_RE = re.compile(r"^\d{8}-\d{6}(-\d+)?$")

_GROUP = r"(?:-[A-Za-z0-9_-]+)?"
_STEMS: dict[Kind, re.Pattern[str]] = {
    "events": re.compile(rf"^(?:{GATE_EVENTS}|{RUNNER_EVENTS}{_GROUP}|{TUNER_EVENTS})$"),
    "orders": re.compile(rf"^{ORDERS}(?:_(?:{'|'.join(ORDER_STREAMS)}))?$"),
    "spool": re.compile(rf"^{SPOOL}{_GROUP}$"),
}


def rotated_name_re(stem: str) -> re.Pattern[str]:
    """``<stem>.<YYYYMMDD>-<seq>.jsonl[.gz]``: groups day, seq, gz."""
    return re.compile(re.escape(stem) + r"\.(\d{8})-(\d{3,})\.jsonl(\.gz)?$")


def rotated_file(stem: str, day: str, seq: int) -> str:
    """The name a rotated part gets (plain; ``.gz`` is added once compressed)."""
    return f"{stem}.{day}-{seq:03d}{SUFFIX}"


def live_file(stem: str) -> str:
    return stem + SUFFIX


def runner_events_file(group: str | None = None) -> str:
    return f"{RUNNER_EVENTS}-{group}{SUFFIX}" if group else RUNNER_EVENTS + SUFFIX


def spool_file(group: str | None = None) -> str:
    return f"{SPOOL}-{group}{SUFFIX}" if group else SPOOL + SUFFIX


RUNNER_SUMMARY = "runner_summary"


def runner_summary_file(group: str | None = None) -> str:
    return f"{RUNNER_SUMMARY}-{group}.json" if group else RUNNER_SUMMARY + ".json"


def order_stream_file(stream: str | None = None) -> str:
    """``orders_<stream>.jsonl``, or the consolidated ``orders.jsonl`` without a stream."""
    return f"{ORDERS}_{stream}{SUFFIX}" if stream else ORDERS + SUFFIX


GATE_EVENTS_FILE = GATE_EVENTS + SUFFIX


def kind_of(stem: str) -> Kind | None:
    for kind, pattern in _STEMS.items():
        if pattern.match(stem):
            return kind
    return None


def is_runner_stem(stem: str) -> bool:
    """A side writer's event log (a runner's, or the tuner's): read apart from the gate's own record."""
    return stem == RUNNER_EVENTS or stem.startswith(RUNNER_EVENTS + "-") or stem == TUNER_EVENTS


TUNER_EVENTS_FILE = TUNER_EVENTS + SUFFIX


def trial_overlay_file(trial: int) -> str:
    """A candidate overlay's name under :data:`TUNING_DIR`."""
    return f"trial-{trial:04d}.yaml"


def order_stream_of(stem: str) -> str | None:
    """``orders_failed`` -> ``failed``; the consolidated ``orders`` has none."""
    tail = stem.removeprefix(ORDERS + "_")
    return tail if tail != stem and tail in ORDER_STREAMS else None


@dataclass(frozen=True)
class LogName:
    stem: str
    kind: Kind
    day: str | None
    seq: int | None
    gz: bool

    @property
    def rotated(self) -> bool:
        return self.day is not None

    @property
    def live(self) -> bool:
        return self.day is None and not self.gz


def parse_name(name: str) -> LogName | None:
    """What a file name in a session dir is, or ``None`` when it is not one of the session's logs."""
    m = LOG_NAME_RE.match(name)
    if not m:
        return None
    kind = kind_of(m.group("stem"))
    if kind is None:
        return None
    seq = m.group("seq")
    return LogName(m.group("stem"), kind, m.group("day"), int(seq) if seq else None, bool(m.group("gz")))
