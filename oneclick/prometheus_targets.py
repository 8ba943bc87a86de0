"""The runners of a one-click run as Prometheus targets: a ``file_sd`` file in the session dir.

Each runner announces its metrics address in ``RUNNER.START`` (``details.metrics``, :mod:`runner.metrics`);
one-click writes them to ``<session>/prometheus_runners.json`` in Prometheus' file-based service discovery
format, which the ``aurora-runner`` job of ``deploy/prometheus/prometheus.yml`` can list under
``file_sd_configs`` (Prometheus re-reads it on change, no reload). At the end of the run the file is
emptied: runners stopped on purpose are not "down".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

TARGETS_NAME = "prometheus_runners.json"


def target_of(url: str) -> str | None:
    """``host:port`` of an announced metrics URL (what file_sd lists), or None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "http" or not parts.hostname or port is None:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port}"


def file_sd(urls: Mapping[str, str], *, run_id: str, session: str) -> list[dict[str, Any]]:
    """One target group per runner (group -> announced metrics URL), labelled with its group and run."""
    groups = []
    for group, url in sorted(urls.items()):
        target = target_of(url)
        if target is not None:
            groups.append({"targets": [target], "labels": {"group": group, "run_id": run_id, "session": session}})
    return groups


def write_file_sd(path: Path, groups: list[dict[str, Any]]) -> None:
    """Whole or not at all (temp file, rename): Prometheus never reads half a file. Raises OSError."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(groups, option=orjson.OPT_INDENT_2) + b"\n")
    os.replace(tmp, path)
